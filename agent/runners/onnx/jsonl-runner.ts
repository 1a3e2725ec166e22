// benchfleet's ONNX runner as a standalone program speaking the JSON-lines runner contract, so
// the same measurement can run where the agent cannot fork its worker (an emulated phone's
// shell, a custom device). Usage:
//   node jsonl-runner.js --model M [--warmup 10] [--iterations 100] [--min-duration-ms 0] [--threads 1] [--seed 42] [--inputs F] [--reference R]
// where F holds the run's input overrides as JSON (the `inputs` of the run settings) and R the
// family's reference set (fidelity is measured after the timed window; `-` means none).
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import ort from 'onnxruntime-node';
import type { InputSpec } from '../../../protocol/domain.js';
import { formatRecord, type JsonlRecord } from '../jsonl-contract.js';
import { InputSpecError } from './inputs.js';
import { createSession, feedsFor, peakRssKib, referenceFidelity, runtimeFailureMessage } from './worker.js';
import { fidelityMeasurements } from '../../../protocol/fidelity.js';
import type { FidelityResult } from './messages.js';
import { referenceSetSchema } from '../../../protocol/variants.js';

const emit = (r: JsonlRecord) => process.stdout.write(formatRecord(r));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, warmup: { type: 'string', default: '10' }, iterations: { type: 'string', default: '100' },
      'min-duration-ms': { type: 'string', default: '0' }, threads: { type: 'string', default: '1' }, seed: { type: 'string', default: '42' },
      inputs: { type: 'string' }, reference: { type: 'string' },
    },
  });
  if (!values.model) {
    emit({ type: 'error', code: 'runner_failed', message: 'usage: jsonl-runner --model FILE [--warmup N] [--iterations N] [--min-duration-ms N] [--threads N] [--seed N] [--inputs inputs.json]' });
    return 2;
  }
  const counts = { warmup: values.warmup, iterations: values.iterations, 'min-duration-ms': values['min-duration-ms'], threads: values.threads, seed: values.seed };
  const bad = Object.entries(counts).find(([, v]) => !/^\d+$/.test(v ?? ''));
  if (bad) {
    // A non-number would make the timed loop's stop condition never true.
    emit({ type: 'error', code: 'runner_failed', message: `--${bad[0]} must be a non-negative integer, got "${bad[1]}"` });
    return 2;
  }
  const warmup = Number(values.warmup);
  const iterations = Number(values.iterations);
  const minDurationNs = BigInt(Number(values['min-duration-ms'])) * 1_000_000n;
  emit({ type: 'meta', runner: 'benchfleet-onnx', version: ort.env.versions.common ?? 'unknown' });
  let session: ort.InferenceSession;
  const loadStart = process.hrtime.bigint();
  try {
    session = await createSession(values.model, Number(values.threads));
  } catch (err) {
    emit({ type: 'error', code: 'model_load_failed', message: (err as Error).message.slice(0, 2000) });
    return 1;
  }
  emit({ type: 'env', key: 'model_load_ms', value: Number(process.hrtime.bigint() - loadStart) / 1e6 });
  let feeds: Record<string, ort.Tensor>;
  let specs: Record<string, InputSpec> = {};
  try {
    specs = values.inputs ? (JSON.parse(fs.readFileSync(values.inputs, 'utf8')) as Record<string, InputSpec>) : {};
    feeds = feedsFor(session, specs, Number(values.seed));
  } catch (err) {
    emit({ type: 'error', code: err instanceof InputSpecError ? 'invalid_input_spec' : 'runner_failed', message: (err as Error).message });
    return 1;
  }
  // The first run shows whether the model runs on these inputs at all.
  try {
    await session.run(feeds);
  } catch (err) {
    emit({ type: 'error', code: 'runner_failed', message: runtimeFailureMessage(err, feeds, specs, Number(values.seed)) });
    return 1;
  }
  for (let i = 1; i < warmup; i++) await session.run(feeds);
  emit({ type: 'progress', phase: 'warmup', done: warmup, total: warmup });
  emit({ type: 'window', edge: 'start', iterations: 0 });
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  let lastReport = start;
  for (;;) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const t1 = process.hrtime.bigint();
    samples.push(Number(t1 - t0) / 1e6);
    if (samples.length >= iterations && t1 - start >= minDurationNs) break;
    if (t1 - lastReport > 250_000_000n) {
      lastReport = t1;
      const elapsed = t1 - start;
      const projected = elapsed < minDurationNs ? Math.ceil((samples.length * Number(minDurationNs)) / Number(elapsed)) : samples.length;
      emit({ type: 'progress', phase: 'measuring', done: samples.length, total: Math.max(iterations, projected) });
    }
  }
  emit({ type: 'window', edge: 'end', iterations: samples.length });
  emit({ type: 'samples', metric: 'latency_ms', unit: 'ms', values: samples });
  if (values.reference && values.reference !== '-') {
    // The family's reference set, after the timed window: output fidelity (docs/variants.md).
    let fidelity: FidelityResult;
    try {
      fidelity = await referenceFidelity(session, referenceSetSchema.parse(JSON.parse(fs.readFileSync(values.reference, 'utf8'))));
    } catch (err) {
      fidelity = { error: `reference set: ${(err as Error).message.slice(0, 300)}` };
    }
    if ('error' in fidelity) emit({ type: 'env', key: 'fidelity_error', value: fidelity.error });
    else for (const m of fidelityMeasurements(fidelity)) emit({ type: 'samples', metric: m.metric, unit: m.unit, values: m.samples });
  }
  const hwm = peakRssKib();
  if (hwm !== null) emit({ type: 'sample', metric: 'peak_rss_mib', unit: 'MiB', value: hwm / 1024 });
  emit({ type: 'done' });
  return 0;
}

process.exitCode = await main();
