// E-Divisive means change-point detection (Matteson & James 2014, as used by Hunter/Otava) on a
// univariate series, e.g. the medians of a benchmark series' results.
//
// Divisive: for a segment Z, find τ and κ maximising the energy statistic with α = 1,
//   Q̂(X, Y) = mn/(m+n) · [ 2/(mn)·Σ|x−y| − Σ_{i<k}|x_i−x_k| / C(m,2) − Σ_{i<k}|y_i−y_k| / C(n,2) ],
// X = Z[0, τ), Y = Z[τ, κ), both at least minSize long. All (τ, κ) are scanned in O(L²) time and
// O(L) memory: within-sums of prefixes are cumulative, within-sums of Y = Z[τ, κ) grow with κ from
// column sums that are updated as τ walks down, and the cross sum is W(0, κ) − W(0, τ) − W(τ, κ).
// Significance: permutation test within the segment (seeded shuffles; p = (1 + #{Q̂_perm ≥ Q̂})/(1 + R)),
// stopped as soon as p can no longer reach the threshold, so segments without a change cost a
// few permutations. A significant τ splits the segment and both halves are examined; segments are
// taken in order of decreasing Q̂. Change points whose relative change of the mean is below
// minMagnitude are removed afterwards, weakest first (Hunter's magnitude floor), and the means
// recomputed. A 500-point series with a few changes takes well under a second (see the test).
import { seededRng, type Rng } from '../../protocol/random.js';
import type { Direction } from './gate.js';

export interface ChangePointOptions {
  /** Minimum number of points in a segment (≥ 2). Default 5. */
  minSize?: number;
  /** Significance threshold of the permutation test. Default 0.01. */
  pValue?: number;
  /** Maximum permutations per test (≥ 1/pValue − 1 for the threshold to be reachable). Default 99. */
  permutations?: number;
  seed?: number;
  maxChangePoints?: number;
  /** Drop change points whose |mean after / mean before − 1| is below this. Default 0. */
  minMagnitude?: number;
}

export interface ChangePoint {
  /** Index of the first point after the change. */
  index: number;
  pValue: number;
  meanBefore: number;
  meanAfter: number;
  /** (meanAfter − meanBefore) / |meanBefore|. */
  change: number;
}

export const CHANGE_POINT_DEFAULTS = { minSize: 5, pValue: 0.01, permutations: 99, seed: 0x5eed, maxChangePoints: 50, minMagnitude: 0 } as const;

export interface ChangePointAlertSettings {
  /** Permutation-test threshold of E-Divisive when looking for a step to alert on. */
  pValue: number;
  permutations: number;
  /** The step must be at least magnitudeFactor × the metric's minimum effect (E-Divisive's magnitude floor). */
  magnitudeFactor: number;
  /** Results from the change point on, the change point's own included. */
  minAfter: number;
}

/**
 * When a change point opens an alert (server/regression/analyzer.ts), on top of the gate's own
 * alerts. Chosen with `node dist/bench/regression-quality.js 1000 <seed> cp-sweep`, row (e) of
 * docs/benchmarks.md, on the main corpus and checked on the held-out seeds 777 and 4242. Gate +
 * change-point alerts, in false alerts per 1,000 no-change results and F1 on the three corpora:
 * - before (p 0.01, 99 permutations, any worsening step ≥ minEffect): 1.67 / 1.83 / 1.50;
 * - floor 1.5 × minEffect alone: 1.00 / 0.83 / 0.67 (2.25–2.50 on noisy devices);
 * - p 0.002 with 499 permutations alone: 1.17 / 0.75 / 0.58;
 * - both (these settings): 0.92 / 0.25 / 0.25 at F1 0.790 / 0.807 / 0.804, against the gate's
 *   0.771 / 0.784 / 0.769; the 0.92 are the gate's own alerts: change points add none there.
 * Floors of 2× and 3× left 0.92 / 0.08 / 0.17 and 0.92 / 0.00 / 0.17 at 0.008–0.028 less F1. Steps
 * between minEffect and 1.5 × minEffect (3–4.5% by default) are left to the gate. A permutation
 * p-value cannot be below 1/(1 + permutations), so 499 is the fewest that can reach 0.002.
 * minAfter 5 is minSize, i.e. no further requirement: the latest change point always has that
 * many results from it on, and asking for 6–8 changed F1 by at most 0.003 (10 lowered it).
 */
export const CHANGE_POINT_ALERT: Readonly<ChangePointAlertSettings> = { pValue: 0.002, permutations: 499, magnitudeFactor: 1.5, minAfter: 5 };

interface Split { tau: number; kappa: number; q: number }

/** The (τ, κ) maximising Q̂ over a segment, or null when it is shorter than 2·minSize. */
export function bestSplit(z: ArrayLike<number>, minSize: number, work?: { prefix: Float64Array; column: Float64Array }): Split | null {
  const L = z.length;
  if (L < 2 * minSize) return null;
  const prefix = work?.prefix ?? new Float64Array(L + 1); // prefix[t] = Σ_{i<k<t} |z_i − z_k|
  const column = work?.column ?? new Float64Array(L); // column[κ] = Σ_{τ ≤ i < κ} |z_κ − z_i| for the current τ
  prefix[0] = 0;
  prefix[1] = 0;
  for (let t = 1; t < L; t++) {
    const zt = z[t]!;
    let row = 0;
    for (let i = 0; i < t; i++) row += Math.abs(zt - z[i]!);
    prefix[t + 1] = prefix[t]! + row;
  }
  column.fill(0, 0, L);
  let best: Split | null = null;
  for (let tau = L - 1; tau >= minSize; tau--) {
    const zTau = z[tau]!;
    for (let k = tau + 1; k < L; k++) column[k]! += Math.abs(z[k]! - zTau);
    if (tau > L - minSize) continue;
    const m = tau;
    const wx = prefix[tau]!;
    const xTerm = wx / ((m * (m - 1)) / 2);
    let wy = 0;
    for (let end = tau + 1; end <= L; end++) {
      wy += column[end - 1]!;
      const n = end - tau;
      if (n < minSize) continue;
      const cross = prefix[end]! - wx - wy;
      const energy = (2 * cross) / (m * n) - xTerm - wy / ((n * (n - 1)) / 2);
      const q = ((m * n) / (m + n)) * energy;
      if (best === null || q > best.q) best = { tau, kappa: end, q };
    }
  }
  return best;
}

/** Permutation p-value of an observed Q̂, stopping once it cannot fall to the threshold. */
function permutationPValue(segment: ArrayLike<number>, qObserved: number, minSize: number, threshold: number, permutations: number, rng: Rng): number {
  const values = Float64Array.from(segment);
  const work = { prefix: new Float64Array(values.length + 1), column: new Float64Array(values.length) };
  let exceed = 0;
  for (let r = 1; r <= permutations; r++) {
    for (let i = values.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      const tmp = values[i]!;
      values[i] = values[j]!;
      values[j] = tmp;
    }
    const split = bestSplit(values, minSize, work);
    if (split && split.q >= qObserved) exceed++;
    if ((1 + exceed) / (1 + permutations) > threshold) return (1 + exceed) / (1 + r);
  }
  return (1 + exceed) / (1 + permutations);
}

function mean(z: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += z[i]!;
  return s / (to - from);
}

/** Change points of a series, in index order. */
export function eDivisive(series: ArrayLike<number>, opts: ChangePointOptions = {}): ChangePoint[] {
  const minSize = Math.max(2, opts.minSize ?? CHANGE_POINT_DEFAULTS.minSize);
  const threshold = opts.pValue ?? CHANGE_POINT_DEFAULTS.pValue;
  const permutations = opts.permutations ?? CHANGE_POINT_DEFAULTS.permutations;
  const maxChangePoints = opts.maxChangePoints ?? CHANGE_POINT_DEFAULTS.maxChangePoints;
  const minMagnitude = opts.minMagnitude ?? CHANGE_POINT_DEFAULTS.minMagnitude;
  const rng = seededRng(opts.seed ?? CHANGE_POINT_DEFAULTS.seed);
  const z = Float64Array.from(series);
  for (const v of z) if (!Number.isFinite(v)) throw new Error('eDivisive: the series has a non-finite value');

  type Pending = { start: number; end: number; split: Split };
  const pending: Pending[] = [];
  const consider = (start: number, end: number): void => {
    const split = bestSplit(z.subarray(start, end), minSize);
    if (split) pending.push({ start, end, split });
  };
  consider(0, z.length);
  const found: { index: number; pValue: number }[] = [];
  while (pending.length > 0 && found.length < maxChangePoints) {
    let top = 0;
    for (let i = 1; i < pending.length; i++) if (pending[i]!.split.q > pending[top]!.split.q) top = i;
    const { start, end, split } = pending.splice(top, 1)[0]!;
    const p = permutationPValue(z.subarray(start, end), split.q, minSize, threshold, permutations, rng);
    if (p > threshold) continue;
    const index = start + split.tau;
    found.push({ index, pValue: p });
    consider(start, index);
    consider(index, end);
  }
  found.sort((x, y) => x.index - y.index);
  return withMagnitudeFloor(z, found, minMagnitude);
}

/**
 * Hunter's magnitude floor: drops the change point with the smallest |relative change of the
 * mean| while it is below minMagnitude, recomputing the segment means after each removal. Floors
 * nest: applying a higher floor to the result of a lower one gives the same change points as
 * applying it to the unfiltered ones, so one detection serves several floors.
 */
export function withMagnitudeFloor(series: ArrayLike<number>, changePoints: readonly { index: number; pValue: number }[], minMagnitude: number): ChangePoint[] {
  const kept = [...changePoints].sort((x, y) => x.index - y.index);
  const describe = (cps: { index: number; pValue: number }[]): ChangePoint[] => cps.map((cp, i) => {
    const before = mean(series, i === 0 ? 0 : cps[i - 1]!.index, cp.index);
    const after = mean(series, cp.index, i + 1 < cps.length ? cps[i + 1]!.index : series.length);
    return { index: cp.index, pValue: cp.pValue, meanBefore: before, meanAfter: after, change: (after - before) / Math.abs(before) };
  });
  let result = describe(kept);
  while (minMagnitude > 0 && result.length > 0) {
    let weakest = 0;
    for (let i = 1; i < result.length; i++) if (Math.abs(result[i]!.change) < Math.abs(result[weakest]!.change)) weakest = i;
    if (Math.abs(result[weakest]!.change) >= minMagnitude) break;
    kept.splice(weakest, 1);
    result = describe(kept);
  }
  return result;
}

/**
 * The change point a series' medians may open an alert for, or null: with E-Divisive at the alert
 * settings and the magnitude floor magnitudeFactor × minEffect, the latest change point when it is
 * a worsening step of at least that floor with at least minAfter results from it on. Whether an
 * alert already covers it is for the caller to check.
 */
export function changePointToAlert(medians: ArrayLike<number>, minEffect: number, direction: Direction,
  settings: ChangePointAlertSettings = CHANGE_POINT_ALERT): ChangePoint | null {
  const floor = settings.magnitudeFactor * minEffect;
  const found = eDivisive(medians, { pValue: settings.pValue, permutations: settings.permutations, minMagnitude: floor });
  const latest = found[found.length - 1];
  if (!latest) return null;
  const worse = direction === 'lower_is_better' ? latest.change : -latest.change;
  return worse >= floor && medians.length - latest.index >= settings.minAfter ? latest : null;
}
