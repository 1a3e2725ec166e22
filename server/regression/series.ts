// Series and the per-result gate, applied when a job's results are stored: the measurement gets
// its series key, and a verdict against the last results of the same series on the baseline
// branch (flagged measurements — charging, throttled — never enter a baseline).
import crypto from 'node:crypto';
import type { Db } from '../db/open.js';
import { decodeSamples } from '../stats/summary.js';
import { GATE_DEFAULTS, judgeResult, type Direction } from './gate.js';
import { randomId } from '../ids.js';
import { policyFor } from './policy.js';
import { openAlert, resolveIfRecovered } from '../alerts/alerts.js';

/** Lower is better for time, energy and memory; higher for throughput, accuracy and fidelity. */
export function metricDirection(metric: string): Direction {
  return /(_tok_s|_per_s|throughput|accuracy|fidelity|cosine|top1)/.test(metric) && !/error/.test(metric) ? 'higher_is_better' : 'lower_is_better';
}

/** SQL over `runs r`: the branch a result belongs to (its own, else its baseline branch, else main)… */
export const RESULT_BRANCH_SQL = `COALESCE(json_extract(r.git, '$.branch'), json_extract(r.git, '$.baseline_branch'), 'main')`;
/** …and the baseline branch it was judged against. A result is on its baseline branch when the two agree. */
export const BASELINE_BRANCH_SQL = `COALESCE(json_extract(r.git, '$.baseline_branch'), 'main')`;

/** The settings that change what a series measures (not the iteration counts or the timeout). */
export function seriesKey(parts: { family: string; variant: string; deviceId: string; runtime: string; threads: number; inputs: unknown }): string {
  const canonical = JSON.stringify([parts.family, parts.variant, parts.deviceId, parts.runtime, parts.threads, parts.inputs ?? {}]);
  return crypto.createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

interface JobContextRow {
  run_id: string; device_id: string; family: string; variant: string; runtime: string; settings: string; git: string;
  confirms_job_id: string | null; max_attempts: number; timeout_ms: number;
}

/**
 * Computes series keys and verdicts for a job's fresh measurements, queues confirmation reruns of
 * a suspected regression, and on the baseline branch opens an alert once a regression is
 * confirmed or resolves one when the series is back (call inside the job's completion transaction).
 */
export function judgeJob(db: Db, jobId: string, now: number): void {
  const job = db.prepare(
    `SELECT j.run_id, j.device_id, j.confirms_job_id, j.max_attempts, j.timeout_ms, m.family, m.variant, r.runtime, r.settings, r.git
     FROM jobs j JOIN runs r ON r.id = j.run_id JOIN models m ON m.sha256 = r.model_sha256 WHERE j.id = ?`,
  ).get(jobId) as JobContextRow;
  const settings = JSON.parse(job.settings) as { threads: number; inputs: unknown };
  const git = JSON.parse(job.git) as { baseline_branch?: string; branch?: string };
  const baselineBranch = git.baseline_branch ?? 'main';
  const onBaseline = (git.branch ?? baselineBranch) === baselineBranch;
  const key = seriesKey({ family: job.family, variant: job.variant, deviceId: job.device_id, runtime: job.runtime, threads: settings.threads, inputs: settings.inputs });
  db.prepare('UPDATE measurements SET series_key = ? WHERE job_id = ?').run(key, jobId);
  const metrics = db.prepare(`SELECT m.metric, m.flags, m.median, s.data FROM measurements m JOIN samples s ON s.job_id = m.job_id AND s.metric = m.metric WHERE m.job_id = ?`)
    .all(jobId) as { metric: string; flags: string; median: number; data: Buffer }[];
  // The analyzer reads only unflagged baseline-branch results: any other result keeps an
  // up-to-date series up to date (in DO UPDATE, bare column names are the row's old values).
  const analyzable = onBaseline && metrics.some((m) => m.flags === '[]') ? 1 : 0;
  db.prepare(
    `INSERT INTO series (key, family, variant, device_id, runtime, settings, created_at, last_result_at, analyzed_at)
     VALUES (@key, @family, @variant, @device, @runtime, @settings, @now, @now, CASE WHEN @analyzable = 1 THEN 0 ELSE @now END)
     ON CONFLICT (key) DO UPDATE SET last_result_at = excluded.last_result_at,
       analyzed_at = CASE WHEN @analyzable = 0 AND analyzed_at >= last_result_at THEN excluded.last_result_at ELSE analyzed_at END`,
  ).run({
    key, family: job.family, variant: job.variant, device: job.device_id, runtime: job.runtime,
    settings: JSON.stringify({ threads: settings.threads, inputs: settings.inputs ?? {} }), now, analyzable,
  });

  const baselineOf = db.prepare(
    `SELECT s.data FROM measurements m
       JOIN samples s ON s.job_id = m.job_id AND s.metric = m.metric
       JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id
     WHERE m.series_key = @key AND m.metric = @metric AND j.run_id != @run AND m.flags = '[]'
       AND ${RESULT_BRANCH_SQL} = @branch
     ORDER BY m.created_at DESC, m.rowid DESC LIMIT @window`,
  );
  const insert = db.prepare(
    `INSERT OR REPLACE INTO verdicts (job_id, metric, verdict, p_value, effect, ci_low, ci_high, baseline_median, candidate_median,
       baseline_results, baseline_branch, created_at)
     VALUES (@job, @metric, @verdict, @p, @effect, @lo, @hi, @bm, @cm, @n, @branch, @now)`,
  );
  let reruns = -1;
  const root = job.confirms_job_id ?? jobId;
  for (const m of metrics) {
    const policy = policyFor(db, m.metric);
    const direction = metricDirection(m.metric);
    const baseline = (baselineOf.all({ key, metric: m.metric, run: job.run_id, branch: baselineBranch, window: GATE_DEFAULTS.window }) as { data: Buffer }[])
      .reverse().map((r) => decodeSamples(r.data));
    const result = judgeResult({ baseline, candidate: decodeSamples(m.data), direction, minEffect: policy.minEffect });
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    insert.run({
      job: jobId, metric: m.metric, verdict: result.verdict, p: finite(result.pValue), effect: finite(result.effect),
      lo: finite(result.ci[0]), hi: finite(result.ci[1]), bm: finite(result.baselineMedian), cm: finite(result.candidateMedian),
      n: result.baselineResults, branch: baselineBranch, now,
    });
    if (result.verdict === 'regression') {
      reruns = Math.max(reruns, policy.confirmReruns);
      if (onBaseline && m.flags === '[]' && confirmationState(db, root, m.metric, policy.confirmReruns) === 'confirmed') {
        const first = db.prepare('SELECT effect, baseline_median FROM verdicts WHERE job_id = ? AND metric = ?').get(root, m.metric) as { effect: number; baseline_median: number };
        openAlert(db, {
          seriesKey: key, metric: m.metric, branch: baselineBranch, kind: 'gate', effect: first.effect,
          baselineMedian: first.baseline_median, currentMedian: m.median, jobId: root,
        }, now);
      }
    } else if (onBaseline && m.flags === '[]') {
      resolveIfRecovered(db, key, m.metric, baselineBranch, m.median, direction, policy.minEffect, jobId, now);
    }
  }
  if (reruns > 0) queueConfirmation(db, root, job, reruns, now);
}

/** Queues the next rerun of a suspected regression, up to `reruns` per original job. */
function queueConfirmation(db: Db, root: string, job: JobContextRow, reruns: number, now: number): void {
  const done = (db.prepare('SELECT COUNT(*) AS n FROM jobs WHERE confirms_job_id = ?').get(root) as { n: number }).n;
  if (done >= reruns) return;
  db.prepare(
    `INSERT INTO jobs (id, run_id, device_id, max_attempts, timeout_ms, created_at, confirms_job_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(randomId('job'), job.run_id, job.device_id, job.max_attempts, job.timeout_ms, now, root);
}

/**
 * A regression on a metric is confirmed when the original result and all its reruns were judged
 * regressions; `pending` while reruns are still due.
 */
export function confirmationState(db: Db, rootJobId: string, metric: string, reruns = policyFor(db, metric).confirmReruns): 'confirmed' | 'not_confirmed' | 'pending' | 'none' {
  const chain = db.prepare(
    `SELECT j.id, j.status, v.verdict FROM jobs j LEFT JOIN verdicts v ON v.job_id = j.id AND v.metric = ?
     WHERE j.id = ? OR j.confirms_job_id = ? ORDER BY j.created_at, j.rowid`,
  ).all(metric, rootJobId, rootJobId) as { id: string; status: string; verdict: string | null }[];
  if (chain[0]?.verdict !== 'regression') return 'none';
  if (chain.some((c) => c.status === 'succeeded' && c.verdict !== 'regression')) return 'not_confirmed';
  if (chain.some((c) => c.status !== 'succeeded') && chain.some((c) => ['failed', 'timed_out', 'canceled'].includes(c.status))) return 'not_confirmed';
  return chain.length > reruns && chain.every((c) => c.verdict === 'regression') ? 'confirmed' : 'pending';
}
