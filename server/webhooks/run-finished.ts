// `run.finished`: queued when a run's last job ends (inside that job's transaction), with the
// per-device outcome and every verdict against the baseline branch.
import type { Db } from '../db/open.js';
import { abTestsOfRun } from '../regression/ab.js';
import type { AbTestView } from '../../protocol/api.js';
import { emitEvent } from './events.js';
import { stmt } from '../db/statements.js';

export interface RunFinishedData {
  run: { id: string; status: string; runtime: string; git: Record<string, unknown>; created_at: string; finished_at: string };
  model: { sha256: string; family: string; variant: string };
  jobs: {
    id: string; device: string; status: string; error_code: string | null; confirms_job_id: string | null;
    verdicts: { metric: string; verdict: string; effect: number | null; p_value: number | null; confirmation: string }[];
  }[];
  /** Paired A/B tests of the run (gate runs, confirmations of a suspect). */
  ab_tests: AbTestView[];
  confirmed_regressions: number;
}

export function runFinishedData(db: Db, runId: string): RunFinishedData {
  const run = stmt(db,
    `SELECT r.id, r.status, r.runtime, r.git, r.created_at, r.finished_at, m.sha256, m.family, m.variant
     FROM runs r JOIN models m ON m.sha256 = r.model_sha256 WHERE r.id = ?`,
  ).get(runId) as { id: string; status: string; runtime: string; git: string; created_at: number; finished_at: number; sha256: string; family: string; variant: string };
  const jobs = stmt(db,
    `SELECT j.id, d.name AS device, j.status, j.error_code, j.confirms_job_id FROM jobs j JOIN devices d ON d.id = j.device_id
     WHERE j.run_id = ? AND j.ab_test_id IS NULL ORDER BY j.created_at, j.rowid`,
  ).all(runId) as { id: string; device: string; status: string; error_code: string | null; confirms_job_id: string | null }[];
  const verdictsOf = stmt(db, 'SELECT metric, verdict, effect, p_value, confirmation FROM verdicts WHERE job_id = ? ORDER BY metric');
  let confirmed = 0;
  const jobViews = jobs.map((j) => ({
    ...j,
    verdicts: (verdictsOf.all(j.id) as { metric: string; verdict: string; effect: number | null; p_value: number | null; confirmation: string }[]).map((v) => {
      if (v.verdict === 'regression' && v.confirmation === 'confirmed' && !j.confirms_job_id) confirmed++;
      return v;
    }),
  }));
  const abTests = abTestsOfRun(db, runId);
  confirmed += abTests.filter((t) => t.purpose === 'gate' && t.status === 'changed' && (t.effect ?? 0) > 0).length;
  return {
    run: {
      id: run.id, status: run.status, runtime: run.runtime, git: JSON.parse(run.git) as Record<string, unknown>,
      created_at: new Date(run.created_at).toISOString(), finished_at: new Date(run.finished_at).toISOString(),
    },
    model: { sha256: run.sha256, family: run.family, variant: run.variant },
    jobs: jobViews,
    ab_tests: abTests,
    confirmed_regressions: confirmed,
  };
}

export function runFinished(db: Db, runId: string, now: number): void {
  const data = runFinishedData(db, runId);
  emitEvent(db, 'run.finished', data as unknown as Record<string, unknown>, { family: data.model.family, devices: [...new Set(data.jobs.map((j) => j.device))] }, now);
}
