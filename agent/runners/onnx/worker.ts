// The ONNX worker: a child process that loads one model with onnxruntime-node, warms it up and
// times every iteration with the monotonic high-resolution clock until both the iteration count
// and the minimum duration are met. Running in its own process means a crashing or leaking model
// cannot take the agent down, and VmHWM is the model's own peak memory.
import fs from 'node:fs';
import ort from 'onnxruntime-node';
import { buildInputs, InputSpecError, type InputMeta } from './inputs.js';
import type { FidelityResult, WorkerMessage, WorkerStart } from './messages.js';
import type { ReferenceSet } from '../../../protocol/variants.js';
import { unstack, unstackValues } from '../../../protocol/tensor-data.js';
import { argmax, sampleFidelity } from '../../../protocol/fidelity.js';

const PROGRESS_EVERY_NS = 250_000_000n;

function send(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(msg, undefined, undefined, () => resolve()));
}

export function peakRssKib(): number | null {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return match?.[1] ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export async function createSession(modelPath: string, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

export function feedsFor(session: ort.InferenceSession, specs: WorkerStart['settings']['inputs'], seed: number): Record<string, ort.Tensor> {
  const metas: InputMeta[] = session.inputMetadata.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] },
  );
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of buildInputs(metas, specs, seed)) feeds[input.name] = new ort.Tensor(input.dtype, input.data, input.shape);
  return feeds;
}

const RANDOM_RANGE: Record<string, string> = {
  int8: '-128..127', uint8: '0..255', bool: '0/1', int16: '0..9', int32: '0..9', int64: '0..9', float32: '[-1, 1)', float64: '[-1, 1)',
};

/** The input settings a run used, e.g. `sr int64 [] random 0..9 (seed 42); x float32 [1, 3, 8, 8] constant 0.5`. */
export function describeFeeds(feeds: Record<string, ort.Tensor>, specs: WorkerStart['settings']['inputs'], seed: number): string {
  return Object.entries(feeds).map(([name, t]) => {
    const spec = specs[name];
    const source = spec?.data ? 'from --input-file' : spec?.fill !== undefined && spec.fill !== 'random' ? `constant ${spec.fill}` : `random ${RANDOM_RANGE[t.type] ?? ''} (seed ${seed})`;
    return `${name} ${t.type} [${t.dims.join(', ')}] ${source}`;
  }).join('; ');
}

/**
 * A failure inside onnxruntime while running the model (not loading it): names the inputs it was
 * given and how to give others, since generated values are the usual cause (an index, a length or
 * a sample rate filled with random numbers).
 */
export function runtimeFailureMessage(err: unknown, feeds: Record<string, ort.Tensor>, specs: WorkerStart['settings']['inputs'], seed: number): string {
  const reason = String((err as Error)?.message ?? err).replace(/\s*\n\s*/g, ' ').slice(0, 1500);
  return `onnxruntime failed running the model: ${reason}; inputs used: ${describeFeeds(feeds, specs, seed).slice(0, 1500)}; ` +
    'if an input needs particular values (an index, a length, a sample rate), set them with --input-fill name=VALUE or --input-file name=FILE.npy';
}

/**
 * Runs every sample of the family's reference set (after the timed window, so it never disturbs
 * the timing) and compares the outputs with the reference variant's outputs.
 */
export async function referenceFidelity(session: ort.InferenceSession, ref: ReferenceSet): Promise<FidelityResult> {
  const outputNames = Object.keys(ref.outputs);
  const missing = outputNames.filter((n) => !session.outputNames.includes(n));
  if (missing.length > 0) return { error: `the model has no output ${missing.join(', ')} (it has ${session.outputNames.join(', ')})` };
  const result = { cosine: [] as number[], maxAbsError: [] as number[], top1: [] as number[], ...(ref.labels ? { correct: [] as number[] } : {}) };
  try {
    // Each stacked tensor is decoded once, then used sample by sample.
    const inputs = Object.entries(ref.inputs).map(([name, t]) => [name, unstack(t)] as const);
    const outputs = outputNames.map((n) => unstackValues(ref.outputs[n]!));
    for (let i = 0; i < ref.samples; i++) {
      const specs = Object.fromEntries(inputs.map(([name, samples]) => [name, { data: samples[i]! }]));
      const out = await session.run(feedsFor(session, specs, 0));
      const actual = outputNames.map((n) => Float64Array.from(out[n]!.data as ArrayLike<number>, Number));
      const expected = outputs.map((o) => o[i]!);
      const f = sampleFidelity(expected, actual);
      result.cosine.push(f.cosine);
      result.maxAbsError.push(f.maxAbsError);
      result.top1.push(f.top1);
      if (result.correct && ref.labels) result.correct.push(argmax(actual[0]!) === ref.labels[i] ? 1 : 0);
    }
  } catch (err) {
    return { error: `reference set: ${(err as Error).message.slice(0, 500)}` };
  }
  return result;
}

async function run(start: WorkerStart): Promise<void> {
  const { settings } = start;
  const loadStart = process.hrtime.bigint();
  let session: ort.InferenceSession;
  try {
    session = await createSession(start.modelPath, settings.threads);
  } catch (err) {
    await send({ type: 'error', code: 'model_load_failed', message: (err as Error).message.slice(0, 2000) });
    return;
  }
  const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
  let feeds: Record<string, ort.Tensor>;
  try {
    feeds = feedsFor(session, settings.inputs, settings.seed);
  } catch (err) {
    const code = err instanceof InputSpecError ? 'invalid_input_spec' : 'runner_failed';
    await send({ type: 'error', code, message: (err as Error).message });
    return;
  }
  await send({ type: 'loaded', loadMs, inputs: Object.entries(feeds).map(([name, t]) => ({ name, shape: [...t.dims], dtype: t.type })) });

  const first = process.hrtime.bigint();
  try {
    await session.run(feeds);
  } catch (err) {
    await send({ type: 'error', code: 'runner_failed', message: runtimeFailureMessage(err, feeds, settings.inputs, settings.seed) });
    return;
  }
  const firstRunMs = Number(process.hrtime.bigint() - first) / 1e6;
  let lastReport = process.hrtime.bigint();
  for (let i = 1; i < settings.warmup; i++) {
    await session.run(feeds);
    const now = process.hrtime.bigint();
    if (now - lastReport > PROGRESS_EVERY_NS) { lastReport = now; void send({ type: 'progress', phase: 'warmup', done: i + 1, total: settings.warmup }); }
  }

  await send({ type: 'window', edge: 'start', iterations: 0 });
  const samples: number[] = [];
  const minDurationNs = BigInt(settings.min_duration_ms) * 1_000_000n;
  const windowStart = process.hrtime.bigint();
  lastReport = windowStart;
  for (;;) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const t1 = process.hrtime.bigint();
    samples.push(Number(t1 - t0) / 1e6);
    if (samples.length >= settings.iterations && t1 - windowStart >= minDurationNs) break;
    if (t1 - lastReport > PROGRESS_EVERY_NS) {
      lastReport = t1;
      // With a minimum duration the loop may run past the iteration count: project the total from the pace so far.
      const elapsed = t1 - windowStart;
      const projected = elapsed < minDurationNs ? Math.ceil((samples.length * Number(minDurationNs)) / Number(elapsed)) : samples.length;
      void send({ type: 'progress', phase: 'measuring', done: samples.length, total: Math.max(settings.iterations, projected) });
    }
  }
  await send({ type: 'window', edge: 'end', iterations: samples.length });
  const fidelity = start.reference ? await referenceFidelity(session, start.reference) : undefined;
  await send({ type: 'done', samplesMs: samples, firstRunMs, peakRssKib: peakRssKib(), ortVersion: ort.env.versions.common ?? 'unknown', ...(fidelity ? { fidelity } : {}) });
  await session.release();
}

if (process.send) {
  // The agent is gone (killed, crashed): a worker left running would burn the CPU under the
  // retried attempt's timing. The IPC channel closes when the parent dies, however it dies.
  process.once('disconnect', () => process.exit(70));
  process.once('message', (msg: WorkerStart) => {
    run(msg).then(
      () => process.exit(0),
      async (err: unknown) => {
        await send({ type: 'error', code: 'runner_failed', message: String((err as Error)?.message ?? err).slice(0, 2000) });
        process.exit(1);
      },
    );
  });
}
