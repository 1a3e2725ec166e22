// Judging a job's results as they are stored (inside the job's completion transaction): the
// measurements get their series key; on the baseline branch each unflagged result steps the
// series' change detector (detector.ts), whose evidence is the verdict — a change found now is
// confirmed by the history and reported (watch.ts: change, webhook, alert); a suspect result is
// confirmed actively: a paired A/B test of the baseline artifact against the candidate when the
// artifact changed (ab.ts), else reruns of the same job. Results on other branches (pull
// requests) and flagged results (charging, throttled) are judged against the baseline branch's
// current level without moving it. Results of A/B jobs feed only their test.
import type { Db } from '../db/open.js';
import { decodeSamples } from '../stats/summary.js';
import { randomId } from '../ids.js';
import { normalSf } from './distributions.js';
import { detectableChange, stepDetector, withinVariance, type DetectorSettings, type StepOutcome } from './detector.js';
import { detectorSettings, policyFor, type Policy } from './policy.js';
import { metricDirection, seriesKey, type Direction } from './series-keys.js';
import { applyChange, historyChange, loadWatch, saveWatch, windowEvidence, type WatchKey } from './watch.js';
import { changeFromLevels, type ChangeEstimate } from '../../protocol/change.js';
import { abJobEnded, startAbTest } from './ab.js';
import { stmt } from '../db/statements.js';

export { metricDirection, seriesKey, RESULT_BRANCH_SQL, BASELINE_BRANCH_SQL } from './series-keys.js';

interface JobContextRow {
  run_id: string; device_id: string; family: string; variant: string; runtime: string; settings: string; git: string;
  confirms_job_id: string | null; max_attempts: number; timeout_ms: number; model_sha256: string; ab_test_id: string | null;
}

interface Judged {
  verdict: 'pass' | 'regression' | 'improvement' | 'insufficient_baseline' | 'too_noisy';
  /** The change reported (before → after, effect and interval from one changeFromLevels) and what it rests on. */
  z: number | null; effect: number | null; ciLow: number | null; ciHigh: number | null; before: number | null; after: number | null; evidence: string | null;
  baselineResults: number; noise: number | null; detectable: number | null; hint: string | null;
  confirmation: 'none' | 'pending' | 'confirmed' | 'not_confirmed'; confirmedBy: 'history' | 'ab' | 'rerun' | null;
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

/**
 * Computes series keys and verdicts for a job's fresh measurements, reports changes, and starts
 * the confirmation of a suspect (call inside the job's completion transaction).
 */
export function judgeJob(db: Db, jobId: string, now: number, within?: Map<string, number>): void {
  const started = performance.now();
  try {
    judge(db, jobId, now, within);
  } finally {
    JUDGE_TIMES[judgeCount++ % JUDGE_TIMES.length] = performance.now() - started;
  }
}

/** Wall time of the latest judgements (ms), for benchmarks and server metrics. */
const JUDGE_TIMES = new Float64Array(8192);
let judgeCount = 0;

/** The durations (ms) of the latest judgements, at most 8,192, oldest first; `reset` empties the record. */
export function recentJudgeTimes(reset = false): Float64Array {
  const n = Math.min(judgeCount, JUDGE_TIMES.length);
  const start = judgeCount > JUDGE_TIMES.length ? judgeCount % JUDGE_TIMES.length : 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = JUDGE_TIMES[(start + i) % JUDGE_TIMES.length]!;
  if (reset) judgeCount = 0;
  return out;
}

/** `within`: the within-job variance per metric when the caller computed it already (else from the stored samples). */
function judge(db: Db, jobId: string, now: number, within?: Map<string, number>): void {
  const job = stmt(db,
    `SELECT j.run_id, j.device_id, j.confirms_job_id, j.max_attempts, j.timeout_ms, j.ab_test_id, m.family, m.variant, r.runtime, r.settings, r.git,
       COALESCE(j.model_sha256, r.model_sha256) AS model_sha256
     FROM jobs j JOIN runs r ON r.id = j.run_id JOIN models m ON m.sha256 = COALESCE(j.model_sha256, r.model_sha256) WHERE j.id = ?`,
  ).get(jobId) as JobContextRow;
  const settings = JSON.parse(job.settings) as { threads: number; inputs: unknown };
  const git = JSON.parse(job.git) as { baseline_branch?: string; branch?: string };
  const baselineBranch = git.baseline_branch ?? 'main';
  const onBaseline = (git.branch ?? baselineBranch) === baselineBranch;
  const key = seriesKey({ family: job.family, variant: job.variant, deviceId: job.device_id, runtime: job.runtime, threads: settings.threads, inputs: settings.inputs });
  stmt(db, 'UPDATE measurements SET series_key = ? WHERE job_id = ?').run(key, jobId);
  stmt(db,
    `INSERT INTO series (key, family, variant, device_id, runtime, settings, created_at, last_result_at, analyzed_at)
     VALUES (@key, @family, @variant, @device, @runtime, @settings, @now, @now, @now)
     ON CONFLICT (key) DO UPDATE SET last_result_at = excluded.last_result_at, analyzed_at = excluded.analyzed_at`,
  ).run({
    key, family: job.family, variant: job.variant, device: job.device_id, runtime: job.runtime,
    settings: JSON.stringify({ threads: settings.threads, inputs: settings.inputs ?? {} }), now,
  });
  // A/B jobs are paired measurements of two artifacts: they feed their test, never the series' level.
  if (job.ab_test_id) {
    abJobEnded(db, jobId, now);
    return;
  }

  const metrics = (within
    ? stmt(db, `SELECT m.metric, m.flags, m.median, m.count, NULL AS data FROM measurements m WHERE m.job_id = ?`)
    : stmt(db, `SELECT m.metric, m.flags, m.median, m.count, s.data FROM measurements m JOIN samples s ON s.job_id = m.job_id AND s.metric = m.metric WHERE m.job_id = ?`))
    .all(jobId) as { metric: string; flags: string; median: number; count: number; data: Buffer | null }[];
  const insert = stmt(db,
    `INSERT OR REPLACE INTO verdicts (job_id, metric, verdict, p_value, effect, ci_low, ci_high, baseline_median, candidate_median,
       baseline_results, baseline_branch, created_at, z, noise, detectable, confirmation, confirmed_by, hint, evidence)
     VALUES (@job, @metric, @verdict, @p, @effect, @lo, @hi, @bm, @cm, @n, @branch, @now, @z, @noise, @detectable, @confirmation, @by, @hint, @evidence)`,
  );
  let rerunsWanted = 0;
  for (const m of metrics) {
    const policy = policyFor(db, m.metric);
    const ds = detectorSettings(policy);
    const direction = metricDirection(m.metric);
    const k: WatchKey = { seriesKey: key, metric: m.metric, branch: baselineBranch };
    const flagged = m.flags !== '[]';
    let judged: Judged;
    if (!(m.median > 0) || !Number.isFinite(m.median)) {
      judged = blank(`${m.metric} is ${m.median}: only positive values can be judged`);
    } else {
      const watch = loadWatch(db, k, ds, jobId, now);
      const w = within?.get(m.metric) ?? withinVariance(decodeSamples(m.data!));
      const out = stepDetector(watch.state, m.median, w, jobId, ds);
      if (onBaseline && !flagged) {
        judged = fromOutcome(out, direction, ds, policy, w, m.count);
        let suspect = watch.suspectJobId;
        if (out.change) {
          const change = historyChange(out.change, jobId, direction);
          const effect = change.effect;
          applyChange(db, k, change, policy, now);
          // Earlier results of the new level that were suspect are now confirmed by the history.
          const window = out.state.ids.slice(out.state.ids.length - out.change.window);
          const mark = stmt(db, `UPDATE verdicts SET confirmation = 'confirmed', confirmed_by = COALESCE(confirmed_by, 'history')
                                   WHERE job_id = ? AND metric = ? AND verdict = ? AND confirmation IN ('pending', 'none')`);
          for (const id of window) mark.run(id, m.metric, effect > 0 ? 'regression' : 'improvement');
          suspect = null;
        } else if (judged.verdict === 'regression' || judged.verdict === 'improvement') {
          const how = confirmSuspect(db, jobId, job, k, out, judged, policy, true, now);
          judged.confirmation = how.pending ? 'pending' : 'none';
          judged.hint = how.hint;
          if (how.ab) suspect = jobId;
          if (how.reruns > 0) rerunsWanted = Math.max(rerunsWanted, how.reruns);
        }
        saveWatch(db, k, out.state, ds, suspect, jobId, now);
      } else {
        // Judged against the baseline branch's current level, which it does not move.
        judged = fromSingle(out, direction, ds, policy, w, m.count, watch.state.count);
        if (flagged) judged.hint = `flagged (${(JSON.parse(m.flags) as string[]).join(', ')}): judged, but never part of the baseline`;
        else if (judged.verdict === 'regression' || judged.verdict === 'improvement') {
          if (job.confirms_job_id) judged.confirmation = 'none';
          else {
            const how = confirmSuspect(db, jobId, job, k, out, judged, policy, false, now);
            judged.confirmation = how.pending ? 'pending' : 'none';
            judged.hint = how.hint;
            if (how.reruns > 0) rerunsWanted = Math.max(rerunsWanted, how.reruns);
          }
        }
      }
    }
    insert.run({
      job: jobId, metric: m.metric, verdict: judged.verdict, p: judged.z === null ? null : 2 * normalSf(Math.abs(judged.z)), effect: judged.effect,
      lo: judged.ciLow, hi: judged.ciHigh, bm: judged.before, cm: judged.after ?? m.median, n: judged.baselineResults, branch: baselineBranch, now, z: judged.z,
      noise: judged.noise, detectable: judged.detectable, confirmation: judged.confirmation, by: judged.confirmedBy, hint: judged.hint, evidence: judged.evidence,
    });
  }
  if (rerunsWanted > 0) queueReruns(db, jobId, job, rerunsWanted, now);
  if (job.confirms_job_id) settleRerunChain(db, job.confirms_job_id, onBaseline);
}

function blank(hint: string): Judged {
  return {
    verdict: 'insufficient_baseline', z: null, effect: null, ciLow: null, ciHigh: null, before: null, after: null, evidence: null, baselineResults: 0, noise: null,
    detectable: null, hint, confirmation: 'none', confirmedBy: null,
  };
}

const finite = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : x);

/** The hint for a result whose own sampling error is larger than the series' job-to-job noise. */
function tooNoisy(w: number, tau: number, count: number, minEffect: number): string | null {
  if (!(w > 4 * tau * tau) || Math.sqrt(w) * 2 < minEffect) return null;
  const needed = Math.ceil((count * w) / (tau * tau));
  return `its own sampling error (±${(1.96 * Math.sqrt(w) * 100).toFixed(1)}%) is larger than the series' job-to-job noise (${(tau * 100).toFixed(1)}%): ` +
    `run about ${needed} iterations (--iterations ${needed}) instead of ${count}`;
}

/** The verdict of a baseline-branch result from the detector's step. */
function fromOutcome(out: StepOutcome, direction: Direction, ds: DetectorSettings, policy: Policy, w: number, count: number): Judged {
  const ev = out.evidence;
  if (!ev) {
    const sinceChange = out.state.count - out.state.levelStart;
    const hint = out.state.levelStart > 0 && out.noise.df > 0
      ? `the series changed level ${sinceChange - 1} result(s) ago: results are judged against the new level once it has ${ds.minReference} results`
      : `no judgement before ${ds.minNoise + ds.minReference + 1} results (${out.state.count} so far): the series' noise is not known yet`;
    return { ...blank(hint), baselineResults: out.state.count - 1 };
  }
  const sign = direction === 'lower_is_better' ? 1 : -1;
  const noise = finite(out.noise.tau);
  const detectable = finite(detectableChange(out.state, 1, ds));
  if (out.change) {
    const c = changeFromLevels(out.change.before, out.change.after, out.change.se, direction);
    return {
      verdict: c.effect > 0 ? 'regression' : 'improvement', z: sign * out.change.z, ...estimate(c), evidence: windowEvidence(out.change.window, out.change.test, out.change.reference),
      baselineResults: out.state.count - out.change.window, noise, detectable,
      hint: `a change of ${pct(c.effect)} over the last ${out.change.window} result(s), found by the series' history`, confirmation: 'confirmed', confirmedBy: 'history',
    };
  }
  const judged = single(ev.lastChange, ev.lastZ, ev.lastBefore, ev.lastSe, ev.lastReference, direction, noise, detectable, out.state.count - 1);
  if (out.suspectBy === 'last' || (out.suspectBy === 'window' && ev.window === 1)) {
    // The newest result alone is far from the level (a window of one).
    judged.verdict = (judged.effect ?? 0) > 0 ? 'regression' : 'improvement';
    judged.hint = `suspect: this result alone is ${pct(judged.effect ?? 0)} from the level (z ${Math.abs(ev.lastZ).toFixed(1)}); one result never reports a change on its own`;
    return judged;
  }
  if (out.suspect) {
    // The window's evidence (possibly several results) made the series suspect: the change reported
    // is the window's, with the window's interval.
    const c = changeFromLevels(ev.before, ev.after, ev.se, direction);
    Object.assign(judged, estimate(c), { evidence: windowEvidence(ev.window, ev.test, ev.reference) });
    judged.verdict = c.effect > 0 ? 'regression' : 'improvement';
    judged.z = sign * ev.z;
    judged.hint = `suspect: ${pct(c.effect)} over the last ${ev.window} result(s) (z ${ev.z.toFixed(1)}; a change is reported at ${ds.zAlarm.toFixed(1)})`;
    return judged;
  }
  const noisy = out.noise.df > 0 ? tooNoisy(w, out.noise.tau, count, policy.minEffect) : null;
  if (noisy) return { ...judged, verdict: 'too_noisy', hint: noisy };
  if (detectable !== null && detectable > 2 * policy.minEffect) {
    judged.hint = `one result here shows only changes beyond ${pct(detectable).slice(1)}; smaller ones show over more results, or with an A/B run (run submit --ab)`;
  }
  return judged;
}

/** A change estimate as a verdict's fields. */
function estimate(c: ChangeEstimate): Pick<Judged, 'effect' | 'ciLow' | 'ciHigh' | 'before' | 'after'> {
  return { effect: c.effect, ciLow: c.ci_low, ciHigh: c.ci_high, before: c.before, after: c.after };
}

function single(change: number, z: number, before: number, se: number, reference: number, direction: Direction, noise: number | null, detectable: number | null, results: number): Judged {
  const sign = direction === 'lower_is_better' ? 1 : -1;
  const c = changeFromLevels(before, before * (1 + change), se, direction);
  return {
    verdict: 'pass', z: sign * z, ...estimate(c), evidence: windowEvidence(1, 'mean', reference), baselineResults: results, noise, detectable,
    hint: null, confirmation: 'none', confirmedBy: null,
  };
}

/** The verdict of one result against the baseline's current level (pull requests, flagged results). */
function fromSingle(out: StepOutcome, direction: Direction, ds: DetectorSettings, policy: Policy, w: number, count: number, baselineResults: number): Judged {
  const ev = out.evidence;
  if (!ev) return { ...blank(`the baseline branch has ${baselineResults} results: too few to judge against`), baselineResults };
  const noise = finite(out.noise.tau);
  const judged = single(ev.lastChange, ev.lastZ, ev.lastBefore, ev.lastSe, ev.lastReference, direction, noise, finite(detectableChange(out.state, 1, ds)), baselineResults);
  if (Math.abs(ev.lastZ) >= ds.zSuspect && Math.abs(judged.effect ?? 0) >= policy.minEffect) judged.verdict = (judged.effect ?? 0) > 0 ? 'regression' : 'improvement';
  else {
    const noisy = out.noise.df > 0 ? tooNoisy(w, out.noise.tau, count, policy.minEffect) : null;
    if (noisy) return { ...judged, verdict: 'too_noisy', hint: noisy };
  }
  return judged;
}

/**
 * Starts the confirmation of a suspect result: an A/B test of the baseline artifact against this
 * one when they differ and the policy has an A/B budget; else reruns of this job (only a
 * regression, as before). Returns what was started.
 */
function confirmSuspect(db: Db, jobId: string, job: JobContextRow, k: WatchKey, out: StepOutcome, judged: Judged, policy: Policy,
  onBaseline: boolean, now: number): { pending: boolean; ab: boolean; reruns: number; hint: string | null } {
  const ev = out.evidence!;
  // The baseline artifact: the model of the last result before the suspect window.
  const window = onBaseline && out.suspectBy === 'window' ? ev.window : 1;
  const ids = out.state.ids;
  const refId = ids[ids.length - 1 - window] ?? null;
  const startId = onBaseline ? ids[ids.length - window] ?? jobId : jobId;
  const baselineSha = refId
    ? (stmt(db, 'SELECT COALESCE(j.model_sha256, r.model_sha256) AS sha FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = ?').get(refId) as { sha: string } | undefined)?.sha ?? null
    : null;
  const running = stmt(db, `SELECT id FROM ab_tests WHERE series_key = ? AND metric = ? AND status = 'running' AND device_id = ?`).get(k.seriesKey, k.metric, job.device_id);
  if (policy.abRounds > 0 && baselineSha && baselineSha !== job.model_sha256) {
    if (running) return { pending: false, ab: false, reruns: 0, hint: `${judged.hint ?? 'suspect'}; an A/B test of this series is already running` };
    const testId = startAbTest(db, {
      runId: job.run_id, deviceId: job.device_id, purpose: 'confirm', seriesKey: k.seriesKey, metric: k.metric, branch: k.branch,
      triggerJobId: jobId, startJobId: startId, baselineSha, candidateSha: job.model_sha256,
      direction: judged.verdict === 'regression' ? 'regression' : 'improvement', maxRounds: policy.abRounds, minEffect: policy.minEffect,
      spacingMs: 0, maxAttempts: job.max_attempts, timeoutMs: job.timeout_ms,
    }, now);
    return { pending: true, ab: true, reruns: 0, hint: `${judged.hint ?? 'suspect'}; confirming with A/B test ${testId} (up to ${policy.abRounds} rounds of ${baselineSha.slice(0, 12)} against ${job.model_sha256.slice(0, 12)})` };
  }
  if (judged.verdict === 'regression' && policy.confirmReruns > 0) {
    return { pending: true, ab: false, reruns: policy.confirmReruns, hint: `${judged.hint ?? 'suspect'}; rerunning ${policy.confirmReruns} time(s) to confirm` };
  }
  return { pending: false, ab: false, reruns: 0, hint: judged.hint };
}

/** Queues reruns of a suspect result, up to `reruns` per original job. */
function queueReruns(db: Db, root: string, job: JobContextRow, reruns: number, now: number): void {
  const done = (stmt(db, 'SELECT COUNT(*) AS n FROM jobs WHERE confirms_job_id = ?').get(root) as { n: number }).n;
  const insert = stmt(db, `INSERT INTO jobs (id, run_id, device_id, max_attempts, timeout_ms, created_at, confirms_job_id) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  for (let i = done; i < reruns; i++) insert.run(randomId('job'), job.run_id, job.device_id, job.max_attempts, job.timeout_ms, now + i, root);
}

/**
 * Once every rerun of a suspect ended: on a pull request the suspect is confirmed when all the
 * reruns were judged the same way; on the baseline branch, when the history found the change
 * (already marked by then), otherwise it is not confirmed.
 */
function settleRerunChain(db: Db, root: string, onBaseline: boolean): void {
  const reruns = stmt(db, 'SELECT status FROM jobs WHERE confirms_job_id = ?').all(root) as { status: string }[];
  if (reruns.some((r) => ['queued', 'assigned', 'running'].includes(r.status))) return;
  const pending = stmt(db, `SELECT metric, verdict FROM verdicts WHERE job_id = ? AND confirmation = 'pending'`).all(root) as { metric: string; verdict: string }[];
  for (const p of pending) {
    let confirmed = false;
    if (!onBaseline) {
      const verdicts = stmt(db, `SELECT v.verdict FROM jobs j LEFT JOIN verdicts v ON v.job_id = j.id AND v.metric = ? WHERE j.confirms_job_id = ?`).all(p.metric, root) as { verdict: string | null }[];
      confirmed = verdicts.length > 0 && verdicts.every((v) => v.verdict === p.verdict) && reruns.every((r) => r.status === 'succeeded');
    }
    stmt(db, `UPDATE verdicts SET confirmation = ?, confirmed_by = 'rerun' WHERE job_id = ? AND metric = ? AND confirmation = 'pending'`)
      .run(confirmed ? 'confirmed' : 'not_confirmed', root, p.metric);
  }
}

/** A job ended without results: reruns and A/B tests waiting for it are settled. */
export function jobEndedWithoutResult(db: Db, jobId: string, now: number): void {
  const job = stmt(db, 'SELECT confirms_job_id, ab_test_id, run_id FROM jobs WHERE id = ?').get(jobId) as { confirms_job_id: string | null; ab_test_id: string | null; run_id: string } | undefined;
  if (!job) return;
  if (job.ab_test_id) abJobEnded(db, jobId, now);
  if (job.confirms_job_id) {
    const git = (stmt(db, 'SELECT git FROM runs WHERE id = ?').get(job.run_id) as { git: string }).git;
    const g = JSON.parse(git) as { branch?: string; baseline_branch?: string };
    settleRerunChain(db, job.confirms_job_id, (g.branch ?? g.baseline_branch ?? 'main') === (g.baseline_branch ?? 'main'));
  }
}

