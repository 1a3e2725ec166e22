// Alerts: open → acknowledged → resolved. One unresolved alert per series, metric and branch
// (a partial unique index). Opened by a change the detector found on the baseline branch (or an
// A/B confirmation), unless the series is muted; a further change while it is open updates it
// (`alert.updated`: the level now, the total change, one more step); it resolves by hand, or when
// a later change — evidence, never one lucky result — brings the series back within the minimum
// effect of the alert's baseline. Every transition queues its webhook in the same transaction.
import type { Db } from '../db/open.js';
import type { AlertSeverity, AlertView, MuteView } from '../../protocol/alerts.js';
import type { Page } from '../../protocol/api.js';
import { BenchfleetError } from '../../protocol/errors.js';
import type { ChangeEstimate } from '../../protocol/change.js';
import { randomId } from '../ids.js';
import { pageOf } from '../http/paging.js';
import { emitEvent } from '../webhooks/events.js';
import { stmt } from '../db/statements.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Severity from the size of the effect: under 10% low, under 25% medium, else high. */
export function severityOf(effect: number): AlertSeverity {
  const e = Math.abs(effect);
  return e < 0.10 ? 'low' : e < 0.25 ? 'medium' : 'high';
}

export interface OpenAlertInput {
  seriesKey: string; metric: string; branch: string; kind: 'change' | 'ab';
  /** The change and its interval (one changeFromLevels / changeFromRatio), and what it rests on. */
  effect: number; ciLow: number | null; ciHigh: number | null; baselineMedian: number; currentMedian: number; jobId: string; evidence: string;
}

export function activeMute(db: Db, seriesKey: string, metric: string, now: number): number | null {
  const row = stmt(db, `SELECT MAX(until) AS until FROM mutes WHERE series_key = ? AND metric IN (?, '*') AND until > ?`)
    .get(seriesKey, metric, now) as { until: number | null };
  return row.until;
}

/** Opens an alert unless one is already unresolved for the series, metric and branch, or the series is muted. */
export function openAlert(db: Db, input: OpenAlertInput, now: number): string | null {
  if (activeMute(db, input.seriesKey, input.metric, now) !== null) return null;
  const existing = stmt(db, `SELECT id FROM alerts WHERE series_key = ? AND metric = ? AND branch = ? AND status != 'resolved'`)
    .get(input.seriesKey, input.metric, input.branch) as { id: string } | undefined;
  if (existing) return null;
  const commit = (stmt(db, `SELECT json_extract(r.git, '$.commit') AS c FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = ?`)
    .get(input.jobId) as { c: string | null } | undefined)?.c ?? null;
  const id = randomId('alr');
  stmt(db,
    `INSERT INTO alerts (id, series_key, metric, branch, kind, status, severity, effect, ci_low, ci_high, baseline_median, current_median, job_id, commit_sha,
       opened_at, updated_at, evidence)
     VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(id, input.seriesKey, input.metric, input.branch, input.kind, severityOf(input.effect), input.effect, input.ciLow, input.ciHigh,
    input.baselineMedian, input.currentMedian, input.jobId, commit, now, now, input.evidence);
  const view = getAlert(db, id, now)!;
  emitEvent(db, 'alert.opened', { alert: view }, { family: view.family, devices: [view.device_name], metric: view.metric }, now);
  return id;
}

export function resolveAlert(db: Db, id: string, reason: string, jobId: string | null, now: number): boolean {
  const changed = stmt(db, `UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_reason = ?, resolved_job_id = ?, updated_at = ?
                              WHERE id = ? AND status != 'resolved'`).run(now, reason, jobId, now, id).changes > 0;
  if (changed) {
    const view = getAlert(db, id, now)!;
    emitEvent(db, 'alert.resolved', { alert: view }, { family: view.family, devices: [view.device_name], metric: view.metric }, now);
  }
  return changed;
}

export function acknowledgeAlert(db: Db, id: string, by: string, now: number): AlertView {
  const alert = getAlert(db, id, now);
  if (!alert) throw new BenchfleetError('not_found', `no alert ${id}`);
  if (alert.status === 'resolved') throw new BenchfleetError('conflict', `alert ${id} is already resolved`);
  stmt(db, `UPDATE alerts SET status = 'acknowledged', acknowledged_at = COALESCE(acknowledged_at, ?), acknowledged_by = COALESCE(acknowledged_by, ?)
              WHERE id = ? AND status = 'open'`).run(now, by, id);
  return getAlert(db, id, now)!;
}

/** The unresolved alert of a series, metric and branch, if any. */
export function unresolvedAlert(db: Db, seriesKey: string, metric: string, branch: string): { id: string; baseline_median: number } | undefined {
  return stmt(db, `SELECT id, baseline_median FROM alerts WHERE series_key = ? AND metric = ? AND branch = ? AND status != 'resolved'`)
    .get(seriesKey, metric, branch) as { id: string; baseline_median: number } | undefined;
}

/** A further change while an alert is open: the level now, the total change against its baseline, one more step. */
export function updateAlert(db: Db, id: string, total: ChangeEstimate, evidence: string, now: number): void {
  stmt(db, `UPDATE alerts SET effect = ?, ci_low = ?, ci_high = ?, current_median = ?, severity = ?, steps = steps + 1, updated_at = ?, evidence = ?
              WHERE id = ? AND status != 'resolved'`)
    .run(total.effect, total.ci_low, total.ci_high, total.after, severityOf(total.effect), now, evidence, id);
  const view = getAlert(db, id, now)!;
  emitEvent(db, 'alert.updated', { alert: view }, { family: view.family, devices: [view.device_name], metric: view.metric }, now);
}

const ALERT_SELECT = `
  SELECT a.rowid AS _rowid, a.*, s.family, s.variant, d.name AS device_name, j.run_id,
    (SELECT MAX(until) FROM mutes mu WHERE mu.series_key = a.series_key AND mu.metric IN (a.metric, '*') AND mu.until > @now) AS muted_until
  FROM alerts a JOIN series s ON s.key = a.series_key JOIN devices d ON d.id = s.device_id JOIN jobs j ON j.id = a.job_id`;

interface AlertRow {
  _rowid: number; id: string; series_key: string; metric: string; branch: string; kind: AlertView['kind']; steps: number; updated_at: number;
  status: AlertView['status']; severity: AlertSeverity; effect: number; ci_low: number | null; ci_high: number | null; evidence: string | null;
  baseline_median: number; current_median: number;
  job_id: string; run_id: string; commit_sha: string | null; opened_at: number; acknowledged_at: number | null;
  acknowledged_by: string | null; resolved_at: number | null; resolved_reason: string | null;
  family: string; variant: string; device_name: string; muted_until: number | null;
}

function toAlertView(r: AlertRow): AlertView {
  return {
    id: r.id, series_key: r.series_key, family: r.family, variant: r.variant, device_name: r.device_name, metric: r.metric,
    branch: r.branch, kind: r.kind, status: r.status, severity: r.severity, effect: r.effect, ci_low: r.ci_low, ci_high: r.ci_high, evidence: r.evidence,
    baseline_median: r.baseline_median,
    current_median: r.current_median, job_id: r.job_id, run_id: r.run_id, commit: r.commit_sha, opened_at: iso(r.opened_at)!,
    acknowledged_at: iso(r.acknowledged_at), acknowledged_by: r.acknowledged_by, resolved_at: iso(r.resolved_at),
    resolved_reason: r.resolved_reason, muted_until: iso(r.muted_until), steps: r.steps, updated_at: iso(r.updated_at)!,
  };
}

export function getAlert(db: Db, id: string, now: number): AlertView | null {
  const row = stmt(db, `${ALERT_SELECT} WHERE a.id = @id`).get({ id, now }) as AlertRow | undefined;
  return row ? toAlertView(row) : null;
}

export interface AlertFilter { status?: string | undefined; family?: string | undefined; device?: string | undefined; series?: string | undefined }

/** Newest first. */
export function listAlerts(db: Db, limit: number, cursor: string | undefined, filter: AlertFilter, now: number): Page<AlertView> {
  const rows = stmt(db,
    `${ALERT_SELECT} WHERE (@cursor IS NULL OR a.rowid < @cursor)
       AND (@status IS NULL OR a.status = @status OR (@status = 'unresolved' AND a.status != 'resolved'))
       AND (@family IS NULL OR s.family = @family) AND (@device IS NULL OR d.name = @device OR d.id = @device)
       AND (@series IS NULL OR a.series_key = @series)
     ORDER BY a.rowid DESC LIMIT @limit`,
  ).all({
    cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1, now,
    status: filter.status ?? null, family: filter.family ?? null, device: filter.device ?? null, series: filter.series ?? null,
  }) as AlertRow[];
  return pageOf(rows, limit, toAlertView);
}

export function muteSeries(db: Db, seriesKey: string, metric: string, until: number, reason: string | null, by: string | null, now: number): MuteView {
  if (!stmt(db, 'SELECT 1 FROM series WHERE key = ?').get(seriesKey)) throw new BenchfleetError('not_found', `no series ${seriesKey}`);
  stmt(db, `INSERT INTO mutes (series_key, metric, until, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)
              ON CONFLICT (series_key, metric) DO UPDATE SET until = excluded.until, reason = excluded.reason,
                created_by = excluded.created_by, created_at = excluded.created_at`).run(seriesKey, metric, until, reason, by, now);
  return { series_key: seriesKey, metric, until: iso(until)!, reason, created_by: by };
}

export function unmuteSeries(db: Db, seriesKey: string, metric: string): boolean {
  return stmt(db, 'DELETE FROM mutes WHERE series_key = ? AND metric = ?').run(seriesKey, metric).changes > 0;
}

export function listMutes(db: Db, now: number): MuteView[] {
  return (stmt(db, 'SELECT * FROM mutes WHERE until > ? ORDER BY until').all(now) as
    { series_key: string; metric: string; until: number; reason: string | null; created_by: string | null }[])
    .map((m) => ({ series_key: m.series_key, metric: m.metric, until: iso(m.until)!, reason: m.reason, created_by: m.created_by }));
}
