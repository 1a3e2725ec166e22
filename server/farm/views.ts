// Read models for the API: rows joined and shaped into the protocol's view types.
import type { Db } from '../db/open.js';
import type { Statement } from 'better-sqlite3';
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
import { stmt } from '../db/statements.js';

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
  const rows = stmt(db, `${DEVICE_SELECT} WHERE (@cursor IS NULL OR d.rowid > @cursor) ORDER BY d.rowid LIMIT @limit`)
    .all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1 }) as DeviceRow[];
  return pageOf(rows, limit, toDeviceView);
}

export function allDevices(db: Db): DeviceView[] {
  return (stmt(db, `${DEVICE_SELECT} ORDER BY d.rowid`).all() as DeviceRow[]).map(toDeviceView);
}

export function getDevice(db: Db, idOrName: string): DeviceView | null {
  const row = stmt(db, `${DEVICE_SELECT} WHERE d.id = ? OR d.name = ?`).get(idOrName, idOrName) as DeviceRow | undefined;
  return row ? toDeviceView(row) : null;
}

interface AgentRow { _rowid: number; id: string; name: string; hostname: string | null; version: string | null; online: number; revoked_at: number | null; last_seen_at: number | null; device_count: number }

const toAgentView = (r: AgentRow): AgentView => ({
  id: r.id, name: r.name, hostname: r.hostname, version: r.version, online: r.online === 1, revoked: r.revoked_at !== null,
  last_seen_at: iso(r.last_seen_at), device_count: r.device_count,
});

const AGENT_SELECT = `SELECT a.rowid AS _rowid, a.*, (SELECT COUNT(*) FROM devices d WHERE d.agent_id = a.id) AS device_count FROM agents a`;

export function listAgents(db: Db, limit: number, cursor?: string): Page<AgentView> {
  const rows = stmt(db, `${AGENT_SELECT} WHERE (@cursor IS NULL OR a.rowid > @cursor) ORDER BY a.rowid LIMIT @limit`)
    .all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1 }) as AgentRow[];
  return pageOf(rows, limit, toAgentView);
}

export function getAgent(db: Db, idOrName: string): AgentView | null {
  const row = stmt(db, `${AGENT_SELECT} WHERE a.id = ? OR a.name = ?`).get(idOrName, idOrName) as AgentRow | undefined;
  return row ? toAgentView(row) : null;
}

interface RunRow {
  _rowid: number; id: string; model_sha256: string; runtime: string; device_selector: string; settings: string; git: string;
  status: RunStatus; created_at: number; finished_at: number | null;
}

function jobCounts(db: Db, runId: string): Partial<Record<JobStatus, number>> {
  const rows = stmt(db, 'SELECT status, COUNT(*) AS n FROM jobs WHERE run_id = ? GROUP BY status').all(runId) as { status: JobStatus; n: number }[];
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

function toRunView(db: Db, models: ModelStore, row: RunRow, jobs?: JobView[]): RunView {
  return {
    id: row.id, model: models.get(row.model_sha256)!, runtime: row.runtime, device_selector: row.device_selector,
    settings: JSON.parse(row.settings) as RunSettings, git: JSON.parse(row.git) as GitMeta, status: row.status,
    created_at: iso(row.created_at)!, finished_at: iso(row.finished_at), job_counts: jobCounts(db, row.id),
    headline: headlineOf(db, row.id, jobs ?? jobsOfRun(db, row.id, { fidelityOnly: true })),
  };
}

/** Per device of a run: the latency median and the verdict that matters most; or the gate A/B test's outcome. */
function headlineOf(db: Db, runId: string, jobs: JobView[]): RunHeadline[] {
  const rank = (v: { metric: string; verdict: string; confirmation: string }): number =>
    (v.verdict === 'regression' ? (v.confirmation === 'not_confirmed' ? 2 : 0) : 4) + (v.metric === 'latency_ms' ? 0 : 1);
  const out: RunHeadline[] = jobs.filter((j) => j.confirms_job_id === null && j.ab === null).map((j) => {
    const v = j.verdicts.filter((x) => x.verdict === 'regression' || x.metric === 'latency_ms').sort((a, b) => rank(a) - rank(b))[0];
    const latency = j.measurements.find((m) => m.metric === 'latency_ms');
    return {
      device_name: j.device_name, job_id: j.id, status: j.status, error_code: j.error?.code ?? null, median: latency?.median ?? null, unit: latency?.unit ?? null,
      metric: v?.metric ?? null, verdict: v?.verdict ?? null, effect: v?.effect ?? null, confirmation: v?.confirmation ?? null, ab_status: null,
      fidelity_flagged: (j.fidelity?.flags.length ?? 0) > 0,
    };
  });
  for (const t of stmt(db, `SELECT t.status, t.effect, t.metric, d.name AS device_name FROM ab_tests t JOIN devices d ON d.id = t.device_id
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
  const rows = stmt(db,
    `SELECT r.rowid AS _rowid, r.* FROM runs r JOIN models m ON m.sha256 = r.model_sha256
     WHERE (@cursor IS NULL OR r.rowid < @cursor) AND (@status IS NULL OR r.status = @status) AND (@family IS NULL OR m.family = @family)
     ORDER BY r.rowid DESC LIMIT @limit`,
  ).all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1, status: filter.status ?? null, family: filter.family ?? null }) as RunRow[];
  return pageOf(rows, limit, (r) => toRunView(db, models, r));
}

export function getRun(db: Db, models: ModelStore, id: string): RunView | null {
  const row = stmt(db, 'SELECT rowid AS _rowid, * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
  if (!row) return null;
  const jobs = jobsOfRun(db, id);
  return { ...toRunView(db, models, row, jobs), jobs, ab_tests: abTestsOfRun(db, id) };
}

const JOB_SELECT = `SELECT j.id, j.run_id, j.device_id, j.status, j.attempt, j.max_attempts, j.error_code, j.error_message, j.progress, j.environment,
    j.operators, j.confirms_job_id, j.ab_test_id, j.ab_round, j.ab_arm, j.model_sha256, j.created_at, j.started_at, j.finished_at, d.name AS device_name,
    r.model_sha256 AS run_model_sha256
  FROM jobs j JOIN devices d ON d.id = j.device_id JOIN runs r ON r.id = j.run_id`;

const MEASUREMENT_COLUMNS = `m.job_id, m.series_key, m.metric, m.unit, m.count, m.median, m.p90, m.p99, m.mean, m.stddev, m.min, m.max, m.ci_low, m.ci_high,
  m.mean_ci_half, m.outliers, m.flags`;
const VERDICT_COLUMNS = `v.job_id, v.metric, v.verdict, v.p_value, v.effect, v.ci_low, v.ci_high, v.baseline_median, v.candidate_median, v.baseline_results,
  v.baseline_branch, v.confirmation, v.confirmed_by, v.z, v.noise, v.detectable, v.hint, v.evidence`;

interface JobRow {
  id: string; run_id: string; device_id: string; device_name: string; status: JobStatus; attempt: number; max_attempts: number;
  error_code: string | null; error_message: string | null; progress: string | null; environment: string | null; operators: string | null;
  confirms_job_id: string | null; ab_test_id: string | null; ab_round: number | null; ab_arm: 'A' | 'B' | null;
  model_sha256: string | null; run_model_sha256: string;
  created_at: number; started_at: number | null; finished_at: number | null;
}
type MeasurementRow = Omit<MeasurementSummary, 'flags'> & { job_id: string; series_key: string | null; flags: string };
type VerdictRow = VerdictView & { job_id: string };

function groupBy<T extends { job_id: string }>(rows: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(r.job_id);
    if (list) list.push(r);
    else out.set(r.job_id, [r]);
  }
  return out;
}

/**
 * The jobs of a run with their measurements and verdicts, read in three queries whatever the
 * number of jobs (a run on a farm of 1,000 devices has 1,000). `fidelityOnly` skips the columns
 * a run's headline does not use (environment, operators).
 */
function jobsOfRun(db: Db, runId: string, opts: { fidelityOnly?: boolean } = {}): JobView[] {
  // Rows come as arrays (raw mode) and become objects here: better-sqlite3 builds a wide row object
  // several times slower than a JS literal of a fixed shape, and a run can have 1,000 jobs.
  const rows = (rawStmt(db, `${JOB_SELECT} WHERE j.run_id = ? ORDER BY d.name, j.created_at, j.rowid`).all(runId) as unknown[][]).map((r): JobRow => ({
    id: r[0] as string, run_id: r[1] as string, device_id: r[2] as string, status: r[3] as JobStatus, attempt: r[4] as number, max_attempts: r[5] as number,
    error_code: r[6] as string | null, error_message: r[7] as string | null, progress: r[8] as string | null, environment: r[9] as string | null,
    operators: r[10] as string | null, confirms_job_id: r[11] as string | null, ab_test_id: r[12] as string | null, ab_round: r[13] as number | null,
    ab_arm: r[14] as 'A' | 'B' | null, model_sha256: r[15] as string | null, created_at: r[16] as number, started_at: r[17] as number | null,
    finished_at: r[18] as number | null, device_name: r[19] as string, run_model_sha256: r[20] as string,
  }));
  const measurements = groupBy((rawStmt(db, `SELECT ${MEASUREMENT_COLUMNS} FROM measurements m JOIN jobs j ON j.id = m.job_id WHERE j.run_id = ? ORDER BY m.metric`)
    .all(runId) as unknown[][]).map((r): MeasurementRow => ({
    job_id: r[0] as string, series_key: r[1] as string | null, metric: r[2] as string, unit: r[3] as string, count: r[4] as number, median: r[5] as number,
    p90: r[6] as number, p99: r[7] as number, mean: r[8] as number, stddev: r[9] as number, min: r[10] as number, max: r[11] as number,
    ci_low: r[12] as number, ci_high: r[13] as number, mean_ci_half: r[14] as number, outliers: r[15] as number, flags: r[16] as string,
  })));
  const verdicts = groupBy((rawStmt(db, `SELECT ${VERDICT_COLUMNS} FROM verdicts v JOIN jobs j ON j.id = v.job_id WHERE j.run_id = ? ORDER BY v.metric`)
    .all(runId) as unknown[][]).map((r) => ({
    job_id: r[0] as string, metric: r[1] as string, verdict: r[2] as VerdictView['verdict'], p_value: r[3] as number | null, effect: r[4] as number | null,
    ci_low: r[5] as number | null, ci_high: r[6] as number | null, baseline_median: r[7] as number | null, candidate_median: r[8] as number | null,
    baseline_results: r[9] as number, baseline_branch: r[10] as string, confirmation: r[11] as VerdictView['confirmation'], confirmed_by: r[12] as VerdictView['confirmed_by'],
    z: r[13] as number | null, noise: r[14] as number | null, detectable: r[15] as number | null, hint: r[16] as string | null, evidence: r[17] as string | null,
  }) as VerdictRow));
  const families = new Map<string, FamilyThresholds | undefined>();
  const none: never[] = [];
  return rows.map((j) => {
    if (opts.fidelityOnly) { j.environment = null; j.operators = null; }
    return toJobView(db, j, measurements.get(j.id) ?? none, verdicts.get(j.id) ?? none, families);
  });
}

/** A cached statement in raw mode (rows as arrays); its SQL text is used nowhere else. */
function rawStmt(db: Db, text: string): Statement {
  return stmt(db, text).raw(true);
}

interface FamilyThresholds { reference_variant: string; min_cosine: number; min_top1: number }

function toJobView(db: Db, row: JobRow, measurementRows: MeasurementRow[], verdictRows: VerdictRow[], families: Map<string, FamilyThresholds | undefined>): JobView {
  // Objects built field by field: a run view builds thousands of them, and rest/spread copies cost several times more.
  const measurements = measurementRows.map((m): MeasurementSummary => ({
    metric: m.metric, unit: m.unit, count: m.count, median: m.median, p90: m.p90, p99: m.p99, mean: m.mean, stddev: m.stddev, min: m.min, max: m.max,
    ci_low: m.ci_low, ci_high: m.ci_high, mean_ci_half: m.mean_ci_half, outliers: m.outliers, flags: m.flags === '[]' ? [] : JSON.parse(m.flags) as string[],
  }));
  return {
    id: row.id, run_id: row.run_id, device_id: row.device_id, device_name: row.device_name, status: row.status,
    attempt: row.attempt, max_attempts: row.max_attempts,
    error: row.error_code ? { code: row.error_code as JobErrorCode, message: row.error_message ?? '' } : null,
    progress: row.progress ? (JSON.parse(row.progress) as JobView['progress']) : null,
    environment: row.environment ? (JSON.parse(row.environment) as Record<string, unknown>) : null,
    operators: row.operators ? (JSON.parse(row.operators) as JobView['operators']) : null,
    verdicts: verdictRows.map((v): VerdictView => ({
      metric: v.metric, verdict: v.verdict, p_value: v.p_value, effect: v.effect, ci_low: v.ci_low, ci_high: v.ci_high, baseline_median: v.baseline_median,
      candidate_median: v.candidate_median, baseline_results: v.baseline_results, baseline_branch: v.baseline_branch, confirmation: v.confirmation,
      confirmed_by: v.confirmed_by, z: v.z, noise: v.noise, detectable: v.detectable, hint: v.hint, evidence: v.evidence,
    })),
    confirms_job_id: row.confirms_job_id,
    ab: row.ab_test_id && row.ab_round !== null && row.ab_arm
      ? { test_id: row.ab_test_id, round: row.ab_round, arm: row.ab_arm, model_sha256: row.model_sha256 ?? row.run_model_sha256 } : null,
    series_key: measurementRows.find((m) => m.series_key !== null)?.series_key ?? null,
    fidelity: fidelityOf(db, row.model_sha256 ?? row.run_model_sha256, measurements, families),
    created_at: iso(row.created_at)!, started_at: iso(row.started_at), finished_at: iso(row.finished_at), measurements,
  };
}

/** A job's fidelity measurements summarised and judged against its family's thresholds. */
function fidelityOf(db: Db, sha: string, ms: MeasurementSummary[], families: Map<string, FamilyThresholds | undefined>): FidelitySummary | null {
  const m = (name: string) => ms.find((x) => x.metric === name);
  const cos = m(FIDELITY_METRICS.cosine);
  const top1 = m(FIDELITY_METRICS.top1);
  const err = m(FIDELITY_METRICS.maxAbsError);
  const acc = m(FIDELITY_METRICS.accuracy);
  if (!cos && !top1 && !err && !acc) return null;
  if (!families.has(sha)) {
    families.set(sha, stmt(db, 'SELECT f.reference_variant, f.min_cosine, f.min_top1 FROM families f JOIN models m ON m.family = f.name WHERE m.sha256 = ?')
      .get(sha) as FamilyThresholds | undefined);
  }
  const family = families.get(sha);
  const cosine = cos?.median ?? null;
  const agreement = top1?.mean ?? null;
  return {
    cosine, top1: agreement, max_abs_error: err?.max ?? null, accuracy: acc?.mean ?? null, samples: (cos ?? top1 ?? err ?? acc)!.count,
    reference_variant: family?.reference_variant ?? null, min_cosine: family?.min_cosine ?? null, min_top1: family?.min_top1 ?? null,
    flags: family ? fidelityFlags(cosine, agreement, family) : [],
  };
}

export function getJob(db: Db, id: string): JobView | null {
  const row = stmt(db, `${JOB_SELECT} WHERE j.id = ?`).get(id) as JobRow | undefined;
  if (!row) return null;
  const measurements = stmt(db, `SELECT ${MEASUREMENT_COLUMNS} FROM measurements m WHERE m.job_id = ? ORDER BY m.metric`).all(id) as MeasurementRow[];
  const verdicts = stmt(db, `SELECT ${VERDICT_COLUMNS} FROM verdicts v WHERE v.job_id = ? ORDER BY v.metric`).all(id) as VerdictRow[];
  return toJobView(db, row, measurements, verdicts, new Map());
}

export function getSamples(db: Db, jobId: string, metric: string): SamplesView | null {
  const row = stmt(db,
    `SELECT s.data, m.unit FROM samples s JOIN measurements m ON m.job_id = s.job_id AND m.metric = s.metric WHERE s.job_id = ? AND s.metric = ?`,
  ).get(jobId, metric) as { data: Buffer; unit: string } | undefined;
  return row ? { job_id: jobId, metric, unit: row.unit, samples: decodeSamples(row.data) } : null;
}
