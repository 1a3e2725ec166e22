// One definition of a reported change, for every place that reports one (verdicts, series
// changes, alerts, A/B tests; the CLI's tables, the markdown and JUnit gate reports, the
// dashboard, webhooks). A change is a level before, a level after and a 95% interval; its effect is
// signed so that positive = worse, and the interval always contains it, because both are computed
// here from the same numbers. Dependency-free: the dashboard loads this file in the browser.

export type Direction = 'lower_is_better' | 'higher_is_better';

/** Signed so that positive = worse: the relative change from `before` to `after`. */
export function worseEffect(before: number, after: number, direction: Direction): number {
  const r = after / before - 1;
  return direction === 'lower_is_better' ? r : before / after - 1;
}

export interface ChangeEstimate {
  /** The level the change is measured from, and the level it is measured to (value units). */
  before: number;
  after: number;
  /** Relative change, positive = worse, with its 95% interval (null when no interval is known). */
  effect: number;
  ci_low: number | null;
  ci_high: number | null;
}

function withInterval(before: number, after: number, afterLow: number | null, afterHigh: number | null, direction: Direction): ChangeEstimate {
  const effect = worseEffect(before, after, direction);
  if (afterLow === null || afterHigh === null || !Number.isFinite(afterLow) || !Number.isFinite(afterHigh)) {
    return { before, after, effect, ci_low: null, ci_high: null };
  }
  const a = worseEffect(before, afterLow, direction);
  const b = worseEffect(before, afterHigh, direction);
  // The interval is monotone in `after`, so it holds the effect; min/max guard rounding at the edges.
  return { before, after, effect, ci_low: Math.min(a, b, effect), ci_high: Math.max(a, b, effect) };
}

/**
 * A change from level `before` to level `after`, whose log ratio log(after/before) has standard
 * error `seLog` (null: no interval).
 */
export function changeFromLevels(before: number, after: number, seLog: number | null, direction: Direction): ChangeEstimate {
  if (seLog === null || !Number.isFinite(seLog)) return withInterval(before, after, null, null, direction);
  const half = 1.96 * seLog;
  return withInterval(before, after, after * Math.exp(-half), after * Math.exp(half), direction);
}

/**
 * A change given as the value's relative change r = after/before − 1 and an interval of r (how an
 * A/B test reports B against A), from the level `before`.
 */
export function changeFromRatio(before: number, r: number, rLow: number | null, rHigh: number | null, direction: Direction): ChangeEstimate {
  return withInterval(before, before * (1 + r), rLow === null ? null : before * (1 + rLow), rHigh === null ? null : before * (1 + rHigh), direction);
}

/** "+12.3%" / "-4.0%" (positive = worse for an effect). */
export function signedPercent(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const s = (Math.abs(x) * 100).toFixed(digits);
  return `${x >= 0 || Number(s) === 0 ? '+' : '-'}${s}%`;
}

/** "+12.3% (95% CI +10.1% … +14.6%)": the one way a change and its interval are printed. */
export function formatChange(c: { effect: number | null; ci_low: number | null; ci_high: number | null }, digits = 1): string {
  if (c.effect === null || !Number.isFinite(c.effect)) return '–';
  const point = signedPercent(c.effect, digits);
  return c.ci_low === null || c.ci_high === null ? point : `${point} (95% CI ${signedPercent(c.ci_low, digits)} … ${signedPercent(c.ci_high, digits)})`;
}

/** "+10.1% … +14.6%" or "–". */
export function formatInterval(c: { ci_low: number | null; ci_high: number | null }, digits = 1): string {
  return c.ci_low === null || c.ci_high === null ? '–' : `${signedPercent(c.ci_low, digits)} … ${signedPercent(c.ci_high, digits)}`;
}
