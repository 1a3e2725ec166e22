// Variants as first-class: metadata flags for `model push` / `model edit`, `family reference`
// (computes the reference variant's outputs on this machine with onnxruntime and stores them as
// the family's reference set) and `compare` (the variant × device matrix with Pareto front and
// recommendations, as a table, CSV, JSON or markdown).
import fs from 'node:fs';
import type { Command } from 'commander';
import type { ModelView } from '../../protocol/api.js';
import type { TensorData } from '../../protocol/domain.js';
import { seededRng } from '../../protocol/random.js';
import type { CompareView, FamilyView, ReferenceSet, VariantMetadata } from '../../protocol/variants.js';
import { stackFloat32, tensorValues, unstack } from '../../protocol/tensor-data.js';
import { CliError, EXIT } from '../client.js';
import { collect, num, parseFraction, table } from '../format.js';
import { parseNpy } from '../inputs.js';
import type { CommandEnv } from '../main.js';

export interface MetadataFlags {
  parent?: string; quant?: string; weightBits?: string; activationBits?: string; perChannel?: boolean; prune?: string; sparsity?: string;
  teacher?: string; lowRank?: string; nas?: string; tag?: string[]; accuracy?: string; accuracyNote?: string;
}

/** Adds the variant metadata options to a command (model push, model edit). */
export function metadataOptions(cmd: Command): Command {
  return cmd
    .option('--parent <variant>', 'the variant this one was derived from (same family), e.g. fp32')
    .option('--quant <method>', 'quantization: ptq (post-training), qat (quantization-aware) or dynamic')
    .option('--weight-bits <n>', 'quantized weight bits (default 8 with --quant)')
    .option('--activation-bits <n>', 'quantized activation bits')
    .option('--per-channel', 'per-channel weight quantization')
    .option('--prune <kind>', 'pruning: structured or unstructured (with --sparsity)')
    .option('--sparsity <fraction>', 'pruned fraction of weights, e.g. 0.5 or 50%')
    .option('--teacher <name>', 'distilled from this teacher model')
    .option('--low-rank <rank>', 'low-rank factorisation rank')
    .option('--nas <space>', 'found by architecture search in this search space')
    .option('--tag <tag>', 'free tag (repeatable)', collect)
    .option('--accuracy <value>', 'accuracy measured by you, e.g. 91.2% or 0.912')
    .option('--accuracy-note <text>', 'what the accuracy is (dataset, metric)');
}

function int(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(EXIT.usage, `--${name} must be a positive integer, got ${text}`);
  return n;
}

/** The metadata the flags describe, or null when no metadata flag was given. */
export function metadataFromFlags(o: MetadataFlags): VariantMetadata | null {
  const m: VariantMetadata = {};
  const compression: NonNullable<VariantMetadata['compression']> = {};
  if (o.parent !== undefined) m.parent = o.parent;
  if (o.quant !== undefined) {
    if (!['ptq', 'qat', 'dynamic'].includes(o.quant)) throw new CliError(EXIT.usage, `--quant must be ptq, qat or dynamic, got ${o.quant}`);
    compression.quantization = {
      method: o.quant as 'ptq', weight_bits: o.weightBits ? int(o.weightBits, 'weight-bits') : 8,
      ...(o.activationBits ? { activation_bits: int(o.activationBits, 'activation-bits') } : {}), ...(o.perChannel ? { per_channel: true } : {}),
    };
  } else if (o.weightBits || o.activationBits || o.perChannel) throw new CliError(EXIT.usage, '--weight-bits, --activation-bits and --per-channel need --quant');
  if (o.prune !== undefined) {
    if (!['structured', 'unstructured'].includes(o.prune)) throw new CliError(EXIT.usage, `--prune must be structured or unstructured, got ${o.prune}`);
    if (o.sparsity === undefined) throw new CliError(EXIT.usage, '--prune needs --sparsity');
    compression.pruning = { kind: o.prune as 'structured', sparsity: parseFraction(o.sparsity, 'sparsity') };
  } else if (o.sparsity !== undefined) throw new CliError(EXIT.usage, '--sparsity needs --prune structured|unstructured');
  if (o.teacher !== undefined) compression.distillation = { teacher: o.teacher };
  if (o.lowRank !== undefined) compression.low_rank = { rank: int(o.lowRank, 'low-rank') };
  if (o.nas !== undefined) compression.nas = { search_space: o.nas };
  if (Object.keys(compression).length > 0) m.compression = compression;
  if (o.tag) m.tags = o.tag;
  if (o.accuracy !== undefined) m.accuracy = parseFraction(o.accuracy, 'accuracy');
  if (o.accuracyNote !== undefined) m.accuracy_note = o.accuracyNote;
  return Object.keys(m).length > 0 ? m : null;
}

export function describeCompression(m: Pick<ModelView, 'parent' | 'compression' | 'tags' | 'accuracy'>): string {
  const c = m.compression;
  const bits = [
    m.parent ? `from ${m.parent}` : null,
    c.quantization ? `${c.quantization.method} int${c.quantization.weight_bits}${c.quantization.activation_bits ? `/a${c.quantization.activation_bits}` : ''}${c.quantization.per_channel ? ' per-channel' : ''}` : null,
    c.pruning ? `${c.pruning.kind} pruning ${(c.pruning.sparsity * 100).toFixed(0)}%` : null,
    c.distillation ? `distilled from ${c.distillation.teacher}` : null,
    c.low_rank ? `low-rank ${c.low_rank.rank ?? ''}` : null,
    c.nas ? `NAS ${c.nas.search_space ?? ''}` : null,
    m.accuracy !== null ? `accuracy ${(m.accuracy * 100).toFixed(1)}%` : null,
    m.tags.length ? `tags ${m.tags.join(',')}` : null,
  ].filter(Boolean);
  return bits.join(', ') || '-';
}

type Dim = number | string | null | undefined;
const dimText = (d: Dim): string => (typeof d === 'number' && d > 0 ? String(d) : typeof d === 'string' && d ? d : '?');
const fixed = (d: Dim): d is number => typeof d === 'number' && d > 0;

/**
 * How reference inputs stacked on the first axis map onto a model input of shape `model`:
 * `[count, ...model]` (each sample a whole model input, e.g. [24, 1, 3, 48, 192] for [N, 3, H, W])
 * as it is; `[count, ...model without its batch dim]` (batch-1 samples stacked like numpy users
 * do, e.g. [24, 3, 48, 192]) becomes `[count, 1, ...]` when the model's first dimension is a
 * batch (dynamic or 1). Anything else is a one-line usage error.
 */
export function referenceInputShape(inputName: string, file: string, given: readonly number[], model: readonly Dim[]): number[] {
  const modelText = `[${model.map(dimText).join(', ')}]`;
  const matches = (sample: readonly number[], dims: readonly Dim[]) => sample.length === dims.length && dims.every((d, i) => !fixed(d) || d === sample[i]);
  if (given.length === model.length + 1 && matches(given.slice(1), model)) return [...given];
  const batch = model[0];
  if (model.length > 0 && given.length === model.length && (!fixed(batch) || batch === 1) && matches(given.slice(1), model.slice(1))) {
    return [given[0]!, 1, ...given.slice(1)];
  }
  const perSample = model.length > 0 && (!fixed(batch) || batch === 1) ? ` or [count, ${model.slice(1).map(dimText).join(', ')}] (batch-1 samples)` : '';
  throw new CliError(EXIT.usage, `--inputs ${file} has shape [${given.join(', ')}] but model input ${inputName} is ${modelText}: stack samples as [count, ${model.map(dimText).join(', ')}]${perSample}`);
}

function typedValues(t: TensorData): { type: TensorData['dtype']; data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array } {
  const b = Buffer.from(t.base64, 'base64');
  const copy = new Uint8Array(b.length);
  copy.set(b);
  switch (t.dtype) {
    case 'float32': return { type: t.dtype, data: new Float32Array(copy.buffer) };
    case 'float64': return { type: t.dtype, data: new Float64Array(copy.buffer) };
    case 'int8': return { type: t.dtype, data: new Int8Array(copy.buffer) };
    case 'uint8': case 'bool': return { type: t.dtype, data: new Uint8Array(copy.buffer) };
    case 'int16': return { type: t.dtype, data: new Int16Array(copy.buffer) };
    case 'int32': return { type: t.dtype, data: new Int32Array(copy.buffer) };
    case 'int64': return { type: t.dtype, data: new BigInt64Array(copy.buffer) };
  }
}

/** Runs the model on the reference inputs here (CPU, onnxruntime) and stacks its outputs. */
async function referenceSet(modelBytes: Buffer, inputs: { file: string; data: TensorData } | null, count: number, seed: number): Promise<ReferenceSet> {
  const ort = (await import('onnxruntime-node')).default;
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(modelBytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  } catch (err) {
    throw new CliError(EXIT.usage, `onnxruntime cannot load the reference variant: ${(err as Error).message}`, 'model_load_failed');
  }
  if (session.inputNames.length !== 1) throw new CliError(EXIT.usage, `reference sets support models with one input; this one has ${session.inputNames.join(', ')}`);
  const inputName = session.inputNames[0]!;
  const meta = session.inputMetadata[0] as { isTensor: boolean; type?: string; shape?: readonly (number | string)[] };
  let stacked: TensorData;
  if (inputs) {
    const { file, data } = inputs;
    if (meta.type && meta.type !== data.dtype && !(meta.type === 'float' && data.dtype === 'float32')) {
      throw new CliError(EXIT.usage, `--inputs ${file} holds ${data.dtype} but model input ${inputName} is ${meta.type}`);
    }
    if (data.shape.length === 0 || data.shape[0] === 0) throw new CliError(EXIT.usage, `--inputs ${file} holds no samples (shape [${data.shape.join(', ')}]); stack them on the first axis`);
    stacked = meta.shape ? { ...data, shape: referenceInputShape(inputName, file, data.shape, meta.shape) } : data;
  } else {
    const shape = (meta.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : NaN));
    if (shape.some((d) => Number.isNaN(d))) throw new CliError(EXIT.usage, `input ${inputName} has dynamic dimensions; give --inputs FILE.npy with real samples`);
    if (meta.type !== 'float32') throw new CliError(EXIT.usage, `input ${inputName} is ${meta.type}; give --inputs FILE.npy`);
    const rng = seededRng(seed);
    const per = shape.reduce((a, b) => a * b, 1);
    stacked = stackFloat32(Array.from({ length: count }, () => Array.from({ length: per }, () => rng() * 2 - 1)), shape);
  }
  const n = stacked.shape[0] ?? 0;
  const outputs: Record<string, Float64Array[]> = Object.fromEntries(session.outputNames.map((o) => [o, []]));
  const outShapes: Record<string, number[]> = {};
  let i = 0;
  for (const sample of unstack(stacked)) {
    const { type, data } = typedValues(sample);
    let out: Awaited<ReturnType<typeof session.run>>;
    try {
      out = await session.run({ [inputName]: new ort.Tensor(type, data, sample.shape) });
    } catch (err) {
      throw new CliError(EXIT.usage, `onnxruntime failed on reference sample ${i} (${inputName} ${sample.dtype} [${sample.shape.join(', ')}]): ${(err as Error).message}`, 'model_run_failed');
    }
    for (const name of session.outputNames) {
      const t = out[name]!;
      outShapes[name] = [...t.dims];
      outputs[name]!.push(Float64Array.from(t.data as ArrayLike<number>, Number));
    }
    i++;
  }
  await session.release();
  return {
    samples: n, inputs: { [inputName]: stacked },
    outputs: Object.fromEntries(session.outputNames.map((name) => [name, stackFloat32(outputs[name]!, outShapes[name]!)])),
  };
}

export function registerVariantCommands(program: Command, env: CommandEnv): void {
  metadataOptions(program.commands.find((c) => c.name() === 'model')!.command('edit <ref>')
    .description('set a variant\'s lineage, compression metadata, tags or accuracy (REF: sha256 or family:variant, the newest version)'))
    .action(env.wrap(async ({ api, json, print }, ref: string, o: MetadataFlags) => {
      const metadata = metadataFromFlags(o);
      if (!metadata) throw new CliError(EXIT.usage, 'nothing to change: give --parent, --quant, --prune, --teacher, --tag, --accuracy …');
      const m = await api.request<ModelView>('PATCH', `/models/${encodeURIComponent(ref)}`, { json: metadata });
      print(json ? m : `${m.family}:${m.variant} (${m.sha256.slice(0, 12)}): ${describeCompression(m)}`);
    }));

  const family = program.command('family').description('model families: reference sets for output fidelity');
  family.command('reference <family>')
    .description('run the reference variant here on reference inputs and store its outputs; every job of the family then reports output fidelity')
    .requiredOption('--from <variant>', 'the reference variant (usually the float32 parent)')
    .option('--inputs <file.npy>', 'reference inputs stacked on the first axis (default: --count seeded random inputs)')
    .option('--labels <file.npy>', 'true class of each reference input (integers): jobs then also measure top-1 accuracy on the device')
    .option('--count <n>', 'random reference inputs to generate', '20').option('--seed <n>', 'seed of generated inputs', '1')
    .option('--min-cosine <x>', 'flag a variant on a device below this median cosine similarity', '0.99')
    .option('--min-top1 <x>', 'flag a variant on a device below this top-1 agreement', '0.9')
    .action(env.wrap(async ({ api, json, print, progress }, name: string, o: { from: string; inputs?: string; labels?: string; count: string; seed: string; minCosine: string; minTop1: string }) => {
      // Every option is checked before anything is downloaded or stored.
      const count = int(o.count, 'count');
      const seed = Number(o.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new CliError(EXIT.usage, `--seed must be a non-negative integer, got ${o.seed}`);
      const minCosine = parseFraction(o.minCosine, 'min-cosine');
      const minTop1 = parseFraction(o.minTop1, 'min-top1');
      if (o.labels && !fs.existsSync(o.labels)) throw new CliError(EXIT.usage, `--labels ${o.labels}: no such file`);
      const model = await api.request<ModelView>('GET', `/models/${encodeURIComponent(`${name}:${o.from}`)}`);
      if (model.format !== 'onnx') throw new CliError(EXIT.usage, `reference sets are computed with onnxruntime; ${name}:${o.from} is ${model.format}`);
      let inputs: { file: string; data: TensorData } | null = null;
      if (o.inputs) {
        if (!fs.existsSync(o.inputs) || !fs.statSync(o.inputs).isFile()) throw new CliError(EXIT.usage, `--inputs ${o.inputs}: no such file`);
        try {
          inputs = { file: o.inputs, data: parseNpy(fs.readFileSync(o.inputs)) };
        } catch (err) {
          throw new CliError(EXIT.usage, `--inputs ${o.inputs}: ${(err as Error).message}`);
        }
      }
      // The shape check against the input the server read from the file, before the download.
      const declared = (model as ModelView & { facts?: { inputs?: { name: string; shape: (number | string | null)[] }[] } }).facts?.inputs;
      if (inputs && declared?.length === 1) referenceInputShape(declared[0]!.name, inputs.file, inputs.data.shape, declared[0]!.shape);
      progress(`downloading ${name}:${o.from} (${model.sha256.slice(0, 12)}) and computing reference outputs…`);
      const bytes = await api.request<Buffer>('GET', `/models/${model.sha256}/content`, { binary: true });
      const set = await referenceSet(bytes, inputs, count, seed);
      if (o.labels) {
        let labels: number[];
        try {
          labels = Array.from(tensorValues(parseNpy(fs.readFileSync(o.labels))));
        } catch (err) {
          throw new CliError(EXIT.usage, `--labels ${o.labels}: ${(err as Error).message}`);
        }
        if (labels.length !== set.samples || labels.some((l) => !Number.isInteger(l) || l < 0)) {
          throw new CliError(EXIT.usage, `--labels must hold ${set.samples} non-negative integers (one per reference input), got ${labels.length} values`);
        }
        set.labels = labels;
      }
      const f = await api.request<FamilyView>('PUT', `/families/${encodeURIComponent(name)}/reference`, {
        json: { variant: o.from, reference: set, min_cosine: minCosine, min_top1: minTop1 },
      });
      print(json ? f : `${f.name}: reference set of ${f.samples} samples from ${f.reference_variant}; flag below cosine ${f.min_cosine} or top-1 agreement ${(f.min_top1 * 100).toFixed(0)}%`);
    }));
  family.command('list').action(env.wrap(async ({ api, json, print }) => {
    const r = await api.request<{ items: FamilyView[] }>('GET', '/families');
    print(json ? r.items : table(['FAMILY', 'REFERENCE', 'SAMPLES', 'MIN COSINE', 'MIN TOP-1', 'UPDATED'], r.items.map((f) => [f.name, f.reference_variant, f.samples, f.min_cosine, f.min_top1, f.updated_at])));
  }));

  program.command('compare').description('variants × devices for a family: latency, energy, memory, size, fidelity, Pareto front and a recommendation per device')
    .requiredOption('--family <family>', 'model family')
    .option('--devices <names>', 'comma-separated device names (default: every device with results)')
    .option('--budget <fraction>', 'allowed quality drop against the reference variant, e.g. 1% or 0.01', '1%')
    .option('--objective <what>', 'minimise latency, energy or memory', 'latency')
    .option('--threads <n>', 'compare only results measured with this many threads')
    .option('--runtime <runtime>', 'compare only results of this runtime')
    .option('--settings <key>', 'compare only results under this settings key (or a unique prefix; the keys are listed in the output)')
    .option('--window <n>', 'pool the newest n results of each cell', '10')
    .option('--format <format>', 'table, md (markdown), csv or json', 'table')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(env.wrap(async ({ api, json, print, progress }, o: {
      family: string; devices?: string; budget: string; objective: string; format: string; output?: string; threads?: string; runtime?: string; settings?: string; window: string;
    }) => {
      if (!['latency', 'energy', 'memory'].includes(o.objective)) throw new CliError(EXIT.usage, `--objective must be latency, energy or memory, got ${o.objective}`);
      const format = json ? 'json' : o.format;
      if (!['table', 'md', 'csv', 'json'].includes(format)) throw new CliError(EXIT.usage, `--format must be table, md, csv or json, got ${o.format}`);
      const q = new URLSearchParams({
        family: o.family, budget: String(parseFraction(o.budget, 'budget')), objective: o.objective, window: String(int(o.window, 'window')),
        ...(o.devices ? { devices: o.devices } : {}), ...(o.threads ? { threads: String(int(o.threads, 'threads')) } : {}),
        ...(o.runtime ? { runtime: o.runtime } : {}), ...(o.settings ? { settings: o.settings.toLowerCase() } : {}),
      });
      let text: string;
      if (format === 'csv' || format === 'md') {
        text = await api.request<string>('GET', `/compare?${q.toString()}&format=${format}`, { raw: true });
      } else {
        const view = await api.request<CompareView>('GET', `/compare?${q.toString()}`);
        text = format === 'json' ? JSON.stringify(view, null, 2) : compareTable(view);
      }
      if (o.output) {
        try {
          fs.writeFileSync(o.output, text);
        } catch (err) {
          throw new CliError(EXIT.usage, `cannot write ${o.output}: ${(err as Error).message}`);
        }
        progress(`wrote ${o.output}`);
      } else print(text.trimEnd());
    }));
}

function compareTable(view: CompareView): string {
  const parts: string[] = [];
  for (const device of view.devices) {
    const cells = view.cells.filter((c) => c.device === device);
    const settings = view.device_settings[device];
    parts.push(`${device}${settings ? ` — ${settings.label} (settings ${settings.key})` : ''}:`,
      table(['VARIANT', 'PARENT', 'VERSION', 'N', 'LATENCY ms', '95% CI', 'ENERGY mJ', 'PEAK MiB', 'QUALITY', 'SPEED-UP', 'SIZE ÷', 'Q DROP', 'PARETO', 'FLAGS'],
        cells.map((c) => {
          const v = view.variants.find((x) => x.variant === c.variant);
          return [c.variant, v?.parent, `${c.sha256.slice(0, 12)}${c.status === 'stale' ? ' stale' : c.status === 'settings_differ' ? ' ≠settings' : ''}`, c.results,
            num(c.latency_ms), c.latency_ci ? `${num(c.latency_ci[0])}…${num(c.latency_ci[1])}` : null, num(c.energy_mj), num(c.peak_mem_mib),
            c.quality === null ? null : `${(c.quality * 100).toFixed(1)}%${c.quality_kind === 'top1_agreement' ? ' agr' : ''}`,
            c.vs_parent?.speedup ? `${c.vs_parent.speedup.toFixed(2)}×` : null, c.vs_parent?.size_reduction ? `${c.vs_parent.size_reduction.toFixed(2)}×` : null,
            c.vs_parent?.quality_drop !== null && c.vs_parent?.quality_drop !== undefined ? `${(c.vs_parent.quality_drop * 100).toFixed(1)}%` : null,
            c.pareto ? '★' : null, [...c.flags, ...(c.note ? [c.note] : [])].join('; ') || null];
        })));
    const rec = view.recommendations.find((r) => r.device === device);
    if (rec) parts.push(`recommended: ${rec.variant ?? 'none'} — ${rec.reason}`, '');
  }
  if (view.settings_options.length > 1) {
    parts.push('settings with results (choose with --settings, --threads or --runtime):',
      ...view.settings_options.map((o) => `  ${o.key}  ${o.label} — ${o.results} result(s) on ${o.devices.join(', ')}`));
  }
  return parts.length ? parts.join('\n') : `no results yet for family ${view.family}: submit runs of its variants`;
}
