// The emulated phone's `onnxruntime_perf_test` (a program a user pushes, like an Android build of
// ONNX Runtime's perf tool): it really runs the ONNX model with onnxruntime-node — getopt-style
// flags (`-m times -r N`, `-m duration -t S`, `-x`/`-y` threads, `-e cpu`, `-I` random inputs,
// `-S` seed), exactly one warm-up run, and the report of performance_runner.cc.
import os from 'node:os';
import ort from 'onnxruntime-node';
import { createSession, feedsFor } from '../../../runners/onnx/worker.js';
import { g6, maxRssKb, nowNs } from './common.js';

const NO_VALUE = new Set('IAMPDZvhsqz'.split(''));
const USAGE = 'usage: onnxruntime_perf_test [options...] model_path [result_file]\n';

async function main(): Promise<number> {
  const opts = new Map<string, string>();
  const set = new Set<string>();
  const positional: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (/^--?[A-Za-z]$/.test(a)) {
      const k = a.replace(/^--?/, '');
      if (NO_VALUE.has(k)) set.add(k);
      else if (i + 1 < argv.length) opts.set(k, argv[++i]!);
      else { process.stderr.write(USAGE); return 1; }
    } else if (a.startsWith('-')) {
      process.stderr.write(`unknown option ${a}\n${USAGE}`);
      return 1;
    } else {
      positional.push(a);
    }
  }
  const model = positional[0];
  if (!model || set.has('h')) { process.stderr.write(USAGE); return set.has('h') ? 0 : 1; }
  const ep = opts.get('e') ?? 'cpu';
  if (ep !== 'cpu') { process.stderr.write(`${ep} is not supported in this build.\n`); return 1; }
  if (!set.has('I')) {
    process.stderr.write(`no test data: put test_data_set_0/input_0.pb next to ${model} or pass -I to generate random inputs\n`);
    return 1;
  }
  const repeat = opts.has('r') ? Number(opts.get('r')) : 1000;
  const times = opts.has('r') || opts.get('m') === 'times';
  const durationS = opts.has('t') ? Number(opts.get('t')) : 600;
  const threads = Number(opts.get('x') ?? 0) || Math.min(4, os.availableParallelism());
  const seed = Number(opts.get('S') ?? 0);

  const created = nowNs();
  let session: ort.InferenceSession;
  try {
    session = await createSession(model, threads);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  let feeds: Record<string, ort.Tensor>;
  try {
    feeds = feedsFor(session, {}, seed);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`Session creation time cost: ${g6(Number(nowNs() - created) / 1e9)} s\n`);
  const w0 = nowNs();
  await session.run(feeds); // the one warm-up run
  process.stdout.write(`First inference time cost: ${Math.floor(Number(nowNs() - w0) / 1e6)} ms\n`);

  const latS: number[] = [];
  const cpu0 = process.cpuUsage();
  const wall0 = nowNs();
  for (;;) {
    if (times ? latS.length >= repeat : Number(nowNs() - wall0) / 1e9 >= durationS) break;
    const a = nowNs();
    await session.run(feeds);
    latS.push(Number(nowNs() - a) / 1e9);
  }
  const wallS = Number(nowNs() - wall0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const total = latS.reduce((s, v) => s + v, 0);
  const n = latS.length;
  const cpuPct = Math.round(((cpu.user + cpu.system) / 1e6 / wallS / os.availableParallelism()) * 100);
  const peak = maxRssKb() * 1024;
  const out = [
    `Total inference time cost: ${g6(total)} s`,
    `Total inference requests: ${n}`,
    `Average inference time cost: ${g6((total / n) * 1000)} ms`,
    `Total inference run time: ${g6(wallS)} s`,
    `Number of inferences per second: ${g6(n / wallS)} `,
    `Avg CPU usage: ${cpuPct} %`,
    `Peak working set size: ${peak} bytes`,
    `Avg CPU usage:${cpuPct}`,
    `Peak working set size:${peak}`,
    `Runs:${n}`,
  ];
  const sorted = [...latS].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(n - 1, Math.floor(n * p))]!;
  out.push(`Min Latency: ${g6(sorted[0]!)} s`, `Max Latency: ${g6(sorted[n - 1]!)} s`);
  for (const [label, p] of [['P50', 0.5], ['P90', 0.9], ['P95', 0.95], ['P99', 0.99], ['P999', 0.999]] as const) out.push(`${label} Latency: ${g6(at(p))} s`);
  process.stdout.write(`${out.join('\n')}\n`);
  await session.release();
  return 0;
}

process.exitCode = await main();
