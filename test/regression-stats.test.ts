// Tests for server/regression: tail probabilities against table values; Mann–Whitney p-values
// against full enumeration (exact path), a textbook example, a hand-computed tie case and a large
// case recomputed from brute-force pair counts; Hodges–Lehmann against brute-force pairwise
// medians and order-statistic intervals, plus coverage by simulation; gate verdicts on seeded
// synthetic series (regression, improvement, throughput, no change with outliers, between-run
// drift, insufficient baseline); E-Divisive against a naive Q̂, step location for several sizes,
// false change points on flat series, determinism and the 500-point runtime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalCdf, normalQuantile, normalSf, studentTSf } from '../server/regression/distributions.js';
import { EXACT_MAX_SMALL_SIDE, exactFeasible, hodgesLehmann, mannWhitney, uDistribution } from '../server/regression/mann-whitney.js';
import { confirmedRegression, judgeResult, GATE_DEFAULTS, type Direction, type Verdict } from '../server/regression/gate.js';
import { bestSplit, eDivisive } from '../server/regression/change-points.js';
import { close, xorshift } from './support/reference-math.js';

// ---- independent helpers -------------------------------------------------------------------

function gaussian(u: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Exact null distribution of U (counts) by enumerating every choice of ranks for the n2 sample. */
function enumerateU(n1: number, n2: number): { counts: number[]; total: number } {
  const counts = new Array<number>(n1 * n2 + 1).fill(0);
  let total = 0;
  const pick = (next: number, left: number, rankSum: number): void => {
    if (left === 0) { counts[rankSum - (n2 * (n2 + 1)) / 2]! += 1; total++; return; }
    for (let r = next; r <= n1 + n2 - left + 1; r++) pick(r + 1, left - 1, rankSum + r);
  };
  pick(1, n2, 0);
  return { counts, total };
}

/** U of b by counting pairs: b > a counts 1, b = a counts ½. */
function pairU(a: number[], b: number[]): number {
  let u = 0;
  for (const y of b) for (const x of a) u += y > x ? 1 : y === x ? 0.5 : 0;
  return u;
}

function allDifferences(a: number[], b: number[]): number[] {
  const d: number[] = [];
  for (const y of b) for (const x of a) d.push(y - x);
  return d.sort((p, q) => p - q);
}

const medianOfSorted = (s: number[]): number => (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);

// ---- distributions ---------------------------------------------------------------------------

test('normal and Student t tails match table values', () => {
  close(normalCdf(1.959963984540054), 0.975, 1e-7);
  close(normalSf(6), 9.865876450376946e-10, 1e-15); // far tail without cancellation
  close(normalQuantile(0.999), 3.090232306167813, 1e-7);
  close(normalQuantile(0.025), -1.959963984540054, 1e-7);
  for (const p of [1e-8, 0.01, 0.3, 0.5, 0.9]) close(normalCdf(normalQuantile(p)), p, 2e-7 * Math.max(p, 1e-3), `Φ(Φ⁻¹(${p}))`);
  close(studentTSf(2.228, 10), 0.02500588590855566, 1e-9); // t table: 97.5% quantile at 10 df
  close(studentTSf(3.396, 29), 0.0010006260900207173, 1e-10);
  close(studentTSf(1.5, 3.5), 0.10890909350767251, 1e-9); // non-integer df
  close(studentTSf(-1.5, 3.5), 1 - 0.10890909350767251, 1e-9);
  assert.equal(studentTSf(0, 7), 0.5);
});

// ---- Mann–Whitney -------------------------------------------------------------------------

test('exact U distribution equals full enumeration', () => {
  for (const [n1, n2] of [[1, 1], [3, 3], [4, 5], [5, 4], [2, 9], [7, 6]] as const) {
    const { counts, total } = enumerateU(n1, n2);
    const dist = uDistribution(n1, n2);
    assert.equal(dist.length, n1 * n2 + 1);
    counts.forEach((c, u) => close(dist[u]!, c / total, 1e-14, `P(U=${u} | ${n1},${n2})`));
  }
});

test('exact Mann–Whitney p-values match enumeration for random small samples', () => {
  const u = xorshift(11);
  for (const [n1, n2] of [[3, 4], [5, 5], [6, 3], [8, 7], [4, 10]] as const) {
    const a = Array.from({ length: n1 }, () => u() * 10);
    const b = Array.from({ length: n2 }, () => u() * 10 + 3);
    const { counts, total } = enumerateU(n1, n2);
    const observed = pairU(a, b);
    const upper = counts.reduce((s, c, v) => s + (v >= observed ? c : 0), 0) / total;
    const lower = counts.reduce((s, c, v) => s + (v <= observed ? c : 0), 0) / total;
    const greater = mannWhitney(a, b, { alternative: 'greater' });
    assert.equal(greater.method, 'exact');
    assert.equal(greater.u, observed);
    close(greater.pValue, upper, 1e-12, `greater ${n1}×${n2}`);
    close(mannWhitney(a, b, { alternative: 'less' }).pValue, lower, 1e-12, `less ${n1}×${n2}`);
    close(mannWhitney(a, b).pValue, Math.min(1, 2 * Math.min(upper, lower)), 1e-12, `two-sided ${n1}×${n2}`);
  }
});

test('Mann–Whitney: textbook example (SciPy docs, males vs females)', () => {
  const males = [19, 22, 16, 29, 24];
  const females = [20, 11, 17, 12];
  const exact = mannWhitney(females, males); // U of the males
  assert.equal(exact.u, 17);
  assert.equal(exact.method, 'exact');
  close(exact.pValue, 14 / 126, 1e-12); // P(|U − 10| ≥ 7) = 14 of C(9,4) = 126 rank sets
  close(mannWhitney(females, males, { method: 'normal' }).pValue, 0.11134688653314041, 1e-6);
  // Complete separation, 3 vs 3: one of C(6,3) = 20 orderings.
  close(mannWhitney([1, 2, 3], [4, 5, 6], { alternative: 'greater' }).pValue, 1 / 20, 1e-12);
  close(mannWhitney([1, 2, 3], [4, 5, 6]).pValue, 2 / 20, 1e-12);
  close(mannWhitney([1, 2, 3], [4, 5, 6], { alternative: 'less' }).pValue, 1, 1e-12);
});

test('Mann–Whitney with ties: mid-ranks, tie-corrected variance, normal approximation', () => {
  // Ranks of 1,2,2,2,3,3,3,4 are 1,3,3,3,6,6,6,8; b = {2,3,3,4} has R = 23, U = 23 − 10 = 13.
  // Σ(t³ − t) = 24 + 24, var = (16/12)·(9 − 48/56) = 10.857142857…, z = (13 − 8 − 0.5)/√var.
  const a = [1, 2, 2, 3];
  const b = [2, 3, 3, 4];
  const r = mannWhitney(a, b, { alternative: 'greater' });
  assert.equal(r.u, 13);
  assert.equal(r.ties, true);
  assert.equal(r.method, 'normal'); // exact is only valid without ties
  close(r.z, 4.5 / Math.sqrt((16 / 12) * (9 - 48 / 56)), 1e-12);
  close(r.pValue, 0.08601685446091145, 1e-7);
  close(mannWhitney(a, b).pValue, 0.1720337089218229, 1e-7);
  // All values equal: no evidence at all.
  assert.equal(mannWhitney([5, 5, 5], [5, 5]).pValue, 1);
  assert.throws(() => mannWhitney([], [1]), /no samples/);
  assert.throws(() => mannWhitney([1, Number.NaN], [1]), /non-finite/);
});

test('Mann–Whitney large samples: U from brute-force pair counts, normal approximation', () => {
  const g = gaussian(xorshift(5));
  const a = Array.from({ length: 400 }, () => Math.round(g() * 20) / 10); // rounded: many ties
  const b = Array.from({ length: 300 }, () => Math.round((g() + 0.3) * 20) / 10);
  const r = mannWhitney(a, b, { alternative: 'greater' });
  assert.equal(r.method, 'normal');
  assert.equal(r.u, pairU(a, b));
  // Tie term from the value counts of the combined sample.
  const counts = new Map<number, number>();
  for (const v of [...a, ...b]) counts.set(v, (counts.get(v) ?? 0) + 1);
  let tieTerm = 0;
  for (const t of counts.values()) tieTerm += t ** 3 - t;
  const n = 700;
  const sd = Math.sqrt(((400 * 300) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const z = (r.u - 60000 - 0.5) / sd;
  close(r.z, z, 1e-9);
  close(r.pValue, normalSf(z), 1e-12);
  assert.ok(r.pValue < 0.05, `shifted samples should differ, p = ${r.pValue}`);
});

/** The Mann–Whitney (1947) recurrence on probabilities, p(u|i,j) = i/(i+j)·p(u−j|i−1,j) + j/(i+j)·p(u|i,j−1). */
function recurrenceU(n1: number, n2: number): Float64Array {
  const outer = Math.max(n1, n2);
  const inner = Math.min(n1, n2);
  const delta = Float64Array.of(1);
  let previous: Float64Array[] = Array.from({ length: inner + 1 }, () => delta);
  for (let i = 1; i <= outer; i++) {
    const current = [delta];
    for (let j = 1; j <= inner; j++) {
      const d = new Float64Array(i * j + 1);
      previous[j]!.forEach((p, u) => { d[u + j]! += (i / (i + j)) * p; });
      current[j - 1]!.forEach((p, u) => { d[u]! += (j / (i + j)) * p; });
      current.push(d);
    }
    previous = current;
  }
  return previous[inner]!;
}

test('exact U distribution equals the Mann–Whitney recurrence up to the exact-path limits', () => {
  for (const [n1, n2] of [[50, 50], [3, 800], [12, 300], [50, 120]] as const) {
    assert.ok(exactFeasible(n1, n2));
    const dist = uDistribution(n1, n2);
    const reference = recurrenceU(n1, n2);
    let cumulative = 0;
    let referenceCumulative = 0;
    for (let u = 0; u <= (n1 * n2) / 2; u++) {
      cumulative += dist[u]!;
      referenceCumulative += reference[u]!;
      close(cumulative / referenceCumulative, 1, 1e-12, `P(U ≤ ${u} | ${n1},${n2})`); // lower tail, relative
    }
  }
  assert.equal(exactFeasible(EXACT_MAX_SMALL_SIDE + 1, EXACT_MAX_SMALL_SIDE + 1), false);
  assert.equal(exactFeasible(10, 40000), true);
  assert.equal(exactFeasible(10, 40001), false);
});

test('the exact path matters when one sample is small; the normal one is close when both are large', () => {
  // 3 candidate samples against 800: at the exact 0.1% point the normal approximation says 0.4%.
  const small = uDistribution(3, 800);
  let cumulative = 0;
  let u = 0;
  while (cumulative + small[u]! <= 0.001) cumulative += small[u++]!;
  const approx = normalCdf((u - 1 - 1200 + 0.5) / Math.sqrt((2400 * 804) / 12));
  assert.ok(approx / cumulative > 3, `normal ${approx} vs exact ${cumulative}`);
  // 50 vs 50: within 12% from p = 0.001 to 0.05.
  const dist = uDistribution(50, 50);
  const sd = Math.sqrt((2500 * 101) / 12);
  cumulative = 0;
  for (let v = 0; v < 1250; v++) {
    cumulative += dist[v]!;
    if (cumulative < 1e-3 || cumulative > 0.05) continue;
    const normal = normalCdf((v - 1250 + 0.5) / sd);
    assert.ok(Math.abs(normal / cumulative - 1) < 0.12, `P(U ≤ ${v}) exact ${cumulative} vs normal ${normal}`);
  }
});

// ---- Hodges–Lehmann ---------------------------------------------------------------------------

test('Hodges–Lehmann shift equals the brute-force median of pairwise differences', () => {
  assert.equal(hodgesLehmann([1, 2, 3], [4, 5, 6]).shift, 3); // differences 1,2,2,3,3,3,4,4,5
  assert.equal(hodgesLehmann([10], [12]).shift, 2);
  const u = xorshift(21);
  for (const [n1, n2, round] of [[37, 23, false], [200, 150, false], [120, 90, true], [3000, 40, false]] as const) {
    const a = Array.from({ length: n1 }, () => (round ? Math.round(u() * 20) : u() * 20));
    const b = Array.from({ length: n2 }, () => (round ? Math.round(u() * 20 + 2) : u() * 20 + 2));
    const diffs = allDifferences(a, b);
    assert.equal(hodgesLehmann(a, b).shift, medianOfSorted(diffs), `${n1}×${n2}${round ? ' tied' : ''}`);
  }
});

test('Hodges–Lehmann interval: order statistics of the differences at the U critical value', () => {
  const u = xorshift(33);
  // Small: k from the enumerated U distribution (largest c with P(U ≤ c) ≤ 2.5%, k = c + 1).
  const a = Array.from({ length: 7 }, () => u());
  const b = Array.from({ length: 8 }, () => u() + 0.4);
  const { counts, total } = enumerateU(7, 8);
  let cumulative = 0;
  let c = -1;
  for (let v = 0; v < counts.length; v++) { cumulative += counts[v]! / total; if (cumulative <= 0.025) c = v; else break; }
  const diffs = allDifferences(a, b);
  const small = hodgesLehmann(a, b, 0.95);
  assert.deepEqual(small.ci, [diffs[c]!, diffs[56 - c - 1]!]);
  // Large: k from the normal approximation.
  const g = gaussian(u);
  const A = Array.from({ length: 150 }, () => g());
  const B = Array.from({ length: 120 }, () => g() + 0.5);
  const N = 150 * 120;
  const k = Math.floor(N / 2 - 0.5 - 1.959963984540054 * Math.sqrt((N * 271) / 12)) + 1;
  const D = allDifferences(A, B);
  assert.deepEqual(hodgesLehmann(A, B).ci, [D[k - 1]!, D[N - k]!]);
  // Too small for 95%: unbounded.
  assert.deepEqual(hodgesLehmann([1, 2], [3, 4]).ci, [-Infinity, Infinity]);
});

test('Hodges–Lehmann 95% interval covers the true shift about 95% of the time', () => {
  const g = gaussian(xorshift(77));
  let covered = 0;
  const reps = 400;
  for (let r = 0; r < reps; r++) {
    const a = Array.from({ length: 20 }, () => g());
    const b = Array.from({ length: 25 }, () => g() + 0.7);
    const { ci } = hodgesLehmann(a, b);
    if (ci[0] <= 0.7 && 0.7 <= ci[1]) covered++;
  }
  const rate = covered / reps;
  assert.ok(rate > 0.92 && rate < 0.985, `coverage ${rate}`);
});

test('Hodges–Lehmann stays fast for 30 × 2000 baseline samples against 2000', () => {
  const g = gaussian(xorshift(99));
  const a = Array.from({ length: 60000 }, () => 10 * Math.exp(0.05 * g()));
  const b = Array.from({ length: 2000 }, () => 10.3 * Math.exp(0.05 * g()));
  const started = performance.now();
  const hl = hodgesLehmann(a, b);
  const ms = performance.now() - started;
  close(hl.shift, 0.3, 0.05);
  assert.ok(hl.ci[0] < hl.shift && hl.shift < hl.ci[1]);
  assert.ok(ms < 500, `took ${ms.toFixed(0)} ms`);
});

// ---- gate -----------------------------------------------------------------------------------

interface RunShape { level: number; between: number; cv: number; n: number; spikes?: number }

/** Raw samples of `count` results: lognormal within-run noise around a run level that varies by `between`. */
function makeRuns(u: () => number, count: number, s: RunShape): number[][] {
  const g = gaussian(u);
  return Array.from({ length: count }, () => {
    const level = s.level * Math.exp(s.between * g());
    return Array.from({ length: s.n }, () => level * Math.exp(s.cv * g()) * (u() < (s.spikes ?? 0) ? 2.5 : 1));
  });
}

const QUIET: RunShape = { level: 10, between: 0.01, cv: 0.04, n: 100, spikes: 0.01 };

test('gate: clear regression, clear improvement, throughput drop', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const u = xorshift(seed);
    const baseline = makeRuns(u, 30, QUIET);
    const slower = judgeResult({ baseline, candidate: makeRuns(u, 1, { ...QUIET, level: 10.8 })[0]!, direction: 'lower_is_better' });
    assert.equal(slower.verdict, 'regression', `seed ${seed}: ${JSON.stringify(slower)}`);
    close(slower.effect, 0.08, 0.035, 'effect');
    assert.ok(slower.ci[0] > 0 && slower.ci[0] < slower.ci[1], `ci ${slower.ci}`);
    assert.ok(slower.pValue < 1e-3);
    close(slower.baselineMedian, 10, 0.2);
    const faster = judgeResult({ baseline, candidate: makeRuns(u, 1, { ...QUIET, level: 9 })[0]!, direction: 'lower_is_better' });
    assert.equal(faster.verdict, 'improvement');
    close(faster.effect, -0.1, 0.035);
    assert.ok(faster.ci[1] < 0);
    // Throughput: a drop is the regression, and effect stays "positive = worse".
    const drop = judgeResult({ baseline, candidate: makeRuns(u, 1, { ...QUIET, level: 9 })[0]!, direction: 'higher_is_better' });
    assert.equal(drop.verdict, 'regression');
    close(drop.effect, 0.1, 0.035);
    assert.ok(drop.ci[0] > 0);
  }
});

test('gate: a between-run wobble is not a regression even though the pooled rank test is sure', () => {
  // Runs vary by 3% between jobs but only 1% within; a candidate 4% (1.3σ between) above the
  // baseline is an ordinary run, though 200 samples make the pooled rank test overwhelming.
  const u = xorshift(4);
  const shape: RunShape = { level: 10, between: 0.03, cv: 0.01, n: 200 };
  const baseline = makeRuns(u, 30, shape);
  const medians = baseline.map((r) => medianOfSorted([...r].sort((x, y) => x - y))).sort((x, y) => x - y);
  const level = medianOfSorted(medians) * 1.04;
  const candidate = makeRuns(u, 1, { ...shape, level, between: 0 })[0]!;
  const r = judgeResult({ baseline, candidate, direction: 'lower_is_better' });
  assert.ok(r.rankP < 1e-6, `rankP ${r.rankP}`);
  assert.ok(r.runP > GATE_DEFAULTS.alpha, `runP ${r.runP}`);
  assert.ok(r.effect > GATE_DEFAULTS.minEffect);
  assert.equal(r.verdict, 'pass');
  close(r.runSpread, 0.03, 0.01);
});

test('gate: no change with noise and outliers raises no confirmed alert', () => {
  let suspects = 0;
  let alerts = 0;
  let judged = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const u = xorshift(1000 + seed);
    const runs = makeRuns(u, 60, { level: 5, between: 0.015, cv: 0.08, n: 80, spikes: 0.02 });
    // Disturbed runs: a bimodal one and a throttled one in every series.
    runs[20] = runs[20]!.map((x, i) => (i % 2 ? x * 1.25 : x));
    runs[45] = runs[45]!.map((x) => x * 1.15);
    const verdicts: Verdict[] = [];
    for (let t = 30; t < 60; t++) {
      const r = judgeResult({ baseline: runs.slice(t - 30, t), candidate: runs[t]!, direction: 'lower_is_better' });
      verdicts.push(r.verdict);
      judged++;
      if (r.verdict === 'regression') suspects++;
      if (confirmedRegression(verdicts)) alerts++;
    }
  }
  assert.equal(alerts, 0);
  assert.ok(suspects <= 0.1 * judged, `${suspects} suspects of ${judged}`); // the throttled run is one of them
});

test('gate: a step is confirmed on its 3rd result', () => {
  const u = xorshift(8);
  const runs = [...makeRuns(u, 40, QUIET), ...makeRuns(u, 10, { ...QUIET, level: 10.6 })];
  const verdicts: Verdict[] = [];
  let firstAlert = -1;
  for (let t = 30; t < 50 && firstAlert < 0; t++) {
    verdicts.push(judgeResult({ baseline: runs.slice(t - 30, t), candidate: runs[t]!, direction: 'lower_is_better' }).verdict);
    if (confirmedRegression(verdicts)) firstAlert = t;
  }
  assert.equal(firstAlert, 42);
});

test('gate: insufficient baseline', () => {
  const u = xorshift(3);
  const few = judgeResult({ baseline: makeRuns(u, 3, QUIET), candidate: makeRuns(u, 1, QUIET)[0]!, direction: 'lower_is_better' });
  assert.equal(few.verdict, 'insufficient_baseline');
  assert.ok(Number.isNaN(few.pValue));
  assert.equal(few.baselineResults, 3);
  close(few.baselineMedian, 10, 0.5);
  const empty = judgeResult({ baseline: [[], []], candidate: [1, 2, 3], direction: 'higher_is_better' });
  assert.equal(empty.verdict, 'insufficient_baseline');
  assert.ok(Number.isNaN(empty.baselineMedian));
  assert.equal(empty.candidateMedian, 2);
  const enough = judgeResult({ baseline: makeRuns(u, 5, QUIET), candidate: makeRuns(u, 1, QUIET)[0]!, direction: 'lower_is_better' });
  assert.notEqual(enough.verdict, 'insufficient_baseline');
  assert.throws(() => judgeResult({ baseline: makeRuns(u, 5, QUIET), candidate: [], direction: 'lower_is_better' }), /no samples/);
});

test('confirmedRegression needs the whole streak', () => {
  const r: Verdict = 'regression';
  assert.equal(confirmedRegression([r, r]), false);
  assert.equal(confirmedRegression([r, r, r]), true);
  assert.equal(confirmedRegression(['pass', r, r, r]), true);
  assert.equal(confirmedRegression([r, r, 'pass']), false);
  assert.equal(confirmedRegression([r, 'improvement', r, r]), false);
  assert.equal(confirmedRegression([r], 1), true);
});

// ---- change points ---------------------------------------------------------------------------

/** Q̂ of every admissible (τ, κ) straight from the definition. */
function naiveBest(z: number[], minSize: number): { tau: number; kappa: number; q: number } {
  let best = { tau: -1, kappa: -1, q: -Infinity };
  for (let tau = minSize; tau <= z.length - minSize; tau++) {
    for (let kappa = tau + minSize; kappa <= z.length; kappa++) {
      const X = z.slice(0, tau);
      const Y = z.slice(tau, kappa);
      const m = X.length;
      const n = Y.length;
      let cross = 0;
      for (const x of X) for (const y of Y) cross += Math.abs(x - y);
      let wx = 0;
      for (let i = 0; i < m; i++) for (let k = i + 1; k < m; k++) wx += Math.abs(X[i]! - X[k]!);
      let wy = 0;
      for (let i = 0; i < n; i++) for (let k = i + 1; k < n; k++) wy += Math.abs(Y[i]! - Y[k]!);
      const q = ((m * n) / (m + n)) * ((2 * cross) / (m * n) - wx / ((m * (m - 1)) / 2) - wy / ((n * (n - 1)) / 2));
      if (q > best.q) best = { tau, kappa, q };
    }
  }
  return best;
}

test('bestSplit finds the same maximum of Q̂ as the definition', () => {
  const g = gaussian(xorshift(17));
  for (const [length, minSize] of [[12, 2], [25, 3], [31, 5]] as const) {
    const z = Array.from({ length }, (_, i) => g() + (i > length / 2 ? 1.5 : 0) - (i > length - 6 ? 2 : 0));
    const naive = naiveBest(z, minSize);
    const fast = bestSplit(z, minSize)!;
    close(fast.q, naive.q, 1e-9 * Math.abs(naive.q));
    assert.equal(fast.tau, naive.tau);
    assert.equal(fast.kappa, naive.kappa);
  }
  assert.equal(bestSplit([1, 2, 3], 2), null);
});

test('E-Divisive places steps of several sizes within ±2 results', () => {
  for (const step of [0.05, 0.1, 0.2]) {
    for (let seed = 1; seed <= 5; seed++) {
      const g = gaussian(xorshift(seed * 31 + Math.round(step * 100)));
      const at = 35 + seed * 3;
      const series = Array.from({ length: 100 }, (_, i) => 10 * (i >= at ? 1 + step : 1) * (1 + 0.01 * g()));
      const cps = eDivisive(series, { seed });
      assert.ok(cps.length >= 1, `step ${step} seed ${seed}: none found`);
      const nearest = cps.reduce((p, c) => (Math.abs(c.index - at) < Math.abs(p.index - at) ? c : p));
      assert.ok(Math.abs(nearest.index - at) <= 2, `step ${step} seed ${seed}: found ${cps.map((c) => c.index)}, true ${at}`);
      assert.ok(nearest.pValue <= 0.01);
      close(nearest.change, step, 0.02, 'relative change');
      close(nearest.meanBefore, 10, 0.1);
    }
  }
  // Two changes, up then down.
  const g = gaussian(xorshift(2024));
  const two = Array.from({ length: 120 }, (_, i) => (i >= 40 && i < 80 ? 11 : 10) + 0.1 * g());
  assert.deepEqual(eDivisive(two).map((c) => c.index).sort((x, y) => x - y), [40, 80]);
});

test('E-Divisive on flat noisy series: at most 1 false change point in 20 seeds', () => {
  let found = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const g = gaussian(xorshift(500 + seed));
    const u = xorshift(900 + seed);
    const flat = Array.from({ length: 60 }, () => 10 * (1 + 0.02 * g()) * (u() < 0.03 ? 1.15 : 1)); // with spikes
    found += eDivisive(flat, { seed }).length;
  }
  assert.ok(found <= 1, `${found} false change points`);
});

test('E-Divisive magnitude floor, determinism and a 500-point series well under a second', () => {
  const g = gaussian(xorshift(42));
  const levels = (i: number): number => (i < 150 ? 10 : i < 300 ? 11 : i < 420 ? 10.5 : 12);
  const series = Array.from({ length: 500 }, (_, i) => levels(i) + 0.3 * g());
  const started = performance.now();
  const cps = eDivisive(series, { seed: 7 });
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
  for (const at of [150, 300, 420]) assert.ok(cps.some((c) => Math.abs(c.index - at) <= 2), `${at} not in ${cps.map((c) => c.index)}`);
  assert.deepEqual(eDivisive(series, { seed: 7 }), cps);
  const big = eDivisive(series, { seed: 7, minMagnitude: 0.06 });
  assert.ok(big.every((c) => Math.abs(c.change) >= 0.06), JSON.stringify(big));
  assert.ok(big.some((c) => Math.abs(c.index - 420) <= 2)); // +14%
  assert.ok(!big.some((c) => Math.abs(c.index - 300) <= 2)); // −4.5% is below the floor
  assert.throws(() => eDivisive([1, Number.NaN, 3]), /non-finite/);
});

// Direction is part of the gate's contract: the same data read the other way round flips the verdict.
test('gate: direction flips regression and improvement', () => {
  const u = xorshift(12);
  const baseline = makeRuns(u, 30, QUIET);
  const candidate = makeRuns(u, 1, { ...QUIET, level: 11 })[0]!;
  const verdict = (direction: Direction): Verdict => judgeResult({ baseline, candidate, direction }).verdict;
  assert.equal(verdict('lower_is_better'), 'regression');
  assert.equal(verdict('higher_is_better'), 'improvement');
});
