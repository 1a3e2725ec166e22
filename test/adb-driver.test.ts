// The ADB driver against emulated phones through the real adb server (Debian's adb), with a
// real agent process and server: discovery and labels, a real model run with battery energy,
// push reuse, unplug mid-job, a hanging runner killed at the timeout, charging flagged, and
// each bad case ending the job with its own error code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { EmulatedPhone } from '../agent/emulators/phone/phone.js';
import { writeRunnerBinary } from '../agent/emulators/phone/tools/install.js';
import type { DeviceView, JobView, RunView } from '../protocol/api.js';
import { freePort, startAdbServer, type AdbServer } from './support/adb.js';
import { repoRoot, startFarm, waitFor, type Farm } from './support/farm.js';

let adb: AdbServer;
let farm: Farm;
const phones: Record<string, { phone: EmulatedPhone; port: number }> = {};
const int8 = path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx');

async function addPhone(key: string, opts: Partial<ConstructorParameters<typeof EmulatedPhone>[0]>): Promise<void> {
  const port = await freePort();
  const phone = new EmulatedPhone({ port, serialProps: { 'ro.product.model': `Emu ${key}`, 'ro.product.manufacturer': 'Benchfleet' }, tickMs: 50, ...opts });
  await phone.start();
  phones[key] = { phone, port };
}

const deviceOf = async (key: string): Promise<DeviceView | undefined> =>
  (await farm.api<{ items: DeviceView[] }>('GET', '/devices')).body.items.find((d) => d.serial === `127.0.0.1:${phones[key]!.port}`);

async function submit(device: string, body: Record<string, unknown>): Promise<string> {
  const res = await farm.api<RunView>('POST', '/runs', { device, max_attempts: 1, ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.jobs![0]!.id;
}

async function finished(jobId: string, timeoutMs = 60_000): Promise<JobView> {
  return waitFor(`job ${jobId}`, async () => {
    const j = (await farm.api<JobView>('GET', `/jobs/${jobId}`)).body;
    return ['succeeded', 'failed', 'timed_out', 'canceled'].includes(j.status) || (j.status === 'queued' && j.error) ? j : null;
  }, timeoutMs, 200);
}

before(async () => {
  adb = await startAdbServer();
  await addPhone('main', { batteryLevel: 80 });
  await addPhone('charging', { charging: true });
  await addPhone('locked', { unauthorized: true });
  await addPhone('full', { diskQuotaBytes: 64 * 1024 });
  await addPhone('hot', { startTemperatureC: 80, ambientC: 75 });
  farm = await startFarm();
  const fakeTflite = path.join(farm.dataDir, 'hang.tflite');
  fs.writeFileSync(fakeTflite, Buffer.concat([Buffer.from([0x1c, 0, 0, 0]), Buffer.from('TFL3'), Buffer.alloc(64)]));
  const fakePte = path.join(farm.dataDir, 'model.pte');
  fs.writeFileSync(fakePte, Buffer.concat([Buffer.from([0x18, 0, 0, 0]), Buffer.from('ET12'), Buffer.alloc(64)]));
  const fakeGguf = path.join(farm.dataDir, 'garbage.gguf');
  fs.writeFileSync(fakeGguf, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(64, 1)]));
  for (const [file, family, variant] of [[int8, 'kws-cnn', 'int8'], [fakeTflite, 'hang', 'v1'], [fakeGguf, 'llm', 'q4'], [fakePte, 'et', 'v1']] as const) {
    const r = await farm.cli(['model', 'push', file, '--family', family, '--variant', variant]);
    assert.equal(r.code, 0, r.stderr);
  }
  const config = path.join(farm.dataDir, 'agent.json');
  fs.writeFileSync(config, JSON.stringify({
    linux: false,
    adb: {
      port: adb.port,
      connect: Object.values(phones).map((p) => `127.0.0.1:${p.port}`),
      runners: {
        // No runner is preinstalled on the phones: benchfleet's ONNX runner is a user-provided binary, pushed by the agent.
        onnxruntime: {
          parser: 'jsonl', binary: writeRunnerBinary('benchfleet-onnx-runner', path.join(farm.dataDir, 'runners', 'benchfleet-onnx-runner')),
          command: '{runner} --model {model} --warmup {warmup} --iterations {iterations} --min-duration-ms {min_duration_ms} --threads {threads} --reference {reference}',
        },
        tflite: { parser: 'benchmark_model', command: 'sleep 1000' },
        'llama.cpp': { parser: 'llama-bench', command: 'echo this is not llama-bench output; echo neither is this' },
        executorch: { parser: 'executorch', command: 'echo cannot open model >&2; exit 3' },
      },
      energy: { sampleHz: 20, baselineMs: 500 },
      thermal: { maxStartCelsius: 60, maxWaitMs: 1500, pollMs: 300 },
    },
  }));
  await farm.startAgent({ config });
  await waitFor('every phone in the farm', async () => {
    for (const key of Object.keys(phones)) if (!(await deviceOf(key))) return false;
    return true;
  }, 30_000);
});

after(async () => {
  await farm?.stop();
  for (const p of Object.values(phones)) await p.phone.dispose();
  await adb?.stop();
});

test('phones are discovered through the adb server and described from getprop', async () => {
  const d = (await deviceOf('main'))!;
  assert.equal(d.driver, 'adb');
  assert.equal(d.state, 'idle');
  assert.equal(d.labels.model, 'Emu main');
  assert.equal(d.labels.manufacturer, 'Benchfleet');
  assert.equal(d.labels.os, 'android');
  assert.ok(Number(d.labels.ram_mib) > 1000, 'RAM from /proc/meminfo');
  assert.equal(d.labels.adb_state, 'device');
  assert.ok(d.runtimes.includes('onnxruntime'));
  assert.equal((await deviceOf('locked'))!.labels.adb_state, 'unauthorized');
});

test('a model runs on the phone: latency, peak memory and battery energy; the push is reused', { timeout: 120_000 }, async () => {
  const name = (await deviceOf('main'))!.name;
  const settings = { warmup: 5, iterations: 200, min_duration_ms: 1500 };
  const first = await finished(await submit(name, { model: 'kws-cnn:int8', settings }));
  assert.equal(first.status, 'succeeded', JSON.stringify(first.error));
  const lat = first.measurements.find((m) => m.metric === 'latency_ms')!;
  assert.ok(lat.count >= 200 && lat.median > 0);
  const energy = first.measurements.find((m) => m.metric === 'energy_mj');
  assert.ok(energy && energy.median > 0, `energy measured: ${JSON.stringify(first.measurements.map((m) => m.metric))} ${JSON.stringify(first.environment)}`);
  assert.deepEqual(energy.flags, []);
  assert.equal(first.environment?.battery_level, 80);
  assert.equal(first.environment?.charging, false);
  const second = await finished(await submit(name, { model: 'kws-cnn:int8', settings: { warmup: 1, iterations: 20 } }));
  assert.equal(second.status, 'succeeded');
  const remote = (await adb.adb(['-s', `127.0.0.1:${phones.main!.port}`, 'shell', 'ls /data/local/tmp/benchfleet/models /data/local/tmp/benchfleet/jobs'])).stdout;
  assert.equal(remote.split(/\s+/).filter((f) => /^[0-9a-f]{64}$/.test(f)).length, 1, `one cached model, no job folders left: ${remote}`);
  assert.doesNotMatch(remote, /job_/);
});

test('the family\'s reference set is run on the phone: output fidelity of int8 against fp32', { timeout: 120_000 }, async () => {
  const fp32 = path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx');
  assert.equal((await farm.cli(['model', 'push', fp32, '--family', 'kws-cnn', '--variant', 'fp32'])).code, 0);
  const ref = await farm.cli(['family', 'reference', 'kws-cnn', '--from', 'fp32', '--count', '6']);
  assert.equal(ref.code, 0, ref.stderr);
  try {
    const job = await finished(await submit((await deviceOf('main'))!.name, { model: 'kws-cnn:int8', settings: { warmup: 1, iterations: 20 } }));
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const cosine = job.measurements.find((m) => m.metric === 'fidelity_cosine');
    assert.ok(cosine, `fidelity measured on the phone: ${JSON.stringify(job.measurements.map((m) => m.metric))} ${JSON.stringify(job.environment)}`);
    assert.equal(cosine.count, 6, 'one sample per reference input');
    assert.ok(cosine.min > 0.99 && cosine.max <= 1 + 1e-9, `int8 follows fp32: ${cosine.min}`);
    assert.equal(job.measurements.find((m) => m.metric === 'fidelity_top1')?.count, 6);
  } finally {
    await farm.api('DELETE', '/families/kws-cnn/reference');
  }
});

test('energy measured on a charging phone is flagged', { timeout: 60_000 }, async () => {
  const job = await finished(await submit((await deviceOf('charging'))!.name, { model: 'kws-cnn:int8', settings: { warmup: 1, iterations: 50, min_duration_ms: 800 } }));
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  assert.equal(job.environment?.charging, true);
  const energy = job.measurements.find((m) => m.metric === 'energy_mj');
  assert.ok(energy, 'energy is still reported');
  assert.deepEqual(energy.flags, ['charging']);
});

test('bad cases end the job with their own error codes', { timeout: 120_000 }, async () => {
  const locked = await finished(await submit((await deviceOf('locked'))!.name, { model: 'kws-cnn:int8' }));
  assert.equal(locked.error?.code, 'device_unauthorized');
  const full = await finished(await submit((await deviceOf('full'))!.name, { model: 'kws-cnn:int8' }));
  assert.equal(full.error?.code, 'push_failed');
  assert.match(full.error!.message, /space/i);
  const hot = await finished(await submit((await deviceOf('hot'))!.name, { model: 'kws-cnn:int8' }));
  assert.equal(hot.error?.code, 'device_too_hot');
  const main = (await deviceOf('main'))!.name;
  const garbage = await finished(await submit(main, { model: 'llm:q4', runtime: 'llama.cpp' }));
  assert.equal(garbage.error?.code, 'output_unparseable');
  assert.match(garbage.error!.message, /this is not llama-bench output/, 'the error quotes the lines it could not read');
  const exit3 = await finished(await submit(main, { model: 'et:v1', runtime: 'executorch' }));
  assert.equal(exit3.error?.code, 'runner_failed');
  assert.match(exit3.error!.message, /exited 3.*cannot open model/);
  const failing = await finished(await submit(main, { model: 'kws-cnn:int8', settings: { inputs: { input: { shape: [1, 1, 49, 11] } } } }));
  assert.equal(failing.error?.code, 'invalid_input_spec');
});

test('a hanging runner is killed at the timeout and leaves no process behind', { timeout: 60_000 }, async () => {
  const job = await finished(await submit((await deviceOf('main'))!.name, { model: 'hang:v1', runtime: 'tflite', settings: { timeout_ms: 3000 } }));
  assert.equal(job.status, 'timed_out');
  await waitFor('the remote sleep to be gone', () => {
    const ps = execFileSync('ps', ['-eo', 'args']).toString();
    return !ps.split('\n').some((l) => l.trim() === 'sleep 1000');
  }, 10_000);
});

test('unplugging a phone mid-job fails the job as retryable; the phone comes back online', { timeout: 120_000 }, async () => {
  const { phone } = phones.main!;
  const name = (await deviceOf('main'))!.name;
  const res = await farm.api<RunView>('POST', '/runs', { device: name, model: 'kws-cnn:int8', max_attempts: 2, settings: { warmup: 1, iterations: 10, min_duration_ms: 8000 } });
  const jobId = res.body.jobs![0]!.id;
  await waitFor('running', async () => (await farm.api<JobView>('GET', `/jobs/${jobId}`)).body.progress?.phase === 'measuring', 30_000);
  await phone.stop();
  const failed = await waitFor('the attempt to fail', async () => {
    const j = (await farm.api<JobView>('GET', `/jobs/${jobId}`)).body;
    return j.error ? j : null;
  }, 30_000);
  assert.equal(failed.error?.code, 'device_unavailable');
  assert.equal(failed.status, 'queued', 'retryable: requeued for another attempt');
  await waitFor('the phone to be offline', async () => (await deviceOf('main'))?.state === 'offline', 20_000);
  await phone.start();
  await adb.adb(['connect', `127.0.0.1:${phones.main!.port}`]);
  await waitFor('the phone back online', async () => (await deviceOf('main'))?.state !== 'offline', 40_000);
  const done = await waitFor('the retry to finish', async () => {
    const j = (await farm.api<JobView>('GET', `/jobs/${jobId}`)).body;
    return ['succeeded', 'failed', 'timed_out'].includes(j.status) ? j : null;
  }, 60_000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
});
