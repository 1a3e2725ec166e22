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
  }
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

/** Runs the model on the reference inputs here (CPU, onnxruntime) and stacks its outputs. */
async function referenceSet(modelBytes: Buffer, inputs: TensorData | null, count: number, seed: number): Promise<ReferenceSet> {
  const ort = (await import('onnxruntime-node')).default;
  const session = await ort.InferenceSession.create(modelBytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  if (session.inputNames.length !== 1) throw new CliError(EXIT.usage, `reference sets support models with one input; this one has ${session.inputNames.join(', ')}`);
  const inputName = session.inputNames[0]!;
  const meta = session.inputMetadata[0] as { isTensor: boolean; type?: string; shape?: readonly (number | string)[] };
  let stacked: TensorData;
  if (inputs) {
    stacked = inputs;
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
  for (const sample of unstack(stacked)) {
    const values = tensorValues(sample);
    const tensor = new ort.Tensor(sample.dtype === 'float32' ? 'float32' : sample.dtype as 'int8', sample.dtype === 'float32' ? Float32Array.from(values) : Int8Array.from(values), sample.shape);
    const out = await session.run({ [inputName]: tensor });
    for (const name of session.outputNames) {
      const t = out[name]!;
      outShapes[name] = [...t.dims];
      outputs[name]!.push(Float64Array.from(t.data as ArrayLike<number>, Number));
    }
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
      const model = await api.request<ModelView>('GET', `/models/${encodeURIComponent(`${name}:${o.from}`)}`);
      if (model.format !== 'onnx') throw new CliError(EXIT.usage, `reference sets are computed with onnxruntime; ${name}:${o.from} is ${model.format}`);
      let inputs: TensorData | null = null;
      if (o.inputs) {
        try {
          inputs = parseNpy(fs.readFileSync(o.inputs));
        } catch (err) {
          throw new CliError(EXIT.usage, `--inputs ${o.inputs}: ${(err as Error).message}`);
        }
      }
      progress(`downloading ${name}:${o.from} (${model.sha256.slice(0, 12)}) and computing reference outputs…`);
      const bytes = await api.request<Buffer>('GET', `/models/${model.sha256}/content`, { binary: true });
      const set = await referenceSet(bytes, inputs, int(o.count, 'count'), Number(o.seed));
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
        json: { variant: o.from, reference: set, min_cosine: parseFraction(o.minCosine, 'min-cosine'), min_top1: parseFraction(o.minTop1, 'min-top1') },
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
        fs.writeFileSync(o.output, text);
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
