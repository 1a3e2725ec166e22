// The emulated phone's TFLite `benchmark_model` (a program a user pushes, like the real
// android_aarch64_benchmark_model): `--name=value` flags, the warm-up and timed phases with their
// minimum counts and durations, and the real tool's INFO lines and stats. Each "inference" is one
// int8 multiply-accumulate pass over the model file's bytes, so latency follows the model's size;
// it runs on one thread whatever --num_threads says (the value is echoed, as the tool does).
import fs from 'node:fs';
import { activations, g6, macPass, maxRssKb, nowNs, weightsOf } from './common.js';

const info = (msg: string) => process.stdout.write(`INFO: ${msg}\n`);
const error = (msg: string) => process.stderr.write(`ERROR: ${msg}\n`);

function flags(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const unconsumed: string[] = [];
  for (const a of argv) {
    const m = /^--([A-Za-z0-9_]+)=(.*)$/.exec(a);
    if (m) out.set(m[1]!, m[2]!);
    else unconsumed.push(a);
  }
  if (unconsumed.length) process.stdout.write(`WARN: Unconsumed cmdline flags: ${unconsumed.join(' ')}\n`);
  return out;
}

/** The stats line of tensorflow's Stat<int64_t> (µs). */
function statLine(us: number[]): string {
  if (us.length === 0) return 'count=0';
  const v = us.map((x) => Math.round(x));
  const first = v[0]!;
  const curr = v[v.length - 1]!;
  if (v.every((x) => x === first)) return `count=${v.length} curr=${curr}${v.length > 1 ? '(all same)' : ''}`;
  const avg = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.round(Math.sqrt(v.reduce((a, b) => a + (b - avg) ** 2, 0) / v.length));
  return `count=${v.length} first=${first} curr=${curr} min=${Math.min(...v)} max=${Math.max(...v)} avg=${g6(avg)} std=${std}`;
}

function main(): number {
  const startRss = maxRssKb();
  info('STARTING!');
  const f = flags(process.argv.slice(2));
  const num = (k: string, d: number) => (f.has(k) ? Number(f.get(k)) : d);
  const graph = f.get('graph') ?? '';
  const threads = num('num_threads', -1);
  const numRuns = num('num_runs', 50);
  const minSecs = num('min_secs', 1);
  const maxSecs = num('max_secs', 150);
  const warmupRuns = num('warmup_runs', 1);
  const warmupMinSecs = num('warmup_min_secs', 0.5);
  const peak = ['true', '1'].includes(f.get('report_peak_memory_footprint') ?? '');
  info('Log parameter values verbosely: [0]');
  if (f.has('num_threads')) info(`Num threads: [${threads}]`);
  if (f.has('num_runs')) info(`Min num runs: [${numRuns}]`);
  if (f.has('min_secs')) info(`Min runs duration (seconds): [${minSecs}]`);
  if (f.has('warmup_runs')) info(`Min warmup runs: [${warmupRuns}]`);
  info(`Graph: [${graph}]`);
  if (peak) info('Report the peak memory footprint: [1]');
  if (!graph) {
    error('Please specify the name of your TF Lite input file with --graph');
    error('Benchmarking failed.');
    return 1;
  }
  const initStart = nowNs();
  let w: Int8Array;
  try {
    w = weightsOf(graph);
  } catch {
    error(`Could not open '${graph}'.`);
    error('Benchmarking failed.');
    return 1;
  }
  if (w.length < 8 || Buffer.from(w.buffer, w.byteOffset + 4, 4).toString('latin1') !== 'TFL3') {
    error(`The model is not a valid Flatbuffer buffer`);
    error('Benchmarking failed.');
    return 1;
  }
  info(`Loaded model ${graph}`);
  info(`The input model file size (MB): ${g6(fs.statSync(graph).size / 1e6)}`);
  const x = activations(42);
  const initUs = Number(nowNs() - initStart) / 1000;
  info(`Initialized session in ${g6(initUs / 1000)}ms.`);
  const initRss = maxRssKb();

  const phase = (minRuns: number, minS: number): number[] => {
    info(`Running benchmark for at least ${minRuns} iterations and at least ${g6(minS)} seconds but terminate if exceeding ${g6(maxSecs)} seconds.`);
    const us: number[] = [];
    const t0 = nowNs();
    for (;;) {
      const elapsed = Number(nowNs() - t0) / 1e9;
      if ((us.length >= minRuns && elapsed >= minS) || elapsed >= maxSecs) break;
      const a = nowNs();
      macPass(w, x);
      us.push(Number(nowNs() - a) / 1000);
    }
    process.stdout.write(`INFO: ${statLine(us)}\n\n`);
    return us;
  };
  const warm = phase(warmupRuns, warmupMinSecs);
  const timed = phase(numRuns, minSecs);
  const avg = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  info(`Inference timings in us: Init: ${Math.round(initUs)}, First inference: ${Math.round(warm[0] ?? 0)}, Warmup (avg): ${g6(avg(warm))}, Inference (avg): ${g6(avg(timed))}`);
  info('Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.');
  info(`Memory footprint delta from the start of the tool (MB): init=${g6((initRss - startRss) / 1024)} overall=${g6((maxRssKb() - startRss) / 1024)}`);
  if (peak) info(`Overall peak memory footprint (MB) via periodic monitoring: ${g6(maxRssKb() / 1024)}`);
  return 0;
}

process.exitCode = main();
