// The change detector: one sequential test over a series' results, used by the per-result
// verdicts, the alerts and the series chart alike, so they never disagree.
//
// Each result is one observation x = ln(median) with its within-job variance w (the sampling error
// of the median, from the raw samples). The series' own job-to-job noise is estimated online and
// robustly from the differences of consecutive results within a level (a step or a drift moves
// one difference, a spike two, and 3.5-σ trimming sets both aside); the excess over the within-job
// part is the between-job variance τ², so each result has variance τ² + w.
//
// After every result, a two-sided generalized likelihood ratio (GLR) scan asks whether the last m
// results (m = 1…maxWindow) sit at a different level from the results before them in the current
// level: Z = (robust mean of the window − robust mean of the reference) / its standard error, with
// each result's standardized residual clipped at ±clip (a Huber score), so that one disturbed job
// can never carry an alarm on its own and two need to be extreme together. The largest |Z| is
// turned into an equivalent normal score through Student's t with the noise estimate's degrees of
// freedom (few results → wider tails → more evidence needed). A change is reported when that score
// passes the alarm threshold, which comes from the false-alert budget (per result on a series with
// no change), and the change is at least the metric's minimum effect. The reported change starts
// at the window's first result; the level then moves on: the new level is judged from there, so a
// revert or a second step is measured against the level that holds now.
//
// A weaker threshold marks a result *suspect*: worth an active A/B confirmation (ab.ts) before the
// history alone can tell — either the window's evidence passes it, or the newest result alone
// (unclipped: one result can never alarm, but a result three times slower is worth a look).
//
// The state is small and JSON-serializable (the last `keep` results), so the server keeps it per
// series, metric and branch and updates it in O(window) per result; replaying a history through
// `stepDetector` rebuilds it exactly.
import { normalQuantile, normalSf, studentTSf } from './distributions.js';

export interface DetectorSettings {
  /** Alarm threshold on the equivalent normal score (from the false-alert budget, see thresholdFor). */
  zAlarm: number;
  /** A result is suspect above this score (and at least minEffect). */
  zSuspect: number;
  /** Smallest relative change reported (0.01 = 1%). */
  minEffect: number;
  /** Huber clip of standardized residuals: clipScale·√(2 ln(1/ε)) for the series' outlier rate ε, within [minClip, maxClip]. */
  clipScale: number;
  minClip: number;
  maxClip: number;
  /** Prior of the outlier rate: (outliers + a) / (results + b). */
  outlierPrior: [number, number];
  /** Rate of m lone outliers in a row below which a consistent window of m results may alarm. */
  consistentBudget: number;
  /** Longest window of recent results tested against the level before them. */
  maxWindow: number;
  /** Reference: at most this many results of the current level before the window. */
  referenceWindow: number;
  /** Reference results needed before a window is tested. */
  minReference: number;
  /** The window must also differ from the last `localReference` results before it by zLocal (a step, not drift). */
  localReference: number;
  zLocal: number;
  /** Results used for the noise estimate. */
  noiseWindow: number;
  /** Differences needed for a noise estimate (fewer: no judgement yet). */
  minNoise: number;
  /** Largest lag of the noise variogram (beyond it, V is taken as flat). */
  maxLag: number;
  /** Drift counts only beyond this many standard errors of V(1) (a noisy V(long) must not invent drift). */
  driftShrink: number;
  /** Lower bound of the between-job σ (relative), so that exact counters do not report 0.01% as news. */
  sigmaFloor: number;
}

export interface DetectorState {
  v: 1;
  /** Results seen (the absolute index of the next one). */
  count: number;
  /** ln(value) of the most recent results, oldest first, with their within-job variances and ids. */
  xs: number[];
  ws: number[];
  ids: string[];
  /** Absolute index of the first result of the current level. */
  levelStart: number;
  /** Absolute indices at which reported changes started (still within the kept results). */
  cuts: number[];
  /**
   * Noise estimates already computed from the results before absolute index `end` (with `cut` the
   * latest cut then): each result estimates the noise once, and the windows ending at later
   * results reuse it — a window is judged against the noise of the results before it.
   */
  noise: { end: number; cut: number; est: NoiseEstimate }[];
}

export interface NoiseEstimate {
  /** Short-term between-job standard deviation of ln(value): √(V(1)/2). */
  tau: number;
  /** Long-run between-job standard deviation (drift included): √(V(maxLag)/2). */
  tauLong: number;
  /** Typical total σ of one result (τ² + median within-job variance), relative. */
  sigma: number;
  /** Degrees of freedom of the estimate (0: none yet). */
  df: number;
  /** Between-job variogram V(k) = Var(x[t+k] − x[t]) − within-job parts, k = 0…maxLag (non-decreasing). */
  variogram: number[];
  /** Share of results that were lone outliers (beyond 4 σ of their neighbours), with a prior. */
  outlierRate: number;
}

export interface Evidence {
  /** Equivalent normal score of the strongest window (signed: + = the value went up). */
  z: number;
  /** Window length of that score, and which test gave it: the clipped mean shift or a consistent window. */
  window: number;
  test: 'mean' | 'consistent';
  /** Relative change of that window's level against the reference: exp(δ) − 1 (+ = up). */
  change: number;
  /** Reference level (value units) and the window's level. */
  before: number;
  after: number;
  /** Relative change of this one result against the current level, and its own score. */
  lastChange: number;
  lastZ: number;
  /** The level the newest result was compared with (value units). */
  lastBefore: number;
  /** Standard errors (log units) of the window's change and of the newest result's change. */
  se: number;
  lastSe: number;
  /** How many results the reference level pools, for the window and for the newest result. */
  reference: number;
  lastReference: number;
}

export interface DetectedChange {
  /** Absolute index and id of the first result at the new level. */
  start: number;
  startId: string;
  before: number;
  after: number;
  /** after / before − 1 (+ = the value went up). */
  change: number;
  z: number;
  window: number;
  test: 'mean' | 'consistent';
  /** Standard error (log units) of log(after / before), and how many results `before` pools. */
  se: number;
  reference: number;
}

export interface StepOutcome {
  state: DetectorState;
  noise: NoiseEstimate;
  /** Null when the series cannot be judged yet (too few results). */
  evidence: Evidence | null;
  change: DetectedChange | null;
  suspect: boolean;
  /** What made the result suspect: the strongest window's evidence, or the newest result alone. */
  suspectBy: 'window' | 'last' | null;
}

export const KEEP = 128;

/**
 * Defaults, chosen with bench/detector-sweep.ts on labelled corpora (several seeds and noise
 * mixes) and checked through the server with bench/regression-quality.ts (docs/benchmarks.md). zAlarm is thresholdFor(0.001): at most about 1 false change per
 * 1,000 results of a series without change.
 */
export const DETECTOR_DEFAULTS: Readonly<DetectorSettings> = {
  zAlarm: 4,
  zSuspect: 2.5,
  minEffect: 0.01,
  clipScale: 1,
  minClip: 2.5,
  maxClip: 8,
  outlierPrior: [0.5, 30],
  consistentBudget: 1e-4,
  maxWindow: 10,
  referenceWindow: 40,
  minReference: 4,
  localReference: 6,
  zLocal: 2.5,
  noiseWindow: 60,
  minNoise: 6,
  maxLag: 16,
  driftShrink: 0,
  sigmaFloor: 0.0005,
};

export function newDetectorState(): DetectorState {
  return { v: 1, count: 0, xs: [], ws: [], ids: [], levelStart: 0, cuts: [], noise: [] };
}

let scratch = new Float64Array(256);
function medianOf(values: ArrayLike<number>): number {
  const n = values.length;
  if (n > scratch.length) scratch = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) scratch[i] = values[i]!;
  const s = scratch.subarray(0, n).sort();
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * Within-job variance of ln(median) from a result's raw samples: (π/2)·s²/n for the log samples'
 * robust spread s (1.4826·MAD). Coarse timers (MAD 0) fall back to the mean absolute deviation.
 */
export function withinVariance(samples: ArrayLike<number>): number {
  const logs: number[] = [];
  for (let i = 0; i < samples.length; i++) { const v = samples[i]!; if (v > 0) logs.push(Math.log(v)); }
  const n = logs.length;
  if (n < 2) return 0;
  const m = medianOf(logs);
  const dev = logs.map((x) => Math.abs(x - m));
  let s = medianOf(dev) * 1.4826;
  if (s === 0) s = (dev.reduce((a, b) => a + b, 0) / n) * 1.2533;
  return (Math.PI / 2) * (s * s) / n;
}

/** Robust standard deviation: 1.4826·MAD, then the plain SD of the values within 3.5 of those. */
function robustSd(values: number[]): { sd: number; kept: number } {
  const n = values.length;
  if (n < 2) return { sd: 0, kept: n };
  const m = medianOf(values);
  let s = medianOf(values.map((v) => Math.abs(v - m))) * 1.4826;
  if (s === 0) s = (values.reduce((a, v) => a + Math.abs(v - m), 0) / n) * 1.2533;
  if (s === 0) return { sd: 0, kept: n };
  let sum = 0;
  let kept = 0;
  for (const v of values) if (Math.abs(v - m) <= 3.5 * s) { sum += v; kept++; }
  const mean = sum / kept;
  let sq = 0;
  for (const v of values) if (Math.abs(v - m) <= 3.5 * s) sq += (v - mean) ** 2;
  return { sd: kept > 1 ? Math.sqrt(sq / (kept - 1)) : s, kept };
}

/**
 * The series' noise from its last `noiseWindow` results: a robust variogram of the between-job
 * part, V(k) for k = 1…maxLag, from the differences of results k apart within one level. Lag 1 is
 * the job-to-job noise; larger lags add slow drift, which a contrast of two means spanning many
 * results must account for (with i.i.d. noise V is flat).
 */
export function estimateNoise(state: DetectorState, settings: DetectorSettings = DETECTOR_DEFAULTS, end = state.xs.length): NoiseEstimate {
  const n = end;
  const first = Math.max(0, n - settings.noiseWindow);
  const offset = state.count - n; // absolute index of xs[0]
  // level[i]: how many cuts are at or before absolute index offset + i (same level ⇔ same count).
  const level = new Array<number>(n);
  for (let i = 0; i < n; i++) level[i] = state.cuts.filter((c) => c <= offset + i).length;
  void offset;
  // V(1) from neighbours; the long-lag level from the differences at lags maxLag/2…maxLag pooled
  // (one estimate from many differences is far less noisy than the largest of several), and only
  // the part of its excess over V(1) beyond what noise alone would give (≈ 1.5 standard errors).
  const lagDiffs = (from: number, to: number): { diffs: number[]; within: number } => {
    const diffs: number[] = [];
    let within = 0;
    for (let k = from; k <= to; k++) {
      for (let i = first + k; i < n; i++) {
        if (level[i] !== level[i - k]) continue;
        diffs.push(state.xs[i]! - state.xs[i - k]!);
        within += state.ws[i]! + state.ws[i - k]!;
      }
    }
    return { diffs, within };
  };
  const floor = 2 * settings.sigmaFloor ** 2;
  const short = lagDiffs(1, 1);
  if (short.diffs.length < settings.minNoise) return { tau: Number.NaN, tauLong: Number.NaN, sigma: Number.NaN, df: 0, variogram: [], outlierRate: Number.NaN };
  const df = Math.max(1, Math.round(short.diffs.length * 0.66)); // neighbours' differences are MA(1)
  const sd1 = robustSd(short.diffs).sd;
  const v1 = Math.max(sd1 * sd1 - short.within / short.diffs.length, floor);
  const kLong = Math.max(2, Math.ceil(settings.maxLag / 2));
  const long = lagDiffs(kLong, settings.maxLag);
  let excess = 0;
  if (long.diffs.length >= settings.minNoise) {
    const sdL = robustSd(long.diffs).sd;
    const vL = Math.max(sdL * sdL - long.within / long.diffs.length, floor);
    excess = Math.max(0, vL - v1 * (1 + settings.driftShrink * Math.sqrt(2 / df)));
  }
  const variogram = [0];
  for (let k = 1; k <= settings.maxLag; k++) variogram.push(v1 + excess * Math.min(1, (k - 1) / (kLong - 1)));
  const tau2 = variogram[1]! / 2;
  const medianWithin = medianOf(state.ws.slice(first, n));
  // Lone outliers: results more than 4 σ from the medians of both their left and their right
  // neighbours (up to 3 each, same level). A step's first result matches its right side, so it is
  // not an outlier; a spike matches neither.
  let outliers = 0;
  let examined = 0;
  const left: number[] = [];
  const right: number[] = [];
  for (let i = first + 2; i < n - 2; i++) {
    left.length = 0;
    right.length = 0;
    for (let j = Math.max(first, i - 3); j < i; j++) if (level[j] === level[i]) left.push(state.xs[j]!);
    for (let j = i + 1; j <= Math.min(n - 1, i + 3); j++) if (level[j] === level[i]) right.push(state.xs[j]!);
    if (left.length < 2 || right.length < 2) continue;
    examined++;
    const bound = 4 * Math.sqrt(tau2 + state.ws[i]! + medianWithin);
    if (Math.abs(state.xs[i]! - medianOf(left)) > bound && Math.abs(state.xs[i]! - medianOf(right)) > bound) outliers++;
  }
  const outlierRate = (outliers + settings.outlierPrior[0]) / (examined + settings.outlierPrior[1]);
  return { tau: Math.sqrt(tau2), tauLong: Math.sqrt(variogram[settings.maxLag]! / 2), sigma: Math.sqrt(tau2 + medianWithin), df, variogram, outlierRate };
}

/** Weighted Huber location of xs (variances vs) with clip c, started from the median; a few iterations. */
function huberMean(xs: number[], vs: number[], c: number): number {
  let mu = medianOf(xs);
  for (let iter = 0; iter < 4; iter++) {
    let num = 0;
    let den = 0;
    for (let i = 0; i < xs.length; i++) {
      const s = Math.sqrt(vs[i]!);
      const r = Math.max(-c, Math.min(c, (xs[i]! - mu) / s));
      num += (mu + r * s) / vs[i]!;
      den += 1 / vs[i]!;
    }
    mu = num / den;
  }
  return mu;
}

/** The Huber clip for a series' outlier rate: a lone outlier must not weigh more than the evidence it is worth. */
export function clipFor(noise: NoiseEstimate, settings: DetectorSettings = DETECTOR_DEFAULTS): number {
  const c = settings.clipScale * Math.sqrt(2 * Math.log(1 / noise.outlierRate));
  return Math.min(settings.maxClip, Math.max(settings.minClip, c));
}

/** The shortest window the consistency test may use: m lone outliers in a row rarer than 1 in 10,000 windows. */
export function consistentFrom(noise: NoiseEstimate, settings: DetectorSettings = DETECTOR_DEFAULTS): number {
  let m = 2;
  while (m < settings.maxWindow && m * noise.outlierRate ** m > settings.consistentBudget) m++;
  return m;
}

/** Equivalent standard normal score of a t statistic with df degrees of freedom. */
export function equivalentZ(t: number, df: number): number {
  if (!Number.isFinite(t) || !Number.isFinite(df)) return t;
  if (df >= 1000) return t;
  const p = studentTSf(Math.abs(t), df);
  const z = p > 0 ? -normalQuantile(p) : 38;
  return Math.sign(t) * z;
}

/**
 * Var(window mean − reference mean) for the precision-weighted means of xs[refFirst, windowFirst)
 * and xs[windowFirst, n): for a contrast (Σ a_i = 0) it is −½ ΣΣ a_i a_j V(|i−j|) + Σ a_i² w_i.
 */
function contrastVariance(ws: number[], vars: number[], vAt: (k: number) => number, refFirst: number, windowFirst: number, n: number, a: Float64Array): number {
  let refPrecision = 0;
  let precision = 0;
  for (let i = refFirst; i < n; i++) { if (i < windowFirst) refPrecision += 1 / vars[i]!; else precision += 1 / vars[i]!; }
  const len = n - refFirst;
  for (let i = refFirst; i < n; i++) a[i - refFirst] = i < windowFirst ? -1 / vars[i]! / refPrecision : 1 / vars[i]! / precision;
  let variance = 0;
  for (let i = 0; i < len; i++) {
    const ai = a[i]!;
    variance += ai * ai * ws[refFirst + i]!;
    for (let j = i + 1; j < len; j++) variance -= ai * a[j]! * vAt(j - i);
  }
  return variance;
}

/** The noise estimate from the results before xs[end] (cached in the state). */
export function noiseBefore(state: DetectorState, end: number, settings: DetectorSettings = DETECTOR_DEFAULTS): NoiseEstimate {
  const absolute = state.count - state.xs.length + end;
  const cut = state.cuts.length > 0 ? state.cuts[state.cuts.length - 1]! : -1;
  const cached = state.noise.find((c) => c.end === absolute && c.cut === cut);
  if (cached) return cached.est;
  const est = estimateNoise(state, settings, end);
  state.noise.push({ end: absolute, cut, est });
  if (state.noise.length > settings.maxWindow + 2) state.noise.splice(0, state.noise.length - settings.maxWindow - 2);
  return est;
}

/** The evidence of a change in the current state (after its newest result), or null. */
export function evidenceOf(state: DetectorState, settings: DetectorSettings = DETECTOR_DEFAULTS): Evidence | null {
  const n = state.xs.length;
  const offset = state.count - n;
  const levelFirst = Math.max(0, state.levelStart - offset); // index into xs of the level's first result
  let best: { t: number; m: number; delta: number; ref: number; df: number; test: 'mean' | 'consistent'; se: number; refN: number } | null = null;
  let last: { t: number; delta: number; df: number; ref: number; se: number; refN: number } | null = null;
  const a = new Float64Array(settings.maxWindow + settings.referenceWindow);
  for (let m = 1; m <= settings.maxWindow; m++) {
    const windowFirst = n - m;
    const refFirst = Math.max(levelFirst, windowFirst - settings.referenceWindow);
    if (windowFirst - refFirst < settings.minReference) break;
    // The noise from the results before the window only: a change inside it cannot inflate it.
    const noise = noiseBefore(state, windowFirst, settings);
    if (noise.df === 0) break;
    const tau2 = noise.tauLong * noise.tauLong;
    const vars = state.ws.map((w) => tau2 + w);
    const clip = clipFor(noise, settings);
    const V = noise.variogram;
    const vAt = (k: number): number => V[Math.min(k, V.length - 1)]!;
    const refX = state.xs.slice(refFirst, windowFirst);
    const refV = vars.slice(refFirst, windowFirst);
    const mu = huberMean(refX, refV, clip);
    let refPrecision = 0;
    for (const v of refV) refPrecision += 1 / v;
    let num = 0;
    let precision = 0;
    for (let i = windowFirst; i < n; i++) {
      const s = Math.sqrt(vars[i]!);
      const r = Math.max(-clip, Math.min(clip, (state.xs[i]! - mu) / s));
      num += r / s;
      precision += 1 / vars[i]!;
    }
    const delta = num / precision;
    const variance = contrastVariance(state.ws, vars, vAt, refFirst, windowFirst, n, a);
    // Huber locations have ~95% efficiency at these clips.
    const se = Math.sqrt(Math.max(variance, 1e-300) * 1.05);
    const t = delta / se;
    if (m === 1) {
      const raw = state.xs[n - 1]! - mu;
      last = { t: raw / se, delta: raw, df: noise.df, ref: mu, se, refN: windowFirst - refFirst };
    }
    // A step is sudden: the window must also differ from the few results just before it, where
    // slow drift has had no time to move the level (drift alone fails this; a step passes it).
    const local = (windowLevel: number, sign: number): boolean => {
      const localFirst = Math.max(levelFirst, windowFirst - settings.localReference);
      const xsLocal = state.xs.slice(localFirst, windowFirst);
      const localLevel = huberMean(xsLocal, vars.slice(localFirst, windowFirst), clip);
      const v = contrastVariance(state.ws, vars, vAt, localFirst, windowFirst, n, a);
      return sign * (windowLevel - localLevel) / Math.sqrt(Math.max(v, 1e-300) * 1.05) >= settings.zLocal;
    };
    if ((!best || Math.abs(t) > Math.abs(best.t)) && local(mu + delta, Math.sign(t))) best = { t, m, delta, ref: mu, df: noise.df, test: 'mean', se, refN: windowFirst - refFirst };
    // A consistent window: every result on the same side, each at least |r| from the reference.
    // Clipping caps what one result can say, so a large step would need many results to pass;
    // instead, P(all m beyond x) = P(one beyond x)^m under no change. Windows shorter than what
    // the series' outlier rate allows (m lone outliers in a row must be rarer than the budget)
    // are not considered, so two spikes in a row on a spiky device cannot pass.
    if (m >= consistentFrom(noise, settings)) {
      let minAbs = Infinity;
      let sign = 0;
      let consistent = true;
      const raw: number[] = [];
      for (let i = windowFirst; i < n; i++) {
        const r = (state.xs[i]! - mu) / Math.sqrt(vars[i]! + 1.05 / refPrecision);
        const sg = Math.sign(r);
        if (sign === 0) sign = sg;
        if (sg !== sign || sg === 0) { consistent = false; break; }
        minAbs = Math.min(minAbs, Math.abs(r));
        raw.push(state.xs[i]! - mu);
      }
      if (consistent && minAbs > 1) {
        // Slow drift is shared by neighbouring results: with a common part c ~ N(0, s_c²) and an
        // independent rest, P(all beyond x) = E_c[P(one beyond x | c)^m] (integrated numerically).
        const refVar = 1.05 / refPrecision;
        const common = Math.max(0, (vAt(settings.maxLag) - V[1]!) / 2);
        const inflate = noise.df > 2 ? Math.sqrt(noise.df / (noise.df - 2)) : 2;
        let minRaw = Infinity;
        let indep = 0;
        for (let i = windowFirst; i < n; i++) {
          minRaw = Math.min(minRaw, Math.abs(state.xs[i]! - mu));
          indep = Math.max(indep, vars[i]! + refVar - common);
        }
        const sc = Math.sqrt(common) * inflate;
        const se = Math.sqrt(Math.max(indep, 1e-300)) * inflate;
        let one = 0;
        for (let u = -6; u <= 6; u += 0.25) one += 0.25 * Math.exp(-u * u / 2) / Math.sqrt(2 * Math.PI) * normalSf((minRaw - sc * u) / se) ** m;
        const p = Math.min(0.5, 2 * settings.maxWindow * one); // two-sided, over every window length
        const z = -normalQuantile(p / 2);
        const tEquivalent = sign * z;
        if ((!best || (Math.abs(tEquivalent) > Math.abs(best.t) && z > Math.abs(equivalentZ(best.t, best.df)))) && local(mu + medianOf(raw), sign)) {
          best = {
            t: tEquivalent, m, delta: medianOf(raw), ref: mu, df: Infinity, test: 'consistent', refN: windowFirst - refFirst,
            se: Math.sqrt(Math.max(contrastVariance(state.ws, vars, vAt, refFirst, windowFirst, n, a), 1e-300) * 1.05),
          };
        }
      }
    }
  }
  if (!last) {
    // A young level (a change was just reported): too few results to test windows against, but
    // the newest result is still compared with the level's results so far (never an alarm).
    const levelCount = n - 1 - levelFirst;
    if (levelFirst === 0 || levelCount < 1) return null;
    const noise = noiseBefore(state, n - 1, settings);
    if (noise.df === 0) return null;
    const tau2 = noise.tauLong * noise.tauLong;
    const vars = state.ws.map((w) => tau2 + w);
    const V = noise.variogram;
    const vAt = (k: number): number => V[Math.min(k, V.length - 1)]!;
    const mu = huberMean(state.xs.slice(levelFirst, n - 1), vars.slice(levelFirst, n - 1), clipFor(noise, settings));
    const se = Math.sqrt(Math.max(contrastVariance(state.ws, vars, vAt, levelFirst, n - 1, n, a), 1e-300) * 1.05);
    const raw = state.xs[n - 1]! - mu;
    return {
      z: 0, window: 1, test: 'mean', change: 0, before: Math.exp(mu), after: Math.exp(mu), se,
      lastChange: Math.expm1(raw), lastZ: equivalentZ(raw / se, noise.df), lastBefore: Math.exp(mu), lastSe: se, reference: levelCount, lastReference: levelCount,
    };
  }
  if (!best) {
    // No window passes the local test: no evidence of a step (report the newest result's own change).
    return {
      z: 0, window: 1, test: 'mean', change: 0, before: Math.exp(last.ref), after: Math.exp(last.ref), se: last.se,
      lastChange: Math.expm1(last.delta), lastZ: equivalentZ(last.t, last.df), lastBefore: Math.exp(last.ref), lastSe: last.se,
      reference: last.refN, lastReference: last.refN,
    };
  }
  return {
    z: equivalentZ(best.t, best.df), window: best.m, test: best.test, change: Math.expm1(best.delta),
    before: Math.exp(best.ref), after: Math.exp(best.ref + best.delta), se: best.se,
    lastChange: Math.expm1(last.delta), lastZ: equivalentZ(last.t, last.df), lastBefore: Math.exp(last.ref), lastSe: last.se,
    reference: best.refN, lastReference: last.refN,
  };
}

/** Adds one result (value > 0) and reports a change when the evidence passes the alarm threshold. */
export function stepDetector(prev: DetectorState, value: number, withinVar: number, id: string, settings: DetectorSettings = DETECTOR_DEFAULTS): StepOutcome {
  const state: DetectorState = {
    v: 1, count: prev.count + 1, xs: [...prev.xs, Math.log(value)], ws: [...prev.ws, withinVar], ids: [...prev.ids, id],
    levelStart: prev.levelStart, cuts: [...prev.cuts], noise: [...prev.noise],
  };
  if (state.xs.length > KEEP) {
    const drop = state.xs.length - KEEP;
    state.xs.splice(0, drop);
    state.ws.splice(0, drop);
    state.ids.splice(0, drop);
  }
  const offset = state.count - state.xs.length;
  state.cuts = state.cuts.filter((c) => c > offset);
  const noise = noiseBefore(state, state.xs.length - 1, settings);
  const evidence = evidenceOf(state, settings);
  let change: DetectedChange | null = null;
  let suspectBy: StepOutcome['suspectBy'] = null;
  if (evidence) {
    const big = Math.abs(Math.log1p(evidence.change)) >= Math.log1p(settings.minEffect);
    if (big && Math.abs(evidence.z) >= settings.zAlarm) {
      const start = state.count - evidence.window;
      change = {
        start, startId: state.ids[start - offset]!, before: evidence.before, after: evidence.after,
        change: evidence.change, z: evidence.z, window: evidence.window, test: evidence.test, se: evidence.se, reference: evidence.reference,
      };
      state.levelStart = start;
      state.cuts.push(start);
    } else if (big && Math.abs(evidence.z) >= settings.zSuspect) suspectBy = 'window';
    else if (Math.abs(Math.log1p(evidence.lastChange)) >= Math.log1p(settings.minEffect) && Math.abs(evidence.lastZ) >= settings.zSuspect) suspectBy = 'last';
  }
  return { state, noise, evidence, change, suspect: suspectBy !== null, suspectBy };
}

/** The current level of the series: robust mean of the results since the last change (value units). */
export function currentLevel(state: DetectorState, noise: NoiseEstimate, settings: DetectorSettings = DETECTOR_DEFAULTS): { level: number; results: number; se: number } | null {
  const n = state.xs.length;
  if (n === 0) return null;
  const first = Math.max(0, state.levelStart - (state.count - n), n - settings.referenceWindow);
  const xs = state.xs.slice(first);
  const tau2 = Number.isFinite(noise.tauLong) ? noise.tauLong * noise.tauLong : 0;
  const vs = state.ws.slice(first).map((w) => Math.max(tau2 + w, 1e-12));
  const mu = huberMean(xs, vs, Number.isFinite(noise.outlierRate) ? clipFor(noise, settings) : 3);
  const precision = vs.reduce((a, v) => a + 1 / v, 0);
  return { level: Math.exp(mu), results: xs.length, se: Math.sqrt(1.05 / precision) };
}

/** Starts a new level at the result `id` (a change confirmed elsewhere, e.g. by an A/B test). Returns false if it is no longer kept. */
export function applyCut(state: DetectorState, id: string): boolean {
  const i = state.ids.lastIndexOf(id);
  if (i < 0) return false;
  const start = state.count - state.xs.length + i;
  if (start <= state.levelStart) return false;
  state.levelStart = start;
  state.cuts.push(start);
  return true;
}

/**
 * The smallest relative change found with probability 0.9 within `m` results of it, at the
 * series' current noise and level length (independent-noise approximation of the mean test).
 */
export function detectableChange(state: DetectorState, m: number, settings: DetectorSettings = DETECTOR_DEFAULTS): number | null {
  const noise = estimateNoise(state, settings);
  if (noise.df === 0) return null;
  const n0 = Math.min(settings.referenceWindow, Math.max(settings.minReference, state.count - state.levelStart));
  const v = noise.tauLong ** 2 + medianOf(state.ws);
  const se = Math.sqrt(v * (1 / m + 1 / n0) * 1.05);
  const zNeeded = Math.max(settings.zAlarm, settings.zLocal) + 1.2816;
  // Student-t tails at the estimate's degrees of freedom need a little more.
  const t = zNeeded * (1 + (zNeeded * zNeeded + 1) / (4 * noise.df));
  return Math.max(settings.minEffect, Math.expm1(t * se));
}

/** One-sided tail probability of a normal score (for reporting). */
export const scoreP = (z: number): number => normalSf(Math.abs(z));
