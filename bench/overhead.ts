// Measurement overhead and run-to-run spread (issue: foundation). For each example model, 5
// rounds interleave (a) a bare session.run loop in a fresh process and (b) a benchfleet job on a
// real server + agent, so both see the same machine state. Reports the ratio of medians
// (benchfleet / bare, target ≤ 1.03) and the coefficient of variation of benchfleet's 5 medians
// (target ≤ 3%). Usage: node dist/bench/overhead.js [rounds] [min-duration-ms]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../server/main.js';
import { createAgent } from '../server/farm/registry.js';
import { Agent } from '../agent/agent.js';
import { LinuxDriver } from '../agent/drivers/linux/driver.js';
import type { RunView } from '../protocol/api.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const rounds = Number(process.argv[2] ?? 5);
const minDurationMs = Number(process.argv[3] ?? 5000);
const settings = { warmup: 10, iterations: 200, min_duration_ms: minDurationMs, threads: 1 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cv = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) / m;
};

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-bench-'));
const server = await startServer({ port: 0, dataDir, log: () => {} });
const token = server.firstAdminToken!;
const { token: agentToken } = createAgent(server.db, 'bench');
const agent = new Agent({ server: server.url, token: agentToken, dataDir: path.join(dataDir, 'agent'), drivers: [new LinuxDriver()] });
await agent.start();
await new Promise((r) => agent.once('connected', r));

async function api<T>(method: string, route: string, body?: unknown, raw?: Buffer): Promise<T> {
  const res = await fetch(`${server.url}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': raw ? 'application/octet-stream' : 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

console.log(`machine: ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}, node ${process.version}`);
console.log(`settings: warmup ${settings.warmup}, iterations ≥ ${settings.iterations}, min duration ${minDurationMs} ms, 1 thread; ${rounds} rounds\n`);
const results: Record<string, unknown>[] = [];
for (const name of ['kws-cnn-fp32', 'kws-cnn-int8']) {
  const file = path.join(root, 'examples/models', `${name}.onnx`);
  await api('POST', `/models?family=bench&variant=${name}`, undefined, fs.readFileSync(file));
  const bare: number[] = [];
  const fleet: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const out = execFileSync(process.execPath, [path.join(here, 'bare-loop.js'), file, String(settings.warmup), String(settings.iterations), String(minDurationMs)]);
    bare.push((JSON.parse(out.toString()) as { median: number }).median);
    const run = await api<RunView>('POST', '/runs', { model: `bench:${name}`, device: '*', settings });
    let done: RunView;
    for (;;) {
      done = await api<RunView>('GET', `/runs/${run.id}`);
      if (done.status === 'succeeded' || done.status === 'failed') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    if (done.status !== 'succeeded') throw new Error(`run failed: ${JSON.stringify(done.jobs?.[0]?.error)}`);
    fleet.push(done.jobs![0]!.measurements.find((m) => m.metric === 'latency_ms')!.median);
    process.stderr.write(`  ${name} round ${r + 1}: bare ${bare[r]!.toFixed(4)} ms, benchfleet ${fleet[r]!.toFixed(4)} ms\n`);
  }
  const ratio = median(fleet) / median(bare);
  const row = { model: name, bare_median_ms: median(bare), benchfleet_median_ms: median(fleet), ratio, cv_percent: cv(fleet) * 100, bare_cv_percent: cv(bare) * 100 };
  results.push(row);
  console.log(`${name}: bare ${row.bare_median_ms.toFixed(4)} ms, benchfleet ${row.benchfleet_median_ms.toFixed(4)} ms, ratio ${ratio.toFixed(4)} (target ≤ 1.03), ` +
    `CV of 5 benchfleet medians ${row.cv_percent.toFixed(2)}% (target ≤ 3%; bare loop's own CV ${row.bare_cv_percent.toFixed(2)}%)`);
}
console.log(`\n${JSON.stringify(results)}`);
await agent.stop();
await server.close();
