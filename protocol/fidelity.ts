// Output fidelity: how closely a variant's outputs on a device follow the reference outputs of
// its parent (usually the float32 model) on the same inputs. Per reference sample: cosine
// similarity and maximum absolute error over all outputs (flattened), and whether the top-1 class
// (argmax of the first output) agrees. Shared by the agent (which computes it on the device's
// outputs), the CLI and the tests.

/** Stands for an infinite or NaN error in stored (finite) samples. */
export const MAX_ERROR = 1e30;

export interface SampleFidelity { cosine: number; maxAbsError: number; top1: 0 | 1 }

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosine: lengths differ (${a.length} vs ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 && nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

export function maxAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`max abs error: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return Number.POSITIVE_INFINITY;
    if (d > m) m = d;
  }
  return m;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/**
 * One sample: `reference` and `actual` hold the outputs in the same order (the first one decides
 * top-1); every output counts towards cosine and max abs error.
 */
export function sampleFidelity(reference: ArrayLike<number>[], actual: ArrayLike<number>[]): SampleFidelity {
  if (reference.length === 0 || reference.length !== actual.length) throw new Error('fidelity: the outputs do not match the reference outputs');
  const flat = (xs: ArrayLike<number>[]) => {
    const out = new Float64Array(xs.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of xs) for (let i = 0; i < x.length; i++) out[o++] = x[i]!;
    return out;
  };
  const r = flat(reference);
  const g = flat(actual);
  // NaN or infinite outputs (a broken kernel) score as badly as possible, with finite numbers.
  const cosine = cosineSimilarity(r, g);
  const err = maxAbsError(r, g);
  return { cosine: Number.isFinite(cosine) ? cosine : 0, maxAbsError: Number.isFinite(err) ? err : MAX_ERROR, top1: argmax(reference[0]!) === argmax(actual[0]!) ? 1 : 0 };
}

/** Metric names under which fidelity is stored (one raw sample per reference input). */
export const FIDELITY_METRICS = { cosine: 'fidelity_cosine', top1: 'fidelity_top1', maxAbsError: 'output_max_abs_error', accuracy: 'accuracy_top1' } as const;

/** Per-sample fidelity results as measurements (one raw sample per reference input), as every runner reports them. */
export function fidelityMeasurements(f: { cosine: number[]; top1: number[]; maxAbsError: number[]; correct?: number[] | undefined }): { metric: string; unit: string; samples: number[] }[] {
  return [
    { metric: FIDELITY_METRICS.cosine, unit: 'cosine', samples: f.cosine },
    { metric: FIDELITY_METRICS.top1, unit: 'agreement', samples: f.top1 },
    { metric: FIDELITY_METRICS.maxAbsError, unit: 'abs', samples: f.maxAbsError },
    ...(f.correct ? [{ metric: FIDELITY_METRICS.accuracy, unit: 'accuracy', samples: f.correct }] : []),
  ];
}

/** Why outputs do not match the reference closely enough (empty: they do), against a family's thresholds. */
export function fidelityFlags(cosine: number | null, top1: number | null, thresholds: { min_cosine: number; min_top1: number }): string[] {
  const flags: string[] = [];
  if (cosine !== null && cosine < thresholds.min_cosine) flags.push(`fidelity: cosine ${cosine.toFixed(4)} < ${thresholds.min_cosine}`);
  if (top1 !== null && top1 < thresholds.min_top1) flags.push(`fidelity: top-1 agreement ${(top1 * 100).toFixed(0)}% < ${(thresholds.min_top1 * 100).toFixed(0)}%`);
  return flags;
}

/** A job's output fidelity against its family's reference set, as the API shows it. */
export interface FidelitySummary {
  /** Median cosine similarity, mean top-1 agreement, largest absolute error, and accuracy on labelled inputs (null when not measured). */
  cosine: number | null;
  top1: number | null;
  max_abs_error: number | null;
  accuracy: number | null;
  /** Reference inputs compared. */
  samples: number;
  reference_variant: string | null;
  min_cosine: number | null;
  min_top1: number | null;
  /** Why the outputs are flagged (empty when within the family's thresholds). */
  flags: string[];
}
