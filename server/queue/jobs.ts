// Job lifecycle: queued → assigned → running → succeeded | failed | canceled | timed_out.
// Every transition is one guarded SQL statement; only the agent holding a job's lease (and its
// current attempt) can move it forward. Backoff arithmetic lives inside the statements.
import type { Db } from '../db/open.js';
import { JOB_ERROR_CODES, type JobError, type JobErrorCode } from '../../protocol/errors.js';
import type { OperatorStat, SampleSet } from '../../protocol/agent-messages.js';
import { isPrepared, prepareSets, type PreparedSet } from '../stats/prepare.js';
import { jobEndedWithoutResult, judgeJob } from '../regression/series.js';
import { deviceHealthChanged } from '../webhooks/events.js';
import { runFinished } from '../webhooks/run-finished.js';
import { stmt } from '../db/statements.js';

export interface JobRef { job_id: string; attempt: number }
export type Outcome = 'accepted' | 'duplicate' | 'stale';

export interface QueuePolicy {
  leaseMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Grace added to a job's own timeout before the server declares it timed out. */
  timeoutGraceMs: number;
  /** Consecutive device-fault failures that turn a device's health to bad. */
  badAfterFailures: number;
}

export const DEFAULT_POLICY: QueuePolicy = {
  leaseMs: 30_000,
  backoffBaseMs: 2_000,
  backoffMaxMs: 120_000,
  timeoutGraceMs: 30_000,
  badAfterFailures: 3,
};

export interface ClaimedJob {
  id: string;
  run_id: string;
  device_id: string;
  attempt: number;
  timeout_ms: number;
}

/** Claims the oldest claimable job of a device. The partial unique index makes a second active job impossible. */
export function claimNextJob(db: Db, deviceId: string, agentId: string, now: number, policy: QueuePolicy): ClaimedJob | null {
  try {
    const row = stmt(db,
        `UPDATE jobs SET status = 'assigned', attempt = attempt + 1, lease_owner = @agent,
           lease_expires_at = @now + @lease, assigned_at = @now, progress = NULL
         WHERE id = (SELECT j.id FROM jobs j JOIN devices d ON d.id = j.device_id
                     WHERE j.device_id = @device AND j.status = 'queued' AND j.not_before <= @now
                       AND d.agent_id = @agent AND d.present = 1 AND d.health IN ('good', 'unknown')
                     ORDER BY j.created_at, j.id LIMIT 1)
           AND status = 'queued'
         RETURNING id, run_id, device_id, attempt, timeout_ms`,
      )
      .get({ device: deviceId, agent: agentId, now, lease: policy.leaseMs }) as ClaimedJob | undefined;
    if (row) refreshRunStatus(db, row.run_id, now);
    return row ?? null;
  } catch (err) {
    if (isUniqueViolation(err)) return null; // the device already has an active job
    throw err;
  }
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export function markJobStarted(db: Db, ref: JobRef, agentId: string, now: number, policy: QueuePolicy): Outcome {
  const info = stmt(db,
      `UPDATE jobs SET status = 'running', started_at = @now, lease_expires_at = @now + @lease
       WHERE id = @id AND attempt = @attempt AND lease_owner = @agent AND status = 'assigned'`,
    )
    .run({ id: ref.job_id, attempt: ref.attempt, agent: agentId, now, lease: policy.leaseMs });
  // The run is 'running' since the claim: starting changes nothing there.
  if (info.changes === 1) return 'accepted';
  const row = stmt(db, `SELECT status FROM jobs WHERE id = ? AND attempt = ? AND lease_owner = ?`).get(ref.job_id, ref.attempt, agentId) as
    | { status: string }
    | undefined;
  return row?.status === 'running' ? 'duplicate' : 'stale';
}

export function recordProgress(db: Db, ref: JobRef, agentId: string, progress: unknown): boolean {
  const info = stmt(db, `UPDATE jobs SET progress = ? WHERE id = ? AND attempt = ? AND lease_owner = ? AND status IN ('assigned', 'running')`)
    .run(JSON.stringify(progress), ref.job_id, ref.attempt, agentId);
  return info.changes === 1;
}

/** Renews the leases of the jobs an agent says it is still working on. Returns the refs it no longer holds. */
export function renewLeases(db: Db, agentId: string, refs: JobRef[], now: number, policy: QueuePolicy): JobRef[] {
  const renew = stmt(db,
    `UPDATE jobs SET lease_expires_at = @now + @lease
     WHERE id = @id AND attempt = @attempt AND lease_owner = @agent AND status IN ('assigned', 'running')`,
  );
  const lost: JobRef[] = [];
  db.transaction(() => {
    for (const ref of refs) {
      if (renew.run({ id: ref.job_id, attempt: ref.attempt, agent: agentId, now, lease: policy.leaseMs }).changes === 0) lost.push(ref);
    }
  })();
  return lost;
}

/**
 * Stores a job's results and marks it succeeded, atomically. Statistics are computed here from
 * the raw samples. A resend of an already stored result (same job and attempt) is a duplicate.
 */
export function completeJob(
  db: Db, ref: JobRef, agentId: string, now: number, raw: SampleSet[] | PreparedSet[], environment: Record<string, unknown>, operators?: OperatorStat[],
): Outcome {
  // Summaries and blobs are computed before the write transaction (for a large result, in a worker thread).
  const sets = isPrepared(raw) ? raw : prepareSets(raw);
  return db.transaction((): Outcome => {
    const info = stmt(db,
        `UPDATE jobs SET status = 'succeeded', finished_at = @now, lease_owner = NULL, lease_expires_at = NULL,
           environment = @env, operators = @operators, error_code = NULL, error_message = NULL, progress = NULL
         WHERE id = @id AND attempt = @attempt AND (
           (lease_owner = @agent AND status IN ('assigned', 'running'))
           -- a late result: the lease expired and the job was requeued, but no new attempt has started
           OR (status = 'queued' AND device_id IN (SELECT id FROM devices WHERE agent_id = @agent)))`,
      )
      .run({ id: ref.job_id, attempt: ref.attempt, agent: agentId, now, env: JSON.stringify(environment), operators: operators ? JSON.stringify(operators) : null });
    if (info.changes === 0) {
      const done = stmt(db, `SELECT 1 FROM jobs WHERE id = ? AND attempt = ? AND status = 'succeeded'`).get(ref.job_id, ref.attempt);
      return done ? 'duplicate' : 'stale';
    }
    const insertMeasurement = stmt(db,
      `INSERT INTO measurements (job_id, metric, unit, attempt, count, median, p90, p99, mean, stddev, min, max,
         ci_low, ci_high, mean_ci_half, outliers, flags, created_at)
       VALUES (@job_id, @metric, @unit, @attempt, @count, @median, @p90, @p99, @mean, @stddev, @min, @max,
         @ci_low, @ci_high, @mean_ci_half, @outliers, @flags, @now)`,
    );
    const insertSamples = stmt(db, `INSERT INTO samples (job_id, metric, data) VALUES (?, ?, ?)`);
    for (const set of sets) {
      insertMeasurement.run({ job_id: ref.job_id, metric: set.metric, unit: set.unit, attempt: ref.attempt, now, flags: JSON.stringify(set.flags), ...set.summary });
      insertSamples.run(ref.job_id, set.metric, set.blob);
    }
    judgeJob(db, ref.job_id, now, new Map(sets.map((set) => [set.metric, set.within])));
    const device = stmt(db, 'SELECT d.id, d.health FROM devices d JOIN jobs j ON j.device_id = d.id WHERE j.id = ?').get(ref.job_id) as { id: string; health: string };
    stmt(db, `UPDATE devices SET consecutive_failures = 0, health = CASE WHEN health = 'unknown' THEN 'good' ELSE health END
                WHERE id = ?`).run(device.id);
    if (device.health === 'unknown') deviceHealthChanged(db, device.id, 'unknown', 'good', 'a job succeeded', now);
    refreshRunStatus(db, jobRunId(db, ref.job_id), now);
    return 'accepted';
  }).immediate();
}

function jobRunId(db: Db, jobId: string): string {
  return (stmt(db, 'SELECT run_id FROM jobs WHERE id = ?').get(jobId) as { run_id: string }).run_id;
}

/**
 * Fails one attempt. Retryable errors requeue the job with exponential backoff until its
 * attempts are used up; `timed_out` and `canceled` end it in their own state.
 */
export function failJob(db: Db, ref: JobRef, agentId: string | null, now: number, error: JobError, policy: QueuePolicy): Outcome {
  return db.transaction((): Outcome => {
    const code = error.code as JobErrorCode;
    const retryable = error.retryable ?? JOB_ERROR_CODES[code].retryable;
    const terminal = code === 'timed_out' ? 'timed_out' : code === 'canceled' ? 'canceled' : 'failed';
    const info = stmt(db,
        `UPDATE jobs SET
           status = CASE WHEN @retryable = 1 AND attempt < max_attempts THEN 'queued' ELSE @terminal END,
           not_before = @now + MIN(@base * (1 << MIN(attempt - 1, 20)), @max),
           finished_at = CASE WHEN @retryable = 1 AND attempt < max_attempts THEN NULL ELSE @now END,
           lease_owner = NULL, lease_expires_at = NULL, progress = NULL,
           error_code = @code, error_message = @message
         WHERE id = @id AND attempt = @attempt AND status IN ('assigned', 'running')
           AND (@agent IS NULL OR lease_owner = @agent)`,
      )
      .run({
        id: ref.job_id, attempt: ref.attempt, agent: agentId, now, retryable: retryable ? 1 : 0, terminal,
        base: policy.backoffBaseMs, max: policy.backoffMaxMs, code: error.code, message: error.message,
      });
    if (info.changes === 0) {
      const same = stmt(db, `SELECT 1 FROM jobs WHERE id = ? AND attempt = ? AND error_code = ? AND status NOT IN ('assigned', 'running')`)
        .get(ref.job_id, ref.attempt, error.code);
      return same ? 'duplicate' : 'stale';
    }
    if (JOB_ERROR_CODES[code].deviceFault) noteDeviceFault(db, ref.job_id, error, policy, now);
    const ended = stmt(db, `SELECT 1 FROM jobs WHERE id = ? AND status IN ('failed', 'canceled', 'timed_out')`).get(ref.job_id);
    if (ended) jobEndedWithoutResult(db, ref.job_id, now);
    refreshRunStatus(db, jobRunId(db, ref.job_id), now);
    return 'accepted';
  }).immediate();
}

function noteDeviceFault(db: Db, jobId: string, error: JobError, policy: QueuePolicy, now: number): void {
  const before = stmt(db, 'SELECT d.id, d.health FROM devices d JOIN jobs j ON j.device_id = d.id WHERE j.id = ?').get(jobId) as { id: string; health: string };
  stmt(db,
    `UPDATE devices SET consecutive_failures = consecutive_failures + 1,
       health = CASE WHEN consecutive_failures + 1 >= @k AND health IN ('good', 'unknown') THEN 'bad' ELSE health END,
       health_reason = CASE WHEN consecutive_failures + 1 >= @k AND health IN ('good', 'unknown')
                            THEN @reason ELSE health_reason END
     WHERE id = (SELECT device_id FROM jobs WHERE id = @job)`,
  ).run({ k: policy.badAfterFailures, job: jobId, reason: `${policy.badAfterFailures} device failures in a row; last: ${error.code}: ${error.message}` });
  const after = stmt(db, 'SELECT health, health_reason FROM devices WHERE id = ?').get(before.id) as { health: string; health_reason: string | null };
  deviceHealthChanged(db, before.id, before.health, after.health, after.health_reason, now);
}

export interface ReapedJob { id: string; run_id: string; device_id: string; status: string; attempt: number; lease_owner: string | null }

/**
 * Requeues (or finally fails) jobs whose lease expired, and times out jobs that ran past their
 * timeout plus grace. Returns the jobs it changed so their agents can be told to stop.
 */
export function reapExpiredLeases(db: Db, now: number, policy: QueuePolicy): ReapedJob[] {
  return db.transaction((): ReapedJob[] => {
    const timedOut = stmt(db,
        `SELECT id, run_id, device_id, attempt, lease_owner FROM jobs
         WHERE status IN ('assigned', 'running') AND assigned_at + timeout_ms + @grace < @now`,
      )
      .all({ now, grace: policy.timeoutGraceMs }) as ReapedJob[];
    for (const job of timedOut) {
      failJob(db, { job_id: job.id, attempt: job.attempt }, null, now,
        { code: 'timed_out', message: 'the job ran past its timeout and the agent did not stop it', retryable: false }, policy);
    }
    const expired = stmt(db,
        `UPDATE jobs SET
           status = CASE WHEN attempt < max_attempts THEN 'queued' ELSE 'failed' END,
           not_before = @now + MIN(@base * (1 << MIN(attempt - 1, 20)), @max),
           finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE @now END,
           error_code = 'lease_expired',
           error_message = CASE WHEN attempt < max_attempts
             THEN 'attempt ' || attempt || ': the agent stopped renewing its lease; requeued'
             ELSE 'the agent stopped renewing its lease on all ' || attempt || ' attempts' END,
           lease_owner = NULL, lease_expires_at = NULL, progress = NULL
         WHERE status IN ('assigned', 'running') AND lease_expires_at < @now
         RETURNING id, run_id, device_id, status, attempt, NULL AS lease_owner`,
      )
      .all({ now, base: policy.backoffBaseMs, max: policy.backoffMaxMs }) as ReapedJob[];
    for (const job of expired) if (job.status === 'failed') jobEndedWithoutResult(db, job.id, now);
    for (const runId of new Set(expired.map((j) => j.run_id))) refreshRunStatus(db, runId, now);
    return [...timedOut.map((j) => ({ ...j, status: 'timed_out' })), ...expired];
  }).immediate();
}

/** Cancels every unfinished job of a run; returns the ones an agent was working on. */
export function cancelRun(db: Db, runId: string, now: number): ReapedJob[] {
  return db.transaction((): ReapedJob[] => {
    const active = stmt(db, `SELECT id, run_id, device_id, status, attempt, lease_owner FROM jobs WHERE run_id = ? AND status IN ('assigned', 'running')`)
      .all(runId) as ReapedJob[];
    const ended = stmt(db,
      `UPDATE jobs SET status = 'canceled', finished_at = @now, lease_owner = NULL, lease_expires_at = NULL, progress = NULL,
         error_code = 'canceled', error_message = 'canceled by a user'
       WHERE run_id = @run AND status IN ('queued', 'assigned', 'running') RETURNING id`,
    ).all({ run: runId, now }) as { id: string }[];
    for (const job of ended) jobEndedWithoutResult(db, job.id, now);
    refreshRunStatus(db, runId, now);
    return active;
  }).immediate();
}

/**
 * Derives a run's status from its jobs and stores it (with finished_at once every job is terminal).
 * Each question is an indexed EXISTS on (run_id, status), so a transition costs the same in a run
 * of 1,000 jobs as in a run of one; the jobs are counted only once, when the last one ends.
 */
export function refreshRunStatus(db: Db, runId: string, now: number): void {
  const before = stmt(db, 'SELECT status, finished_at FROM runs WHERE id = ?').get(runId) as { status: string; finished_at: number | null } | undefined;
  if (!before) return;
  const active = stmt(db, `SELECT 1 FROM jobs WHERE run_id = ? AND status IN ('queued', 'assigned', 'running') LIMIT 1`).get(runId) !== undefined;
  let status: string;
  let empty = false;
  if (active) {
    const started = stmt(db, `SELECT 1 FROM jobs WHERE run_id = ? AND status IN ('assigned', 'running', 'succeeded', 'failed', 'timed_out') LIMIT 1`).get(runId) !== undefined;
    status = started ? 'running' : 'queued';
  } else {
    const c = stmt(db, `SELECT COUNT(*) AS n, SUM(status = 'succeeded') AS ok, SUM(status = 'canceled') AS canceled FROM jobs WHERE run_id = ?`)
      .get(runId) as { n: number; ok: number | null; canceled: number | null };
    empty = c.n === 0; // not yet given its jobs (inside the submitting transaction)
    status = empty ? 'queued' : c.ok === c.n ? 'succeeded' : c.canceled === c.n ? 'canceled' : 'failed';
  }
  const finishedAt = active || empty ? null : before.finished_at ?? now;
  if (status === before.status && finishedAt === before.finished_at) return;
  stmt(db, 'UPDATE runs SET status = ?, finished_at = ? WHERE id = ?').run(status, finishedAt, runId);
  if (before.finished_at === null && finishedAt !== null) runFinished(db, runId, now);
}
