// Paired A/B tests in the queue. Round r is two jobs on one device, the baseline artifact (A)
// and the candidate (B), queued together (A first in odd rounds, B first in even ones, so that a
// trend inside a round cancels over two rounds); the next round is queued only when both jobs of
// this one ended, `spacing` later, so a transient disturbance of the device rarely touches two
// rounds. After each round the statistics of ab-stats.ts decide: changed, no change that matters,
// inconclusive at the round budget — or one more round. A confirmation (purpose confirm) then
// settles its suspect's verdict and, on the baseline branch, reports the change and moves the
// detector's level; a gate test (`run submit --ab`) is read by the run's view and the CLI.
import type { Db } from '../db/open.js';
import { randomId } from '../ids.js';
import type { AbTestView } from '../../protocol/api.js';
import { abDecide, type AbOptions } from './ab-stats.js';
import { metricDirection } from './series-keys.js';
import { applyCut } from './detector.js';
import { applyChange, loadWatch, saveWatch, worseEffect } from './watch.js';
import { changeFromRatio } from '../../protocol/change.js';
import { detectorSettings, policyFor } from './policy.js';
import { stmt } from '../db/statements.js';

/** Defaults of the two kinds of test (see docs/alerts.md and docs/benchmarks.md for how they were chosen). */
export const AB_DEFAULTS = {
  minRounds: 4,
  /** Confirmation of a suspect: one-sided, at most 0.5% false confirmations, a decision every 4 rounds. */
  confirm: { alpha: 0.005, lookEvery: 4 },
  /** A gate (`run submit --ab`): two-sided 5%, a decision every 2 rounds. */
  gate: { alpha: 0.05, lookEvery: 2 },
  /** Rounds whose jobs failed before the test gives up. */
  maxFailedRounds: 3,
} as const;

export interface StartAb {
  runId: string; deviceId: string; purpose: 'confirm' | 'gate'; seriesKey: string | null; metric: string; branch: string | null;
  triggerJobId: string | null; startJobId: string | null; baselineSha: string; candidateSha: string;
  direction: 'regression' | 'improvement' | null; maxRounds: number; minEffect: number; spacingMs: number; maxAttempts: number; timeoutMs: number;
}

interface AbRow {
  id: string; run_id: string; device_id: string; purpose: 'confirm' | 'gate'; series_key: string | null; metric: string; branch: string | null;
  trigger_job_id: string | null; start_job_id: string | null; baseline_sha256: string; candidate_sha256: string;
  direction: 'regression' | 'improvement' | null; min_rounds: number; max_rounds: number; min_effect: number; alpha: number; spacing_ms: number;
  status: AbTestView['status']; rounds: number; failed_rounds: number; estimate: number | null; ci_low: number | null; ci_high: number | null;
  effect: number | null; noise: number | null; reason: string | null; created_at: number; decided_at: number | null;
}

export function startAbTest(db: Db, s: StartAb, now: number): string {
  const id = randomId('ab');
  const alpha = s.purpose === 'gate' ? AB_DEFAULTS.gate.alpha : AB_DEFAULTS.confirm.alpha;
  stmt(db,
    `INSERT INTO ab_tests (id, run_id, device_id, purpose, series_key, metric, branch, trigger_job_id, start_job_id, baseline_sha256, candidate_sha256,
       direction, min_rounds, max_rounds, min_effect, alpha, spacing_ms, created_at)
     VALUES (@id, @run, @device, @purpose, @key, @metric, @branch, @trigger, @start, @a, @b, @direction, @min, @max, @minEffect, @alpha, @spacing, @now)`,
  ).run({
    id, run: s.runId, device: s.deviceId, purpose: s.purpose, key: s.seriesKey, metric: s.metric, branch: s.branch, trigger: s.triggerJobId,
    start: s.startJobId, a: s.baselineSha, b: s.candidateSha, direction: s.direction, min: Math.min(AB_DEFAULTS.minRounds, s.maxRounds), max: s.maxRounds,
    minEffect: s.minEffect, alpha, spacing: s.spacingMs, now,
  });
  queueRound(db, id, 1, now, 0, s.maxAttempts, s.timeoutMs);
  return id;
}

function queueRound(db: Db, testId: string, round: number, now: number, delayMs: number, maxAttempts: number, timeoutMs: number): void {
  const t = stmt(db, 'SELECT * FROM ab_tests WHERE id = ?').get(testId) as AbRow;
  const arms: ['A' | 'B', string][] = round % 2 === 1 ? [['A', t.baseline_sha256], ['B', t.candidate_sha256]] : [['B', t.candidate_sha256], ['A', t.baseline_sha256]];
  const insert = stmt(db,
    `INSERT INTO jobs (id, run_id, device_id, max_attempts, timeout_ms, created_at, not_before, model_sha256, ab_test_id, ab_round, ab_arm)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // created_at orders the pair on the device (claims take the oldest queued job first).
  arms.forEach(([arm, sha], i) => insert.run(randomId('job'), t.run_id, t.device_id, maxAttempts, timeoutMs, now + i, now + delayMs, sha, testId, round, arm));
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'timed_out']);

/** Optional consequences of a decision, for the caller (webhooks to kick, dashboards to notify). */
export interface AbProgress { testId: string; decided: boolean }

/** Called when a job of an A/B test ended (any terminal state): processes its round once both jobs ended. */
export function abJobEnded(db: Db, jobId: string, now: number): AbProgress | null {
  const job = stmt(db, 'SELECT ab_test_id FROM jobs WHERE id = ?').get(jobId) as { ab_test_id: string | null } | undefined;
  if (!job?.ab_test_id) return null;
  return progressAbTest(db, job.ab_test_id, now);
}

/** Catch-up for every running test (the server's tick): rounds whose jobs ended by other paths (lease expiry, cancel). */
export function advanceAbTests(db: Db, now: number): number {
  const running = stmt(db, `SELECT id FROM ab_tests WHERE status = 'running'`).all() as { id: string }[];
  let decided = 0;
  for (const { id } of running) if (db.transaction(() => progressAbTest(db, id, now).decided).immediate()) decided++;
  return decided;
}

/** The paired log ratios ln(B) − ln(A) of the test's complete rounds, in round order. */
export function abDiffs(db: Db, testId: string, metric: string): number[] {
  const rows = stmt(db,
    `SELECT j.ab_round AS round, j.ab_arm AS arm, m.median FROM jobs j JOIN measurements m ON m.job_id = j.id AND m.metric = ?
     WHERE j.ab_test_id = ? AND j.status = 'succeeded' ORDER BY j.ab_round`,
  ).all(metric, testId) as { round: number; arm: 'A' | 'B'; median: number }[];
  const byRound = new Map<number, { A?: number; B?: number }>();
  for (const r of rows) {
    const e = byRound.get(r.round) ?? {};
    e[r.arm] = r.median;
    byRound.set(r.round, e);
  }
  const diffs: number[] = [];
  for (const [, e] of [...byRound].sort((x, y) => x[0] - y[0])) {
    if (e.A !== undefined && e.B !== undefined && e.A > 0 && e.B > 0) diffs.push(Math.log(e.B) - Math.log(e.A));
  }
  return diffs;
}

export function abOptions(t: Pick<AbRow, 'purpose' | 'direction' | 'metric' | 'min_rounds' | 'max_rounds' | 'alpha' | 'min_effect'>): AbOptions {
  const lowerBetter = metricDirection(t.metric) === 'lower_is_better';
  // A suspected regression of a lower-is-better metric means B larger than A: 'up'.
  const sides: AbOptions['sides'] = t.purpose === 'gate' || t.direction === null ? 'two'
    : (t.direction === 'regression') === lowerBetter ? 'up' : 'down';
  return {
    minRounds: t.min_rounds, maxRounds: t.max_rounds, alpha: t.alpha, sides, minEffect: t.min_effect,
    lookEvery: t.purpose === 'gate' ? AB_DEFAULTS.gate.lookEvery : AB_DEFAULTS.confirm.lookEvery,
  };
}

function progressAbTest(db: Db, testId: string, now: number): AbProgress {
  const t = stmt(db, 'SELECT * FROM ab_tests WHERE id = ?').get(testId) as AbRow | undefined;
  if (!t || t.status !== 'running') return { testId, decided: false };
  const last = (stmt(db, 'SELECT MAX(ab_round) AS r FROM jobs WHERE ab_test_id = ?').get(testId) as { r: number | null }).r ?? 0;
  if (t.rounds + t.failed_rounds >= last) return { testId, decided: false }; // this round was already processed
  const jobs = stmt(db, 'SELECT status, max_attempts, timeout_ms FROM jobs WHERE ab_test_id = ? AND ab_round = ?').all(testId, last) as { status: string; max_attempts: number; timeout_ms: number }[];
  if (jobs.some((j) => !TERMINAL.has(j.status))) return { testId, decided: false };
  if (jobs.some((j) => j.status === 'canceled')) {
    finish(db, t, 'canceled', null, 'a job of the test was canceled', now);
    return { testId, decided: true };
  }
  const diffs = abDiffs(db, testId, t.metric);
  const complete = diffs.length;
  const failed = last - complete;
  stmt(db, 'UPDATE ab_tests SET rounds = ?, failed_rounds = ? WHERE id = ?').run(complete, failed, testId);
  if (failed > AB_DEFAULTS.maxFailedRounds) {
    finish(db, { ...t, rounds: complete, failed_rounds: failed }, 'failed', null, `${failed} rounds had a failed job or no ${t.metric}`, now);
    return { testId, decided: true };
  }
  const summary = abDecide(diffs, abOptions(t));
  const stats = complete >= 2 ? summary : null;
  if (stats) {
    stmt(db, 'UPDATE ab_tests SET estimate = ?, ci_low = ?, ci_high = ?, effect = ?, noise = ? WHERE id = ?').run(
      fin(stats.estimate), fin(stats.ciLow), fin(stats.ciHigh), fin(worseOf(t.metric, stats.estimate)), fin(stats.sd), testId);
  }
  if (summary.decision === 'continue') {
    const shape = jobs[0]!;
    queueRound(db, testId, last + 1, now, t.spacing_ms, shape.max_attempts, shape.timeout_ms);
    return { testId, decided: false };
  }
  const reason = summary.decision === 'changed' ? `changed: ${pct(summary.estimate)} (interval ${pct(summary.ciLow)} … ${pct(summary.ciHigh)}) after ${complete} rounds`
    : summary.decision === 'no_change' ? `no change of ${pct(t.min_effect)} or more: interval ${pct(summary.ciLow)} … ${pct(summary.ciHigh)} after ${complete} rounds`
      : `inconclusive after ${complete} rounds: interval ${pct(summary.ciLow)} … ${pct(summary.ciHigh)}`;
  finish(db, { ...t, rounds: complete, failed_rounds: failed }, summary.decision === 'changed' ? 'changed' : summary.decision === 'no_change' ? 'no_change' : 'inconclusive', stats, reason, now);
  return { testId, decided: true };
}

const fin = (x: number): number | null => (Number.isFinite(x) ? x : null);
const pct = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : '?');
/** Relative change candidate vs baseline, signed so that positive = worse. */
const worseOf = (metric: string, estimate: number): number => worseEffect(1, 1 + estimate, metricDirection(metric));

function finish(db: Db, t: AbRow, status: AbRow['status'], stats: { estimate: number; ciLow: number; ciHigh: number } | null, reason: string, now: number): void {
  stmt(db, `UPDATE ab_tests SET status = ?, reason = ?, decided_at = ? WHERE id = ? AND status = 'running'`).run(status, reason, now, t.id);
  // Jobs of this test still queued (a later round) have nothing left to decide.
  stmt(db, `UPDATE jobs SET status = 'canceled', finished_at = ?, error_code = 'canceled', error_message = 'the A/B test was decided'
              WHERE ab_test_id = ? AND status = 'queued'`).run(now, t.id);
  if (t.purpose !== 'confirm' || !t.trigger_job_id) return;
  const effect = stats ? worseOf(t.metric, stats.estimate) : null;
  const agrees = status === 'changed' && effect !== null && (t.direction === null || (t.direction === 'regression') === effect > 0);
  stmt(db, `UPDATE verdicts SET confirmation = ?, confirmed_by = 'ab', hint = ? WHERE job_id = ? AND metric = ? AND confirmation = 'pending'`)
    .run(agrees ? 'confirmed' : 'not_confirmed', `A/B test ${t.id}: ${reason}`, t.trigger_job_id, t.metric);
  if (!t.series_key || !t.branch) return;
  const k = { seriesKey: t.series_key, metric: t.metric, branch: t.branch };
  const onBaseline = stmt(db, 'SELECT 1 FROM series_watch WHERE series_key = ? AND metric = ? AND branch = ? AND suspect_job_id = ?')
    .get(t.series_key, t.metric, t.branch, t.trigger_job_id);
  if (!onBaseline) return;
  const policy = policyFor(db, t.metric);
  const settings = detectorSettings(policy);
  const watch = loadWatch(db, k, settings, null, now);
  if (agrees && stats && t.start_job_id) {
    // Unless the history found the change meanwhile, report it and start the new level where the suspect window began.
    const since = stmt(db, `SELECT 1 FROM series_changes WHERE series_key = ? AND metric = ? AND branch = ? AND detected_at >= ?`)
      .get(t.series_key, t.metric, t.branch, t.created_at);
    if (!since && applyCut(watch.state, t.start_job_id)) {
      const before = (stmt(db, 'SELECT level FROM series_watch WHERE series_key = ? AND metric = ? AND branch = ?').get(t.series_key, t.metric, t.branch) as { level: number | null }).level ?? 1;
      // The A/B test measured B against A as a ratio; the change is that ratio applied to the level before.
      const c = changeFromRatio(before, stats.estimate, stats.ciLow, stats.ciHigh, metricDirection(t.metric));
      const seLog = Math.max(1e-12, (Math.log1p(stats.ciHigh) - Math.log1p(stats.ciLow)) / (2 * 1.96));
      applyChange(db, k, {
        jobId: t.start_job_id, detectedJobId: t.trigger_job_id, source: 'ab', before: c.before, after: c.after, effect: c.effect, ciLow: c.ci_low, ciHigh: c.ci_high,
        seLog, z: Math.abs(Math.log1p(stats.estimate) / seLog), results: t.rounds,
        evidence: `A/B test ${t.id}: ${t.rounds} rounds of paired jobs on the device, ${t.candidate_sha256.slice(0, 12)} (B) against ${t.baseline_sha256.slice(0, 12)} (A); ` +
          `B/A ${pct(stats.estimate)} (mean log ratio of the rounds), applied to the series' level before`,
      }, policy, now);
    }
  }
  saveWatch(db, k, watch.state, settings, null, null, now);
}

interface AbViewRow extends AbRow { device_name: string }

export function abTestView(r: AbViewRow): AbTestView {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: r.id, run_id: r.run_id, device_id: r.device_id, device_name: r.device_name, purpose: r.purpose, series_key: r.series_key, metric: r.metric,
    trigger_job_id: r.trigger_job_id, baseline_sha256: r.baseline_sha256, candidate_sha256: r.candidate_sha256, direction: r.direction,
    status: r.status, rounds: r.rounds, max_rounds: r.max_rounds, failed_rounds: r.failed_rounds, estimate: r.estimate, ci_low: r.ci_low,
    ci_high: r.ci_high, effect: r.effect, noise: r.noise, min_effect: r.min_effect, reason: r.reason, created_at: iso(r.created_at)!, decided_at: iso(r.decided_at),
  };
}

export function abTestsOfRun(db: Db, runId: string): AbTestView[] {
  return (stmt(db, 'SELECT t.*, d.name AS device_name FROM ab_tests t JOIN devices d ON d.id = t.device_id WHERE t.run_id = ? ORDER BY d.name, t.created_at')
    .all(runId) as AbViewRow[]).map(abTestView);
}

/** The σ of the paired log ratio measured by earlier tests on a device and metric (median), or null. */
export function measuredPairNoise(db: Db, deviceId: string, metric: string): number | null {
  const rows = stmt(db, `SELECT noise FROM ab_tests WHERE device_id = ? AND metric = ? AND noise IS NOT NULL AND rounds >= 4 ORDER BY created_at DESC LIMIT 9`)
    .all(deviceId, metric) as { noise: number }[];
  if (rows.length === 0) return null;
  const s = rows.map((r) => r.noise).sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
