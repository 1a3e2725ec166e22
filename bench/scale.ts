// The coordinator at farm scale: a real server process, N simulated agents over real WebSockets in
// separate processes (bench/scale/agents.ts, one device each), and every figure next to a same-run
// baseline — a bare WebSocket round trip and a bare HTTP request between two processes, and a bare
// batched SQLite insert of the same rows a result writes.
//
// Phases: idle (heartbeat CPU, RSS) · dispatch latency (submit → job.assign on an idle device, one
// at a time) · trivial jobs/s (runs on every device, 1 sample per result) · ingest (100 samples per
// result, regression judging on: server CPU per result) · the run view of a run with N jobs.
//
// Usage: node dist/bench/scale.js [--agents 1000] [--procs 4] [--dispatch 300] [--rounds 5]
//          [--ingest-rounds 3] [--samples 100] [--idle-seconds 10] [--server DIR/dist]
//   --server runs another build's server (e.g. the commit before a change) on the same workload.
//   --keep leaves the server's data directory (its database) for inspection.
//   --profile DIR writes a V8 CPU profile of the server process into DIR (open it in Chrome DevTools).
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { now, once, quantile, sleep, startServerProcess } from './scale/harness.js';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000' },
    procs: { type: 'string', default: '4' },
    dispatch: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '5' },
    'ingest-rounds': { type: 'string', default: '3' },
    samples: { type: 'string', default: '100' },
    'idle-seconds': { type: 'string', default: '10' },
    server: { type: 'string' },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(args.agents);
const here = path.dirname(new URL(import.meta.url).pathname);
const q = quantile;
const f1 = (x: number): string => x.toFixed(1);
const progress = (msg: string): void => { process.stderr.write(`[scale] ${msg}\n`); };

// ---- baselines --------------------------------------------------------------------------------------

async function baselines(): Promise<{ wsP50: number; wsP99: number; httpP50: number; httpP99: number; insertUs: number }> {
  const echo = fork(path.join(here, 'scale/echo.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const { port } = await once<{ port: number }>(echo, 'ready');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  await new Promise((r) => ws.once('open', r));
  const wsRtt: number[] = [];
  const payload = JSON.stringify({ type: 'job.assign', job: { job_id: 'x'.repeat(24), settings: { iterations: 50 } } });
  for (let i = 0; i < 500; i++) {
    const t = now();
    await new Promise<void>((resolve) => { ws.once('message', () => resolve()); ws.send(payload); });
    wsRtt.push(now() - t);
  }
  ws.close();
  const httpRtt: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = now();
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'scale:int8', device: 'sim-1' }) });
    await res.json();
    httpRtt.push(now() - t);
  }
  echo.send({ type: 'exit' });
  // A bare batched insert of what one result stores: a summary row and a 100-sample blob, 100 per transaction.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-scale-sqlite-'));
  const db = new Database(path.join(dir, 'bare.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE m (job_id TEXT, metric TEXT, median REAL, p90 REAL, PRIMARY KEY (job_id, metric)); CREATE TABLE s (job_id TEXT, metric TEXT, data BLOB)');
  const insM = db.prepare('INSERT INTO m VALUES (?, ?, ?, ?)');
  const insS = db.prepare('INSERT INTO s VALUES (?, ?, ?)');
  const blob = Buffer.alloc(800, 7);
  const rows = 50_000;
  const t = now();
  const batch = db.transaction((from: number) => { for (let i = from; i < from + 100; i++) { insM.run(`job_${i}`, 'latency_ms', 10, 11); insS.run(`job_${i}`, 'latency_ms', blob); } });
  for (let i = 0; i < rows; i += 100) batch(i);
  const insertUs = ((now() - t) * 1000) / rows;
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { wsP50: q(wsRtt, 0.5), wsP99: q(wsRtt, 0.99), httpP50: q(httpRtt, 0.5), httpP99: q(httpRtt, 0.99), insertUs };
}

// ---- the farm ---------------------------------------------------------------------------------------

interface ServerStats { cpu: { user: number; system: number }; rss: number; results: number[] }

const base = await baselines();
progress(`baselines: ws round trip p50 ${base.wsP50.toFixed(3)} ms, p99 ${base.wsP99.toFixed(3)} ms; http p50 ${base.httpP50.toFixed(3)} ms; sqlite insert ${base.insertUs.toFixed(1)} µs/result`);

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-scale-'));
const server = await startServerProcess(dataDir, { serverDist: args.server, profileDir: args.profile });
const { url, token, api } = server;
const serverStats = (): Promise<ServerStats> => server.stats<ServerStats>();
const cpuMs = (a: ServerStats, b: ServerStats): number => (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1000;

await api('POST', '/models?family=scale&variant=int8', undefined, fs.readFileSync(path.join(here, '../../examples/models/kws-cnn-int8.onnx')));
progress(`creating ${N} agents`);
const tokens: { token: string; serial: string }[] = [];
for (let i = 0; i < N; i += 25) {
  const made = await Promise.all(Array.from({ length: Math.min(25, N - i) }, (_, k) => api<{ token: string }>('POST', '/agents', { name: `sim-agent-${i + k}` })));
  made.forEach((m, k) => tokens.push({ token: m.token, serial: `sim-${String(i + k).padStart(4, '0')}` }));
}

const P = Number(args.procs);
const assignedAt = new Map<string, number>(); // run id → arrival time of its first job.assign
let assignedJobs = 0;
let ackedResults = 0;
const sims: ChildProcess[] = [];
for (let p = 0; p < P; p++) {
  const sim = fork(path.join(here, 'scale/agents.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  sim.on('message', (m: { type: string; assigned?: [string, string, number][]; acked?: number; message?: string }) => {
    if (m.type === 'progress') {
      for (const [, runId, t] of m.assigned ?? []) { assignedJobs++; if (!assignedAt.has(runId)) assignedAt.set(runId, t); }
      ackedResults += m.acked ?? 0;
    } else if (m.type === 'warn') progress(`agent warning: ${m.message}`);
  });
  sims.push(sim);
}
progress(`connecting ${N} agents from ${P} processes`);
const connected = Date.now();
await Promise.all(sims.map((sim, p) => {
  const ready = once<{ count: number }>(sim, 'ready');
  sim.send({ type: 'setup', url, agents: tokens.filter((_, i) => i % P === p), samples: 1, connectConcurrency: 16 });
  return ready;
}));
progress(`all connected in ${((Date.now() - connected) / 1000).toFixed(1)} s`);

// Idle: heartbeats only.
await sleep(2000);
const idleSeconds = Number(args['idle-seconds']);
const i0 = await serverStats();
const w0 = now();
await sleep(idleSeconds * 1000);
const i1 = await serverStats();
const idleCpuPct = (cpuMs(i0, i1) / (now() - w0)) * 100;
progress(`idle: server CPU ${idleCpuPct.toFixed(2)}% of a core, RSS ${(i1.rss / 2 ** 20).toFixed(0)} MiB`);

// Dispatch latency: one run on one idle device at a time.
const dispatchN = Number(args.dispatch);
const latencies: number[] = [];
for (let i = 0; i < dispatchN; i++) {
  const device = tokens[(i * 7919) % N]!.serial;
  const t = now();
  const run = await api<{ id: string }>('POST', '/runs', { model: 'scale:int8', device, settings: { iterations: 1, warmup: 0 } });
  const deadline = Date.now() + 10_000;
  while (!assignedAt.has(run.id)) {
    if (Date.now() > deadline) throw new Error(`run ${run.id} on ${device} was not assigned within 10 s`);
    await sleep(1);
  }
  latencies.push(assignedAt.get(run.id)! - t);
  await sleep(15);
}
progress(`dispatch: p50 ${q(latencies, 0.5).toFixed(1)} ms, p99 ${q(latencies, 0.99).toFixed(1)} ms`);

async function throughput(rounds: number, samples: number): Promise<{ jobsPerS: number; cpuPerResultMs: number; resultMs: number[]; lastRun: string }> {
  for (const sim of sims) sim.send({ type: 'samples', samples });
  await sleep(200);
  const startAcked = ackedResults;
  const total = rounds * N;
  const s0 = await serverStats();
  const t = now();
  let lastRun = '';
  for (let r = 0; r < rounds; r++) lastRun = (await api<{ id: string }>('POST', '/runs', { model: 'scale:int8', device: 'bench=scale', settings: { iterations: 1, warmup: 0 } })).id;
  const deadline = Date.now() + 600_000;
  while (ackedResults - startAcked < total) {
    if (Date.now() > deadline) throw new Error(`only ${ackedResults - startAcked} of ${total} results acknowledged in 10 min`);
    await sleep(5);
  }
  const elapsed = now() - t;
  const s1 = await serverStats();
  return { jobsPerS: total / (elapsed / 1000), cpuPerResultMs: cpuMs(s0, s1) / total, resultMs: s1.results, lastRun };
}

const rounds = Number(args.rounds);
progress(`trivial jobs: ${rounds} runs × ${N} devices`);
const trivial = await throughput(rounds, 1);
progress(`trivial: ${f1(trivial.jobsPerS)} jobs/s, ${trivial.cpuPerResultMs.toFixed(2)} ms server CPU per job`);
const samples = Number(args.samples);
progress(`ingest: ${args['ingest-rounds']} runs × ${N} devices, ${samples} samples per result`);
const ingest = await throughput(Number(args['ingest-rounds']), samples);
progress(`ingest: ${f1(ingest.jobsPerS)} results/s, ${ingest.cpuPerResultMs.toFixed(2)} ms server CPU per job end to end (mean); ` +
  `job.result handling p50 ${q(ingest.resultMs, 0.5).toFixed(3)} ms, p99 ${q(ingest.resultMs, 0.99).toFixed(3)} ms`);

// The run view of the last run (N jobs, all done). Timed until the whole body has arrived (the
// client's own JSON parsing is not the server's time). Three kinds of request: the view unchanged
// since the server last built it (the encoded view is reused), the view after a change it shows
// (a model's tags edited through the API before each request — every run view is rebuilt), and a
// client revalidating the view it holds (If-None-Match: 304, no body).
const viewOf = async (headers: Record<string, string> = {}): Promise<{ ms: number; bytes: number; status: number; etag: string | null }> => {
  const t = now();
  const res = await fetch(`${url}/api/v1/runs/${ingest.lastRun}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const bytes = (await res.arrayBuffer()).byteLength;
  const ms = now() - t;
  if (res.status !== 200 && res.status !== 304) throw new Error(`GET /runs/${ingest.lastRun}: ${res.status}`);
  return { ms, bytes, status: res.status, etag: res.headers.get('etag') };
};
// The first answers after the server started run cold code (JIT): they are reported apart.
const coldViews: number[] = [];
const changedViews: number[] = [];
for (let i = 0; i < 33; i++) {
  await api('PATCH', '/models/scale:int8', { tags: [`view-${i}`] });
  (i < 3 ? coldViews : changedViews).push((await viewOf()).ms);
}
const views: number[] = [];
let viewBytes = 0;
let etag = '';
for (let i = 0; i < 30; i++) {
  const v = await viewOf();
  views.push(v.ms);
  viewBytes = v.bytes;
  etag = v.etag ?? '';
}
const revalidations: number[] = [];
// (A server built before ETags — a --server baseline — has none to revalidate.)
for (let i = 0; i < (etag ? 30 : 0); i++) {
  const v = await viewOf({ 'if-none-match': etag });
  if (v.status !== 304) throw new Error(`revalidating the run view: ${v.status}, not 304`);
  revalidations.push(v.ms);
}
const end = await serverStats();
progress(`run view of ${N} jobs (${(viewBytes / 2 ** 20).toFixed(2)} MiB): first three after start ${coldViews.map((x) => x.toFixed(0)).join(', ')} ms; ` +
  `after a change p50 ${q(changedViews, 0.5).toFixed(1)} ms, p95 ${q(changedViews, 0.95).toFixed(1)} ms; unchanged p50 ${q(views, 0.5).toFixed(1)} ms, p95 ${q(views, 0.95).toFixed(1)} ms; ` +
  (etag ? `revalidated (304) p50 ${q(revalidations, 0.5).toFixed(2)} ms, p95 ${q(revalidations, 0.95).toFixed(2)} ms` : 'no ETag'));

const result = {
  agents: N, processes: P, cores: os.cpus().length, server: args.server ?? 'this build',
  baseline: { ws_rtt_p50_ms: base.wsP50, ws_rtt_p99_ms: base.wsP99, http_rtt_p50_ms: base.httpP50, http_rtt_p99_ms: base.httpP99, sqlite_insert_us_per_result: base.insertUs },
  dispatch_ms: { p50: q(latencies, 0.5), p99: q(latencies, 0.99), n: latencies.length },
  idle_heartbeat_cpu_pct: idleCpuPct,
  trivial_jobs_per_s: trivial.jobsPerS, trivial_cpu_ms_per_job: trivial.cpuPerResultMs,
  ingest_results_per_s: ingest.jobsPerS, ingest_cpu_ms_per_job: ingest.cpuPerResultMs, ingest_samples: samples,
  result_handling_ms: { p50: q(ingest.resultMs, 0.5), p99: q(ingest.resultMs, 0.99), n: ingest.resultMs.length },
  run_view_ms: {
    first: coldViews, changed: { p50: q(changedViews, 0.5), p95: q(changedViews, 0.95) }, unchanged: { p50: q(views, 0.5), p95: q(views, 0.95) },
    revalidated: etag ? { p50: q(revalidations, 0.5), p95: q(revalidations, 0.95) } : null, jobs: N, bytes: viewBytes,
  },
  server_rss_mib: end.rss / 2 ** 20,
  jobs_assigned: assignedJobs,
};
console.log(JSON.stringify(result, null, 2));
for (const sim of sims) sim.send({ type: 'exit' });
server.stop();
await sleep(500);
if (args.keep) progress(`data kept in ${dataDir}`);
else fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
