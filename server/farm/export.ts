// Flattens a run's measurements into rows for CSV / JSON export (one row per job and metric).
import type { RunView } from '../../protocol/api.js';

export type ResultRow = Record<string, string | number | null>;

export function resultRows(run: RunView): ResultRow[] {
  return (run.jobs ?? []).flatMap((job) =>
    job.measurements.map((m) => ({
      run_id: run.id, job_id: job.id, device: job.device_name, status: job.status,
      family: run.model.family, variant: run.model.variant, model_sha256: run.model.sha256, runtime: run.runtime,
      threads: run.settings.threads, metric: m.metric, unit: m.unit, count: m.count, median: m.median, p90: m.p90, p99: m.p99,
      mean: m.mean, stddev: m.stddev, min: m.min, max: m.max, ci_low: m.ci_low, ci_high: m.ci_high, outliers: m.outliers,
      git_branch: run.git.branch ?? null, git_commit: run.git.commit ?? null,
    })),
  );
}

export function toCsv(rows: ResultRow[]): string {
  if (rows.length === 0) return '';
  const headers = Object.keys(rows[0]!);
  const cell = (v: string | number | null | undefined): string => {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [headers.join(','), ...rows.map((r) => headers.map((h) => cell(r[h])).join(','))].join('\n') + '\n';
}
