// Read models for the API: rows joined and shaped into the protocol's view types.
import type { Db } from '../db/open.js';
import type {
  AbTestView, AgentView, DeviceView, JobView, MeasurementSummary, Page, RunHeadline, RunView, SamplesView, VerdictView,
} from '../../protocol/api.js';
import type { DeviceHealth, DeviceState, GitMeta, JobStatus, RunSettings, RunStatus } from '../../protocol/domain.js';
import type { JobErrorCode } from '../../protocol/errors.js';
import { pageOf } from '../http/paging.js';
import { decodeSamples } from '../stats/summary.js';
import { abTestsOfRun } from '../regression/ab.js';
import type { ModelStore } from '../models/store.js';
import { FIDELITY_METRICS, fidelityFlags, type FidelitySummary } from '../../protocol/fidelity.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const DEVICE_SELECT = `
  SELECT d.rowid AS _rowid, d.*, a.name AS agent_name, a.online AS agent_online,
    (SELECT j.id FROM jobs j WHERE j.device_id = d.id AND j.status IN ('assigned', 'running')) AS current_job_id
  FROM devices d JOIN agents a ON a.id = d.agent_id`;

interface DeviceRow {
  _rowid: number; id: string; agent_id: string; agent_name: string; agent_online: number; serial: string; name: string; driver: string;
  labels: string; runtimes: string; present: number; health: DeviceHealth; health_reason: string | null;
  consecutive_failures: number; last_seen_at: number | null; current_job_id: string | null;
}

function deviceState(row: DeviceRow): DeviceState {
  if (row.present === 0 || row.agent_online === 0) return 'offline';
  return row.current_job_id ? 'busy' : 'idle';
}

function toDeviceView(row: DeviceRow): DeviceView {
  return {
    id: row.id, name: row.name, agent_id: row.agent_id, agent_name: row.agent_name, driver: row.driver, serial: row.serial,
    labels: JSON.parse(row.labels) as Record<string, string>, runtimes: JSON.parse(row.runtimes) as string[],
    state: deviceState(row), health: row.health, health_reason: row.health_reason, consecutive_failures: row.consecutive_failures,
    current_job_id: row.current_job_id, last_seen_at: iso(row.last_seen_at),
  };
}

export function listDevices(db: Db, limit: number, cursor?: string): Page<DeviceView> {
  const rows = db.prepare(`${DEVICE_SELECT} WHERE (@cursor IS NULL OR d.rowid > @cursor) ORDER BY d.rowid LIMIT @limit`)
    .all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1 }) as DeviceRow[];
  return pageOf(rows, limit, toDeviceView);
}

export function allDevices(db: Db): DeviceView[] {
  return (db.prepare(`${DEVICE_SELECT} ORDER BY d.rowid`).all() as DeviceRow[]).map(toDeviceView);
}

export function getDevice(db: Db, idOrName: string): DeviceView | null {
  const row = db.prepare(`${DEVICE_SELECT} WHERE d.id = ? OR d.name = ?`).get(idOrName, idOrName) as DeviceRow | undefined;
  return row ? toDeviceView(row) : null;
}

interface AgentRow { _rowid: number; id: string; name: string; hostname: string | null; version: string | null; online: number; revoked_at: number | null; last_seen_at: number | null; device_count: number }

const toAgentView = (r: AgentRow): AgentView => ({
  id: r.id, name: r.name, hostname: r.hostname, version: r.version, online: r.online === 1, revoked: r.revoked_at !== null,
  last_seen_at: iso(r.last_seen_at), device_count: r.device_count,
});

const AGENT_SELECT = `SELECT a.rowid AS _rowid, a.*, (SELECT COUNT(*) FROM devices d WHERE d.agent_id = a.id) AS device_count FROM agents a`;

export function listAgents(db: Db, limit: number, cursor?: string): Page<AgentView> {
  const rows = db.prepare(`${AGENT_SELECT} WHERE (@cursor IS NULL OR a.rowid > @cursor) ORDER BY a.rowid LIMIT @limit`)
    .all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1 }) as AgentRow[];
  return pageOf(rows, limit, toAgentView);
}

export function getAgent(db: Db, idOrName: string): AgentView | null {
  const row = db.prepare(`${AGENT_SELECT} WHERE a.id = ? OR a.name = ?`).get(idOrName, idOrName) as AgentRow | undefined;
  return row ? toAgentView(row) : null;
}

interface RunRow {
  _rowid: number; id: string; model_sha256: string; runtime: string; device_selector: string; settings: string; git: string;
  status: RunStatus; created_at: number; finished_at: number | null;
}

function jobCounts(db: Db, runId: string): Partial<Record<JobStatus, number>> {
  const rows = db.prepare('SELECT status, COUNT(*) AS n FROM jobs WHERE run_id = ? GROUP BY status').all(runId) as { status: JobStatus; n: number }[];
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

function toRunView(db: Db, models: ModelStore, row: RunRow): RunView {
  return {
    id: row.id, model: models.get(row.model_sha256)!, runtime: row.runtime, device_selector: row.device_selector,
    settings: JSON.parse(row.settings) as RunSettings, git: JSON.parse(row.git) as GitMeta, status: row.status,
    created_at: iso(row.created_at)!, finished_at: iso(row.finished_at), job_counts: jobCounts(db, row.id), headline: headlineOf(db, row.id),
  };
}

/** Per device of a run: the latency median and the verdict that matters most; or the gate A/B test's outcome. */
function headlineOf(db: Db, runId: string): RunHeadline[] {
  const jobs = db.prepare(
    `SELECT j.id, d.name AS device_name, j.status, j.error_code, me.median, me.unit, COALESCE(j.model_sha256, r.model_sha256) AS sha
     FROM jobs j JOIN devices d ON d.id = j.device_id JOIN runs r ON r.id = j.run_id
       LEFT JOIN measurements me ON me.job_id = j.id AND me.metric = 'latency_ms'
     WHERE j.run_id = ? AND j.confirms_job_id IS NULL AND j.ab_test_id IS NULL ORDER BY d.name, j.created_at`,
  ).all(runId) as { id: string; device_name: string; status: JobStatus; error_code: string | null; median: number | null; unit: string | null; sha: string }[];
  const verdicts = db.prepare(`SELECT metric, verdict, effect, confirmation FROM verdicts WHERE job_id = ?`);
  const fidelity = db.prepare(`SELECT metric, count, median, mean, max FROM measurements WHERE job_id = ? AND metric IN (?, ?, ?, ?)`);
  const rank = (v: { metric: string; verdict: string; confirmation: string }): number =>
    (v.verdict === 'regression' ? (v.confirmation === 'not_confirmed' ? 2 : 0) : 4) + (v.metric === 'latency_ms' ? 0 : 1);
  const out: RunHeadline[] = jobs.map((j) => {
    const vs = verdicts.all(j.id) as { metric: string; verdict: VerdictView['verdict']; effect: number | null; confirmation: VerdictView['confirmation'] }[];
    const v = vs.filter((x) => x.verdict === 'regression' || x.metric === 'latency_ms').sort((a, b) => rank(a) - rank(b))[0];
    const ms = fidelity.all(j.id, FIDELITY_METRICS.cosine, FIDELITY_METRICS.top1, FIDELITY_METRICS.maxAbsError, FIDELITY_METRICS.accuracy) as MeasurementSummary[];
    const flagged = ms.length > 0 && (fidelityOf(db, j.sha, ms)?.flags.length ?? 0) > 0;
    return {
      device_name: j.device_name, job_id: j.id, status: j.status, error_code: j.error_code, median: j.median, unit: j.unit,
      metric: v?.metric ?? null, verdict: v?.verdict ?? null, effect: v?.effect ?? null, confirmation: v?.confirmation ?? null, ab_status: null, fidelity_flagged: flagged,
    };
  });
  for (const t of db.prepare(`SELECT t.status, t.effect, t.metric, d.name AS device_name FROM ab_tests t JOIN devices d ON d.id = t.device_id
                              WHERE t.run_id = ? AND t.purpose = 'gate' ORDER BY d.name, t.metric`).all(runId) as { status: AbTestView['status']; effect: number | null; metric: string; device_name: string }[]) {
    out.push({
      device_name: t.device_name, job_id: null, status: t.status === 'running' ? 'running' : 'succeeded', error_code: null, median: null, unit: null, metric: t.metric,
      verdict: t.status === 'changed' ? ((t.effect ?? 0) > 0 ? 'regression' : 'improvement') : t.status === 'no_change' ? 'pass' : null,
      effect: t.effect, confirmation: t.status === 'changed' ? 'confirmed' : null, ab_status: t.status, fidelity_flagged: false,
    });
  }
  return out;
}


export function listRuns(db: Db, models: ModelStore, limit: number, cursor?: string, filter: { status?: string | undefined; family?: string | undefined } = {}): Page<RunView> {
  const rows = db.prepare(
    `SELECT r.rowid AS _rowid, r.* FROM runs r JOIN models m ON m.sha256 = r.model_sha256
     WHERE (@cursor IS NULL OR r.rowid < @cursor) AND (@status IS NULL OR r.status = @status) AND (@family IS NULL OR m.family = @family)
     ORDER BY r.rowid DESC LIMIT @limit`,
  ).all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1, status: filter.status ?? null, family: filter.family ?? null }) as RunRow[];
  return pageOf(rows, limit, (r) => toRunView(db, models, r));
}

export function getRun(db: Db, models: ModelStore, id: string): RunView | null {
  const row = db.prepare('SELECT rowid AS _rowid, * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
  if (!row) return null;
  const jobs = (db.prepare(`${JOB_SELECT} WHERE j.run_id = ? ORDER BY d.name, j.created_at, j.rowid`).all(id) as JobRow[]).map((j) => toJobView(db, j));
  return { ...toRunView(db, models, row), jobs, ab_tests: abTestsOfRun(db, id) };
}

const JOB_SELECT = `SELECT j.*, d.name AS device_name, (SELECT series_key FROM measurements m WHERE m.job_id = j.id LIMIT 1) AS series_key,
    (SELECT model_sha256 FROM runs r WHERE r.id = j.run_id) AS run_model_sha256
  FROM jobs j JOIN devices d ON d.id = j.device_id`;

interface JobRow {
  id: string; run_id: string; device_id: string; device_name: string; status: JobStatus; attempt: number; max_attempts: number;
  error_code: string | null; error_message: string | null; progress: string | null; environment: string | null; operators: string | null;
  confirms_job_id: string | null; series_key: string | null; ab_test_id: string | null; ab_round: number | null; ab_arm: 'A' | 'B' | null;
  model_sha256: string | null; run_model_sha256: string;
  created_at: number; started_at: number | null; finished_at: number | null;
}

function toJobView(db: Db, row: JobRow): JobView {
  const measurements = (db.prepare(
    `SELECT metric, unit, count, median, p90, p99, mean, stddev, min, max, ci_low, ci_high, mean_ci_half, outliers, flags
     FROM measurements WHERE job_id = ? ORDER BY metric`,
  ).all(row.id) as (Omit<MeasurementSummary, 'flags'> & { flags: string })[]).map((m) => ({ ...m, flags: JSON.parse(m.flags) as string[] }));
  return {
    id: row.id, run_id: row.run_id, device_id: row.device_id, device_name: row.device_name, status: row.status,
    attempt: row.attempt, max_attempts: row.max_attempts,
    error: row.error_code ? { code: row.error_code as JobErrorCode, message: row.error_message ?? '' } : null,
    progress: row.progress ? (JSON.parse(row.progress) as JobView['progress']) : null,
    environment: row.environment ? (JSON.parse(row.environment) as Record<string, unknown>) : null,
    operators: row.operators ? (JSON.parse(row.operators) as JobView['operators']) : null,
    verdicts: db.prepare(
      `SELECT metric, verdict, p_value, effect, ci_low, ci_high, baseline_median, candidate_median, baseline_results, baseline_branch,
         confirmation, confirmed_by, z, noise, detectable, hint, evidence
       FROM verdicts WHERE job_id = ? ORDER BY metric`,
    ).all(row.id) as VerdictView[],
    confirms_job_id: row.confirms_job_id,
    ab: row.ab_test_id && row.ab_round !== null && row.ab_arm
      ? { test_id: row.ab_test_id, round: row.ab_round, arm: row.ab_arm, model_sha256: row.model_sha256 ?? row.run_model_sha256 } : null,
    series_key: row.series_key,
    fidelity: fidelityOf(db, row.model_sha256 ?? row.run_model_sha256, measurements),
    created_at: iso(row.created_at)!, started_at: iso(row.started_at), finished_at: iso(row.finished_at), measurements,
  };
}

/** A job's fidelity measurements summarised and judged against its family's thresholds. */
function fidelityOf(db: Db, sha: string, ms: MeasurementSummary[]): FidelitySummary | null {
  const m = (name: string) => ms.find((x) => x.metric === name);
  const cos = m(FIDELITY_METRICS.cosine);
  const top1 = m(FIDELITY_METRICS.top1);
  const err = m(FIDELITY_METRICS.maxAbsError);
  const acc = m(FIDELITY_METRICS.accuracy);
  if (!cos && !top1 && !err && !acc) return null;
  const family = db.prepare('SELECT f.reference_variant, f.min_cosine, f.min_top1 FROM families f JOIN models m ON m.family = f.name WHERE m.sha256 = ?')
    .get(sha) as { reference_variant: string; min_cosine: number; min_top1: number } | undefined;
  const cosine = cos?.median ?? null;
  const agreement = top1?.mean ?? null;
  return {
    cosine, top1: agreement, max_abs_error: err?.max ?? null, accuracy: acc?.mean ?? null, samples: (cos ?? top1 ?? err ?? acc)!.count,
    reference_variant: family?.reference_variant ?? null, min_cosine: family?.min_cosine ?? null, min_top1: family?.min_top1 ?? null,
    flags: family ? fidelityFlags(cosine, agreement, family) : [],
  };
}

export function getJob(db: Db, id: string): JobView | null {
  const row = db.prepare(`${JOB_SELECT} WHERE j.id = ?`).get(id) as JobRow | undefined;
  return row ? toJobView(db, row) : null;
}

export function getSamples(db: Db, jobId: string, metric: string): SamplesView | null {
  const row = db.prepare(
    `SELECT s.data, m.unit FROM samples s JOIN measurements m ON m.job_id = s.job_id AND m.metric = s.metric WHERE s.job_id = ? AND s.metric = ?`,
  ).get(jobId, metric) as { data: Buffer; unit: string } | undefined;
  return row ? { job_id: jobId, metric, unit: row.unit, samples: decodeSamples(row.data) } : null;
}
