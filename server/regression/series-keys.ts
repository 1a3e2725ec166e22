// What identifies a series, which way is better for a metric, and which branch a result belongs
// to (SQL shared by the detector's history, the views and the rebuild).
import crypto from 'node:crypto';

export type Direction = 'lower_is_better' | 'higher_is_better';

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
