// Baseline for the overhead benchmark: a bare tight loop of session.run in a fresh process, with
// the same session options and inputs benchfleet uses. Prints the median latency in ms as JSON.
import { createSession, feedsFor } from '../agent/runners/onnx/worker.js';
import { quantileSorted } from '../server/stats/summary.js';

const [modelPath, warmupText, iterationsText, minDurationText] = process.argv.slice(2);
if (!modelPath) {
  console.error('usage: bare-loop.js MODEL WARMUP ITERATIONS MIN_DURATION_MS');
  process.exit(2);
}
const warmup = Number(warmupText ?? 10);
const iterations = Number(iterationsText ?? 200);
const minDurationNs = BigInt(Number(minDurationText ?? 0)) * 1_000_000n;
const session = await createSession(modelPath, 1);
const feeds = feedsFor(session, {}, 42);
for (let i = 0; i < warmup; i++) await session.run(feeds);
const samples: number[] = [];
const start = process.hrtime.bigint();
for (;;) {
  const t0 = process.hrtime.bigint();
  await session.run(feeds);
  const t1 = process.hrtime.bigint();
  samples.push(Number(t1 - t0) / 1e6);
  if (samples.length >= iterations && t1 - start >= minDurationNs) break;
}
const sorted = Float64Array.from(samples).sort();
process.stdout.write(`${JSON.stringify({ median: quantileSorted(sorted, 0.5), count: samples.length })}\n`);
