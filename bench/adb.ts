// Phone benchmarks (issue: phones over ADB), against an emulated phone through the real adb server:
// 1. push throughput of the driver (adbkit via the adb server) ÷ `adb push` of the same file, in
//    interleaved rounds (target ≥ 0.8);
// 2. agent overhead per job with a cached model, from the assignment's arrival to the runner's
//    start on the phone (target ≤ 200 ms).
// Usage: node dist/bench/adb.js [rounds] [file-MiB]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import adbkit from '@devicefarmer/adbkit';
import { EmulatedPhone } from '../agent/emulators/phone/phone.js';
import { Phone } from '../agent/drivers/adb/phone.js';
import { AdbDriver } from '../agent/drivers/adb/driver.js';
import { adbConfigSchema } from '../agent/drivers/adb/config.js';
import { Agent } from '../agent/agent.js';
import { startServer } from '../server/main.js';
import { createAgent } from '../server/farm/registry.js';
import type { RunView } from '../protocol/api.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rounds = Number(process.argv[2] ?? 3);
const mib = Number(process.argv[3] ?? 32);

async function freePort(): Promise<number> {
  for (;;) {
    const p = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => { const a = (s.address() as net.AddressInfo).port; s.close(() => resolve(a)); });
    });
    if (p < 5554 || p > 5586) return p;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const adbPort = await freePort();
const env = { ...process.env, ADB_EMU: '0' };
// The emulated phone lives in this process: adb must be called asynchronously or the phone cannot answer.
const adbCmd = (args: string[]) => promisify(execFile)('adb', ['-P', String(adbPort), ...args], { env, timeout: 120_000 });
await adbCmd(['start-server']);
const phone = new EmulatedPhone({ port: await freePort() });
const { port } = await phone.start();
const serial = `127.0.0.1:${port}`;
await adbCmd(['connect', serial]);
await adbCmd(['-s', serial, 'wait-for-device']);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-adb-bench-'));
const file = path.join(tmp, 'blob.bin');
fs.writeFileSync(file, crypto.randomBytes(mib * 1024 * 1024));
const client = adbkit.Adb.createClient({ port: adbPort });
const driverPhone = new Phone(client, serial);

console.log(`machine: ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}, node ${process.version}; ${mib} MiB file, ${rounds} rounds\n`);
const adbRates: number[] = [];
const ourRates: number[] = [];
for (let r = 0; r < rounds; r++) {
  let t = performance.now();
  await adbCmd(['-s', serial, 'push', file, '/data/local/tmp/adb.bin']);
  adbRates.push(mib / ((performance.now() - t) / 1000));
  t = performance.now();
  await driverPhone.push(file, '/data/local/tmp/ours.bin', 0o644);
  ourRates.push(mib / ((performance.now() - t) / 1000));
  process.stderr.write(`  round ${r + 1}: adb push ${adbRates[r]!.toFixed(1)} MiB/s, benchfleet ${ourRates[r]!.toFixed(1)} MiB/s\n`);
}
const ratio = median(ourRates) / median(adbRates);
console.log(`push: adb ${median(adbRates).toFixed(1)} MiB/s, benchfleet ${median(ourRates).toFixed(1)} MiB/s, ratio ${ratio.toFixed(3)} (target ≥ 0.8)`);

// Agent overhead with a cached model.
const server = await startServer({ port: 0, dataDir: path.join(tmp, 'server'), log: () => {} });
const { token } = createAgent(server.db, 'bench');
const config = adbConfigSchema.parse({ port: adbPort, energy: { sampleHz: 20, baselineMs: 200 } });
const agent = new Agent({ server: server.url, token, dataDir: path.join(tmp, 'agent'), drivers: [new AdbDriver(config)] });
await agent.start();
await new Promise((r) => agent.once('connected', r));
const api = async <T>(method: string, route: string, body?: unknown, raw?: Buffer): Promise<T> => {
  const res = await fetch(`${server.url}/api/v1${route}`, {
    method, headers: { authorization: `Bearer ${server.firstAdminToken}`, 'content-type': raw ? 'application/octet-stream' : 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return (await res.json()) as T;
};
await api('POST', '/models?family=kws&variant=int8', undefined, fs.readFileSync(path.join(root, 'examples/models/kws-cnn-int8.onnx')));
const overheads: number[] = [];
for (let i = 0; i < 6; i++) {
  const run = await api<RunView>('POST', '/runs', { model: 'kws:int8', device: '*', settings: { warmup: 1, iterations: 10 } });
  let done: RunView;
  for (;;) {
    done = await api<RunView>('GET', `/runs/${run.id}`);
    if (done.status === 'succeeded' || done.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const o = Number(done.jobs?.[0]?.environment?.agent_overhead_ms);
  if (i > 0) overheads.push(o); // the first job pushes the model; the others reuse it
  const steps = Object.entries(done.jobs?.[0]?.environment ?? {}).filter(([k]) => k.startsWith('t_')).map(([k, v]) => `${k.slice(2, -3)} ${String(v)}`).join(', ');
  process.stderr.write(`  job ${i + 1}: ${done.status}, assignment → runner started ${o} ms${i === 0 ? ' (first push, not counted)' : ''} [${steps}]\n`);
}
console.log(`agent overhead with a cached model: median ${median(overheads).toFixed(1)} ms, max ${Math.max(...overheads).toFixed(1)} ms over ${overheads.length} jobs (target ≤ 200 ms)`);
await agent.stop();
await server.close();
await phone.dispose();
await adbCmd(['kill-server']);
fs.rmSync(tmp, { recursive: true, force: true });
