// A labelled, seeded corpus of benchmark series for measuring regression detection, built to look
// like what devices really show rather than what is easy to detect:
// - job-to-job spread (σ of the log job median) from 0.3% to 10%, in three classes (low ≤ 2%,
//   mid 2–5%, high 5–10%); part of it independent per job, part a slow AR(1) drift (device state:
//   thermal, DVFS, background load), in a proportion that differs per series;
// - within each job 30–200 raw samples with their own spread (1–10%), per-sample spikes and now and
//   then a bimodal job (part of the samples on a slower core or clock);
// - whole-job disturbances: spikes (a job 8–40% off, unflagged) and throttled jobs (4–25% slower),
//   half of them flagged `throttled` by the agent and half not (devices that lie);
// - scenarios: no change, one step, a step and its revert, two steps, and slow linear drift (no
//   change by label), with steps of 2, 3, 5, 8, 12 and 20% in both directions; 30% of the series are
//   higher-is-better metrics (throughput), whose values are 1000 / latency.
// Every series carries its labelled events (result index of the first changed result, direction,
// size) and the artifact (model version) each result ran, so that a simulated device can answer
// A/B jobs with per-artifact true latency. `mix` shifts the noise classes for checks on corpora
// unlike the one tuned on.
import { seededRng, type Rng } from '../protocol/random.js';

export type NoiseClass = 'low' | 'mid' | 'high';
export type Scenario = 'none' | 'step' | 'revert' | 'two_step' | 'drift';
export interface LabelledEvent { at: number; direction: 'worse' | 'better'; size: number; kind: 'step' | 'revert' | 'second' }
export interface CorpusResult {
  samples: Float64Array; flags: string[]; artifact: number;
  /** Hidden labels, for diagnostics and for a simulated device answering extra jobs at this moment. */
  disturbed: 'spike' | 'throttle' | 'bimodal' | null;
  /** The slow part of the device's state at this result: ln factor of drift (AR(1) + linear). */
  drift: number;
}
/** How the series' device behaves, so that a simulated device can run more jobs like it. */
export interface DeviceTraits { iidSd: number; within: number; samples: number; spikeRate: number; throttleRate: number; sampleSpike: number }
export interface CorpusSeries {
  id: number;
  scenario: Scenario;
  direction: 'lower_is_better' | 'higher_is_better';
  noise: NoiseClass;
  /** Target job-to-job σ of the log median (all sources). */
  sigma: number;
  /** Share of sigma² that is slow drift (the rest is independent per job). */
  driftShare: number;
  events: LabelledEvent[];
  results: CorpusResult[];
  /** Relative true level of each artifact (1 = the first one); lower is faster. */
  artifactLevel: number[];
  base: number;
  device: DeviceTraits;
}

export const STEP_SIZES = [0.02, 0.03, 0.05, 0.08, 0.12, 0.2] as const;

export interface CorpusOptions {
  series: number;
  seed: number;
  /** Shares of the low/mid/high noise classes; default equal thirds. */
  mix?: [number, number, number];
  /** Results per series: uniform in [min, max]. Default 60–150. */
  length?: [number, number];
  /** Spike and throttle rates per job, multiplied by this (default 1). */
  disturbance?: number;
  /** The share of slow drift in the job-to-job variance, multiplied by this (default 1). */
  drift?: number;
}

export function normal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}
const between = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();
const intBetween = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

const SCENARIOS: [Scenario, number][] = [['none', 0.35], ['step', 0.3], ['revert', 0.12], ['two_step', 0.12], ['drift', 0.11]];

function pick<T>(rng: Rng, weighted: [T, number][]): T {
  let u = rng() * weighted.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of weighted) { if ((u -= w) < 0) return v; }
  return weighted[weighted.length - 1]![0];
}

/** The within-job standard error of a log median from n samples of log-spread cv (normal approximation). */
const withinSe = (cv: number, n: number): number => Math.sqrt(Math.PI / 2) * cv / Math.sqrt(n);

export function makeSeries(id: number, opts: CorpusOptions): CorpusSeries {
  const rng = seededRng((opts.seed ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0);
  const mix = opts.mix ?? [1, 1, 1];
  const noise = pick<NoiseClass>(rng, [['low', mix[0]], ['mid', mix[1]], ['high', mix[2]]]);
  const sigma = noise === 'low' ? Math.exp(between(rng, Math.log(0.003), Math.log(0.02))) : noise === 'mid' ? between(rng, 0.02, 0.05) : between(rng, 0.05, 0.1);
  const scenario = pick(rng, SCENARIOS);
  const direction = rng() < 0.3 ? 'higher_is_better' : 'lower_is_better';
  const [minLen, maxLen] = opts.length ?? [60, 150];
  const length = intBetween(rng, minLen, maxLen);
  const base = Math.exp(between(rng, Math.log(0.3), Math.log(300)));
  const driftShare = (rng() < 0.25 ? 0 : between(rng, 0, 0.6)) * (opts.drift ?? 1);
  const nBase = intBetween(rng, 30, 200);
  // Within-job spread 1–10%, but never so large that the median's own sampling error exceeds
  // 70% of the job-to-job spread (that spread includes it).
  let within = between(rng, 0.01, 0.1);
  if (withinSe(within, nBase) > 0.7 * sigma) within *= (0.7 * sigma * between(rng, 0.3, 1)) / withinSe(within, nBase);
  const disturbance = opts.disturbance ?? 1;
  const spikeRate = between(rng, 0, 0.03) * disturbance;
  const throttleRate = between(rng, 0, 0.03) * disturbance;
  const sampleSpike = between(rng, 0, 0.02);

  // Events: sizes from STEP_SIZES, directions at random; levels are multiplicative on latency.
  const events: LabelledEvent[] = [];
  const size = (): number => STEP_SIZES[Math.floor(rng() * STEP_SIZES.length)]!;
  const dir = (): 'worse' | 'better' => (rng() < 0.55 ? 'worse' : 'better');
  const firstAt = intBetween(rng, 25, Math.max(26, length - 30));
  const levelFactor = (d: 'worse' | 'better', s: number): number => (d === 'worse' ? 1 + s : 1 / (1 + s));
  // factors[t] = the latency factor holding at result t; artifacts change at each event.
  const segments: { from: number; factor: number }[] = [{ from: 0, factor: 1 }];
  if (scenario === 'step' || scenario === 'revert' || scenario === 'two_step') {
    const d = dir();
    const s = size();
    events.push({ at: firstAt, direction: d, size: s, kind: 'step' });
    segments.push({ from: firstAt, factor: levelFactor(d, s) });
    const gap = intBetween(rng, 6, 25);
    const at2 = firstAt + gap;
    if (at2 < length - 6) {
      if (scenario === 'revert') {
        events.push({ at: at2, direction: d === 'worse' ? 'better' : 'worse', size: s, kind: 'revert' });
        segments.push({ from: at2, factor: 1 });
      } else if (scenario === 'two_step') {
        const d2 = rng() < 0.7 ? d : dir();
        const s2 = size();
        events.push({ at: at2, direction: d2, size: s2, kind: 'second' });
        segments.push({ from: at2, factor: levelFactor(d, s) * levelFactor(d2, s2) });
      }
    }
  }
  // Artifacts: a revert returns to artifact 0 (the same bytes); other events make a new one.
  const artifactLevel: number[] = [1];
  const artifactOf: number[] = [0];
  for (let k = 1; k < segments.length; k++) {
    const f = segments[k]!.factor;
    const known = artifactLevel.findIndex((l) => Math.abs(l - f) < 1e-12);
    if (known >= 0) artifactOf.push(known); else { artifactLevel.push(f); artifactOf.push(artifactLevel.length - 1); }
  }
  const driftTotal = scenario === 'drift' ? (rng() < 0.5 ? 1 : -1) * between(rng, 0.5, 2.5) * sigma : 0; // over the whole series

  // Job-level noise: independent part and AR(1) drift, scaled so that the log medians' σ ≈ sigma.
  const seMean = withinSe(within, nBase);
  const jobSd = Math.sqrt(Math.max(sigma * sigma - seMean * seMean, (sigma * 0.2) ** 2));
  const iidSd = jobSd * Math.sqrt(1 - driftShare);
  const arSd = jobSd * Math.sqrt(driftShare);
  const phi = between(rng, 0.8, 0.97);
  let ar = arSd * normal(rng);
  const results: CorpusResult[] = [];
  let seg = 0;
  for (let t = 0; t < length; t++) {
    while (seg + 1 < segments.length && segments[seg + 1]!.from <= t) seg++;
    ar = phi * ar + arSd * Math.sqrt(1 - phi * phi) * normal(rng);
    const drift = ar + (driftTotal * t) / length;
    let level = base * segments[seg]!.factor * Math.exp(drift + iidSd * normal(rng));
    const flags: string[] = [];
    let disturbed: CorpusResult['disturbed'] = null;
    if (rng() < spikeRate) { level *= rng() < 0.8 ? between(rng, 1.08, 1.4) : 1 / between(rng, 1.05, 1.2); disturbed = 'spike'; }
    if (rng() < throttleRate) {
      level *= between(rng, 1.04, 1.25);
      disturbed = 'throttle';
      if (rng() < 0.5) flags.push('throttled');
    }
    const bimodal = rng() < 0.015 * disturbance ? { share: between(rng, 0.2, 0.7), factor: between(rng, 1.08, 1.3) } : null;
    if (bimodal) disturbed = 'bimodal';
    const n = Math.max(30, Math.min(200, Math.round(nBase * between(rng, 0.8, 1.2))));
    const samples = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let latency = level * Math.exp(within * normal(rng));
      if (bimodal && rng() < bimodal.share) latency *= bimodal.factor;
      if (rng() < sampleSpike) latency *= between(rng, 1.3, 3);
      samples[j] = direction === 'lower_is_better' ? latency : 1000 / latency;
    }
    results.push({ samples, flags, artifact: artifactOf[seg]!, disturbed, drift });
  }
  const device = { iidSd, within, samples: nBase, spikeRate, throttleRate, sampleSpike };
  return { id, scenario, direction, noise, sigma, driftShare, events, results, artifactLevel, base, device };
}

export function makeCorpus(opts: CorpusOptions): CorpusSeries[] {
  return Array.from({ length: opts.series }, (_, i) => makeSeries(i, opts));
}

/**
 * One more job of artifact `artifact` on the series' device at the moment of result `t`: the same
 * slow state (drift) as that result, its own independent per-job noise, spikes and throttling at
 * the series' rates, and its own samples. What a device does when the server asks for a rerun or
 * an A/B round between two regular results; `rng` is the simulated device's own stream.
 */
export function extraJob(s: CorpusSeries, t: number, artifact: number, rng: Rng): { samples: Float64Array; flags: string[] } {
  const d = s.device;
  let level = s.base * s.artifactLevel[artifact]! * Math.exp(s.results[t]!.drift + d.iidSd * normal(rng));
  const flags: string[] = [];
  if (rng() < d.spikeRate) level *= rng() < 0.8 ? between(rng, 1.08, 1.4) : 1 / between(rng, 1.05, 1.2);
  if (rng() < d.throttleRate) { level *= between(rng, 1.04, 1.25); if (rng() < 0.5) flags.push('throttled'); }
  const n = Math.max(30, Math.min(200, Math.round(d.samples * between(rng, 0.8, 1.2))));
  const samples = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let latency = level * Math.exp(d.within * normal(rng));
    if (rng() < d.sampleSpike) latency *= between(rng, 1.3, 3);
    samples[j] = s.direction === 'lower_is_better' ? latency : 1000 / latency;
  }
  return { samples, flags };
}
