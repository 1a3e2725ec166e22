// Real phones, not only benchfleet's emulated one (issue 10, item 6): the emulated phone has no
// benchmark runner preinstalled, as a real phone. With the default config a job fails at once with
// a one-line runner_not_found naming the config key to set; with the runner binaries a user
// provides — onnxruntime_perf_test and llama-bench through `binary`/{runner}, benchmark_model
// pushed by hand with `adb push` — jobs succeed with parsed measurements whose values follow the
// model. The agent finds its adb server through ANDROID_ADB_SERVER_PORT / ADB_SERVER_SOCKET,
// as adb does, with no port in its config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EmulatedPhone } from '../agent/emulators/phone/phone.js';
import { writeRunnerBinary } from '../agent/emulators/phone/tools/install.js';
import type { DeviceView, JobView, RunView } from '../protocol/api.js';
import { freePort, startAdbServer, type AdbServer } from './support/adb.js';
import { repoRoot, startFarm, waitFor, type Farm } from './support/farm.js';

let adb: AdbServer;
let farm: Farm;
let phone: EmulatedPhone;
let phonePort = 0;
const int8 = path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx');
const fp32 = path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx');

const serial = () => `127.0.0.1:${phonePort}`;

async function phoneDevice(): Promise<DeviceView> {
  return waitFor('the phone online', async () => (await farm.api<{ items: DeviceView[] }>('GET', '/devices')).body.items.find((d) => d.serial === serial() && d.state !== 'offline'), 30_000);
}

async function runJob(body: Record<string, unknown>): Promise<JobView> {
  const res = await farm.api<RunView>('POST', '/runs', { device: (await phoneDevice()).name, max_attempts: 1, ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.jobs![0]!.id;
  return waitFor(`job ${id}`, async () => {
    const j = (await farm.api<JobView>('GET', `/jobs/${id}`)).body;
    return ['succeeded', 'failed', 'timed_out', 'canceled'].includes(j.status) ? j : null;
  }, 90_000, 200);
}

/** A TFLite-looking file (the flatbuffer identifier at offset 4) of `size` bytes of weights. */
function tfliteFile(name: string, size: number): string {
  const file = path.join(farm.dataDir, name);
  fs.writeFileSync(file, Buffer.concat([Buffer.from([0x1c, 0, 0, 0]), Buffer.from('TFL3'), crypto.randomBytes(size)]));
  return file;
}

function ggufFile(name: string, size: number): string {
  const file = path.join(farm.dataDir, name);
  fs.writeFileSync(file, Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), crypto.randomBytes(size)]));
  return file;
}

before(async () => {
  adb = await startAdbServer();
  phonePort = await freePort();
  phone = new EmulatedPhone({ port: phonePort, serialProps: { 'ro.product.model': 'Emu runners' }, tickMs: 50 });
  await phone.start();
  farm = await startFarm();
  for (const [file, family, variant] of [
    [int8, 'kws-cnn', 'int8'], [fp32, 'kws-cnn', 'fp32'],
    [tfliteFile('small.tflite', 40_000), 'tfl', 'small'], [tfliteFile('large.tflite', 400_000), 'tfl', 'large'],
    [ggufFile('small.gguf', 20_000), 'llm', 'small'], [ggufFile('large.gguf', 160_000), 'llm', 'large'],
  ] as const) {
    const r = await farm.cli(['model', 'push', file, '--family', family, '--variant', variant]);
    assert.equal(r.code, 0, r.stderr);
  }
});

after(async () => {
  await farm?.stop();
  await phone?.dispose();
  await adb?.stop();
});

test('with the default config, a phone without the runner fails the job with one line naming the key to set', { timeout: 120_000 }, async () => {
  const config = path.join(farm.dataDir, 'default.json');
  // No port: the agent finds the private adb server through ANDROID_ADB_SERVER_PORT, as adb does.
  fs.writeFileSync(config, JSON.stringify({ linux: false, adb: { connect: [serial()] } }));
  await farm.startAgent({ config, env: { ANDROID_ADB_SERVER_PORT: String(adb.port) } });
  try {
    const job = await runJob({ model: 'kws-cnn:int8' });
    assert.equal(job.status, 'failed');
    assert.equal(job.error?.code, 'runner_not_found', JSON.stringify(job.error));
    assert.doesNotMatch(job.error!.message, /\n/, 'one line');
    assert.match(job.error!.message, /adb\.runners\.onnxruntime\.binary/, 'names the config key');
    assert.match(job.error!.message, /onnxruntime_perf_test/, 'names the program it looked for');
    assert.doesNotMatch(job.error!.message, /exited 127|not found: /, 'not the shell\'s own complaint');
    // The CLI shows the code too (what a user sees next to the failed job).
    const shown = await farm.cli(['run', 'show', job.run_id]);
    assert.match(shown.stdout + shown.stderr, /runner_not_found/);
    // Nothing was pushed for a job that could not run.
    const ls = await adb.adb(['-s', serial(), 'shell', 'ls /data/local/tmp/benchfleet/models 2>/dev/null | wc -l']);
    assert.equal(ls.stdout.trim(), '0');
  } finally {
    await farm.stopAgent();
  }
});

test('runner binaries users provide: onnxruntime_perf_test and llama-bench via binary/{runner}, benchmark_model pushed by hand', { timeout: 300_000 }, async () => {
  const tools = path.join(farm.dataDir, 'downloads');
  // benchmark_model: the user pushes it themselves, as the TFLite README says, and names its path.
  const bm = writeRunnerBinary('benchmark_model', path.join(tools, 'android_aarch64_benchmark_model'));
  const pushed = await adb.adb(['-s', serial(), 'push', bm, '/data/local/tmp/tools/benchmark_model']);
  assert.equal(pushed.code, 0, pushed.stderr);
  const config = path.join(farm.dataDir, 'user-binaries.json');
  fs.writeFileSync(config, JSON.stringify({
    linux: false,
    adb: {
      connect: [serial()],
      runners: {
        onnxruntime: {
          parser: 'onnxruntime_perf_test', binary: writeRunnerBinary('onnxruntime_perf_test', path.join(tools, 'onnxruntime_perf_test')),
          command: '{runner} -e cpu -m times -r {iterations} -x {threads} -y 1 -I {model}',
        },
        tflite: { parser: 'benchmark_model', command: '/data/local/tmp/tools/benchmark_model --graph={model} --num_threads={threads} --warmup_runs={warmup} --num_runs={iterations} --min_secs={min_duration_ms}e-3 --report_peak_memory_footprint=true' },
        'llama.cpp': { parser: 'llama-bench', binary: writeRunnerBinary('llama-bench', path.join(tools, 'llama-bench')), command: '{runner} -m {model} -p 64 -n 16 -t {threads} -r 3 -o jsonl' },
      },
      energy: { sampleHz: 20, baselineMs: 300 },
      thermal: { maxStartCelsius: 90 },
    },
  }));
  // This time through ADB_SERVER_SOCKET.
  await farm.startAgent({ config, env: { ADB_SERVER_SOCKET: `tcp:127.0.0.1:${adb.port}` } });
  try {
    const ort: Record<string, number> = {};
    for (const variant of ['fp32', 'int8']) {
      const job = await runJob({ model: `kws-cnn:${variant}`, settings: { warmup: 1, iterations: 300 } });
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      assert.equal(job.environment?.runner_parser, 'onnxruntime_perf_test');
      assert.equal(job.environment?.latency_count, 300, 'the tool ran -r {iterations} requests');
      const lat = job.measurements.find((m) => m.metric === 'latency_ms')!;
      assert.ok(lat.median > 0);
      assert.ok((job.measurements.find((m) => m.metric === 'peak_rss_mib')?.median ?? 0) > 10, 'peak working set of the runner');
      ort[variant] = lat.median;
    }
    assert.ok(ort.int8! < ort.fp32!, `the real model ran: int8 ${ort.int8} ms < fp32 ${ort.fp32} ms`);

    const tfl: Record<string, number> = {};
    for (const variant of ['small', 'large']) {
      const job = await runJob({ model: `tfl:${variant}`, runtime: 'tflite', settings: { warmup: 2, iterations: 30, min_duration_ms: 300, threads: 2 } });
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      assert.equal(job.environment?.runner_parser, 'benchmark_model');
      assert.equal(job.environment?.num_threads, 2);
      assert.ok(Number(job.environment?.latency_count) >= 30);
      tfl[variant] = job.measurements.find((m) => m.metric === 'latency_ms')!.median;
      assert.ok(job.measurements.some((m) => m.metric === 'peak_rss_mib'));
    }
    assert.ok(tfl.large! > tfl.small! * 3, `cost follows the model: ${tfl.small} ms for 40 KB, ${tfl.large} ms for 400 KB`);

    const llm: Record<string, number> = {};
    for (const variant of ['small', 'large']) {
      const job = await runJob({ model: `llm:${variant}`, runtime: 'llama.cpp', settings: { threads: 2 } });
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      const decode = job.measurements.find((m) => m.metric === 'decode_tok_s')!;
      const prefill = job.measurements.find((m) => m.metric === 'prefill_tok_s')!;
      assert.equal(decode.count, 3, 'one sample per repetition');
      assert.ok(prefill.median > 0);
      llm[variant] = decode.median;
    }
    // 8× the weights: decode is clearly slower (a fixed per-token cost of the emulated phone's shell
    // keeps the ratio near 2–3 rather than 8 since the energy emulator tracks per-session CPU; under a
    // full suite on two shared cores it measured 1.9×, so only a clear slow-down is asserted).
    assert.ok(llm.large! < llm.small! / 1.3, `decode reads every weight per token: ${llm.small} tok/s vs ${llm.large} tok/s`);
    // The binaries were pushed once per hash beside the hand-pushed one.
    const bin = await adb.adb(['-s', serial(), 'shell', 'ls /data/local/tmp/benchfleet/bin']);
    assert.equal(bin.stdout.split(/\s+/).filter((f) => /^[0-9a-f]{64}$/.test(f)).length, 2, bin.stdout);
    console.log(`# onnxruntime_perf_test kws-cnn: fp32 ${ort.fp32} ms, int8 ${ort.int8} ms; benchmark_model 40 KB ${tfl.small} ms, 400 KB ${tfl.large} ms; llama-bench decode 20 KB ${llm.small} tok/s, 160 KB ${llm.large} tok/s`);
  } finally {
    await farm.stopAgent();
  }
});

test('a configured binary missing on the agent\'s host fails with the key to fix; a bad ADB_SERVER_SOCKET is a one-line CLI error', { timeout: 60_000 }, async () => {
  const config = path.join(farm.dataDir, 'missing-binary.json');
  fs.writeFileSync(config, JSON.stringify({
    linux: false,
    adb: { port: adb.port, connect: [serial()], runners: { onnxruntime: { parser: 'onnxruntime_perf_test', binary: '/nonexistent/onnxruntime_perf_test', command: '{runner} -I {model}' } } },
  }));
  await farm.startAgent({ config });
  try {
    const job = await runJob({ model: 'kws-cnn:int8' });
    assert.equal(job.error?.code, 'runner_not_found');
    assert.match(job.error!.message, /\/nonexistent\/onnxruntime_perf_test \(adb\.runners\.onnxruntime\.binary\)/);
  } finally {
    await farm.stopAgent();
  }
  const noPort = path.join(farm.dataDir, 'no-port.json');
  fs.writeFileSync(noPort, JSON.stringify({ linux: false, adb: {} }));
  const bad = await farm.cli(['agent', '--token', 'x', '--data', path.join(farm.dataDir, 'bad-agent'), '--config', noPort], { ADB_SERVER_SOCKET: 'localhost:5037' });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr.trim(), /^benchfleet: .*ADB_SERVER_SOCKET must be tcp:<host>:<port>/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});
