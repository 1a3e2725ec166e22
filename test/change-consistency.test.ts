// Numbers that agree with each other: one definition of a reported change (protocol/change.ts) —
// its effect is the change from its own before to its own after and its interval holds it, also
// once printed — and a labelled corpus fed through the server's own completeJob on a real SQLite
// database (the simulated device answering the reruns and A/B rounds the server queues), after
// which every verdict, series change, alert and A/B test stored agrees with itself and says what
// it rests on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeFromLevels, changeFromRatio, formatChange, signedPercent, worseEffect } from '../protocol/change.js';
import { seededRng } from '../protocol/random.js';
import { changeConsistency, printedNumbers } from '../bench/change-consistency.js';
import { feedCorpus, loadServer, type FeedStats } from '../bench/corpus-feed.js';
import { makeCorpus } from '../bench/regression-corpus.js';
import { newTally } from '../bench/regression-scoring.js';

test('a change is computed once: the effect is before → after, and its interval holds it, also once printed', () => {
  const rng = seededRng(11);
  for (let i = 0; i < 5000; i++) {
    const before = Math.exp(rng() * 10 - 5);
    const after = before * Math.exp((rng() - 0.5) * 3);
    const se = rng() < 0.1 ? rng() * 1e-6 : rng() * 0.5;
    for (const direction of ['lower_is_better', 'higher_is_better'] as const) {
      const c = changeFromLevels(before, after, se, direction);
      assert.equal(c.effect, worseEffect(before, after, direction));
      assert.ok(c.ci_low! <= c.effect && c.effect <= c.ci_high!, JSON.stringify(c));
      const [p, lo, hi] = printedNumbers(formatChange(c));
      assert.ok(lo! <= p! && p! <= hi!, formatChange(c));
      const r = (rng() - 0.3) * 2;
      const h = rng() * 0.2;
      const a = changeFromRatio(before, r, r - h, r + h, direction);
      assert.ok(Math.abs(a.after - before * (1 + r)) <= 1e-12 * a.after);
      assert.ok(a.ci_low! <= a.effect && a.effect <= a.ci_high!);
    }
  }
  // Positive = worse in both directions: slower latency, lower throughput.
  assert.ok(changeFromLevels(10, 12, 0.01, 'lower_is_better').effect > 0);
  assert.ok(changeFromLevels(10, 12, 0.01, 'higher_is_better').effect < 0);
  assert.equal(formatChange({ effect: 0.2676, ci_low: 0.2561, ci_high: 0.2803 }), '+26.8% (95% CI +25.6% … +28.0%)');
  assert.equal(formatChange({ effect: -0.04, ci_low: null, ci_high: null }), '-4.0%');
  assert.equal(signedPercent(-0.0004), '+0.0%', 'no "-0.0%"');
  assert.equal(formatChange({ effect: null, ci_low: null, ci_high: null }), '–');
});

test('every change the server stores agrees with itself and says what it rests on (labelled corpus through completeJob)', { timeout: 300_000 }, async () => {
  const srv = await loadServer(undefined);
  const stats: FeedStats = { judgeMs: [], results: 0, extraJobs: 0, abJobs: 0, rerunJobs: 0, completeMs: [], wallMs: 0, analyzeMs: 0 };
  let seen: ReturnType<typeof changeConsistency> | null = null;
  let reported = 0;
  let alerts = 0;
  let abChanges = 0;
  const corpus = makeCorpus({ series: 48, mix: [1, 1, 1], disturbance: 1, drift: 1, seed: 23 });
  await feedCorpus(srv, 23, corpus, newTally(), new Map(), stats, {
    inspect: (db) => {
      seen = changeConsistency(db);
      reported = (db.prepare(`SELECT COUNT(*) AS n FROM verdicts WHERE verdict IN ('regression', 'improvement')`).get() as { n: number }).n;
      alerts = (db.prepare('SELECT COUNT(*) AS n FROM alerts').get() as { n: number }).n;
      abChanges = (db.prepare(`SELECT COUNT(*) AS n FROM series_changes WHERE source = 'ab'`).get() as { n: number }).n;
    },
  });
  const c = seen as ReturnType<typeof changeConsistency> | null;
  assert.ok(c, 'the database was inspected');
  assert.ok(stats.results > 2000 && reported > 100 && alerts > 5 && abChanges > 0,
    `the corpus exercised reports: ${stats.results} results, ${reported} reported verdicts, ${alerts} alerts, ${abChanges} A/B changes`);
  assert.equal(c.violations, 0, `${c.violations} of ${c.checked} disagree: ${[...c.byKind].map(([k, n]) => `${k} ${n}`).join('; ')}\n${c.examples.join('\n')}`);
  assert.ok(c.checked > 1000);
});
