// Sweep of the change detector's settings on labelled corpora (several seeds and noise mixes).
// Runs server/regression/detector.ts directly — the same functions the server calls per result —
// so that many settings can be compared quickly; bench/regression-quality.ts then checks the chosen
// settings through the server's own ingest path.
// Usage: node dist/bench/detector-sweep.js [series=400] [seeds=1,2,3] [key=value …]
//   keys: any DetectorSettings field (zAlarm=3.5 minEffect=0.01 …), several values comma-separated
import { makeCorpus, type CorpusSeries } from './regression-corpus.js';
import { figures, newTally, ratio, scoreSeries, type Report, type Tally } from './regression-scoring.js';
import { DETECTOR_DEFAULTS, newDetectorState, stepDetector, withinVariance, type DetectorSettings } from '../server/regression/detector.js';

const SERIES = Number(process.argv[2] ?? 400);
const SEEDS = (process.argv[3] ?? '1,2,3').split(',').map(Number);
const DISTURBANCE = Number(process.env.DISTURBANCE ?? 1);
const DRIFT = Number(process.env.DRIFT ?? 1);
const grid: Record<string, number[]> = {};
for (const arg of process.argv.slice(4)) {
  const [k, v] = arg.split('=');
  if (!k || !v) continue;
  grid[k] = v.split(',').map(Number);
}

export function detectorReports(s: CorpusSeries, settings: DetectorSettings, withinVars?: number[]): Report[] {
  let state = newDetectorState();
  const reports: Report[] = [];
  s.results.forEach((r, t) => {
    if (r.flags.length > 0) return;
    const med = median(r.samples);
    const out = stepDetector(state, med, withinVars ? withinVars[t]! : withinVariance(r.samples), String(t), settings);
    state = out.state;
    if (out.change) {
      const up = out.change.change > 0;
      const worse = s.direction === 'lower_is_better' ? up : !up;
      reports.push({ at: t, direction: worse ? 'worse' : 'better', source: out.change.test, window: out.change.window });
    }
  });
  return reports;
}

function median(xs: Float64Array): number {
  const s = Float64Array.from(xs).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function combos(g: Record<string, number[]>): Record<string, number>[] {
  let out: Record<string, number>[] = [{}];
  for (const [k, vs] of Object.entries(g)) out = out.flatMap((o) => vs.map((v) => ({ ...o, [k]: v })));
  return out;
}

const isMain = process.argv[1]?.endsWith('detector-sweep.js');
if (isMain) {
  const corpora = SEEDS.map((seed) => ({ seed, series: makeCorpus({ series: SERIES, seed, disturbance: DISTURBANCE, drift: DRIFT }) }));
  const within = corpora.map((c) => c.series.map((s) => s.results.map((r) => withinVariance(r.samples))));
  console.log(`corpora: ${SEEDS.join(', ')} × ${SERIES} series, ${corpora.reduce((a, c) => a + c.series.reduce((b, s) => b + s.results.length, 0), 0)} results`);
  for (const over of combos(grid)) {
    const settings = { ...DETECTOR_DEFAULTS, ...over } as DetectorSettings;
    if (over.priorA !== undefined) settings.outlierPrior = [over.priorA, over.priorB ?? 30];
    delete (settings as unknown as Record<string, number>).priorA;
    const rows: string[] = [];
    const total = newTally();
    for (const [ci, c] of corpora.entries()) {
      const t: Tally = newTally();
      c.series.forEach((s, si) => {
        const reports = detectorReports(s, settings, within[ci]![si]);
        scoreSeries(t, s, reports);
        scoreSeries(total, s, reports);
      });
      const f = figures(t);
      rows.push(`seed ${c.seed}: F1 ${f.f1.toFixed(3)} P ${f.precision.toFixed(2)} R ${f.recall.toFixed(2)} FA ${f.falsePer1000.toFixed(2)} (l ${f.falsePer1000ByNoise.low.toFixed(2)} m ${f.falsePer1000ByNoise.mid.toFixed(2)} h ${f.falsePer1000ByNoise.high.toFixed(2)} drift ${f.falsePer1000ByNoise.drift.toFixed(2)}) delay ${f.medianDelay}`);
    }
    const f = figures(total);
    if (process.env.DIAG) {
      const causes = new Map<string, number>();
      for (const c of corpora) for (const s of c.series) {
        if (s.scenario !== 'none') continue;
        for (const r of detectorReports(s, settings)) {
          const win = s.results.slice(r.at - (r.window ?? 1) + 1, r.at + 1);
          const d = win.filter((x) => x.disturbed && x.flags.length === 0).length;
          const key = `${r.source} w${r.window} disturbed ${d}`;
          causes.set(key, (causes.get(key) ?? 0) + 1);
        }
      }
      console.log([...causes].sort().map(([k, v]) => `${k}: ${v}`).join('\n'));
    }
    console.log(`\n${JSON.stringify(over)}  ALL: F1 ${f.f1.toFixed(3)} (strict ${f.f1Strict.toFixed(3)}) P ${f.precision.toFixed(3)} R ${f.recall.toFixed(3)} late ${total.late} FA/1000 ${f.falsePer1000.toFixed(2)} (low ${f.falsePer1000ByNoise.low.toFixed(2)} mid ${f.falsePer1000ByNoise.mid.toFixed(2)} high ${f.falsePer1000ByNoise.high.toFixed(2)} drift ${f.falsePer1000ByNoise.drift.toFixed(2)}) delay ${f.medianDelay}`);
    console.log(`  by size: ${['0.02', '0.03', '0.05', '0.08', '0.12', '0.2'].map((s) => `${s} ${ratio(total, `size:${s}`)}`).join('  ')}`);
    console.log(`  ≥8% at low noise: ${['0.08', '0.12', '0.2'].map((s) => ratio(total, `size:${s}:noise:low`)).join(' ')}; by noise: ${['low', 'mid', 'high'].map((n) => `${n} ${ratio(total, `noise:${n}`)}`).join(' ')}; by kind: ${['step', 'revert', 'second'].map((k) => `${k} ${ratio(total, `kind:${k}`)}`).join(' ')}; better ${['0.05', '0.12', '0.2'].map((s) => ratio(total, `size:${s}:better`)).join(' ')}`);
    for (const r of rows) console.log(`  ${r}`);
  }
}

/**
 * Reference detectors for the same corpus (not used by the server): a plain two-sided GLR on log
 * medians (unflagged results), reference = the results since the last alarm, any window up to
 * 50 results, alarm at |Z| ≥ h; told the series' true σ (oracle) or given a per-series estimate
 * (the robust SD of consecutive differences so far / √2).
 */
export function plainGlrReports(s: CorpusSeries, h: number, oracle: boolean, minSegment = 5): Report[] {
  const xs: number[] = [];
  const at: number[] = [];
  const reports: Report[] = [];
  let segStart = 0;
  s.results.forEach((r, t) => {
    if (r.flags.length > 0) return;
    xs.push(Math.log(median(r.samples)));
    at.push(t);
    const n = xs.length;
    let sigma: number;
    if (oracle) sigma = s.sigma;
    else {
      if (n < 8) return;
      const d = xs.slice(1).map((x, i) => x - xs[i]!).sort((a, b) => a - b);
      const med = d[Math.floor(d.length / 2)]!;
      const mad = d.map((x) => Math.abs(x - med)).sort((a, b) => a - b)[Math.floor(d.length / 2)]! * 1.4826;
      sigma = mad / Math.SQRT2;
    }
    let best = 0;
    let bestK = -1;
    for (let k = Math.max(segStart + minSegment, n - 50); k < n; k++) {
      let a = 0;
      for (let i = segStart; i < k; i++) a += xs[i]!;
      let b = 0;
      for (let i = k; i < n; i++) b += xs[i]!;
      const m0 = k - segStart;
      const m1 = n - k;
      const z = (b / m1 - a / m0) / (sigma * Math.sqrt(1 / m0 + 1 / m1));
      if (Math.abs(z) > Math.abs(best)) { best = z; bestK = k; }
    }
    if (bestK >= 0 && Math.abs(best) >= h) {
      const up = best > 0;
      reports.push({ at: t, direction: (s.direction === 'lower_is_better') === up ? 'worse' : 'better', source: oracle ? 'oracle' : 'glr' });
      segStart = bestK;
    }
  });
  return reports;
}

if (isMain && process.env.REFERENCE) {
  const corpora = SEEDS.map((seed) => makeCorpus({ series: SERIES, seed, disturbance: DISTURBANCE, drift: DRIFT }));
  for (const oracle of [true, false]) for (const h of (process.env.REFERENCE.split(',').map(Number))) {
    const t = newTally();
    for (const c of corpora) for (const s of c) scoreSeries(t, s, plainGlrReports(s, h, oracle));
    const f = figures(t);
    console.log(`${oracle ? 'oracle' : 'plain'} GLR h=${h}: F1 ${f.f1.toFixed(3)} P ${f.precision.toFixed(3)} R ${f.recall.toFixed(3)} FA ${f.falsePer1000.toFixed(2)} (l ${f.falsePer1000ByNoise.low.toFixed(2)} m ${f.falsePer1000ByNoise.mid.toFixed(2)} h ${f.falsePer1000ByNoise.high.toFixed(2)} drift ${f.falsePer1000ByNoise.drift.toFixed(2)}) delay ${f.medianDelay}; sizes ${['0.02', '0.03', '0.05', '0.08', '0.12', '0.2'].map((x) => ratio(t, `size:${x}`)).join(' ')}`);
  }
}
