// Series and the per-result gate, applied when a job's results are stored: the measurement gets
// its series key, and a verdict against the last results of the same series on the baseline
// branch (flagged measurements — charging, throttled — never enter a baseline).
import crypto from 'node:crypto';
import type { Db } from '../db/open.js';
import { decodeSamples } from '../stats/summary.js';
import { GATE_DEFAULTS, judgeResult, type Direction } from './gate.js';

/** Lower is better for time, energy and memory; higher for throughput, accuracy and fidelity. */
export function metricDirection(metric: string): Direction {
  return /(_tok_s|_per_s|throughput|accuracy|fidelity|cosine|top1)/.test(metric) ? 'higher_is_better' : 'lower_is_better';
}

/** The settings that change what a series measures (not the iteration counts or the timeout). */
export function seriesKey(parts: { family: string; variant: string; deviceId: string; runtime: string; threads: number; inputs: unknown }): string {
  const canonical = JSON.stringify([parts.family, parts.variant, parts.deviceId, parts.runtime, parts.threads, parts.inputs ?? {}]);
  return crypto.createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

interface JobContextRow { device_id: string; family: string; variant: string; runtime: string; settings: string; git: string }

/** Computes series keys and verdicts for a job's fresh measurements (call inside its completion transaction). */
export function judgeJob(db: Db, jobId: string, now: number): void {
  const job = db.prepare(
    `SELECT j.device_id, m.family, m.variant, r.runtime, r.settings, r.git
     FROM jobs j JOIN runs r ON r.id = j.run_id JOIN models m ON m.sha256 = r.model_sha256 WHERE j.id = ?`,
  ).get(jobId) as JobContextRow;
  const settings = JSON.parse(job.settings) as { threads: number; inputs: unknown };
  const git = JSON.parse(job.git) as { baseline_branch?: string };
  const baselineBranch = git.baseline_branch ?? 'main';
  const key = seriesKey({ family: job.family, variant: job.variant, deviceId: job.device_id, runtime: job.runtime, threads: settings.threads, inputs: settings.inputs });
  db.prepare('UPDATE measurements SET series_key = ? WHERE job_id = ?').run(key, jobId);

  const metrics = db.prepare(`SELECT m.metric, m.flags, s.data FROM measurements m JOIN samples s ON s.job_id = m.job_id AND s.metric = m.metric WHERE m.job_id = ?`)
    .all(jobId) as { metric: string; flags: string; data: Buffer }[];
  const baselineOf = db.prepare(
    `SELECT s.data FROM measurements m
       JOIN samples s ON s.job_id = m.job_id AND s.metric = m.metric
       JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id
     WHERE m.series_key = @key AND m.metric = @metric AND m.job_id != @job AND m.flags = '[]'
       AND COALESCE(json_extract(r.git, '$.branch'), @branch) = @branch
     ORDER BY m.created_at DESC, m.rowid DESC LIMIT @window`,
  );
  const insert = db.prepare(
    `INSERT OR REPLACE INTO verdicts (job_id, metric, verdict, p_value, effect, ci_low, ci_high, baseline_median, candidate_median,
       baseline_results, baseline_branch, created_at)
     VALUES (@job, @metric, @verdict, @p, @effect, @lo, @hi, @bm, @cm, @n, @branch, @now)`,
  );
  for (const m of metrics) {
    const baseline = (baselineOf.all({ key, metric: m.metric, job: jobId, branch: baselineBranch, window: GATE_DEFAULTS.window }) as { data: Buffer }[])
      .reverse().map((r) => decodeSamples(r.data));
    const result = judgeResult({ baseline, candidate: decodeSamples(m.data), direction: metricDirection(m.metric) });
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    insert.run({
      job: jobId, metric: m.metric, verdict: result.verdict, p: finite(result.pValue), effect: finite(result.effect),
      lo: finite(result.ci[0]), hi: finite(result.ci[1]), bm: finite(result.baselineMedian), cm: finite(result.candidateMedian),
      n: result.baselineResults, branch: baselineBranch, now,
    });
  }
}
