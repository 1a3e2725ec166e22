// Regression-detection quality on a labelled, seeded synthetic corpus. Compares, on the same
// series: (a) the gate of server/regression/gate.ts (each result against the previous 30), alone
// and with the 3-in-a-row confirmation; (b) online E-Divisive change points on the series of result
// medians; (c) a plain 5% threshold on the median; (d) a z-score rule (mean + 3σ of the baseline
// medians); plus the gate without its run-to-run term (pooled rank test + minimum effect), to show
// why it has one. The rules (c) and (d) are also shown with the same streak confirmation. (e) is
// what the server deploys on a baseline branch: the gate's alert (3 in a row) OR a change-point
// alert from server/regression/analyzer.ts, simulated after every result — with the change-point
// settings it had before (p 0.01, 99 permutations, any worsening step ≥ minEffect) and with
// CHANGE_POINT_ALERT.
// Prints precision, recall, F1, detection delay and false alerts per 1,000 no-change results,
// recall by step size, and a sweep of the gate's alpha × minEffect. With `cp-sweep` it also sweeps
// the change-point alert settings of (e) (slow: a few minutes per 1,000 series on one core).
// Usage: node dist/bench/regression-quality.js [series=1000] [seed=12648430] [cp-sweep]
import { seededRng, type Rng } from '../protocol/random.js';
import { confirmedRegression, decide, gateStatistics, judgeFromStatistics, GATE_DEFAULTS, type Direction, type Verdict } from '../server/regression/gate.js';
import { CHANGE_POINT_ALERT, CHANGE_POINT_DEFAULTS, changePointToAlert, eDivisive, withMagnitudeFloor, type ChangePoint } from '../server/regression/change-points.js';

const SERIES = Number(process.argv[2] ?? 1000);
const SEED = Number(process.argv[3] ?? 0xc0ffee); // another seed gives a held-out corpus
const CP_SWEEP = process.argv[4] === 'cp-sweep';
const RESULTS = 60;
const WINDOW = GATE_DEFAULTS.window;
const FIRST_JUDGED = 30; // alerts are counted for results 30..59
const PRE = 2; // verdicts start PRE results earlier so that streak rules can fire at result 30
const DEADLINE = 10; // a step counts as detected when an alert comes at most this many results after it
const LOCATE = 3; // a change point may be placed up to this many results before the step
const STEPS = [0.02, 0.03, 0.05, 0.08, 0.12, 0.2];

// ---- corpus ------------------------------------------------------------------------------------

type Kind = 'none' | 'worse' | 'better';
interface Series { kind: Kind; step: number; at: number; direction: Direction; noisy: boolean; runs: Float64Array[]; medians: number[] }

function normal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}
const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();
const medianOf = (xs: ArrayLike<number>): number => {
  const s = Float64Array.from(xs).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

/** Series i: 40% no change, 40% worse step, 20% better step; step sizes cycle through STEPS. */
function makeSeries(i: number): Series {
  const rng = seededRng(SEED + i * 7919);
  const slot = i % 10;
  const kind: Kind = slot < 4 ? 'none' : slot < 8 ? 'worse' : 'better';
  const step = kind === 'none' ? 0 : STEPS[Math.floor(i / 10) % STEPS.length]!;
  const direction: Direction = rng() < 0.3 ? 'higher_is_better' : 'lower_is_better';
  const at = 36 + Math.floor(rng() * 14);
  const base = Math.exp(uniform(rng, Math.log(0.5), Math.log(200))); // ms
  const withinCv = uniform(rng, 0.01, 0.1);
  // One series in five runs on a noisy device (unpinned clocks, shared host): between-run σ 2–5%
  // and drift up to 2% instead of 0.2–2% and 1%. Drawn from its own stream so that the other
  // series do not depend on it.
  const noisy = seededRng(SEED ^ (i * 2654435761))() < 0.2;
  const quietBetween = uniform(rng, 0.002, 0.02); // run-to-run noise (σ of log median)
  const between = noisy ? 0.02 + ((quietBetween - 0.002) / 0.018) * 0.03 : quietBetween;
  const driftSd = uniform(rng, 0, 0.01) * (noisy ? 2 : 1); // slow AR(1) drift, stationary σ
  const phi = 0.9;
  const spikeP = uniform(rng, 0, 0.02); // per-sample spikes (GC, interrupts)
  const nBase = 50 + Math.floor(rng() * 151);
  let drift = driftSd * normal(rng);
  const runs: Float64Array[] = [];
  for (let t = 0; t < RESULTS; t++) {
    drift = phi * drift + driftSd * Math.sqrt(1 - phi * phi) * normal(rng);
    const level = base * Math.exp(drift + between * normal(rng));
    const throttled = rng() < 0.01 ? uniform(rng, 1.04, 1.2) : 1; // a whole slow run
    const bimodal = rng() < 0.015 ? { share: uniform(rng, 0.2, 0.7), factor: uniform(rng, 1.08, 1.3) } : null;
    const n = Math.round(nBase * uniform(rng, 0.8, 1.2));
    const worseFactor = kind === 'none' || t < at ? 1 : kind === 'worse' ? 1 + step : 1 - step;
    const samples = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let latency = level * throttled * Math.exp(withinCv * normal(rng));
      if (bimodal && rng() < bimodal.share) latency *= bimodal.factor;
      if (rng() < spikeP) latency *= uniform(rng, 1.3, 3);
      // Throughput series are 1000/latency; a worse step lowers them, a better one raises them.
      samples[j] = direction === 'lower_is_better'
        ? latency * worseFactor
        : (1000 / latency) * (kind === 'none' || t < at ? 1 : kind === 'worse' ? 1 - step : 1 + step);
    }
    runs.push(samples);
  }
  return { kind, step, at, direction, noisy, runs, medians: runs.map(medianOf) };
}

// ---- scoring -----------------------------------------------------------------------------------

interface Alert { time: number; location: number }
interface Score { tp: number; fn: number; fp: number; delays: number[]; noChange: Record<'quiet' | 'noisy', { alerts: number; results: number }>; bySize: Map<number, [number, number]> }
const newScore = (): Score => ({ tp: 0, fn: 0, fp: 0, delays: [], noChange: { quiet: { alerts: 0, results: 0 }, noisy: { alerts: 0, results: 0 } }, bySize: new Map() });

/**
 * True positive: a worse step with an alert raised at a result in [step, step + DEADLINE] that
 * points at or after step − LOCATE (per-result alerts point at the result itself). Further alerts
 * after the step are the same event and not counted; every other alert (before the step, on a
 * no-change series, on an improvement series) is a false positive.
 */
function score(s: Score, series: Series, alerts: Alert[]): void {
  let first: number | null = null;
  for (const a of alerts) {
    const attributed = series.kind === 'worse' && a.time >= series.at && a.location >= series.at - LOCATE;
    if (attributed) { if (first === null || a.time < first) first = a.time; } else s.fp++;
  }
  if (series.kind === 'none') {
    const c = s.noChange[series.noisy ? 'noisy' : 'quiet'];
    c.alerts += alerts.length;
    c.results += RESULTS - FIRST_JUDGED;
  }
  if (series.kind !== 'worse') return;
  const hit = first !== null && first - series.at <= DEADLINE;
  const bucket = s.bySize.get(series.step) ?? [0, 0];
  bucket[1]++;
  if (hit) { s.tp++; s.delays.push(first! - series.at); bucket[0]++; } else s.fn++;
  s.bySize.set(series.step, bucket);
}

/** Alerts of a per-result rule from its verdicts for results FIRST_JUDGED − PRE .. 59: `confirm` in a row. */
function perResultAlerts(flags: boolean[], confirm: number): Alert[] {
  const alerts: Alert[] = [];
  for (let t = FIRST_JUDGED; t < RESULTS; t++) {
    const i = t - (FIRST_JUDGED - PRE);
    let ok = true;
    for (let c = 0; c < confirm; c++) ok &&= flags[i - c] === true;
    if (ok) alerts.push({ time: t, location: t });
  }
  return alerts;
}

/**
 * Sweep of the change-point alert (cp-sweep): E-Divisive (permutation threshold `pValue`, at most
 * `permutations`) on the medians so far with magnitude floor minEffect; with `prune` the floor is
 * then raised to magnitudeFactor × minEffect before the latest change point is taken (what
 * changePointToAlert does), otherwise the latest change point must itself be a step of at least
 * that much. Either way it needs at least `minAfter` results from the change point on (the latest
 * one always has minSize).
 */
interface CpAlertRule { pValue: number; permutations: number; magnitudeFactor: number; minAfter: number; prune: boolean }

/** E-Divisive as the analyzer runs it (its default seed) on each prefix of medians. */
function detectOnline(prefixes: readonly number[][], pValue: number, permutations: number): ChangePoint[][] {
  return prefixes.map((z) => eDivisive(z, { pValue, permutations, minMagnitude: GATE_DEFAULTS.minEffect }));
}

/** The change point a rule of the sweep would alert on, from the change points detected on `z` at floor minEffect. */
function sweepCandidate(z: readonly number[], found: ChangePoint[], rule: CpAlertRule, lowerBetter: boolean): ChangePoint | null {
  const floor = rule.magnitudeFactor * GATE_DEFAULTS.minEffect;
  const cps = rule.prune && rule.magnitudeFactor > 1 ? withMagnitudeFloor(z, found, floor) : found;
  const latest = cps[cps.length - 1];
  if (!latest) return null;
  const worse = lowerBetter ? latest.change : -latest.change;
  return worse >= floor && z.length - latest.index >= rule.minAfter ? latest : null;
}

/**
 * Alerts of the deployed system on one series: the gate's alerts plus, after every result t, an
 * alert for the change point `candidate(t)` (the latest one found on the medians up to t, when it
 * may alert) unless an alert so far points at or after it — the analyzer's "an alert already
 * covers that step" (an alert names a job: the gate's the suspect, the first of its streak; a
 * change point's its first result). The gate goes first at each result, as on the server (it
 * judges a result when it arrives, the analysis comes after).
 */
function deployedAlerts(gate: readonly Alert[], candidate: (t: number) => ChangePoint | null): Alert[] {
  const alerts: Alert[] = [];
  for (let t = FIRST_JUDGED; t < RESULTS; t++) {
    for (const g of gate) if (g.time === t) alerts.push(g);
    const cp = candidate(t);
    if (cp && !alerts.some((a) => a.location >= cp.index)) alerts.push({ time: t, location: cp.index });
  }
  return alerts;
}

// ---- methods -----------------------------------------------------------------------------------

const ALPHAS = [0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.001, 0.0001];
const EFFECTS = [0.02, 0.03, 0.04, 0.05];
const CONFIRMS = [1, 2, 3];
const scores = new Map<string, Score>();
const scoreOf = (name: string): Score => { let s = scores.get(name); if (!s) { s = newScore(); scores.set(name, s); } return s; };
const started = performance.now();
let cpMs = 0;
let gateMs = 0;
let deployedMs = 0;
let sweepMs = 0;
const BEFORE: CpAlertRule = { pValue: CHANGE_POINT_DEFAULTS.pValue, permutations: CHANGE_POINT_DEFAULTS.permutations, magnitudeFactor: 1, minAfter: 0, prune: false };
const SWEEP_DETECT: [number, number][] = [[0.01, 99], [0.005, 199], [0.002, 499], [0.001, 999]];
const SWEEP_FACTORS = [1, 1.5, 2, 2.5, 3, 4];
const SWEEP_MIN_AFTER = [5, 6, 7, 8, 10];
const ruleKey = (r: CpAlertRule): string => `cpsweep|${r.pValue}|${r.permutations}|${r.prune ? 'prune' : 'filter'}|${r.magnitudeFactor}|${r.minAfter}`;

for (let i = 0; i < SERIES; i++) {
  const series = makeSeries(i);
  const lowerBetter = series.direction === 'lower_is_better';
  const chosen: boolean[] = [];
  const verdicts: Verdict[] = [];
  const sweep = new Map<string, boolean[]>();
  const pooledOnly: boolean[] = [];
  const threshold: boolean[] = [];
  const zScore: boolean[] = [];
  for (let t = FIRST_JUDGED - PRE; t < RESULTS; t++) {
    const baseline = series.runs.slice(Math.max(0, t - WINDOW), t);
    const candidate = series.runs[t]!;
    const t0 = performance.now();
    const input = { baseline, candidate, direction: series.direction };
    const stats = gateStatistics(input)!;
    const judged = judgeFromStatistics(input, stats); // = judgeResult(input)
    gateMs += performance.now() - t0;
    verdicts.push(judged.verdict);
    chosen.push(judged.verdict === 'regression');
    for (const alpha of ALPHAS) for (const minEffect of EFFECTS) {
      const key = `${alpha}|${minEffect}`;
      const list = sweep.get(key) ?? [];
      list.push(decide(stats, minEffect, alpha) === 'regression');
      sweep.set(key, list);
    }
    pooledOnly.push(stats.effect >= GATE_DEFAULTS.minEffect && stats.worse.rankP < GATE_DEFAULTS.alpha);
    threshold.push(stats.effect > 0.05);
    const meds = series.medians.slice(Math.max(0, t - WINDOW), t);
    const mean = meds.reduce((a, b) => a + b, 0) / meds.length;
    const sd = Math.sqrt(meds.reduce((a, b) => a + (b - mean) ** 2, 0) / (meds.length - 1));
    const m = series.medians[t]!;
    zScore.push(lowerBetter ? m > mean + 3 * sd : m < mean - 3 * sd);
  }
  // The chosen defaults must be what judgeResult + confirmedRegression do.
  const chosenAlerts: Alert[] = [];
  for (let t = FIRST_JUDGED; t < RESULTS; t++) {
    if (confirmedRegression(verdicts.slice(0, t - (FIRST_JUDGED - PRE) + 1))) chosenAlerts.push({ time: t, location: t });
  }
  score(scoreOf(`(a) gate, defaults, ${GATE_DEFAULTS.confirm} in a row`), series, chosenAlerts);
  score(scoreOf('(a) gate, defaults, single result'), series, perResultAlerts(chosen, 1));
  score(scoreOf(`(a0) gate without the run-to-run term, ${GATE_DEFAULTS.confirm} in a row`), series, perResultAlerts(pooledOnly, GATE_DEFAULTS.confirm));
  score(scoreOf('(c) threshold: median 5% worse than baseline median'), series, perResultAlerts(threshold, 1));
  score(scoreOf('(d) z-score: median 3σ worse than baseline mean'), series, perResultAlerts(zScore, 1));
  for (const confirm of [2, 3]) {
    score(scoreOf(`(c) threshold, ${confirm} in a row`), series, perResultAlerts(threshold, confirm));
    score(scoreOf(`(d) z-score, ${confirm} in a row`), series, perResultAlerts(zScore, confirm));
  }
  for (const [key, flags] of sweep) for (const confirm of CONFIRMS) score(scoreOf(`sweep|${key}|${confirm}`), series, perResultAlerts(flags, confirm));

  // (b) E-Divisive after every new result, on the medians so far; alert on each new worse change point.
  const t0 = performance.now();
  const cpAlerts: Alert[] = [];
  for (let t = FIRST_JUDGED; t < RESULTS; t++) {
    const cps = eDivisive(series.medians.slice(0, t + 1), { minMagnitude: GATE_DEFAULTS.minEffect, seed: i + 1 });
    for (const cp of cps) {
      const worse = lowerBetter ? cp.change > 0 : cp.change < 0;
      if (worse && !cpAlerts.some((a) => Math.abs(a.location - cp.index) <= LOCATE)) cpAlerts.push({ time: t, location: cp.index });
    }
  }
  cpMs += performance.now() - t0;
  score(scoreOf('(b) E-Divisive change points, online'), series, cpAlerts);

  // (e) the deployed system: gate alerts (named after the suspect, the first of the streak) OR
  // change-point alerts, before and with CHANGE_POINT_ALERT.
  const gateAlerts = chosenAlerts.map((a) => ({ time: a.time, location: a.time - (GATE_DEFAULTS.confirm - 1) }));
  const prefixes: number[][] = [];
  for (let t = FIRST_JUDGED; t < RESULTS; t++) prefixes.push(series.medians.slice(0, t + 1));
  const t1 = performance.now();
  const before = detectOnline(prefixes, BEFORE.pValue, BEFORE.permutations);
  score(scoreOf('(e) gate (3 in a row) + change-point alerts as before: p 0.01, 99 permutations, ≥ minEffect'), series,
    deployedAlerts(gateAlerts, (t) => sweepCandidate(prefixes[t - FIRST_JUDGED]!, before[t - FIRST_JUDGED]!, BEFORE, lowerBetter)));
  const chosenCps = prefixes.map((z) => changePointToAlert(z, GATE_DEFAULTS.minEffect, series.direction));
  score(scoreOf(`(e) gate (3 in a row) + change-point alerts, CHANGE_POINT_ALERT`), series, deployedAlerts(gateAlerts, (t) => chosenCps[t - FIRST_JUDGED]!));
  score(scoreOf(`(e0) change-point alerts alone, CHANGE_POINT_ALERT`), series, deployedAlerts([], (t) => chosenCps[t - FIRST_JUDGED]!));
  deployedMs += performance.now() - t1;

  if (CP_SWEEP) {
    const t2 = performance.now();
    for (const [pValue, permutations] of SWEEP_DETECT) {
      const detected = detectOnline(prefixes, pValue, permutations);
      for (const prune of [false, true]) for (const magnitudeFactor of SWEEP_FACTORS) for (const minAfter of SWEEP_MIN_AFTER) {
        const rule = { pValue, permutations, magnitudeFactor, minAfter, prune };
        score(scoreOf(ruleKey(rule)), series, deployedAlerts(gateAlerts, (t) => sweepCandidate(prefixes[t - FIRST_JUDGED]!, detected[t - FIRST_JUDGED]!, rule, lowerBetter)));
      }
    }
    sweepMs += performance.now() - t2;
  }
}

// ---- report ------------------------------------------------------------------------------------

interface Figures { precision: number; recall: number; f1: number; medianDelay: number; meanDelay: number; faPer1000: number; faQuiet: number; faNoisy: number }
function figures(s: Score): Figures {
  const precision = s.tp + s.fp === 0 ? 0 : s.tp / (s.tp + s.fp);
  const recall = s.tp / (s.tp + s.fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  const d = [...s.delays].sort((a, b) => a - b);
  const medianDelay = d.length === 0 ? Number.NaN : d.length % 2 ? d[(d.length - 1) / 2]! : (d[d.length / 2 - 1]! + d[d.length / 2]!) / 2;
  const meanDelay = d.length === 0 ? Number.NaN : d.reduce((a, b) => a + b, 0) / d.length;
  const { quiet, noisy } = s.noChange;
  const rate = (alerts: number, results: number): number => (results === 0 ? Number.NaN : (1000 * alerts) / results);
  return {
    precision, recall, f1, medianDelay, meanDelay,
    faPer1000: rate(quiet.alerts + noisy.alerts, quiet.results + noisy.results),
    faQuiet: rate(quiet.alerts, quiet.results),
    faNoisy: rate(noisy.alerts, noisy.results),
  };
}
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const f3 = (x: number): string => x.toFixed(3);

const kinds = { none: 0, worse: 0, better: 0 };
for (let i = 0; i < SERIES; i++) kinds[(i % 10 < 4 ? 'none' : i % 10 < 8 ? 'worse' : 'better') as Kind]++;
console.log(`Regression-detection quality: ${SERIES} series (seed ${SEED}) × ${RESULTS} results (${kinds.none} no change, ${kinds.worse} worse step, ${kinds.better} better step; steps ${STEPS.map(pct).join(', ')} at result 36–49).`);
console.log('Noise: lognormal within-run CV 1–10%, 50–200 samples/run, between-run σ 0.2–2% and AR(1) drift σ ≤ 1% (20% of series on noisy devices: 2–5% and ≤ 2%),');
console.log('spikes ≤ 2% of samples ×1.3–3,');
console.log('1.5% of runs bimodal (20–70% of samples +8–30%), 1% of runs throttled (+4–20%); 30% of series are throughput (higher is better).');
console.log(`Judged: results ${FIRST_JUDGED}–${RESULTS - 1} of every series, each against the previous ${WINDOW}.`);
console.log(`TP: a worse step with an alert at a result in [step, step + ${DEADLINE}] pointing at or after step − ${LOCATE}; later alerts of the same step are not counted;`);
console.log('FP: every other alert (before the step, on no-change or improvement series). Delay = alerting result − step index (0 = the first changed result).');
console.log(`Gate defaults: minEffect ${GATE_DEFAULTS.minEffect}, alpha ${GATE_DEFAULTS.alpha}, window ${WINDOW}, confirm ${GATE_DEFAULTS.confirm}; E-Divisive: minSize ${CHANGE_POINT_DEFAULTS.minSize}, p ${CHANGE_POINT_DEFAULTS.pValue}, ${CHANGE_POINT_DEFAULTS.permutations} permutations, magnitude ≥ ${GATE_DEFAULTS.minEffect};`);
console.log(`change-point alerts (e): CHANGE_POINT_ALERT p ${CHANGE_POINT_ALERT.pValue}, ${CHANGE_POINT_ALERT.permutations} permutations, step ≥ ${CHANGE_POINT_ALERT.magnitudeFactor} × minEffect, ≥ ${CHANGE_POINT_ALERT.minAfter} results from the change point on.\n`);

console.log('| method | precision | recall | F1 | median delay | mean delay | false alerts / 1,000 no-change results: all (quiet · noisy devices) | TP | FP |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [name, s] of scores) {
  if (name.startsWith('sweep|') || name.startsWith('cpsweep|')) continue;
  const f = figures(s);
  console.log(`| ${name} | ${f3(f.precision)} | ${f3(f.recall)} | **${f3(f.f1)}** | ${f.medianDelay} | ${f.meanDelay.toFixed(2)} | ${f.faPer1000.toFixed(2)} (${f.faQuiet.toFixed(2)} · ${f.faNoisy.toFixed(2)}) | ${s.tp} | ${s.fp} |`);
}
console.log('\nRecall by step size (worse steps):\n');
console.log(`| method | ${STEPS.map(pct).join(' | ')} |`);
console.log(`|---|${STEPS.map(() => '---').join('|')}|`);
for (const [name, s] of scores) {
  if (name.startsWith('sweep|') || name.startsWith('cpsweep|')) continue;
  console.log(`| ${name} | ${STEPS.map((st) => { const [hit, all] = s.bySize.get(st) ?? [0, 0]; return f3(hit / all); }).join(' | ')} |`);
}
console.log('\nGate sweep: F1 / false alerts per 1,000 no-change results, for 1, 2 and 3 regression verdicts in a row:\n');
console.log(`| alpha | minEffect | ${CONFIRMS.map((c) => `${c} in a row`).join(' | ')} |`);
console.log(`|---|---|${CONFIRMS.map(() => '---').join('|')}|`);
for (const alpha of ALPHAS) for (const e of EFFECTS) {
  const cells = CONFIRMS.map((c) => { const f = figures(scoreOf(`sweep|${alpha}|${e}|${c}`)); return `${f3(f.f1)} / ${f.faPer1000.toFixed(2)}`; });
  console.log(`| ${alpha} | ${e} | ${cells.join(' | ')} |`);
}
if (CP_SWEEP) {
  console.log('\n(e) change-point alert sweep: F1 / false alerts per 1,000 no-change results of gate + change-point alerts, by minimum results from the change point on (5 = no requirement beyond minSize):');
  for (const [pValue, permutations] of SWEEP_DETECT) for (const prune of [false, true]) {
    console.log(`\np ≤ ${pValue}, ${permutations} permutations; magnitude factor ${prune ? 'as the floor of E-Divisive' : 'required of the latest change point'}:\n`);
    console.log(`| factor | ${SWEEP_MIN_AFTER.map((m) => `after ≥ ${m}`).join(' | ')} |`);
    console.log(`|---|${SWEEP_MIN_AFTER.map(() => '---').join('|')}|`);
    for (const magnitudeFactor of SWEEP_FACTORS) {
      const cells = SWEEP_MIN_AFTER.map((minAfter) => {
        const f = figures(scoreOf(ruleKey({ pValue, permutations, magnitudeFactor, minAfter, prune })));
        return `${f3(f.f1)} / ${f.faPer1000.toFixed(2)}`;
      });
      console.log(`| ${magnitudeFactor} | ${cells.join(' | ')} |`);
    }
  }
  console.log('\n(e) sweep, every setting: name, precision, recall, F1, median delay, false alerts per 1,000 (quiet, noisy):');
  for (const [name, s] of scores) {
    if (!name.startsWith('cpsweep|')) continue;
    const f = figures(s);
    console.log(`${name.slice('cpsweep|'.length)}\t${f3(f.precision)}\t${f3(f.recall)}\t${f3(f.f1)}\t${f.medianDelay}\t${f.faPer1000.toFixed(2)}\t${f.faQuiet.toFixed(2)}\t${f.faNoisy.toFixed(2)}`);
  }
}
const judged = SERIES * (RESULTS - FIRST_JUDGED + PRE);
const online = SERIES * (RESULTS - FIRST_JUDGED);
console.log(`\nTime: ${((performance.now() - started) / 1000).toFixed(1)} s in all; judgeResult ${(gateMs / judged).toFixed(2)} ms per result; E-Divisive ${(cpMs / online).toFixed(2)} ms per run on ≤ ${RESULTS} points;`
  + ` (e) ${(deployedMs / online).toFixed(2)} ms per result${CP_SWEEP ? `; change-point alert sweep ${(sweepMs / 1000).toFixed(1)} s` : ''}.`);
