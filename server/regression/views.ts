// Read models for series: the list, and one metric's history with its change points and alerts.
import type { Db } from '../db/open.js';
import type { ChangePointView, SeriesHistoryView, SeriesPoint, SeriesView } from '../../protocol/alerts.js';
import type { Page } from '../../protocol/api.js';
import { pageOf } from '../http/paging.js';
import { BASELINE_BRANCH_SQL, metricDirection, RESULT_BRANCH_SQL } from './series.js';
import { listAlerts } from '../alerts/alerts.js';

interface SeriesRow {
  _rowid: number; key: string; family: string; variant: string; device_id: string; device_name: string; runtime: string;
  settings: string; last_result_at: number; metrics: string | null; open_alerts: number;
}

const SELECT = `SELECT s.rowid AS _rowid, s.*, d.name AS device_name,
    (SELECT group_concat(metric) FROM (SELECT DISTINCT metric FROM measurements m WHERE m.series_key = s.key ORDER BY metric)) AS metrics,
    (SELECT COUNT(*) FROM alerts a WHERE a.series_key = s.key AND a.status != 'resolved') AS open_alerts
  FROM series s JOIN devices d ON d.id = s.device_id`;

const toView = (r: SeriesRow): SeriesView => ({
  key: r.key, family: r.family, variant: r.variant, device_id: r.device_id, device_name: r.device_name, runtime: r.runtime,
  settings: JSON.parse(r.settings) as Record<string, unknown>, metrics: r.metrics ? r.metrics.split(',') : [],
  last_result_at: new Date(r.last_result_at).toISOString(), open_alerts: r.open_alerts,
});

export function listSeries(db: Db, limit: number, cursor: string | undefined, filter: { family?: string | undefined; variant?: string | undefined; device?: string | undefined }): Page<SeriesView> {
  const rows = db.prepare(
    `${SELECT} WHERE (@cursor IS NULL OR s.rowid > @cursor) AND (@family IS NULL OR s.family = @family)
       AND (@variant IS NULL OR s.variant = @variant) AND (@device IS NULL OR d.name = @device OR d.id = @device)
     ORDER BY s.rowid LIMIT @limit`,
  ).all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1, family: filter.family ?? null, variant: filter.variant ?? null, device: filter.device ?? null }) as SeriesRow[];
  return pageOf(rows, limit, toView);
}

export function getSeries(db: Db, key: string): SeriesView | null {
  const row = db.prepare(`${SELECT} WHERE s.key = ?`).get(key) as SeriesRow | undefined;
  return row ? toView(row) : null;
}

/** One metric of a series on one branch (default: the baseline branch of its latest result), oldest first. */
export function seriesHistory(db: Db, key: string, metric: string, branch: string | undefined, limit: number, now: number): SeriesHistoryView | null {
  const series = getSeries(db, key);
  if (!series) return null;
  const chosen = branch ?? ((db.prepare(
    `SELECT ${BASELINE_BRANCH_SQL} AS b FROM measurements m JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id
     WHERE m.series_key = ? AND m.metric = ? ORDER BY m.created_at DESC LIMIT 1`,
  ).get(key, metric) as { b: string } | undefined)?.b ?? 'main');
  const rows = (db.prepare(
    `SELECT m.job_id, j.run_id, m.created_at, m.median, m.ci_low, m.ci_high, m.flags, m.unit, r.model_sha256,
       json_extract(r.git, '$.branch') AS branch, json_extract(r.git, '$.commit') AS git_commit, v.verdict
     FROM measurements m JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id
       LEFT JOIN verdicts v ON v.job_id = m.job_id AND v.metric = m.metric
     WHERE m.series_key = @key AND m.metric = @metric
       AND ${RESULT_BRANCH_SQL} = @branch
     ORDER BY m.created_at DESC, m.rowid DESC LIMIT @limit`,
  ).all({ key, metric, branch: chosen, limit }) as {
    job_id: string; run_id: string; created_at: number; median: number; ci_low: number; ci_high: number; flags: string; unit: string;
    model_sha256: string; branch: string | null; git_commit: string | null; verdict: string | null;
  }[]).reverse();
  const points: SeriesPoint[] = rows.map((r) => ({
    job_id: r.job_id, run_id: r.run_id, at: new Date(r.created_at).toISOString(), branch: r.branch, commit: r.git_commit,
    model_sha256: r.model_sha256, median: r.median, ci_low: r.ci_low, ci_high: r.ci_high, flags: JSON.parse(r.flags) as string[], verdict: r.verdict,
  }));
  const changePoints = (db.prepare(
    `SELECT job_id, branch, position, p_value, before_median, after_median, effect, detected_at FROM change_points
     WHERE series_key = ? AND metric = ? AND branch = ? ORDER BY position`,
  ).all(key, metric, chosen) as (Omit<ChangePointView, 'detected_at'> & { detected_at: number })[])
    .map((c) => ({ ...c, detected_at: new Date(c.detected_at).toISOString() }));
  const alerts = listAlerts(db, 100, undefined, { series: key }, now).items.filter((a) => a.metric === metric && a.branch === chosen);
  return {
    series, metric, unit: rows[0]?.unit ?? null, direction: metricDirection(metric), branch: chosen, points, change_points: changePoints, alerts,
  };
}
