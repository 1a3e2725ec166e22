// The detector's state per series × metric × branch (`series_watch`), and what happens when it
// finds a change: a `series_changes` row, the `series.changed` webhook, and the alert — opened for
// a regression (or an improvement when the policy asks), updated by a further step, resolved when a
// change brings the series back within the minimum effect of the alert's baseline. The state is a
// cache of a deterministic function of the history: `replayHistory` rebuilds it (after a
// migration, or by `series analyze`).
import type { Db } from '../db/open.js';
import { randomId } from '../ids.js';
import { emitEvent } from '../webhooks/events.js';
import { activeMute, openAlert, resolveAlert, unresolvedAlert, updateAlert } from '../alerts/alerts.js';
import { currentLevel, estimateNoise, newDetectorState, stepDetector, withinVariance, type DetectorSettings, type DetectorState } from './detector.js';
import type { Direction } from './series-keys.js';
import { BASELINE_BRANCH_SQL, metricDirection, RESULT_BRANCH_SQL } from './series-keys.js';
import { decodeSamples } from '../stats/summary.js';
import { detectorSettings, policyFor, type Policy } from './policy.js';
import type { SeriesChangeView } from '../../protocol/alerts.js';
import { changeFromLevels } from '../../protocol/change.js';
import type { DetectedChange } from './detector.js';
import { stmt } from '../db/statements.js';

export { worseEffect } from '../../protocol/change.js';

export interface WatchKey { seriesKey: string; metric: string; branch: string }

export interface Watch { state: DetectorState; suspectJobId: string | null; exists: boolean }

/** What a window's change rests on, in words (verdicts, changes, alerts). */
export function windowEvidence(window: number, test: 'mean' | 'consistent', reference: number): string {
  const what = window === 1 ? 'this result\'s median'
    : `the level of the last ${window} results (${test === 'mean' ? 'outlier-clipped mean' : 'median'} of their log medians)`;
  return `${what} against the level of the ${reference} result${reference === 1 ? '' : 's'} before (outlier-clipped mean of log medians)`;
}

/** A change the detector found in the history, as reported: levels, effect and interval from one estimate. */
export function historyChange(c: DetectedChange, detectedJobId: string, direction: Direction): ChangeInput {
  const e = changeFromLevels(c.before, c.after, c.se, direction);
  return {
    jobId: c.startId, detectedJobId, source: 'history', before: e.before, after: e.after, effect: e.effect, ciLow: e.ci_low, ciHigh: e.ci_high,
    seLog: c.se, z: Math.abs(c.z), results: c.window, evidence: `history: ${windowEvidence(c.window, c.test, c.reference)}`,
  };
}

/** The results a watch is made of: unflagged, non-A/B results of the series on its own baseline branch, oldest first. */
function historyOf(db: Db, k: WatchKey, exceptJob: string | null): { job_id: string; median: number; data: Buffer }[] {
  return stmt(db,
    `SELECT m.job_id, m.median, s.data FROM measurements m
       JOIN samples s ON s.job_id = m.job_id AND s.metric = m.metric
       JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id
     WHERE m.series_key = @key AND m.metric = @metric AND m.flags = '[]' AND j.ab_test_id IS NULL
       AND ${RESULT_BRANCH_SQL} = @branch AND ${BASELINE_BRANCH_SQL} = @branch AND (@except IS NULL OR m.job_id != @except)
     ORDER BY m.created_at, m.rowid`,
  ).all({ key: k.seriesKey, metric: k.metric, branch: k.branch, except: exceptJob }) as { job_id: string; median: number; data: Buffer }[];
}

/**
 * The watch of a series, metric and branch. Without a stored one, the stored history (except
 * `exceptJob`, the result being judged) is replayed first, recording the changes it shows (but
 * no alerts or webhooks: they are news only when they happen).
 */
export function loadWatch(db: Db, k: WatchKey, settings: DetectorSettings, exceptJob: string | null, now: number): Watch {
  const row = stmt(db, 'SELECT state, suspect_job_id FROM series_watch WHERE series_key = ? AND metric = ? AND branch = ?')
    .get(k.seriesKey, k.metric, k.branch) as { state: string; suspect_job_id: string | null } | undefined;
  if (row) return { state: JSON.parse(row.state) as DetectorState, suspectJobId: row.suspect_job_id, exists: true };
  return { state: replayHistory(db, k, settings, exceptJob, now), suspectJobId: null, exists: false };
}

/** Rebuilds a watch from the stored history: the detector over every result, changes recorded (source history). */
export function replayHistory(db: Db, k: WatchKey, settings: DetectorSettings, exceptJob: string | null, now: number): DetectorState {
  const direction = metricDirection(k.metric);
  let state = newDetectorState();
  for (const h of historyOf(db, k, exceptJob)) {
    if (!(h.median > 0) || !Number.isFinite(h.median)) continue;
    const out = stepDetector(state, h.median, withinVariance(decodeSamples(h.data)), h.job_id, settings);
    state = out.state;
    if (out.change) insertChange(db, k, historyChange(out.change, h.job_id, direction), null, now);
  }
  return state;
}

export function saveWatch(db: Db, k: WatchKey, state: DetectorState, settings: DetectorSettings, suspectJobId: string | null, lastJobId: string | null, now: number): void {
  const noise = estimateNoise(state, settings);
  const level = currentLevel(state, noise, settings);
  stmt(db,
    `INSERT INTO series_watch (series_key, metric, branch, state, results, level, level_results, noise, noise_long, outlier_rate, suspect_job_id, last_job_id, updated_at)
     VALUES (@key, @metric, @branch, @state, @results, @level, @levelResults, @noise, @noiseLong, @outliers, @suspect, @last, @now)
     ON CONFLICT (series_key, metric, branch) DO UPDATE SET state = excluded.state, results = excluded.results, level = excluded.level,
       level_results = excluded.level_results, noise = excluded.noise, noise_long = excluded.noise_long, outlier_rate = excluded.outlier_rate,
       suspect_job_id = excluded.suspect_job_id, last_job_id = COALESCE(excluded.last_job_id, series_watch.last_job_id), updated_at = excluded.updated_at`,
  ).run({
    key: k.seriesKey, metric: k.metric, branch: k.branch, state: JSON.stringify(state), results: state.count,
    level: level?.level ?? null, levelResults: state.count - state.levelStart, noise: Number.isFinite(noise.tau) ? noise.tau : null,
    noiseLong: Number.isFinite(noise.tauLong) ? noise.tauLong : null, outliers: Number.isFinite(noise.outlierRate) ? noise.outlierRate : null,
    suspect: suspectJobId, last: lastJobId, now,
  });
}

export interface ChangeInput {
  jobId: string; detectedJobId: string; source: 'history' | 'ab'; before: number; after: number; effect: number;
  ciLow: number | null; ciHigh: number | null;
  /** Standard error of log(after / before), for the interval of an alert's total change. */
  seLog: number | null;
  z: number; results: number; evidence: string;
}

function insertChange(db: Db, k: WatchKey, c: ChangeInput, alertId: string | null, now: number): string {
  const id = randomId('chg');
  stmt(db,
    `INSERT INTO series_changes (id, series_key, metric, branch, job_id, detected_job_id, source, direction, before_value, after_value,
       effect, ci_low, ci_high, z, results, alert_id, detected_at, evidence)
     VALUES (@id, @key, @metric, @branch, @job, @detected, @source, @direction, @before, @after, @effect, @lo, @hi, @z, @results, @alert, @now, @evidence)`,
  ).run({
    id, key: k.seriesKey, metric: k.metric, branch: k.branch, job: c.jobId, detected: c.detectedJobId, source: c.source,
    direction: c.effect > 0 ? 'regression' : 'improvement', before: c.before, after: c.after, effect: c.effect, lo: c.ciLow, hi: c.ciHigh,
    z: c.z, results: c.results, alert: alertId, now, evidence: c.evidence,
  });
  return id;
}

/**
 * A change found now: recorded, announced (`series.changed`), and reflected in the alert of the
 * series — opened, updated by a further step, or resolved when the series is back.
 */
export function applyChange(db: Db, k: WatchKey, c: ChangeInput, policy: Policy, now: number): { changeId: string; alertId: string | null } {
  const direction = metricDirection(k.metric);
  let alertId: string | null = null;
  const open = unresolvedAlert(db, k.seriesKey, k.metric, k.branch);
  if (open) {
    alertId = open.id;
    // The alert's change is the total against its own baseline, to the level this change found.
    const total = changeFromLevels(open.baseline_median, c.after, c.seLog, direction);
    if (total.effect < policy.minEffect) {
      resolveAlert(db, open.id, `recovered: a ${c.effect > 0 ? 'change' : 'improvement'} of ${(c.effect * 100).toFixed(1)}% brought the series to ${(total.effect * 100).toFixed(1)}% of the alert's baseline`, c.detectedJobId, now);
    } else updateAlert(db, open.id, total, `against the alert's baseline ${open.baseline_median.toPrecision(4)}, to the level of its latest step — ${c.evidence}`, now);
  } else if ((c.effect > 0 || policy.alertOnImprovement) && activeMute(db, k.seriesKey, k.metric, now) === null) {
    alertId = openAlert(db, {
      seriesKey: k.seriesKey, metric: k.metric, branch: k.branch, kind: c.source === 'ab' ? 'ab' : 'change',
      effect: c.effect, ciLow: c.ciLow, ciHigh: c.ciHigh, baselineMedian: c.before, currentMedian: c.after, jobId: c.jobId, evidence: c.evidence,
    }, now);
  }
  const changeId = insertChange(db, k, c, alertId, now);
  const change = getChange(db, changeId)!;
  const series = stmt(db, `SELECT s.family, s.variant, d.name AS device_name FROM series s JOIN devices d ON d.id = s.device_id WHERE s.key = ?`)
    .get(k.seriesKey) as { family: string; variant: string; device_name: string };
  emitEvent(db, 'series.changed', { change, series: { key: k.seriesKey, ...series } }, { family: series.family, devices: [series.device_name], metric: k.metric }, now);
  return { changeId, alertId };
}

interface ChangeRow {
  id: string; series_key: string; metric: string; branch: string; job_id: string; detected_job_id: string; source: 'history' | 'ab';
  direction: 'regression' | 'improvement'; before_value: number; after_value: number; effect: number; ci_low: number | null; ci_high: number | null;
  z: number; results: number; alert_id: string | null; detected_at: number; evidence: string | null;
}

const toChangeView = (r: ChangeRow): SeriesChangeView => ({
  id: r.id, series_key: r.series_key, metric: r.metric, branch: r.branch, job_id: r.job_id, detected_job_id: r.detected_job_id, source: r.source,
  direction: r.direction, before: r.before_value, after: r.after_value, effect: r.effect, ci_low: r.ci_low, ci_high: r.ci_high, z: r.z,
  results: r.results, alert_id: r.alert_id, detected_at: new Date(r.detected_at).toISOString(), evidence: r.evidence,
});

export function getChange(db: Db, id: string): SeriesChangeView | null {
  const row = stmt(db, 'SELECT * FROM series_changes WHERE id = ?').get(id) as ChangeRow | undefined;
  return row ? toChangeView(row) : null;
}

export function listChanges(db: Db, k: WatchKey): SeriesChangeView[] {
  return (stmt(db, 'SELECT * FROM series_changes WHERE series_key = ? AND metric = ? AND branch = ? ORDER BY detected_at, rowid')
    .all(k.seriesKey, k.metric, k.branch) as ChangeRow[]).map(toChangeView);
}

export interface RebuildResult { metric: string; branch: string; results: number; changes: number }

/** Rebuilds every watch of a series from its stored history (`series analyze`): changes re-derived, alerts untouched. */
export function rebuildSeries(db: Db, seriesKey: string, now: number): RebuildResult[] {
  return db.transaction(() => {
    const groups = stmt(db,
      `SELECT DISTINCT m.metric, ${RESULT_BRANCH_SQL} AS branch FROM measurements m JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id
       WHERE m.series_key = ? AND ${RESULT_BRANCH_SQL} = ${BASELINE_BRANCH_SQL}`,
    ).all(seriesKey) as { metric: string; branch: string }[];
    const out: RebuildResult[] = [];
    for (const { metric, branch } of groups) {
      const k = { seriesKey, metric, branch };
      const settings = detectorSettings(policyFor(db, metric));
      // Changes that opened an alert (or came from A/B tests) stay; the rest are derived again.
      const kept = new Set((stmt(db, `SELECT job_id FROM series_changes WHERE series_key = ? AND metric = ? AND branch = ? AND (alert_id IS NOT NULL OR source = 'ab')`)
        .all(seriesKey, metric, branch) as { job_id: string }[]).map((r) => r.job_id));
      stmt(db, `DELETE FROM series_changes WHERE series_key = ? AND metric = ? AND branch = ? AND source = 'history' AND alert_id IS NULL`).run(seriesKey, metric, branch);
      const state = replayHistory(db, k, settings, null, now);
      const twin = stmt(db, `DELETE FROM series_changes WHERE series_key = ? AND metric = ? AND branch = ? AND job_id = ? AND alert_id IS NULL AND source = 'history'`);
      for (const job of kept) twin.run(seriesKey, metric, branch, job);
      saveWatch(db, k, state, settings, null, null, now);
      const after = (stmt(db, 'SELECT COUNT(*) AS n FROM series_changes WHERE series_key = ? AND metric = ? AND branch = ?').get(seriesKey, metric, branch) as { n: number }).n;
      out.push({ metric, branch, results: state.count, changes: after });
    }
    stmt(db, 'UPDATE series SET analyzed_at = ? WHERE key = ?').run(now, seriesKey);
    return out;
  }).immediate();
}
