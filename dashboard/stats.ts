// Histogram binning for latency samples. Latency has long tails (a single 100 ms hiccup among
// 0.5 ms iterations), so the binned range is limited to Tukey's far-out fences (Q1 − 3·IQR,
// Q3 + 3·IQR) and anything beyond goes into one underflow / overflow bin. Inside the range the bin
// width follows the Freedman–Diaconis rule (2·IQR·n^(-1/3)), falling back to the square-root rule
// when the IQR is zero, with the number of bins capped. Every sample lands in exactly one bin, so
// the counts always add up to the number of samples.

export interface Bin {
  /** Inclusive lower edge; `under` bins start at the smallest sample. */
  from: number;
  /** Exclusive upper edge (inclusive for the last bin). */
  to: number;
  count: number;
  kind: 'under' | 'bin' | 'over';
}

export interface Histogram {
  bins: Bin[];
  /** Range covered by the regular bins and their common width. */
  lo: number;
  hi: number;
  width: number;
}

export const MAX_BINS = 60;
const FENCE = 3;

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? NaN;
  const b = sorted[hi] ?? NaN;
  return a + (b - a) * (pos - lo);
}

export function histogram(samples: number[]): Histogram {
  const sorted = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { bins: [], lo: 0, hi: 0, width: 0 };
  const min = sorted[0] ?? 0;
  const max = sorted[n - 1] ?? 0;
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  const iqr = q3 - q1;
  const lo = iqr > 0 ? Math.max(min, q1 - FENCE * iqr) : min;
  const hi = iqr > 0 ? Math.min(max, q3 + FENCE * iqr) : max;
  if (hi <= lo) {
    // All samples (inside the fences) are equal: one bin of non-zero width for drawing.
    const width = Math.max(Math.abs(lo) * 0.01, 1e-6);
    return withTails(sorted, lo, hi, [{ from: lo, to: lo + width, count: 0, kind: 'bin' }], width);
  }
  const inside = sorted.filter((x) => x >= lo && x <= hi).length;
  const wanted = iqr > 0 ? Math.ceil((hi - lo) / (2 * iqr * Math.cbrt(1 / inside))) : Math.ceil(Math.sqrt(inside));
  const count = Math.max(1, Math.min(MAX_BINS, wanted));
  const width = (hi - lo) / count;
  const bins: Bin[] = Array.from({ length: count }, (_, i) => ({ from: lo + i * width, to: lo + (i + 1) * width, count: 0, kind: 'bin' as const }));
  return withTails(sorted, lo, hi, bins, width);
}

function withTails(sorted: number[], lo: number, hi: number, bins: Bin[], width: number): Histogram {
  const under: Bin = { from: sorted[0] ?? lo, to: lo, count: 0, kind: 'under' };
  const over: Bin = { from: hi, to: sorted[sorted.length - 1] ?? hi, count: 0, kind: 'over' };
  for (const x of sorted) {
    if (x < lo) under.count++;
    else if (x > hi) over.count++;
    else {
      const bin = bins[Math.min(bins.length - 1, Math.floor((x - lo) / width))];
      if (bin) bin.count++;
    }
  }
  return { bins: [...(under.count ? [under] : []), ...bins, ...(over.count ? [over] : [])], lo, hi, width };
}
