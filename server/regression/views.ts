// Read models for series: the list, and one metric's history with its changes (both directions),
// alerts, and what the detector knows of it now: noise, level, and the smallest change it can see.
import { BenchfleetError } from '../../protocol/errors.js';
import type { Db } from '../db/open.js';
import type { SeriesHistoryView, SeriesPoint, SeriesView, SeriesWatchView } from '../../protocol/alerts.js';
import type { Page } from '../../protocol/api.js';
import { pageOf } from '../http/paging.js';
import { BASELINE_BRANCH_SQL, metricDirection, RESULT_BRANCH_SQL } from './series-keys.js';
import { listChanges } from './watch.js';
import { detectableChange, type DetectorState } from './detector.js';
import { DEFAULT_POLICY, detectorSettings, policyFor } from './policy.js';
import { abRoundsFor } from './ab-stats.js';
import { AB_DEFAULTS, measuredPairNoise } from './ab.js';
import { listAlerts } from '../alerts/alerts.js';
import { stmt } from '../db/statements.js';

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
  const rows = stmt(db,
    `${SELECT} WHERE (@cursor IS NULL OR s.rowid > @cursor) AND (@family IS NULL OR s.family = @family)
       AND (@variant IS NULL OR s.variant = @variant) AND (@device IS NULL OR d.name = @device OR d.id = @device)
     ORDER BY s.rowid LIMIT @limit`,
  ).all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1, family: filter.family ?? null, variant: filter.variant ?? null, device: filter.device ?? null }) as SeriesRow[];
  return pageOf(rows, limit, toView);
}

/**
 * A series key from a key or a unique prefix of one. A full key is returned as it is (its
 * existence is the caller's question); a prefix that matches nothing is not_found, one that
 * matches several is a bad_request listing the candidates.
 */
export function resolveSeriesKey(db: Db, ref: string): string {
  if (ref.length === 32) return ref;
  const rows = stmt(db, `${SELECT} WHERE s.key LIKE ? ORDER BY s.rowid LIMIT 6`).all(`${ref}%`) as SeriesRow[];
  if (rows.length === 0) throw new BenchfleetError('not_found', `no series ${ref}`);
  if (rows.length > 1) {
    const candidates = rows.slice(0, 5).map((r) => `${r.key} (${r.family}:${r.variant} on ${r.device_name}, ${r.runtime})`).join(', ');
    throw new BenchfleetError('bad_request', `series prefix ${ref} is ambiguous: ${candidates}${rows.length > 5 ? ', …' : ''}; give more digits`);
  }
  return rows[0]!.key;
}

export function getSeries(db: Db, key: string): SeriesView | null {
  const row = stmt(db, `${SELECT} WHERE s.key = ?`).get(key) as SeriesRow | undefined;
  return row ? toView(row) : null;
}

/** One metric of a series on one branch (default: the baseline branch of its latest result), oldest first. */
export function seriesHistory(db: Db, key: string, metric: string, branch: string | undefined, limit: number, now: number): SeriesHistoryView | null {
  const series = getSeries(db, key);
  if (!series) return null;
  const chosen = branch ?? ((stmt(db,
    `SELECT ${BASELINE_BRANCH_SQL} AS b FROM measurements m JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id
     WHERE m.series_key = ? AND m.metric = ? ORDER BY m.created_at DESC LIMIT 1`,
  ).get(key, metric) as { b: string } | undefined)?.b ?? 'main');
  const rows = (stmt(db,
    `SELECT m.job_id, j.run_id, j.confirms_job_id, m.created_at, m.median, m.ci_low, m.ci_high, m.flags, m.unit, COALESCE(j.model_sha256, r.model_sha256) AS model_sha256,
       json_extract(r.git, '$.branch') AS branch, json_extract(r.git, '$.commit') AS git_commit, v.verdict
     FROM measurements m JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id
       LEFT JOIN verdicts v ON v.job_id = m.job_id AND v.metric = m.metric
     WHERE m.series_key = @key AND m.metric = @metric AND j.ab_test_id IS NULL
       AND ${RESULT_BRANCH_SQL} = @branch
     ORDER BY m.created_at DESC, m.rowid DESC LIMIT @limit`,
  ).all({ key, metric, branch: chosen, limit }) as {
    job_id: string; run_id: string; confirms_job_id: string | null; created_at: number; median: number; ci_low: number; ci_high: number; flags: string; unit: string;
    model_sha256: string; branch: string | null; git_commit: string | null; verdict: string | null;
  }[]).reverse();
  const points: SeriesPoint[] = rows.map((r) => ({
    job_id: r.job_id, run_id: r.run_id, at: new Date(r.created_at).toISOString(), branch: r.branch, commit: r.git_commit,
    model_sha256: r.model_sha256, median: r.median, ci_low: r.ci_low, ci_high: r.ci_high, flags: JSON.parse(r.flags) as string[], verdict: r.verdict,
    confirms_job_id: r.confirms_job_id,
  }));
  const alerts = listAlerts(db, 100, undefined, { series: key }, now).items.filter((a) => a.metric === metric && a.branch === chosen);
  return {
    series, metric, unit: rows[0]?.unit ?? null, direction: metricDirection(metric), branch: chosen, points,
    changes: listChanges(db, { seriesKey: key, metric, branch: chosen }), watch: watchView(db, key, series.device_id, metric, chosen), alerts,
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;

/** What the detector knows of a series now, in figures and in one sentence. */
export function watchView(db: Db, key: string, deviceId: string, metric: string, branch: string): SeriesWatchView | null {
  const row = stmt(db, 'SELECT * FROM series_watch WHERE series_key = ? AND metric = ? AND branch = ?').get(key, metric, branch) as {
    state: string; results: number; level: number | null; level_results: number | null; noise: number | null; noise_long: number | null;
    outlier_rate: number | null; suspect_job_id: string | null;
  } | undefined;
  if (!row) return null;
  const policy = policyFor(db, metric);
  const settings = detectorSettings(policy);
  const state = JSON.parse(row.state) as DetectorState;
  const detectable = [1, 2, 5].map((m) => ({ results: m, effect: detectableChange(state, m, settings) }));
  const measured = measuredPairNoise(db, deviceId, metric);
  const pair = measured ?? (row.noise !== null ? Math.SQRT2 * row.noise : null);
  const budget = Math.max(AB_DEFAULTS.minRounds, policy.abRounds || DEFAULT_POLICY.abRounds);
  const opts = { minRounds: AB_DEFAULTS.minRounds, maxRounds: budget, alpha: AB_DEFAULTS.confirm.alpha, sides: 'up' as const, lookEvery: AB_DEFAULTS.confirm.lookEvery };
  const ab: { effect: number; rounds: number }[] = [];
  if (pair !== null) {
    for (const effect of [0.01, 0.02, 0.03, 0.05, 0.1, 0.2]) {
      const rounds = abRoundsFor(effect, pair, opts);
      if (rounds !== null) { ab.push({ effect, rounds }); if (ab.length >= 2) break; }
    }
  }
  let summary: string;
  if (row.noise === null) summary = `${row.results} results: too few to know this series' noise yet`;
  else {
    const seen = detectable.filter((d) => d.effect !== null).map((d) => `${pct(d.effect!)} within ${d.results} result${d.results === 1 ? '' : 's'}`);
    summary = `noise ${pct(row.noise)} per result${row.noise_long !== null && row.noise_long > row.noise * 1.1 ? ` (${pct(row.noise_long)} with slow drift)` : ''}; ` +
      `detectable: ${seen.join(', ')}` +
      (ab.length > 0 ? `; ${pct(ab[0]!.effect)} with an A/B confirmation of ${ab[0]!.rounds} rounds${measured === null ? ' (assuming all noise is independent per job: the first A/B test on this device measures it)' : ''}`
        : policy.abRounds > 0 ? `; an A/B confirmation of ${budget} rounds finds only changes beyond 20% here` : '');
  }
  return {
    results: row.results, level: row.level, level_results: row.level_results ?? 0, noise: row.noise, noise_long: row.noise_long,
    outlier_rate: row.outlier_rate, detectable, ab_detectable: ab, ab_noise: pair, ab_noise_measured: measured !== null,
    suspect_job_id: row.suspect_job_id, alarm_z: settings.zAlarm, summary,
  };
}
