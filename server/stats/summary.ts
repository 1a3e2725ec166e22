// Summary statistics of one measurement, computed by the server from the raw samples (the
// agent's own summary is never trusted): quantiles, moments, MAD-based outliers and a
// distribution-free 95% confidence interval of the median (order statistics, binomial ranks).
import type { MeasurementSummary } from '../../protocol/api.js';

/** The statistics stored with every measurement (the protocol's MeasurementSummary without metric and unit). */
export type Summary = Omit<MeasurementSummary, 'metric' | 'unit' | 'flags'>;

/** Quantile of sorted data with linear interpolation between order statistics (Hyndman–Fan type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new Error('quantile of no samples');
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/** 97.5% quantiles of Student's t for 1..30 degrees of freedom (standard tables). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Two-sided 97.5% quantile of Student's t: the table up to 30, a Cornish–Fisher expansion above. */
export function tQuantile975(df: number): number {
  if (df <= 0) return Number.NaN;
  const tabled = T975[Math.round(df) - 1];
  if (df <= 30 && tabled !== undefined) return tabled;
  const z = 1.959963984540054;
  const z3 = z ** 3;
  const z5 = z ** 5;
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df * df);
}

/**
 * Ranks (1-based) of the order statistics that bound a distribution-free 95% confidence interval
 * of the median: the largest k with P(Binomial(n, ½) < k) ≤ 2.5%, and n + 1 − k. The interval
 * [x(k), x(n+1−k)] covers the median with probability ≥ 95% for any continuous distribution
 * (exact binomial sums up to n = 1,000, the normal approximation with continuity correction
 * above). Below n = 6 no such pair exists and the interval is [min, max].
 */
export function medianCiRanks(n: number): [number, number] {
  if (n < 6) return [1, Math.max(1, n)];
  let k: number;
  if (n <= 1000) {
    // P(B < k) = Σ_{i<k} C(n,i)/2^n, summed in log space.
    const logHalfN = n * Math.log(0.5);
    let logC = 0; // log C(n, 0)
    let cdf = 0;
    k = 0;
    for (let i = 0; i < n; i++) {
      const next = cdf + Math.exp(logC + logHalfN); // P(B ≤ i) = P(B < i + 1)
      if (next > 0.025) break;
      cdf = next;
      k = i + 1;
      logC += Math.log((n - i) / (i + 1));
    }
  } else {
    k = Math.floor(n / 2 - 1.959963984540054 * Math.sqrt(n) / 2 + 0.5);
  }
  k = Math.max(1, k);
  return [k, n + 1 - k];
}

/** The distribution-free 95% CI of the median of sorted data (see medianCiRanks). */
export function medianCi(sorted: ArrayLike<number>): [number, number] {
  const [lo, hi] = medianCiRanks(sorted.length);
  return [sorted[lo - 1] as number, sorted[hi - 1] as number];
}

export interface SummaryOptions { outlierThreshold?: number }

export function summarize(samples: ArrayLike<number>, opts: SummaryOptions = {}): Summary {
  const n = samples.length;
  if (n === 0) throw new Error('cannot summarize zero samples');
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (sorted[i]! - mean) ** 2;
  const stddev = n > 1 ? Math.sqrt(sq / (n - 1)) : 0;
  const median = quantileSorted(sorted, 0.5);

  // Outliers: modified z-score |x - median| / (1.4826 · MAD) above the threshold (Iglewicz & Hoaglin: 3.5).
  const deviations = Float64Array.from(sorted, (x) => Math.abs(x - median)).sort();
  // When more than half the samples are identical (coarse timers) the MAD is 0; fall back to the
  // mean absolute deviation, scaled to be consistent with σ for normal data.
  let mad = quantileSorted(deviations, 0.5) * 1.4826;
  if (mad === 0) mad = (deviations.reduce((a, b) => a + b, 0) / n) * 1.2533;
  const threshold = opts.outlierThreshold ?? 3.5;
  let outliers = 0;
  if (mad > 0) for (let i = 0; i < n; i++) if (Math.abs(sorted[i]! - median) / mad > threshold) outliers++;

  const [ciLow, ciHigh] = medianCi(sorted);
  return {
    count: n,
    median,
    p90: quantileSorted(sorted, 0.9),
    p99: quantileSorted(sorted, 0.99),
    mean,
    stddev,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    ci_low: ciLow,
    ci_high: ciHigh,
    mean_ci_half: n > 1 ? (tQuantile975(n - 1) * stddev) / Math.sqrt(n) : 0,
    outliers,
  };
}

/** Samples are stored as little-endian Float64Array blobs. */
export function encodeSamples(samples: ArrayLike<number>): Buffer {
  const buf = Buffer.alloc(samples.length * 8);
  for (let i = 0; i < samples.length; i++) buf.writeDoubleLE(samples[i]!, i * 8);
  return buf;
}

export function decodeSamples(blob: Buffer): number[] {
  if (blob.length % 8 !== 0) throw new Error(`sample blob of ${blob.length} bytes is not a whole number of float64s`);
  const out = new Array<number>(blob.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = blob.readDoubleLE(i * 8);
  return out;
}
