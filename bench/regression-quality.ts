// Regression-detection quality through the server's own code: every result of a labelled corpus
// (bench/regression-corpus.ts) is stored with the queue's completeJob on a real SQLite database —
// which judges it exactly as a result from an agent — and a simulated device answers every job
// the server queues in response (reruns of a suspect, A/B rounds of the baseline artifact against
// the candidate) with samples from the same series' device at that moment (its drift, its own
// per-job noise, spikes and throttling; the artifact's true level). The reports scored are the
// changes the server recorded (series_changes, both directions), or with `--server DIR` the
// alerts of another build's server (e.g. the commit before this detector, whose change-point
// analyzer is then called after every result as its tick would), so that two builds are compared
// on the same corpus seeds.
//
// Usage: node dist/bench/regression-quality.js [--series 400] [--seeds 1,2,3] [--mix 1,1,1]
//          [--disturbance 1] [--drift 1] [--ab-rounds N] [--reruns N] [--server DIR/dist]
//   --ab-rounds 0 --reruns 0 measures the history alone (no extra jobs).
//   --check also checks that every reported change agrees with itself (bench/change-consistency.ts).
import { parseArgs } from 'node:util';
import { makeCorpus, STEP_SIZES, type NoiseClass } from './regression-corpus.js';
import { figures, newTally, ratio, type Tally } from './regression-scoring.js';
import { feedCorpus, loadServer, type FeedStats } from './corpus-feed.js';
import { changeConsistency } from './change-consistency.js';

const { values: args } = parseArgs({
  options: {
    series: { type: 'string', default: '400' },
    seeds: { type: 'string', default: '1,2,3' },
    mix: { type: 'string', default: '1,1,1' },
    disturbance: { type: 'string', default: '1' },
    drift: { type: 'string', default: '1' },
    'ab-rounds': { type: 'string' },
    reruns: { type: 'string' },
    server: { type: 'string' },
    check: { type: 'boolean', default: false },
  },
});

// ---- main ------------------------------------------------------------------------------------------

const srv = await loadServer(args.server);
const seeds = args.seeds!.split(',').map(Number);
const mix = args.mix!.split(',').map(Number) as [number, number, number];
const tally = newTally();
const byClass = new Map<string, Tally>();
const stats: FeedStats = { judgeMs: [], results: 0, extraJobs: 0, abJobs: 0, rerunJobs: 0, completeMs: [], wallMs: 0, analyzeMs: 0 };
const opts = { series: Number(args.series), mix, disturbance: Number(args.disturbance), drift: Number(args.drift) };
const checks: ReturnType<typeof changeConsistency>[] = [];
for (const seed of seeds) {
  const corpus = makeCorpus({ ...opts, seed });
  const before = stats.results;
  await feedCorpus(srv, seed, corpus, tally, byClass, stats, {
    abRounds: args['ab-rounds'] === undefined ? undefined : Number(args['ab-rounds']),
    reruns: args.reruns === undefined ? undefined : Number(args.reruns),
    inspect: args.check ? (db) => { checks.push(changeConsistency(db)); } : undefined,
  });
  process.stderr.write(`seed ${seed}: ${stats.results - before} results fed\n`);
}

const f = figures(tally);
const p2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const sorted = [...stats.completeMs].sort((a, b) => a - b);
const quantile = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN; };
const q = (p: number): number => quantile(sorted, p);
console.log(`${srv.name}; corpus seeds ${seeds.join(',')} × ${opts.series} series (mix ${mix.join('/')}, disturbance ${opts.disturbance}, drift ${opts.drift}); `
  + `${stats.results} results, ${tally.found + tally.missed} labelled steps; policy overrides: ab-rounds ${args['ab-rounds'] ?? 'default'}, reruns ${args.reruns ?? 'default'}`);
console.log(`\n| ${STEP_SIZES.map((x) => `${Math.round(x * 100)}%`).join(' | ')} | all steps | precision | F1 | false / 1,000 no-change (low · mid · high · drift) | median delay |`);
console.log(`|${STEP_SIZES.map(() => '---').join('|')}|---|---|---|---|---|`);
console.log(`| ${STEP_SIZES.map((x) => ratio(tally, `size:${x}`)).join(' | ')} | ${p2(f.recall)} | ${p2(f.precision)} | **${p2(f.f1)}** | ${p2(f.falsePer1000)} (${(['low', 'mid', 'high', 'drift'] as const).map((k) => p2(f.falsePer1000ByNoise[k])).join(' · ')}) | ${f.medianDelay} |`);
console.log('\nRecall by step size × direction × noise class (found / labelled):\n');
console.log(`| noise | direction | ${STEP_SIZES.map((x) => `${Math.round(x * 100)}%`).join(' | ')} |`);
console.log(`|---|---|${STEP_SIZES.map(() => '---').join('|')}|`);
for (const noise of ['low', 'mid', 'high'] as NoiseClass[]) for (const d of ['worse', 'better']) {
  console.log(`| ${noise} | ${d} | ${STEP_SIZES.map((x) => {
    const b = tally.bySize.get(`size:${x}:noise:${noise}`) ? byDir(noise, x, d) : '-';
    return b;
  }).join(' | ')} |`);
}
console.log('\nBy noise class and metric direction:\n');
console.log('| noise | metric | recall | precision | F1 | false / 1,000 | median delay |');
console.log('|---|---|---|---|---|---|---|');
for (const [key, t] of [...byClass].sort()) {
  const g = figures(t);
  const [noise, dir] = key.slice('noise:'.length).split('|');
  console.log(`| ${noise} | ${dir} | ${p2(g.recall)} | ${p2(g.precision)} | ${p2(g.f1)} | ${p2(g.falsePer1000)} | ${g.medianDelay} |`);
}
console.log(`\nrecall of steps ≥ 8% at low noise (≤ 2%): ${bigLowRecall()}`);
console.log(`extra jobs the server asked for: ${stats.extraJobs} (${(stats.extraJobs / stats.results).toFixed(3)} per result: A/B ${stats.abJobs}, reruns ${stats.rerunJobs})`);
if (stats.judgeMs.length) console.log(`judging one result (judgeJob, inside completeJob): median ${quantile(stats.judgeMs, 0.5).toFixed(3)} ms, p95 ${quantile(stats.judgeMs, 0.95).toFixed(3)} ms, p99 ${quantile(stats.judgeMs, 0.99).toFixed(3)} ms`);
console.log(`completeJob (store + judge) per result: median ${q(0.5).toFixed(3)} ms, p95 ${q(0.95).toFixed(3)} ms, p99 ${q(0.99).toFixed(3)} ms; `
  + `${(stats.results / (stats.wallMs / 1000)).toFixed(0)} results/s fed in all (with the simulated device's extra jobs)${stats.analyzeMs > 0 ? `; change-point analysis ${(stats.analyzeMs / stats.results).toFixed(2)} ms per result` : ''}`);

function byDir(noise: NoiseClass, size: number, dir: string): string {
  const t = byClass.get(`noise:${noise}|lower_is_better`);
  const u = byClass.get(`noise:${noise}|higher_is_better`);
  let hit = 0;
  let all = 0;
  for (const x of [t, u]) {
    const b = x?.bySize.get(`size:${size}:${dir}`);
    if (b) { hit += b[0]; all += b[1]; }
  }
  return all ? `${hit}/${all}` : '-';
}

function bigLowRecall(): string {
  let hit = 0;
  let all = 0;
  for (const x of STEP_SIZES.filter((v) => v >= 0.08)) {
    const b = tally.bySize.get(`size:${x}:noise:low`);
    if (b) { hit += b[0]; all += b[1]; }
  }
  return `${hit}/${all} = ${(hit / Math.max(1, all)).toFixed(2)}`;
}

if (args.check) {
  const total = (k: 'checked' | 'violations') => checks.reduce((a, c) => a + c[k], 0);
  console.log(`\nconsistency of reported changes: ${total('checked')} checked, ${total('violations')} disagree with themselves`);
  const kinds = new Map<string, number>();
  for (const c of checks) for (const [k, n] of c.byKind) kinds.set(k, (kinds.get(k) ?? 0) + n);
  for (const [k, n] of [...kinds].sort()) console.log(`  ${k}: ${n}`);
  for (const example of checks.flatMap((c) => c.examples).slice(0, 5)) console.log(`  e.g. ${example}`);
}
