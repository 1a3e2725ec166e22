// The statistics of a paired, interleaved A/B test: each round runs the baseline artifact (A)
// and the candidate (B) back to back on the same device, so whatever drifts slowly on the device
// (temperature, clocks, background load) is shared by the pair and cancels in the round's log
// ratio d = ln(B) − ln(A). After each round from `minRounds` on, a t statistic of the mean of d is
// compared with a constant (Pocock-type) boundary c, chosen by simulation so that looking after
// every round still gives at most `alpha` false "changed" decisions in total. The interval
// mean ± c·se is the matching confidence interval: the test stops as soon as it excludes no change
// (changed), or lies within ± the minimum effect (no change that matters), or the round budget is
// spent (inconclusive — the interval says what is still possible).
//
// One disturbed round (a transient on the device during one job) inflates the spread of d and
// widens the interval instead of confirming anything: a change needs rounds that agree. (Clipping
// outlying rounds to the median ± 3 robust σ was tried: it gained no measurable power on the
// simulated device and doubled the false-decision rate at small n, bench/ab-confirmation.ts.)
import { seededRng } from '../../protocol/random.js';
import { normalQuantile, studentTSf } from './distributions.js';

export interface AbOptions {
  minRounds: number;
  maxRounds: number;
  /** Total false-decision rate over all looks. */
  alpha: number;
  /** 'two' for a gate; 'up' / 'down' when only a change of one sign is being confirmed. */
  sides: 'two' | 'up' | 'down';
  /** Smallest relative change that matters (no_change when the interval is inside ± this). */
  minEffect: number;
  /** Decide only every `lookEvery` rounds (and at maxRounds): fewer looks, a lower boundary. Default 1. */
  lookEvery?: number;
}

export type AbDecision = 'changed' | 'no_change' | 'inconclusive' | 'continue';

export interface AbSummary {
  decision: AbDecision;
  rounds: number;
  /** exp(mean d) − 1: candidate relative to baseline (value units, + = larger). */
  estimate: number;
  ciLow: number;
  ciHigh: number;
  /** Standard deviation of d (relative noise of one paired round). */
  sd: number;
  t: number;
  boundary: number;
}

const cache = new Map<string, number>();

/**
 * The per-look p-value threshold p* with P(some look n in [minRounds, maxRounds] has its t
 * statistic's one-sided (or two-sided) p below p*) = alpha, for Gaussian paired differences
 * without change (20,000 seeded simulated sequences; cached). Comparing p-values rather than t
 * values treats every look alike: an early look, with few degrees of freedom, needs a larger t.
 */
export function abThresholdP(minRounds: number, maxRounds: number, alpha: number, sides: 'two' | 'one', lookEvery = 1): number {
  const key = `${minRounds}|${maxRounds}|${alpha}|${sides}|${lookEvery}`;
  const known = cache.get(key);
  if (known !== undefined) return known;
  const sims = 20_000;
  const rng = seededRng(0xab7e57);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const minima = new Float64Array(sims);
  const first = Math.max(2, minRounds);
  for (let s = 0; s < sims; s++) {
    let sum = 0;
    let sq = 0;
    let min = 1;
    for (let n = 1; n <= maxRounds; n++) {
      const d = normal();
      sum += d;
      sq += d * d;
      if (isLook(n, first, maxRounds, lookEvery)) {
        const mean = sum / n;
        const sd = Math.sqrt(Math.max((sq - n * mean * mean) / (n - 1), 1e-300));
        const t = mean / (sd / Math.sqrt(n));
        const p = sides === 'two' ? 2 * studentTSf(Math.abs(t), n - 1) : studentTSf(t, n - 1);
        if (p < min) min = p;
      }
    }
    minima[s] = min;
  }
  minima.sort();
  const p = minima[Math.max(0, Math.floor(alpha * sims) - 1)]!;
  cache.set(key, p);
  return p;
}

/** Whether round n is a look: from `first` on, every `every` rounds, and the last one. */
export function isLook(n: number, first: number, last: number, every: number): boolean {
  return n >= first && ((n - first) % every === 0 || n === last);
}

/** Student t quantile: the t with P(T > t) = p for df degrees of freedom (bisection). */
export function tUpper(p: number, df: number): number {
  let lo = 0;
  let hi = 1;
  while (studentTSf(hi, df) > p) hi *= 2;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (studentTSf(mid, df) > p) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The t boundary at a look with n rounds: one-sided tail (or two-sided, halved) p*. */
export function abBoundary(n: number, o: Pick<AbOptions, 'minRounds' | 'maxRounds' | 'alpha' | 'sides' | 'lookEvery'>): number {
  const two = o.sides === 'two';
  const p = abThresholdP(o.minRounds, o.maxRounds, o.alpha, two ? 'two' : 'one', o.lookEvery ?? 1);
  return tUpper(two ? p / 2 : p, Math.max(1, n - 1));
}

/** The decision after the rounds so far (log ratios ln(B) − ln(A), one per complete round). */
export function abDecide(diffs: readonly number[], o: AbOptions): AbSummary {
  const n = diffs.length;
  const boundary = n >= 2 ? abBoundary(n, o) : Number.NaN;
  if (n < 2) return { decision: n >= o.maxRounds ? 'inconclusive' : 'continue', rounds: n, estimate: n ? Math.expm1(diffs[0]!) : Number.NaN, ciLow: Number.NaN, ciHigh: Number.NaN, sd: Number.NaN, t: Number.NaN, boundary };
  const mean = diffs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(diffs.reduce((a, d) => a + (d - mean) ** 2, 0) / (n - 1));
  const se = sd / Math.sqrt(n);
  const t = se > 0 ? mean / se : mean === 0 ? 0 : Math.sign(mean) * Infinity;
  const lo = mean - boundary * se;
  const hi = mean + boundary * se;
  const limit = Math.log1p(o.minEffect);
  let decision: AbDecision = 'continue';
  if (isLook(n, Math.max(2, o.minRounds), o.maxRounds, o.lookEvery ?? 1)) {
    const changed = o.sides === 'two' ? Math.abs(t) >= boundary : o.sides === 'up' ? t >= boundary : -t >= boundary;
    if (changed) decision = 'changed';
    else if (o.sides === 'two' ? lo > -limit && hi < limit : o.sides === 'up' ? hi < limit : lo > -limit) decision = 'no_change';
    else if (n >= o.maxRounds) decision = 'inconclusive';
  }
  return { decision, rounds: n, estimate: Math.expm1(mean), ciLow: Math.expm1(lo), ciHigh: Math.expm1(hi), sd, t, boundary };
}

/**
 * Rounds a paired test needs to find a change of `effect` with probability `power`, for a paired
 * log-ratio spread `sd` (the smallest n within maxRounds, or null).
 */
export function abRoundsFor(effect: number, sd: number, o: Pick<AbOptions, 'minRounds' | 'maxRounds' | 'alpha' | 'sides' | 'lookEvery'>, power = 0.9): number | null {
  for (let n = Math.max(2, o.minRounds); n <= o.maxRounds; n++) {
    if (!isLook(n, Math.max(2, o.minRounds), o.maxRounds, o.lookEvery ?? 1)) continue;
    if ((abBoundary(n, o) + normalQuantile(power)) * sd / Math.sqrt(n) <= Math.abs(Math.log1p(effect))) return n;
  }
  return null;
}
