// End to end with a real agent process over a real WebSocket: a benchmark really runs the ONNX
// model; an agent killed mid-job loses nothing (the lease is reaped, the job re-runs); a result
// finished while the server was down is delivered once after the restart; bad socket messages
// and revoked agents change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { repoRoot, startFarm, waitFor } from './support/farm.js';
import type { RunView } from '../protocol/api.js';

const fp32 = path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx');
const int8 = path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

test('a run on a real agent measures the model and stores every sample', { timeout: 120_000 }, async () => {
  const farm = await startFarm({ agent: true });
  try {
    assert.equal((await farm.cli(['model', 'push', fp32, '--family', 'kws-cnn', '--variant', 'fp32'])).code, 0);
    assert.equal((await farm.cli(['model', 'push', int8, '--family', 'kws-cnn', '--variant', 'int8'])).code, 0);
    const runs: RunView[] = [];
    for (const variant of ['fp32', 'int8']) {
      const res = await farm.api<RunView>('POST', '/runs', { model: `kws-cnn:${variant}`, device: '*', settings: { warmup: 5, iterations: 150, min_duration_ms: 300 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      runs.push(res.body);
    }
    const done = await Promise.all(runs.map((r) => waitFor(`run ${r.id}`, async () => {
      const got = await farm.api<RunView>('GET', `/runs/${r.id}`);
      return got.body.status === 'succeeded' || got.body.status === 'failed' ? got.body : null;
    }, 60_000)));
    for (const run of done) {
      assert.equal(run.status, 'succeeded', JSON.stringify(run.jobs?.[0]?.error));
      const job = run.jobs![0]!;
      const lat = job.measurements.find((m) => m.metric === 'latency_ms')!;
      assert.ok(lat.count >= 150, 'at least the requested iterations');
      assert.ok(lat.min > 0 && lat.min <= lat.median && lat.median <= lat.p90 && lat.p90 <= lat.p99 && lat.p99 <= lat.max);
      assert.ok(lat.ci_low <= lat.median && lat.median <= lat.ci_high);
      const samples = await farm.api<{ samples: number[] }>('GET', `/jobs/${job.id}/samples?metric=latency_ms`);
      assert.equal(samples.body.samples.length, lat.count);
      const total = samples.body.samples.reduce((a, b) => a + b, 0);
      assert.ok(total >= 300 * 0.9, `the timed window lasts at least the minimum duration (${total} ms)`);
      const mem = job.measurements.find((m) => m.metric === 'peak_rss_mib');
      assert.ok(mem && mem.median > 10 && mem.median < 4096, 'peak RSS of the worker process');
      assert.equal(job.environment?.runner, 'onnxruntime-node');
    }
    const latency = (run: RunView) => run.jobs![0]!.measurements.find((m) => m.metric === 'latency_ms')!.median;
    // The quantized variant does measurably less work: a real model ran, not canned numbers.
    assert.ok(latency(done[1]!) < latency(done[0]!), `int8 ${latency(done[1]!)} ms should beat fp32 ${latency(done[0]!)} ms`);
    const device = (await farm.api<{ items: { health: string; state: string }[] }>('GET', '/devices')).body.items[0]!;
    assert.equal(device.health, 'good');
    assert.equal(device.state, 'idle');
  } finally {
    await farm.stop();
  }
});

test('an agent killed mid-job: the lease is reaped and the job re-runs to success on the next attempt', { timeout: 120_000 }, async () => {
  const farm = await startFarm({ agent: true, policy: { leaseMs: 1500, backoffBaseMs: 100 } });
  try {
    await farm.cli(['model', 'push', fp32, '--family', 'kws-cnn', '--variant', 'fp32']);
    const run = (await farm.api<RunView>('POST', '/runs', { model: 'kws-cnn:fp32', device: '*', settings: { warmup: 1, iterations: 10, min_duration_ms: 3000 } })).body;
    const jobId = run.jobs![0]!.id;
    await waitFor('the job to be running', async () => (await farm.api<RunView>('GET', `/runs/${run.id}`)).body.jobs![0]!.status === 'running');
    await farm.stopAgent('SIGKILL');
    const requeued = await waitFor('the lease to be reaped', async () => {
      const job = (await farm.api<{ status: string; error: { code: string } | null; attempt: number }>('GET', `/jobs/${jobId}`)).body;
      return job.status === 'queued' ? job : null;
    }, 15_000);
    assert.equal(requeued.error?.code, 'lease_expired');
    const device = (await farm.api<{ items: { state: string }[] }>('GET', '/devices')).body.items[0]!;
    assert.equal(device.state, 'offline');
    await farm.startAgent();
    const final = await waitFor('the job to finish', async () => {
      const job = (await farm.api<{ status: string; attempt: number }>('GET', `/jobs/${jobId}`)).body;
      return ['succeeded', 'failed'].includes(job.status) ? job : null;
    }, 30_000);
    assert.equal(final.status, 'succeeded');
    assert.equal(final.attempt, 2);
    assert.equal((farm.server.db.prepare('SELECT COUNT(*) AS n FROM measurements WHERE job_id = ?').get(jobId) as { n: number }).n, 2, 'latency + memory, once');
  } finally {
    await farm.stop();
  }
});

test('a result finished while the server was down is delivered after the restart, once', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const first = await startFarm({ agent: true, policy: { leaseMs: 5000 } });
  const dataDir = first.dataDir;
  // Restart the server on a fixed port so the agent can reconnect to the same URL.
  await first.server.close();
  const { startServer } = await import('../server/main.js');
  let server = await startServer({ port, dataDir, heartbeatMs: 500, dispatchIntervalMs: 200, log: () => {} });
  const token = first.adminToken;
  const api = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}/api/v1${route}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return (await res.json()) as T;
  };
  await first.stopAgent('SIGKILL');
  const { spawn } = await import('node:child_process');
  const agentLog = fs.openSync(path.join(dataDir, 'restart-agent.log'), 'a');
  const agent = spawn(process.execPath, [path.join(repoRoot, 'bin/benchfleet.js'), 'agent', '--server', server.url, '--token', first.agentToken!, '--data', path.join(dataDir, 'agent')], { stdio: ['ignore', agentLog, agentLog] });
  try {
    await waitFor('agent online', async () => (await api<{ items: { state: string }[] }>('GET', '/devices')).items.some((d) => d.state === 'idle'));
    const upload = await fetch(`${server.url}/api/v1/models?family=kws-cnn&variant=fp32`, { method: 'POST', body: fs.readFileSync(fp32), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } });
    assert.equal(upload.status, 201);
    const run = await api<RunView>('POST', '/runs', { model: 'kws-cnn:fp32', device: '*', settings: { warmup: 1, iterations: 10, min_duration_ms: 2500 } });
    const jobId = run.jobs![0]!.id;
    // Wait for the measuring phase: closing earlier (while the agent still downloads the model)
    // would fail the attempt as model_fetch_failed and legitimately retry it.
    await waitFor('measuring', async () => (await api<{ progress: { phase: string } | null }>('GET', `/jobs/${jobId}`)).progress?.phase === 'measuring', 20_000);
    await server.close(); // the server goes away while the agent is measuring
    const outbox = path.join(dataDir, 'agent', 'outbox');
    await waitFor('the result to wait in the outbox', () => fs.existsSync(outbox) && fs.readdirSync(outbox).some((f) => f.endsWith('.json')), 20_000);
    server = await startServer({ port, dataDir, heartbeatMs: 500, dispatchIntervalMs: 200, log: () => {} });
    const job = await waitFor('the job to succeed', async () => {
      const j = await api<{ status: string; attempt: number }>('GET', `/jobs/${jobId}`);
      return j.status === 'succeeded' ? j : null;
    }, 20_000);
    assert.equal(job.attempt, 1, 'no re-run was needed');
    await waitFor('the outbox to be emptied', () => fs.readdirSync(outbox).filter((f) => f.endsWith('.json')).length === 0, 5000);
    assert.equal((server.db.prepare(`SELECT COUNT(*) AS n FROM measurements WHERE job_id = ? AND metric = 'latency_ms'`).get(jobId) as { n: number }).n, 1);
  } finally {
    agent.kill('SIGKILL');
    await server.close();
  }
});

test('socket: unknown or malformed messages are refused; a revoked agent is cut off', { timeout: 120_000 }, async () => {
  const farm = await startFarm();
  try {
    const created = await farm.api<{ agent: { id: string }; token: string }>('POST', '/agents', { name: 'raw' });
    const wsUrl = farm.url.replace('http', 'ws') + '/ws/agent';
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${farm.adminToken}` } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    assert.equal(refused, 403, 'an admin token is not an agent token');
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${created.body.token}` } });
    const inbox: { type: string; code?: string }[] = [];
    ws.on('message', (d) => inbox.push(JSON.parse(d.toString()) as { type: string }));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent_version: 't', hostname: 'h', devices: [{ serial: 'x', name: 'rawdev', driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true }], running: [] }));
    await waitFor('welcome', () => inbox.some((m) => m.type === 'welcome'));
    ws.send(JSON.stringify({ type: 'job.teleport', job_id: 'x', attempt: 1 }));
    ws.send('{not json');
    ws.send(JSON.stringify({ type: 'job.result', job_id: 'nope', attempt: 1, measurements: [], environment: {} }));
    await waitFor('three errors', () => inbox.filter((m) => m.type === 'error').length >= 3);
    assert.deepEqual(inbox.filter((m) => m.type === 'error').map((m) => m.code), ['invalid_message', 'invalid_json', 'invalid_message']);
    assert.equal((farm.server.db.prepare('SELECT COUNT(*) AS n FROM measurements').get() as { n: number }).n, 0);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    assert.equal((await farm.api('POST', `/agents/${created.body.agent.id}/revoke`)).status, 200);
    ws.send(JSON.stringify({ type: 'inventory', devices: [] }));
    assert.equal(await closed, 4403);
    const device = (await farm.api<{ items: { name: string; state: string }[] }>('GET', '/devices')).body.items.find((d) => d.name === 'rawdev')!;
    assert.equal(device.state, 'offline', 'the inventory message of the revoked agent changed nothing; the device went offline with its agent');
    const again = await new Promise<number>((resolve) => {
      const w = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${created.body.token}` } });
      w.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      w.on('open', () => resolve(101));
    });
    assert.equal(again, 401, 'the revoked token cannot reconnect');
  } finally {
    await farm.stop();
  }
});
