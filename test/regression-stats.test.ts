// Tests for server/regression: tail probabilities against table values; the change detector on
// seeded synthetic series (generated with an independent PRNG): steps of both signs found within a
// few results with the right size, no alarms on flat series with spikes and bimodal jobs, slow
// drift not reported as a step, the noise estimate tracking the true job-to-job spread, state that
// survives a JSON round trip; the paired A/B statistics: false "changed" decisions within alpha,
// power against the documented round budget, intervals that cover the truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalCdf, normalQuantile, normalSf, studentTSf } from '../server/regression/distributions.js';
import { DETECTOR_DEFAULTS, estimateNoise, newDetectorState, stepDetector, withinVariance, type DetectorState, type StepOutcome } from '../server/regression/detector.js';
import { abDecide, abRoundsFor, type AbOptions } from '../server/regression/ab-stats.js';
import { close, xorshift } from './support/reference-math.js';

function gaussian(u: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Raw samples of one job: n values with a relative spread cv around `median`. */
function job(median: number, cv: number, n: number, g: () => number): number[] {
  return Array.from({ length: n }, () => median * Math.exp(cv * g()));
}

/** Feeds medians through the detector; returns every outcome. */
function feed(medians: number[], samples: (m: number) => number[], state: DetectorState = newDetectorState()): StepOutcome[] {
  const out: StepOutcome[] = [];
  let s = state;
  medians.forEach((m, i) => {
    const xs = samples(m);
    const sorted = [...xs].sort((a, b) => a - b);
    const med = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    const o = stepDetector(s, med, withinVariance(xs), `j${i}`);
    out.push(o);
    s = o.state;
  });
  return out;
}

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


// ---- change detector ---------------------------------------------------------------------------

test('detector: a step of either sign is found within 3 results, with its size, and the level moves on', () => {
  for (const [seed, step, sigma] of [[1, 0.08, 0.02], [2, -0.08, 0.02], [3, 0.2, 0.06], [4, -0.2, 0.06], [5, 0.05, 0.01]] as const) {
    const g = gaussian(xorshift(seed));
    const medians = Array.from({ length: 70 }, (_, i) => 10 * Math.exp(sigma * g()) * (i >= 40 ? 1 + step : 1));
    const out = feed(medians, (m) => job(m, 0.03, 60, g));
    const changes = out.flatMap((o, i) => (o.change ? [{ at: i, c: o.change }] : []));
    assert.equal(changes.length, 1, `seed ${seed}: one change, got ${JSON.stringify(changes.map((c) => [c.at, c.c.change]))}`);
    const { at, c } = changes[0]!;
    // Within 5 results (the corpus criterion); within 3 where the step is 4σ or more.
    assert.ok(at >= 40 && at <= (Math.abs(step) >= 4 * sigma ? 42 : 44), `seed ${seed}: found at result ${at}, the step is at 40`);
    assert.ok(Math.abs(c.start - 40) <= 1, `seed ${seed}: starts at ${c.start}`);
    close(c.change, step, Math.max(0.25 * Math.abs(step), 2.5 * sigma), `seed ${seed} size`);
    assert.equal(Math.sign(c.z), Math.sign(step));
    // After the change the series is judged against its new level: no second alarm, and the last result's change is small.
    assert.ok(Math.abs(out.at(-1)!.evidence!.lastChange) < 4 * sigma + 0.02);
  }
});

test('detector: a revert is found as a change of its own against the new level', () => {
  const g = gaussian(xorshift(21));
  const medians = Array.from({ length: 90 }, (_, i) => 10 * Math.exp(0.015 * g()) * (i >= 30 && i < 60 ? 1.1 : 1));
  const changes = feed(medians, (m) => job(m, 0.02, 80, g)).flatMap((o, i) => (o.change ? [{ at: i, change: o.change.change }] : []));
  assert.equal(changes.length, 2, JSON.stringify(changes));
  assert.ok(changes[0]!.at >= 30 && changes[0]!.at <= 32 && changes[0]!.change > 0.07);
  assert.ok(changes[1]!.at >= 60 && changes[1]!.at <= 62 && changes[1]!.change < -0.06);
});

test('detector: flat series with spikes, bimodal jobs and within-job outliers raise no alarm (20 seeds × 150 results)', () => {
  let alarms = 0;
  let suspects = 0;
  for (let seed = 100; seed < 120; seed++) {
    const u = xorshift(seed);
    const g = gaussian(u);
    const sigma = 0.005 + 0.08 * u();
    const medians = Array.from({ length: 150 }, () => 10 * Math.exp(sigma * g()) * (u() < 0.04 ? 1.1 + 0.3 * u() : 1));
    const out = feed(medians, (m) => {
      const xs = job(m, 0.04, 50, g);
      if (u() < 0.05) for (let k = 0; k < 20; k++) xs[k] = xs[k]! * 1.3; // bimodal: part of the samples on a slow core
      xs[0] = xs[0]! * 5; // one timer hiccup per job
      return xs;
    });
    alarms += out.filter((o) => o.change).length;
    suspects += out.filter((o) => o.suspect).length;
  }
  assert.equal(alarms, 0, `${alarms} false changes in 3,000 results`);
  // Suspects (worth a rerun or an A/B look) are the spiked jobs (4%) and a few more, not a flood.
  assert.ok(suspects < 3000 * 0.08, `${suspects} suspects`);
});

test('detector: slow drift of 4% over 100 results at 1% noise is not taken for an early step', () => {
  let alarms = 0;
  for (let seed = 200; seed < 210; seed++) {
    const g = gaussian(xorshift(seed));
    const medians = Array.from({ length: 100 }, (_, i) => 10 * Math.exp(0.01 * g() + 0.0004 * i));
    const found = feed(medians, (m) => job(m, 0.02, 60, g)).flatMap((o, i) => (o.change ? [i] : []));
    // A drift that has built up to a few percent is a real change of level; before 2.5% it is not.
    assert.ok(found.every((i) => i >= 60), `seed ${seed}: changes at ${found.join(', ')}`);
    alarms += found.length;
  }
  assert.ok(alarms <= 3, `${alarms} changes on 10 drifting series`);
});

test('detector: the noise estimate tracks the true job-to-job spread, and is robust to spikes', () => {
  for (const sigma of [0.005, 0.02, 0.08]) {
    const u = xorshift(Math.round(sigma * 1e4));
    const g = gaussian(u);
    const medians = Array.from({ length: 80 }, () => 10 * Math.exp(sigma * g()) * (u() < 0.05 ? 1.5 : 1));
    const out = feed(medians, (m) => job(m, 0.01, 100, g));
    const n = estimateNoise(out.at(-1)!.state);
    assert.ok(n.tau > sigma * 0.6 && n.tau < sigma * 1.5, `σ ${sigma}: estimated ${n.tau}`);
    assert.ok(n.outlierRate > 0.01 && n.outlierRate < 0.2, `outlier rate ${n.outlierRate}`);
  }
});

test('detector: the state survives a JSON round trip (the server stores it between results)', () => {
  const g = gaussian(xorshift(31));
  const medians = Array.from({ length: 60 }, (_, i) => 10 * Math.exp(0.02 * g()) * (i >= 45 ? 1.1 : 1));
  const samples = medians.map((m) => job(m, 0.02, 40, g));
  let a = newDetectorState();
  let b = newDetectorState();
  for (let i = 0; i < medians.length; i++) {
    const w = withinVariance(samples[i]!);
    const oa = stepDetector(a, medians[i]!, w, `j${i}`);
    const ob = stepDetector(JSON.parse(JSON.stringify(b)) as DetectorState, medians[i]!, w, `j${i}`);
    assert.deepEqual(ob.change, oa.change);
    assert.deepEqual(ob.evidence, oa.evidence);
    a = oa.state;
    b = ob.state;
  }
  assert.ok(a.cuts.length === 1, 'the step was found');
});

test('within-job variance: (π/2)·s²/n of the log samples', () => {
  const g = gaussian(xorshift(41));
  const xs = Array.from({ length: 400 }, () => 5 * Math.exp(0.1 * g()));
  close(withinVariance(xs), (Math.PI / 2) * 0.01 / 400, 0.3 * (Math.PI / 2) * 0.01 / 400);
  assert.equal(DETECTOR_DEFAULTS.zAlarm, 4);
});

// ---- paired A/B statistics ---------------------------------------------------------------------

const confirmOpts: AbOptions = { minRounds: 4, maxRounds: 32, alpha: 0.005, sides: 'up', minEffect: 0.01, lookEvery: 4 };
const gateOpts: AbOptions = { minRounds: 4, maxRounds: 20, alpha: 0.05, sides: 'two', minEffect: 0.01, lookEvery: 2 };

function runAb(o: AbOptions, effect: number, sd: number, g: () => number): ReturnType<typeof abDecide> {
  const diffs: number[] = [];
  for (;;) {
    diffs.push(Math.log1p(effect) + sd * g());
    const s = abDecide(diffs, o);
    if (s.decision !== 'continue') return s;
  }
}

test('A/B: without a change, "changed" is decided at most alpha of the time over all looks', () => {
  for (const [o, sims] of [[confirmOpts, 4000], [gateOpts, 2000]] as const) {
    const g = gaussian(xorshift(o.alpha * 1e4));
    let changed = 0;
    for (let s = 0; s < sims; s++) if (runAb(o, 0, 0.04, g).decision === 'changed') changed++;
    // Binomial 3σ above alpha.
    const limit = o.alpha + 3 * Math.sqrt((o.alpha * (1 - o.alpha)) / sims);
    assert.ok(changed / sims <= limit, `${o.sides}: ${changed}/${sims} false changes, alpha ${o.alpha}`);
    // Without looks the test is not trivially conservative: some false changes do happen at 5%.
    if (o.alpha === 0.05) assert.ok(changed / sims > 0.02, `${changed}/${sims}`);
  }
});

test('A/B: a change is found with the power abRoundsFor promises, and the interval covers the truth', () => {
  const g = gaussian(xorshift(77));
  const sd = 0.02;
  const n = abRoundsFor(0.03, sd, confirmOpts);
  assert.ok(n !== null && n >= 4 && n <= 32, `rounds ${n}`);
  let found = 0;
  let covered = 0;
  const sims = 1000;
  for (let s = 0; s < sims; s++) {
    const r = runAb({ ...confirmOpts, maxRounds: n! }, 0.03, sd, g);
    if (r.decision === 'changed') found++;
    if (r.ciLow <= 0.03 && 0.03 <= r.ciHigh) covered++;
  }
  assert.ok(found / sims >= 0.86, `found ${found}/${sims} within ${n} rounds`);
  assert.ok(covered / sims >= 0.9, `covered ${covered}/${sims}`);
  // A gate finds a 2% change at 2% paired noise within 20 rounds.
  let gateFound = 0;
  for (let s = 0; s < sims; s++) if (runAb(gateOpts, 0.02, 0.02, g).decision === 'changed') gateFound++;
  assert.ok(gateFound / sims >= 0.9, `gate found ${gateFound}/${sims}`);
});

test('A/B: no change that matters is decided when the interval lies inside the minimum effect', () => {
  const g = gaussian(xorshift(91));
  const r = runAb({ ...gateOpts, minEffect: 0.03, maxRounds: 40 }, 0, 0.01, g);
  assert.equal(r.decision, 'no_change');
  assert.ok(r.ciLow > -0.03 && r.ciHigh < 0.03);
  const wide = runAb({ ...gateOpts, minEffect: 0.001, maxRounds: 8 }, 0, 0.05, g);
  assert.equal(wide.decision, 'inconclusive');
  assert.equal(wide.rounds, 8);
});
