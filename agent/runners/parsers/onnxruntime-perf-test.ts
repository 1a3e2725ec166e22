// Parser for ONNX Runtime `onnxruntime_perf_test` output (performance_runner.cc). The tool prints
// aggregates only: `latency_ms` holds one sample, "Average inference time cost" (ms); the latency
// percentiles it prints in seconds go to the environment converted to ms. "Peak working set size"
// (bytes; peak RSS on POSIX) becomes the `peak_rss_mib` measurement.
import { NUM, SampleSets, splitLines, tidy } from './text.js';
import { RunnerOutputError, type EnvValue, type ParsedRun } from './types.js';

/** Converts `<value> <unit>` to ms; the tool uses s or ms depending on the line and version. */
function toMs(value: string | undefined, unit: string | undefined): number {
  const v = Number(value);
  return tidy(unit === 's' ? v * 1000 : unit === 'us' ? v / 1000 : v);
}

const LINE = {
  session: new RegExp(`^Session creation time cost:\\s*(${NUM})\\s*(s|ms)\\b`),
  first: new RegExp(`^First inference time cost:\\s*(${NUM})\\s*(s|ms)\\b`),
  requests: /^Total (?:inference requests|iterations):\s*(\d+)/,
  sum: new RegExp(`^Total inference time cost:\\s*(${NUM})\\s*(s|ms)\\b`),
  average: new RegExp(`^Average (?:inference )?time cost:\\s*(${NUM})\\s*(s|ms)\\b`),
  wall: new RegExp(`^Total inference run time:\\s*(${NUM})\\s*(s|ms)\\b`),
  rate: new RegExp(`^Number of inferences per second:\\s*(${NUM})`),
  cpu: new RegExp(`^Avg CPU usage:\\s*(${NUM})\\s*%?`),
  peak: /^Peak working set size:\s*(\d+)(?:\s*bytes)?\s*$/,
  runs: /^Runs:\s*(\d+)\s*$/,
  percentile: new RegExp(`^(Min|Max|P\\d+) Latency:\\s*(${NUM})\\s*(s|ms|us)\\b`),
};

export function parseOnnxruntimePerfTest(stdout: string): ParsedRun {
  const env: Record<string, EnvValue> = {};
  const unread: string[] = [];
  let average: number | null = null;
  let peakBytes: number | null = null;
  for (const raw of splitLines(stdout)) {
    const line = raw.trim();
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = LINE.session.exec(line))) env.model_load_ms = toMs(m[1], m[2]);
    else if ((m = LINE.first.exec(line))) env.first_inference_ms = toMs(m[1], m[2]);
    else if ((m = LINE.requests.exec(line))) env.latency_count = Number(m[1]);
    else if ((m = LINE.sum.exec(line))) env.latency_sum_ms = toMs(m[1], m[2]);
    else if ((m = LINE.average.exec(line))) average = toMs(m[1], m[2]);
    else if ((m = LINE.wall.exec(line))) env.run_wall_ms = toMs(m[1], m[2]);
    else if ((m = LINE.rate.exec(line))) env.inferences_per_s = Number(m[1]);
    else if ((m = LINE.cpu.exec(line))) env.cpu_usage_pct ??= Number(m[1]);
    else if ((m = LINE.peak.exec(line))) peakBytes ??= Number(m[1]);
    else if ((m = LINE.runs.exec(line))) env.latency_count ??= Number(m[1]);
    else if ((m = LINE.percentile.exec(line))) env[`latency_${(m[1] ?? '').toLowerCase()}_ms`] = toMs(m[2], m[3]);
    else unread.push(line);
  }
  if (average === null || !Number.isFinite(average)) {
    throw new RunnerOutputError('onnxruntime_perf_test output has no "Average inference time cost" line', unread);
  }
  const sets = new SampleSets();
  sets.add('latency_ms', 'ms', [average]);
  if (peakBytes !== null && peakBytes > 0) sets.add('peak_rss_mib', 'MiB', [tidy(peakBytes / 1048576)]);
  return { measurements: sets.toArray(), environment: env };
}
