// Per-result regression gate: is a new result of a series (same model variant, device, runtime
// settings, metric) worse than the last K results, beyond noise and beyond a minimum effect?
//
// Two kinds of evidence must both hold, and so must the minimum effect:
//  1. within-run: a one-sided Mann–Whitney test of the candidate's raw samples against the pooled
//     raw samples of the baseline results (rankP);
//  2. between-run: results of different jobs drift more than their within-run noise suggests, so a
//     pooled test alone calls a 1% run-to-run wobble "p = 1e-12". The candidate's median is
//     therefore also compared with the distribution of the baseline results' medians: a robust
//     prediction test t = (m − M) / (S·√(1 + 1/K)) with M the median of the K baseline medians,
//     S their standard deviation after setting aside those beyond 3.5 robust σ (runScale), and
//     Student's t with K − 1 degrees of freedom (runP).
// pValue = max(rankP, runP) in the direction of the effect; regression ⇔ effect ≥ minEffect and
// pValue < alpha.
//
// A single verdict is a *suspect*, not an alert: a bimodal or throttled run is worse for real and
// looks exactly like a one-result regression, and slow drift makes neighbouring results agree.
// `confirmedRegression` raises the alert on the 3rd regression verdict in a row (the next results,
// or re-runs of the suspect job). Defaults, chosen with bench/regression-quality.ts on a labelled
// corpus and checked on two held-out seeds (docs/benchmarks.md): alpha 0.05 per result, minEffect
// 0.03, window 30, streak 3 — F1 0.77–0.78 at 0–0.92 false alerts per 1,000 no-change results,
// against 0.71–0.73 for the best threshold or z-score rule. With a streak of 2, pairs of disturbed
// runs still give 0.2–0.6 false alerts per 1,000 at alpha 0.001, where F1 is down to 0.67.
// Without the run-to-run term a streak of 3 reaches the same F1, but with 12–19 false alerts per
// 1,000 results on noisy devices.
import { quantileSorted } from '../stats/summary.js';
import { studentTSf } from './distributions.js';
import { hodgesLehmannSorted, mannWhitneySorted } from './mann-whitney.js';

export type Direction = 'lower_is_better' | 'higher_is_better';
export type Verdict = 'pass' | 'regression' | 'improvement' | 'insufficient_baseline';

/** Defaults chosen on the labelled corpus of bench/regression-quality.ts (see docs/benchmarks.md). */
export const GATE_DEFAULTS = {
  minEffect: 0.03,
  alpha: 0.05,
  /** Baseline results used: the most recent `window` of those given. */
  window: 30,
  minBaselineResults: 5,
  /** Consecutive regression verdicts before an alert (confirmedRegression). */
  confirm: 3,
  confidence: 0.95,
} as const;

export interface GateInput {
  /** Raw samples of the last K results, oldest first. */
  baseline: ReadonlyArray<ArrayLike<number>>;
  candidate: ArrayLike<number>;
  direction: Direction;
  minEffect?: number;
  alpha?: number;
  window?: number;
  minBaselineResults?: number;
  /** Level of the Hodges–Lehmann interval in `ci`. */
  confidence?: number;
}

export interface GateResult {
  verdict: Verdict;
  /** One-sided p-value in the direction of the effect: max(rankP, runP). NaN without a baseline. */
  pValue: number;
  /** (candidate median − baseline median) / baseline median, signed so that positive = worse. */
  effect: number;
  /** Hodges–Lehmann CI of the shift candidate − pooled baseline, relative to the baseline median, signed like effect. */
  ci: [number, number];
  /** Median of the baseline results' medians. */
  baselineMedian: number;
  candidateMedian: number;
  rankP: number;
  runP: number;
  /** Robust run-to-run standard deviation of the baseline medians, relative to baselineMedian. */
  runSpread: number;
  baselineResults: number;
}

/** One-sided evidence in each direction, before any decision (lets a caller sweep alpha/minEffect). */
export interface GateStatistics {
  baselineResults: number;
  baselineMedian: number;
  candidateMedian: number;
  effect: number;
  runSpread: number;
  worse: { rankP: number; runP: number };
  better: { rankP: number; runP: number };
  pooled: Float64Array;
  candidateSorted: Float64Array;
}

const median = (sorted: Float64Array): number => quantileSorted(sorted, 0.5);

/**
 * Run-to-run scale of the baseline medians: the standard deviation of the values within
 * 3.5 robust σ (1.4826·MAD) of the center. As efficient as the plain standard deviation for normal
 * data (MAD alone has 37% efficiency, which makes a t prediction over-confident at K = 30) and
 * unmoved by a disturbed run in the window. Returns the scale and the number of values kept.
 */
export function runScale(values: Float64Array, center: number): { scale: number; kept: number } {
  const deviations = Float64Array.from(values, (v) => Math.abs(v - center)).sort();
  let robust = median(deviations) * 1.4826;
  if (robust === 0) robust = (deviations.reduce((s, d) => s + d, 0) / deviations.length) * 1.2533;
  if (robust === 0) return { scale: 0, kept: values.length };
  let sum = 0;
  let kept = 0;
  for (const v of values) if (Math.abs(v - center) <= 3.5 * robust) { sum += v; kept++; }
  const mean = sum / kept;
  let squares = 0;
  for (const v of values) if (Math.abs(v - center) <= 3.5 * robust) squares += (v - mean) ** 2;
  return { scale: kept > 1 ? Math.sqrt(squares / (kept - 1)) : robust, kept };
}

/** The evidence of the gate, or null when there are fewer than minBaselineResults usable results. */
export function gateStatistics(input: GateInput): GateStatistics | null {
  if (input.candidate.length === 0) throw new Error('gate: the candidate result has no samples');
  const window = input.window ?? GATE_DEFAULTS.window;
  const runs = input.baseline.filter((r) => r.length > 0).slice(-window);
  if (runs.length < Math.max(2, input.minBaselineResults ?? GATE_DEFAULTS.minBaselineResults)) return null;
  const candidateSorted = Float64Array.from(input.candidate).sort();
  const candidateMedian = median(candidateSorted);
  const medians = new Float64Array(runs.length);
  let total = 0;
  runs.forEach((r, i) => { medians[i] = median(Float64Array.from(r).sort()); total += r.length; });
  const pooled = new Float64Array(total);
  let offset = 0;
  for (const r of runs) { pooled.set(r, offset); offset += r.length; }
  pooled.sort();
  medians.sort();
  const baselineMedian = median(medians);
  const { scale, kept } = runScale(medians, baselineMedian);
  const k = runs.length;
  const deviation = candidateMedian - baselineMedian;
  const t = scale > 0 ? deviation / (scale * Math.sqrt(1 + 1 / kept)) : deviation === 0 ? 0 : Math.sign(deviation) * Infinity;
  const runUp = studentTSf(t, Math.max(1, kept - 1)); // candidate larger than the baseline results
  const runDown = studentTSf(-t, Math.max(1, kept - 1));
  const rankUp = mannWhitneySorted(pooled, candidateSorted, { alternative: 'greater' }).pValue;
  const rankDown = mannWhitneySorted(pooled, candidateSorted, { alternative: 'less' }).pValue;
  const lowerBetter = input.direction === 'lower_is_better';
  const sign = lowerBetter ? 1 : -1;
  return {
    baselineResults: k,
    baselineMedian,
    candidateMedian,
    effect: (sign * deviation) / Math.abs(baselineMedian),
    runSpread: scale / Math.abs(baselineMedian),
    worse: lowerBetter ? { rankP: rankUp, runP: runUp } : { rankP: rankDown, runP: runDown },
    better: lowerBetter ? { rankP: rankDown, runP: runDown } : { rankP: rankUp, runP: runUp },
    pooled,
    candidateSorted,
  };
}

/** The verdict for given evidence and thresholds. */
export function decide(stats: GateStatistics, minEffect: number, alpha: number): Verdict {
  if (stats.effect >= minEffect && Math.max(stats.worse.rankP, stats.worse.runP) < alpha) return 'regression';
  if (stats.effect <= -minEffect && Math.max(stats.better.rankP, stats.better.runP) < alpha) return 'improvement';
  return 'pass';
}

/** Judge one new result against the baseline window. */
export function judgeResult(input: GateInput): GateResult {
  return judgeFromStatistics(input, gateStatistics(input));
}

/** judgeResult's decision and report from already computed evidence (stats = gateStatistics(input)). */
export function judgeFromStatistics(input: GateInput, stats: GateStatistics | null): GateResult {
  const minEffect = input.minEffect ?? GATE_DEFAULTS.minEffect;
  const alpha = input.alpha ?? GATE_DEFAULTS.alpha;
  if (!stats) {
    const usable = input.baseline.filter((r) => r.length > 0);
    const candidateMedian = median(Float64Array.from(input.candidate).sort());
    const medians = Float64Array.from(usable, (r) => median(Float64Array.from(r).sort())).sort();
    const baselineMedian = medians.length > 0 ? median(medians) : Number.NaN;
    const sign = input.direction === 'lower_is_better' ? 1 : -1;
    return {
      verdict: 'insufficient_baseline', pValue: Number.NaN,
      effect: (sign * (candidateMedian - baselineMedian)) / Math.abs(baselineMedian), ci: [Number.NaN, Number.NaN],
      baselineMedian, candidateMedian, rankP: Number.NaN, runP: Number.NaN, runSpread: Number.NaN, baselineResults: usable.length,
    };
  }
  const side = stats.effect >= 0 ? stats.worse : stats.better;
  const hl = hodgesLehmannSorted(stats.pooled, stats.candidateSorted, input.confidence ?? GATE_DEFAULTS.confidence);
  const m = Math.abs(stats.baselineMedian);
  const ci: [number, number] = input.direction === 'lower_is_better' ? [hl.ci[0] / m, hl.ci[1] / m] : [-hl.ci[1] / m, -hl.ci[0] / m];
  return {
    verdict: decide(stats, minEffect, alpha),
    pValue: Math.max(side.rankP, side.runP),
    effect: stats.effect,
    ci,
    baselineMedian: stats.baselineMedian,
    candidateMedian: stats.candidateMedian,
    rankP: side.rankP,
    runP: side.runP,
    runSpread: stats.runSpread,
    baselineResults: stats.baselineResults,
  };
}

/** Streak rule: true when the last `streak` verdicts (oldest first) are all regressions. */
export function confirmedRegression(verdicts: readonly Verdict[], streak: number = GATE_DEFAULTS.confirm): boolean {
  if (streak < 1 || verdicts.length < streak) return false;
  for (let i = verdicts.length - streak; i < verdicts.length; i++) if (verdicts[i] !== 'regression') return false;
  return true;
}
