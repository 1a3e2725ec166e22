// Tests for agent/runners/parsers: each tool's parser against fixtures in test/fixtures/runners
// that reproduce the tools' real output formats (typical, old formats, CRLF, op profiling, failed
// runs). Expected numbers are read off the fixture text by hand, converted to ms/MiB where the
// parser must convert, never copied from parser output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  MISSING_DONE, RunnerOutputError, RunnerReportedError, parseBenchmarkModel, parseExecutorch, parseJsonl, parseLlamaBench,
  parseOnnxruntimePerfTest, parseRunnerOutput, type ParsedRun, type RunnerParser,
} from '../agent/runners/parsers/index.js';
import { jobEnvironmentSchema, operatorStatSchema, sampleSetSchema } from '../protocol/agent-messages.js';

const FIXTURES = new URL('../../test/fixtures/runners/', import.meta.url);
const fixture = (name: string): string => fs.readFileSync(new URL(name, FIXTURES), 'utf8');
const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');

function close(actual: unknown, expected: number, what = ''): void {
  assert.equal(typeof actual, 'number', `${what}: expected a number, got ${String(actual)}`);
  const tol = 1e-9 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs((actual as number) - expected) <= tol, `${what}: expected ${expected}, got ${String(actual)}`);
}

function samples(run: ParsedRun, metric: string): number[] {
  const set = run.measurements.find((m) => m.metric === metric);
  assert.ok(set, `no ${metric} in ${run.measurements.map((m) => m.metric).join(', ')}`);
  return set.samples;
}

function closeAll(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} samples, expected ${expected.length}`);
  expected.forEach((e, i) => close(actual[i], e, `${what}[${i}]`));
}

function unitOf(run: ParsedRun, metric: string): string | undefined {
  return run.measurements.find((m) => m.metric === metric)?.unit;
}

/** Asserts `fn` throws RunnerOutputError and returns it. */
function outputError(fn: () => unknown): RunnerOutputError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RunnerOutputError, `expected RunnerOutputError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a RunnerOutputError');
}

const RUNNER_OF: Record<string, RunnerParser> = { bm: 'benchmark_model', ort: 'onnxruntime_perf_test', llama: 'llama-bench', et: 'executorch', jsonl: 'jsonl' };
const FAILING = new Set(['bm-failed.txt', 'ort-failed.txt', 'llama-failed.txt', 'et-failed.txt', 'jsonl-error.jsonl', 'jsonl-truncated.jsonl', 'jsonl-invalid.jsonl', 'jsonl-logs-only.txt']);
const allFixtures = fs.readdirSync(FIXTURES).sort();
const runnerOf = (name: string): RunnerParser => RUNNER_OF[name.split(/[-.]/)[0] ?? ''] ?? assert.fail(`no runner for ${name}`);

// ---- benchmark_model ---------------------------------------------------------------------------

test('benchmark_model (LiteRT): timed-run stats with percentiles, peak memory, full XNNPACK delegation', () => {
  const run = parseBenchmarkModel(fixture('bm-litert-xnnpack.txt'));
  closeAll(samples(run, 'latency_ms'), [20.9114], 'latency_ms'); // avg=20911.4 us
  assert.equal(unitOf(run, 'latency_ms'), 'ms');
  closeAll(samples(run, 'peak_rss_mib'), [21.0391], 'peak_rss_mib');
  assert.equal(unitOf(run, 'peak_rss_mib'), 'MiB');
  const e = run.environment;
  assert.equal(e.latency_count, 100);
  close(e.latency_min_ms, 20.398, 'min');
  close(e.latency_max_ms, 23.977, 'max');
  close(e.latency_std_ms, 0.512, 'std');
  close(e.latency_p5_ms, 20.451, 'p5');
  close(e.latency_p50_ms, 20.788, 'median');
  close(e.latency_p95_ms, 21.902, 'p95');
  close(e.warmup_avg_ms, 21.6553, 'warmup avg');
  assert.equal(e.warmup_count, 24);
  close(e.first_inference_ms, 31.874, 'first inference');
  close(e.init_ms, 38.512, 'init');
  assert.equal(e.model_size_bytes, 4_276_350); // 4.27635 MB, the tool divides bytes by 1e6
  assert.equal(e.num_threads, 4);
  assert.equal(e.use_xnnpack, true);
  assert.equal(e.graph, '/data/local/tmp/benchfleet/models/3f9a2c.tflite');
  assert.equal(e.delegate, 'xnnpack');
  assert.equal(e.delegation, 'full');
  assert.equal(e.delegate_kernels, 1);
  assert.equal(e.delegated_nodes, 31);
  assert.equal(e.total_nodes, 31);
  close(e.mem_delta_init_mib, 6.36328, 'init delta');
  close(e.mem_delta_overall_mib, 11.8906, 'overall delta');
  assert.equal(e.end_vm_rss_mib, 20);
  assert.equal(run.operators, undefined);
});

test('benchmark_model (TF 2.x): count-first key order, exponent in max=, partial GPU delegation, no peak sampler', () => {
  const run = parseBenchmarkModel(fixture('bm-tf-gpu-partial.txt'));
  closeAll(samples(run, 'latency_ms'), [22.9618], 'latency_ms');
  assert.equal(run.measurements.some((m) => m.metric === 'peak_rss_mib'), false, 'init/overall deltas are not a peak');
  const e = run.environment;
  assert.equal(e.latency_count, 1043);
  close(e.latency_max_ms, 1024.1, 'max=1.0241e+06 us');
  close(e.latency_min_ms, 21.603, 'min');
  close(e.latency_std_ms, 30.982, 'std');
  assert.equal(e.latency_p50_ms, undefined, 'older builds print no percentiles');
  close(e.init_ms, 1043.28, 'init');
  close(e.first_inference_ms, 65.731, 'first');
  close(e.warmup_avg_ms, 24.2136, 'warmup');
  assert.equal(e.delegate, 'gpu');
  assert.equal(e.delegation, 'partial');
  assert.equal(e.delegate_kernels, 2);
  assert.equal(e.delegated_nodes, 63);
  assert.equal(e.total_nodes, 66);
  assert.equal(e.use_gpu, true);
  close(e.mem_delta_init_mib, 187.652, 'init mem');
  close(e.mem_delta_overall_mib, 201.77, 'overall mem');
});

test('benchmark_model (old builds): curr-first key order and the "Average inference timings" line', () => {
  const run = parseBenchmarkModel(fixture('bm-old-average.txt'));
  closeAll(samples(run, 'latency_ms'), [79.7609], 'latency_ms');
  const e = run.environment;
  assert.equal(e.latency_count, 50);
  close(e.latency_min_ms, 77.391, 'min');
  close(e.latency_max_ms, 88.213, 'max');
  close(e.latency_std_ms, 1.943, 'std');
  assert.equal(e.warmup_count, 1);
  close(e.warmup_avg_ms, 83.235, 'warmup');
  close(e.first_inference_ms, 83.235, 'a single warm-up run is the first inference');
  close(e.init_ms, 38.467, 'init');
  assert.equal(e.num_threads, 1);
});

test('benchmark_model: the "Average inference timings" line alone is enough (fallback)', () => {
  const text = fixture('bm-old-average.txt').split('\n').filter((l) => !l.includes('count=')).join('\n');
  const run = parseBenchmarkModel(text);
  closeAll(samples(run, 'latency_ms'), [79.7609], 'latency_ms'); // Inference: 79760.9
  close(run.environment.warmup_avg_ms, 83.235, 'Warmup: 83235');
  close(run.environment.init_ms, 38.467, 'Init: 38467');
  assert.equal(run.environment.latency_count, undefined, 'no count without the stats line');
});

test('benchmark_model: CRLF output, keys in shuffled order, exponent avg, NNAPI applied but unused', () => {
  const text = fixture('bm-crlf-nnapi.txt');
  assert.ok(text.includes('\r\n'), 'the fixture has CRLF line ends');
  const run = parseBenchmarkModel(text);
  closeAll(samples(run, 'latency_ms'), [1240.27], 'avg=1.24027e+06 us');
  const e = run.environment;
  assert.equal(e.latency_count, 50);
  close(e.latency_min_ms, 1238.588, 'min');
  close(e.latency_max_ms, 1252.566, 'max');
  close(e.latency_p5_ms, 1238.753, 'p5');
  close(e.latency_p50_ms, 1239.807, 'median');
  close(e.latency_p95_ms, 1247.415, 'p95');
  close(e.latency_std_ms, 2.565, 'std');
  assert.equal(e.warmup_count, 1);
  close(e.warmup_avg_ms, 1357.602, 'count=1 curr=1357602: the stats line beats the 6-digit summary');
  close(e.first_inference_ms, 1357.602, 'first');
  close(e.init_ms, 66.002, 'init');
  assert.equal(e.delegate, 'nnapi');
  assert.equal(e.delegation, 'none');
  assert.equal(e.delegate_kernels, 0);
  assert.equal(e.mem_delta_init_mib, 5, 'integer MB value');
  assert.equal(e.graph, '/data/local/tmp/tiny.tflite', 'no trailing \\r in strings');
  assert.deepEqual(parseBenchmarkModel(text.replace(/\r\n/g, '\n')), run);
});

test('benchmark_model: APK output read from logcat (tag tflite)', () => {
  const run = parseBenchmarkModel(fixture('bm-logcat.txt'));
  closeAll(samples(run, 'latency_ms'), [1.68792], 'latency_ms');
  assert.equal(run.environment.latency_count, 593);
  assert.equal(run.environment.warmup_count, 297);
  close(run.environment.init_ms, 1007.529, 'Init: 1007529 us');
  close(run.environment.first_inference_ms, 4.098, 'first');
  assert.equal(run.environment.num_threads, 4);
  assert.equal(run.environment.delegate, 'xnnpack', 'XNNPACK applied by default');
  assert.equal(run.environment.delegation, undefined, 'the default delegate does not report its coverage');
});

const OLD_OPS = [
  { type: 'CONV_2D', name: '[MobilenetV1/MobilenetV1/Conv2d_0/Relu6]:0', avgMs: 4.133, percent: 33.258 },
  { type: 'DEPTHWISE_CONV_2D', name: '[MobilenetV1/MobilenetV1/Conv2d_1_depthwise/Relu6]:1', avgMs: 2.208, percent: 17.768 },
  { type: 'CONV_2D', name: '[MobilenetV1/MobilenetV1/Conv2d_1_pointwise/Relu6]:2', avgMs: 5.987, percent: 48.177 },
  { type: 'AVERAGE_POOL_2D', name: '[MobilenetV1/Logits/AvgPool_1a/AvgPool]:3', avgMs: 0.08, percent: 0.644 },
  { type: 'SOFTMAX', name: '[MobilenetV1/Predictions/Reshape_1]:4', avgMs: 0.019, percent: 0.153 },
];

function assertOldOps(run: ParsedRun): void {
  const ops = run.operators ?? [];
  assert.equal(ops.length, 5, 'only the Run Order rows of the regular runs (no init table, no Top-by-time repeat)');
  OLD_OPS.forEach((want, i) => {
    const op = ops[i];
    assert.ok(op);
    assert.equal(op.type, want.type);
    assert.equal(op.name, want.name);
    close(op.avgMs, want.avgMs, `${want.type} avg`);
    close(op.percent, want.percent, `${want.type} %`);
    assert.equal(op.timesCalled, 1);
  });
  assert.equal(ops[4]?.memKb, 12.5);
  assert.equal(ops[0]?.memKb, 0);
}

test('benchmark_model op profiling: older tab-separated table with the [start] column', () => {
  const run = parseBenchmarkModel(fixture('bm-op-profiling-old.txt'));
  assertOldOps(run);
  // The profiler's own "Timings (microseconds): count=80 … avg=12427" line is not the latency.
  closeAll(samples(run, 'latency_ms'), [12.4892], 'latency_ms');
  assert.equal(run.environment.latency_count, 80);
  assert.equal(run.environment.use_xnnpack, false);
});

test('benchmark_model op profiling: the [start] layout also parses when aligned with spaces', () => {
  const text = fixture('bm-op-profiling-old.txt').replace(/\t/g, '    ');
  assertOldOps(parseBenchmarkModel(text));
});

function assertNewOps(run: ParsedRun): void {
  const ops = run.operators ?? [];
  assert.deepEqual(ops.map((o) => o.type), ['QUANTIZE', 'Convolution (NHWC, QC8) IGEMM', 'Convolution (NHWC, QC8) DWConv', 'Convolution (NHWC, QC8) GEMM', 'DEQUANTIZE']);
  assert.deepEqual(ops.map((o) => o.name), [
    '[tfl.quantize]:0', 'Delegate/Convolution (NHWC, QC8) IGEMM:0', 'Delegate/Convolution (NHWC, QC8) DWConv:1',
    'Delegate/Convolution (NHWC, QC8) GEMM:2', '[StatefulPartitionedCall:0]:3',
  ]);
  closeAll(ops.map((o) => o.avgMs), [0.203, 0.407, 0.661, 13.452, 0.589], 'avg ms');
  closeAll(ops.map((o) => o.percent), [1.326, 2.658, 4.317, 87.853, 3.847], '%');
  assert.deepEqual(ops.map((o) => o.timesCalled), [1, 1, 13, 14, 1]);
}

test('benchmark_model op profiling: newer space-aligned table without [start], names with spaces', () => {
  const run = parseBenchmarkModel(fixture('bm-op-profiling-new.txt'));
  assertNewOps(run);
  closeAll(samples(run, 'latency_ms'), [15.6071], 'latency_ms');
  close(run.environment.latency_p50_ms, 15.531, 'median');
  assert.equal(run.environment.delegate, 'xnnpack');
  assert.equal(run.environment.delegation, 'partial', '64 of 66 nodes replaced');
  assert.equal(run.environment.delegate_kernels, 1);
});

test('benchmark_model op profiling: the newer layout also parses when tab-separated', () => {
  const text = fixture('bm-op-profiling-new.txt').split('\n').map((l) => (/^\s+\S/.test(l) ? `\t${l.trim().replace(/ {2,}/g, '\t')}` : l)).join('\n');
  assert.ok(text.includes('\tConvolution (NHWC, QC8) DWConv\t0.712\t'));
  assertNewOps(parseBenchmarkModel(text));
});

test('benchmark_model: a failed run throws, quoting the ERROR lines first', () => {
  const err = outputError(() => parseBenchmarkModel(fixture('bm-failed.txt')));
  assert.deepEqual(err.unreadLines.slice(0, 4), [
    'ERROR: Following operations are not supported by GPU delegate:',
    'ERROR: TfLiteGpuDelegate Init: MUL: Expected a 4D tensor of shape BxHxWxC but got 1x1x1001',
    'ERROR: Failed to apply GPU delegate.',
    'ERROR: Benchmarking failed.',
  ]);
  assert.ok(err.unreadLines.includes('CUSTOM TFLite_Detection_PostProcess: Operation is not supported.'));
  assert.match(err.message, /Benchmarking failed/);
  assert.ok(err.message.includes('"ERROR: Failed to apply GPU delegate."'), err.message);
});

test('benchmark_model: a run that ends during warm-up has no latency', () => {
  const text = fixture('bm-litert-xnnpack.txt').split('\n').slice(0, 18).join('\n'); // up to the warm-up stats line
  assert.match(text, /count=24/);
  const err = outputError(() => parseBenchmarkModel(text));
  assert.match(err.message, /no inference timings/, 'warm-up numbers are never reported as latency');
});

// ---- onnxruntime_perf_test ----------------------------------------------------------------------

test('onnxruntime_perf_test: average latency, percentiles converted from seconds, peak working set', () => {
  const run = parseOnnxruntimePerfTest(fixture('ort-cpu.txt'));
  closeAll(samples(run, 'latency_ms'), [2.41837], 'latency_ms');
  closeAll(samples(run, 'peak_rss_mib'), [52_604_928 / 1_048_576], 'peak_rss_mib'); // 50.16796875 MiB
  const e = run.environment;
  close(e.model_load_ms, 83.1544, 'session creation 0.0831544 s');
  assert.equal(e.first_inference_ms, 5);
  assert.equal(e.latency_count, 200);
  close(e.latency_sum_ms, 483.674, 'total 0.483674 s');
  close(e.run_wall_ms, 484.129, 'wall 0.484129 s');
  close(e.inferences_per_s, 413.113, 'rate with trailing space');
  assert.equal(e.cpu_usage_pct, 97);
  close(e.latency_min_ms, 2.31265, 'min');
  close(e.latency_max_ms, 4.12007, 'max');
  close(e.latency_p50_ms, 2.39544, 'p50');
  close(e.latency_p90_ms, 2.52311, 'p90');
  close(e.latency_p95_ms, 2.61874, 'p95');
  close(e.latency_p99_ms, 3.18412, 'p99');
  close(e.latency_p999_ms, 4.12007, 'p999');
});

test('onnxruntime_perf_test: CRLF output and e-05 seconds', () => {
  const text = fixture('ort-tiny-crlf.txt');
  assert.ok(text.includes('\r\n'));
  const run = parseOnnxruntimePerfTest(text);
  closeAll(samples(run, 'latency_ms'), [0.041244], 'latency_ms');
  closeAll(samples(run, 'peak_rss_mib'), [18], '18874368 bytes');
  const e = run.environment;
  assert.equal(e.first_inference_ms, 0, 'integer ms can read 0');
  close(e.latency_min_ms, 0.038912, '3.8912e-05 s');
  close(e.latency_p50_ms, 0.040131, '4.0131e-05 s');
  close(e.latency_p99_ms, 0.060044, '6.0044e-05 s');
  close(e.latency_max_ms, 0.187301, '0.000187301 s');
  close(e.model_load_ms, 5.12431, 'session');
  assert.equal(e.latency_count, 1000);
});

test('onnxruntime_perf_test: a failed run throws, quoting what the tool printed', () => {
  const err = outputError(() => parseOnnxruntimePerfTest(fixture('ort-failed.txt')));
  assert.equal(err.unreadLines.length, 2);
  assert.ok(err.message.includes('Protobuf parsing failed.'), err.message);
});

// ---- llama-bench ------------------------------------------------------------------------------

test('llama-bench markdown: pp/tg rows, ± spread, size/params, build footer', () => {
  const run = parseLlamaBench(fixture('llama-md.txt'));
  assert.deepEqual(run.measurements.map((m) => m.metric), ['prefill_tok_s', 'decode_tok_s']);
  closeAll(samples(run, 'prefill_tok_s'), [92.34], 'pp512');
  closeAll(samples(run, 'decode_tok_s'), [10.87], 'tg128');
  assert.equal(unitOf(run, 'decode_tok_s'), 'tok/s');
  const e = run.environment;
  close(e.prefill_tok_s_stddev, 1.2, 'pp stddev');
  close(e.decode_tok_s_stddev, 0.03, 'tg stddev');
  assert.equal(e.prefill_tok_s_test, 'pp512');
  assert.equal(e.decode_tok_s_test, 'tg128');
  assert.equal(e.model_size_bytes, Math.round(3.56 * 1024 ** 3));
  assert.equal(e.model_params, 6_740_000_000);
  assert.equal(e.model_type, 'llama 7B Q4_0');
  assert.equal(e.backend, 'CPU');
  assert.equal(e.threads, 4);
  assert.equal(e.build_commit, 'abc123');
  assert.equal(e.build_number, 1234);
});

test('llama-bench markdown (older): "pp 512" with a space, ngl column', () => {
  const run = parseLlamaBench(fixture('llama-md-old.txt'));
  closeAll(samples(run, 'prefill_tok_s'), [1022.47], 'pp 512');
  closeAll(samples(run, 'decode_tok_s'), [58.43], 'tg 128');
  close(run.environment.decode_tok_s_stddev, 0.19, 'tg stddev');
  assert.equal(run.environment.n_gpu_layers, 99);
  assert.equal(run.environment.backend, 'Metal');
  assert.equal(run.environment.build_commit, '8cf427ff');
});

test('llama-bench markdown: depth suffix, several thread counts and a pp+tg test stay separate', () => {
  const run = parseLlamaBench(fixture('llama-md-depth-threads.txt'));
  assert.deepEqual(run.measurements.map((m) => [m.metric, m.samples]), [
    ['prefill_tok_s', [101.72]],
    ['decode_tok_s', [11.02]],
    ['prefill_tok_s.pp512_d512_t8', [184.15]],
    ['decode_tok_s.tg128_d512_t8', [12.34]],
    ['pg_tok_s', [45.67]],
  ]);
  assert.equal(run.environment.prefill_tok_s_test, 'pp512_d512');
  close(run.environment['prefill_tok_s.pp512_d512_t8_stddev'], 2.31, 't8 stddev');
  assert.equal(run.environment.pg_tok_s_test, 'pp512_tg128');
  assert.equal(run.environment.model_params, 7_620_000_000);
  for (const m of run.measurements) sampleSetSchema.parse(m); // suffixed names are valid metric names
});

test('llama-bench JSONL: per-repetition samples_ts, stddev, model facts; logs ignored', () => {
  const run = parseLlamaBench(fixture('llama.jsonl'));
  closeAll(samples(run, 'prefill_tok_s'), [243.608442, 244.027974, 242.653535, 244.494251, 243.26632], 'pp samples_ts');
  closeAll(samples(run, 'decode_tok_s'), [17.29212, 17.301699, 17.269479, 17.284421, 17.299625], 'tg samples_ts');
  const e = run.environment;
  close(e.prefill_tok_s_stddev, 0.705256, 'pp stddev_ts');
  close(e.decode_tok_s_stddev, 0.013085, 'tg stddev_ts');
  assert.equal(e.model_size_bytes, 409_565_184);
  assert.equal(e.model_params, 494_032_768);
  assert.equal(e.model_type, 'qwen2 1B Q4_0');
  assert.equal(e.threads, 4);
  assert.equal(e.n_gpu_layers, 99);
  assert.equal(e.build_number, 5163);
});

test('llama-bench JSONL without samples_ts falls back to [avg_ts]', () => {
  const text = fixture('llama.jsonl').replace(/, "samples_ns": \[[^\]]*\], "samples_ts": \[[^\]]*\]/g, '');
  assert.ok(!text.includes('samples_ts'));
  const run = parseLlamaBench(text);
  assert.deepEqual(samples(run, 'prefill_tok_s'), [243.610104]);
  assert.deepEqual(samples(run, 'decode_tok_s'), [17.289469]);
});

test('llama-bench JSON array with logs interleaved (stderr merged into stdout)', () => {
  const run = parseLlamaBench(fixture('llama-json.txt'));
  closeAll(samples(run, 'prefill_tok_s'), [243.608442, 244.027974, 242.653535, 244.494251, 243.26632], 'n_threads 4');
  closeAll(samples(run, 'prefill_tok_s.pp512_t8'), [430.099623, 431.074237, 428.268389], 'n_threads 8');
  close(run.environment['prefill_tok_s.pp512_t8_stddev'], 1.424551, 't8 stddev');
  assert.equal(run.environment.threads, 4, 'facts come from the first test');
});

test('llama-bench: a model that fails to load throws, quoting the errors', () => {
  const err = outputError(() => parseLlamaBench(fixture('llama-failed.txt')));
  assert.equal(err.unreadLines[2], "main: error: failed to load model '/data/local/tmp/benchfleet/models/qwen.gguf'");
  assert.match(err.message, /failed to load model/);
});

test('llama-bench: a JSONL line that is not valid JSON is an error, not a silent gap', () => {
  const text = `${fixture('llama.jsonl').trimEnd()}\n{"build_commit": "8cf427ff", "n_prompt": 512,\n`;
  const err = outputError(() => parseLlamaBench(text));
  assert.deepEqual(err.unreadLines, ['{"build_commit": "8cf427ff", "n_prompt": 512,']);
});

// ---- ExecuTorch -------------------------------------------------------------------------------

test('executor_runner: total time divided by the execution count', () => {
  const run = parseExecutorch(fixture('et-executor-runner.txt'));
  closeAll(samples(run, 'latency_ms'), [1245.361 / 50], 'latency_ms');
  assert.equal(run.environment.iterations, 50);
  assert.equal(run.environment.latency_count, 50, 'the count behind the single average, as for the other tools');
  close(run.environment.latency_total_ms, 1245.361, 'total');
});

test('ExecuTorch LLM runner: PyTorchObserver gives prefill/decode rates, TTFT and load time', () => {
  const run = parseExecutorch(fixture('et-llm.txt'));
  // inference_start 1713214453672, prompt_eval_end 1713214453865, first_token 1713214453865,
  // inference_end 1713214459961, load 1713214450180 → 1713214453671, 14 prompt / 113 generated.
  closeAll(samples(run, 'prefill_tok_s'), [(14 / 193) * 1000], 'prefill');
  closeAll(samples(run, 'decode_tok_s'), [(113 / 6096) * 1000], 'decode');
  closeAll(samples(run, 'ttft_ms'), [193], 'ttft');
  assert.equal(unitOf(run, 'ttft_ms'), 'ms');
  assert.equal(run.environment.model_load_ms, 3491);
  assert.equal(run.environment.prefill_ms, 193);
  assert.equal(run.environment.prompt_tokens, 14);
  assert.equal(run.environment.generated_tokens, 113);
});

test('ExecuTorch LLM runner: two generations accumulate samples (CRLF)', () => {
  const run = parseExecutorch(fixture('et-llm-two-runs-crlf.txt'));
  closeAll(samples(run, 'prefill_tok_s'), [(8 / 100) * 1000, (8 / 80) * 1000], 'prefill');
  closeAll(samples(run, 'decode_tok_s'), [(32 / 1400) * 1000, (32 / 1220) * 1000], 'decode');
  closeAll(samples(run, 'ttft_ms'), [120, 96], 'ttft');
  assert.equal(run.environment.model_load_ms, 2250, 'the second report has no load span');
  assert.equal(run.environment.prefill_ms, 90, 'mean of 100 and 80');
  assert.equal(run.environment.llm_generations, 2);
});

test('ExecuTorch: a failed load throws, quoting the E/F log lines first', () => {
  const err = outputError(() => parseExecutorch(fixture('et-failed.txt')));
  assert.match(err.unreadLines[0] ?? '', /^E .*kernel 'aten::_native_batch_norm_legit_no_training.out' not found/);
  assert.match(err.unreadLines[2] ?? '', /^F .*Loading of method forward failed/);
  assert.equal(err.unreadLines[3], 'Aborted');
});

// ---- JSON-lines contract ----------------------------------------------------------------------

test('JSON-lines: samples accumulate in order, env and meta go to the environment, logs are ignored', () => {
  const run = parseJsonl(fixture('jsonl-ok.jsonl'));
  assert.deepEqual(run.measurements, [
    { metric: 'latency_ms', unit: 'ms', samples: [0.452, 0.431, 0.447, 0.449] },
    { metric: 'peak_rss_mib', unit: 'MiB', samples: [61.5] },
  ]);
  assert.deepEqual(run.environment, {
    runner: 'benchfleet-onnx', runner_version: '1.30.0', model_load_ms: 1200, first_inference_ms: 2.05, execution_provider: 'cpu', arena: false,
  });
});

test('JSON-lines: an error record throws RunnerReportedError with the runner\'s code', () => {
  assert.throws(() => parseJsonl(fixture('jsonl-error.jsonl')), (err: unknown) => {
    assert.ok(err instanceof RunnerReportedError);
    assert.equal(err.code, 'model_load_failed');
    assert.equal(err.message, 'Load model from /data/local/tmp/m.onnx failed:Protobuf parsing failed.');
    return true;
  });
});

test('JSON-lines: output that stops before done is an error even with samples', () => {
  const err = outputError(() => parseJsonl(fixture('jsonl-truncated.jsonl')));
  assert.equal(err.message, MISSING_DONE);
  assert.equal(err.message, 'runner output ended before its done record (device lost or runner killed?)');
  const killed = outputError(() => parseJsonl(`${fixture('jsonl-truncated.jsonl')}Killed\n`));
  assert.deepEqual(killed.unreadLines, ['Killed'], 'what the shell printed after the last record is quoted');
  assert.ok(killed.message.startsWith(MISSING_DONE));
});

test('JSON-lines: lines that look like records but are not valid are quoted', () => {
  const err = outputError(() => parseJsonl(fixture('jsonl-invalid.jsonl')));
  assert.equal(err.unreadLines.length, 2);
  assert.ok(err.unreadLines[0]?.startsWith('{"type":"sample","metric":"Latency ms"'));
  assert.equal(err.unreadLines[1], '{"type":"sample","metric":"latency_ms","unit":"ms","value":1.6');
  assert.ok(err.message.includes('Latency ms'), err.message);
});

test('JSON-lines: a run without samples quotes the log lines', () => {
  const err = outputError(() => parseJsonl(fixture('jsonl-logs-only.txt')));
  assert.match(err.message, /no samples/);
  assert.deepEqual(err.unreadLines, ['my-runner 0.3 starting', 'warning: no NPU found, falling back to CPU']);
});

test('JSON-lines: one metric in two units, non-finite numbers and records after done', () => {
  const mixed = '{"type":"sample","metric":"latency_ms","unit":"ms","value":1}\n{"type":"sample","metric":"latency_ms","unit":"us","value":900}\n{"type":"done"}\n';
  assert.match(outputError(() => parseJsonl(mixed)).message, /latency_ms was reported in both ms and us/);
  const huge = '{"type":"sample","metric":"latency_ms","unit":"ms","value":1e999}\n{"type":"done"}\n';
  assert.equal(outputError(() => parseJsonl(huge)).unreadLines.length, 1);
  const after = '{"type":"sample","metric":"latency_ms","unit":"ms","value":1}\n{"type":"done"}\n{"type":"sample","metric":"latency_ms","unit":"ms","value":2}\n';
  assert.deepEqual(samples(parseJsonl(after), 'latency_ms'), [1]);
});

// ---- all parsers ------------------------------------------------------------------------------

test('every fixture parses the same with CRLF line ends as with LF', () => {
  for (const name of allFixtures) {
    const text = fixture(name);
    const parse = () => parseRunnerOutput(runnerOf(name), text.replace(/\r\n/g, '\n'));
    const parseCrlf = () => parseRunnerOutput(runnerOf(name), crlf(text));
    if (FAILING.has(name)) {
      const a = (() => { try { parse(); } catch (e) { return e as Error; } return null; })();
      const b = (() => { try { parseCrlf(); } catch (e) { return e as Error; } return null; })();
      assert.ok(a && b, `${name} should fail`);
      assert.equal(b.message, a.message, name);
    } else {
      assert.deepEqual(parseCrlf(), parse(), name);
    }
  }
});

test('every successful parse fits the agent protocol (sample sets, operators, environment)', () => {
  const ok = allFixtures.filter((n) => !FAILING.has(n));
  assert.ok(ok.length >= 15, `only ${ok.length} fixtures`);
  for (const name of ok) {
    const run = parseRunnerOutput(runnerOf(name), fixture(name));
    assert.ok(run.measurements.length > 0, name);
    for (const m of run.measurements) sampleSetSchema.parse(m);
    for (const op of run.operators ?? []) operatorStatSchema.parse(op);
    jobEnvironmentSchema.parse(run.environment);
  }
});

test('output no parser can read throws RunnerOutputError quoting it, for every runner', () => {
  const garbage = 'Segmentation fault\nsh: 1: /data/local/tmp/runner: not found\nlorem ipsum 12 dolor=3\n';
  for (const runner of Object.values(RUNNER_OF)) {
    const err = outputError(() => parseRunnerOutput(runner, garbage));
    assert.ok(err.unreadLines.includes('Segmentation fault'), `${runner}: ${err.message}`);
    assert.ok(err.message.includes('"sh: 1: /data/local/tmp/runner: not found"'), `${runner}: ${err.message}`);
    outputError(() => parseRunnerOutput(runner, ''));
  }
});

test('error messages quote at most five lines', () => {
  const text = Array.from({ length: 12 }, (_, i) => `noise line ${i}`).join('\n');
  const err = outputError(() => parseOnnxruntimePerfTest(text));
  assert.equal(err.unreadLines.length, 12);
  assert.ok(err.message.includes('"noise line 4"') && !err.message.includes('"noise line 5"'), err.message);
  assert.match(err.message, /and 7 more/);
});
