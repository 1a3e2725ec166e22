// The event loop while an agent sends its largest legal result (issue 11, defect 5): a real server
// process, one agent process answering jobs with results of N samples sent in parts, and this
// process asking GET /api/v1/health every 5 ms throughout. Baseline in the same run: the same
// /health polling with the server at rest. Reports /health latency (p50, p99, max) at rest and
// during the results, and the time from a result's first frame to its acknowledgement.
//
// Usage: node dist/bench/large-result.js [--samples 400000] [--results 5] [--server DIR/dist --frames single]
//   --frames single sends each result as one frame (a build from before results came in parts).
//   --profile DIR writes a CPU profile of the server's main thread into DIR.
//   400,000 samples is about 7.5 MiB of JSON, near MAX_RESULT_BYTES (8 MiB); --server runs another build.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { now, once, quantile, sleep, startServerProcess } from './scale/harness.js';

const { values: args } = parseArgs({
  options: { samples: { type: 'string', default: '400000' }, results: { type: 'string', default: '5' }, server: { type: 'string' }, profile: { type: 'string' }, frames: { type: 'string', default: 'parts' } },
});
const here = path.dirname(new URL(import.meta.url).pathname);
const q = quantile;
const progress = (msg: string): void => { process.stderr.write(`[large-result] ${msg}\n`); };

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-large-'));
const children: ChildProcess[] = [];
process.on('uncaughtException', (err) => { for (const c of children) c.kill(); progress(`failed: ${err.message}`); process.exit(1); });
process.on('unhandledRejection', (err) => { for (const c of children) c.kill(); progress(`failed: ${(err as Error).message}`); process.exit(1); });
const server = await startServerProcess(dataDir, { serverDist: args.server, profileDir: args.profile });
children.push(server.child);
const { url, api } = server;
await api('POST', '/models?family=big&variant=v1', undefined, fs.readFileSync(path.join(here, '../../examples/models/kws-cnn-int8.onnx')));
const agentToken = (await api<{ token: string }>('POST', '/agents', { name: 'big-agent' })).token;
const agent = fork(path.join(here, 'scale/big-agent.js'), [url, agentToken, args.samples!, args.frames!], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
children.push(agent);
await once(agent, 'ready');

/** Polls /health every 5 ms until `until` resolves; returns the latencies. */
async function pollHealth(until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.then(() => { done = true; });
  const out: number[] = [];
  while (!done) {
    const t = now();
    const res = await fetch(`${url}/api/v1/health`);
    await res.arrayBuffer();
    out.push(now() - t);
    await sleep(5);
  }
  return out;
}

const loopStats = (): Promise<{ loopMaxMs: number; loopP99Ms: number }> => server.stats();

await loopStats();
const rest = await pollHealth(sleep(3000));
const restLoop = await loopStats();
progress(`/health at rest: p50 ${q(rest, 0.5).toFixed(2)} ms, p99 ${q(rest, 0.99).toFixed(2)} ms, max ${Math.max(...rest).toFixed(2)} ms (${rest.length} requests)`);
const acks: { ms: number; bytes: number; outcome: string }[] = [];
const results = Number(args.results);
const busy = pollHealth((async () => {
  for (let i = 0; i < results; i++) {
    const acked = once<{ ms: number; bytes: number; outcome: string }>(agent, 'acked');
    await api('POST', '/runs', { model: 'big:v1', device: 'big-1', settings: { iterations: 1, warmup: 0 } });
    acks.push(await acked);
  }
})());
const during = await busy;
const busyLoop = await loopStats();
progress(`server event loop blocked at most ${restLoop.loopMaxMs.toFixed(1)} ms at rest, ${busyLoop.loopMaxMs.toFixed(1)} ms during the results`);
const mib = (acks[0]?.bytes ?? 0) / 2 ** 20;
progress(`${results} results of ${args.samples} samples (${mib.toFixed(1)} MiB in frames): acknowledged in p50 ${q(acks.map((a) => a.ms), 0.5).toFixed(0)} ms`);
progress(`/health meanwhile: p50 ${q(during, 0.5).toFixed(2)} ms, p99 ${q(during, 0.99).toFixed(2)} ms, max ${Math.max(...during).toFixed(2)} ms (${during.length} requests)`);
console.log(JSON.stringify({
  samples: Number(args.samples), result_mib: mib, results, server: args.server ?? 'this build', outcomes: acks.map((a) => a.outcome),
  ack_ms: { p50: q(acks.map((a) => a.ms), 0.5), max: Math.max(...acks.map((a) => a.ms)) },
  health_rest_ms: { p50: q(rest, 0.5), p99: q(rest, 0.99), max: Math.max(...rest), n: rest.length },
  health_during_ms: { p50: q(during, 0.5), p99: q(during, 0.99), max: Math.max(...during), n: during.length },
  event_loop_max_block_ms: { rest: restLoop.loopMaxMs, during: busyLoop.loopMaxMs },
}, null, 2));
agent.send({ type: 'exit' });
server.stop();
await sleep(500);
fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
