// Per-metric regression policy: the minimum effect that counts and the reruns that must confirm
// a suspected regression. A metric without its own row uses the '*' row, and without that the
// gate's defaults (chosen on the labelled corpus, docs/benchmarks.md).
import type { Db } from '../db/open.js';
import type { PolicyView } from '../../protocol/alerts.js';
import { GATE_DEFAULTS } from './gate.js';

export interface Policy { minEffect: number; confirmReruns: number }

export const DEFAULT_POLICY: Policy = { minEffect: GATE_DEFAULTS.minEffect, confirmReruns: GATE_DEFAULTS.confirm - 1 };

export function policyFor(db: Db, metric: string): Policy {
  const row = db.prepare(`SELECT min_effect, confirm_reruns FROM regression_policies WHERE metric IN (?, '*')
                          ORDER BY metric = '*' LIMIT 1`).get(metric) as { min_effect: number; confirm_reruns: number } | undefined;
  return row ? { minEffect: row.min_effect, confirmReruns: row.confirm_reruns } : DEFAULT_POLICY;
}

export function setPolicy(db: Db, metric: string, policy: Policy, now: number): void {
  db.prepare(`INSERT INTO regression_policies (metric, min_effect, confirm_reruns, updated_at) VALUES (?, ?, ?, ?)
              ON CONFLICT (metric) DO UPDATE SET min_effect = excluded.min_effect, confirm_reruns = excluded.confirm_reruns,
                updated_at = excluded.updated_at`).run(metric, policy.minEffect, policy.confirmReruns, now);
}

export function deletePolicy(db: Db, metric: string): boolean {
  return db.prepare('DELETE FROM regression_policies WHERE metric = ?').run(metric).changes > 0;
}

export function listPolicies(db: Db): PolicyView[] {
  const rows = db.prepare('SELECT metric, min_effect, confirm_reruns FROM regression_policies ORDER BY metric').all() as
    { metric: string; min_effect: number; confirm_reruns: number }[];
  const views: PolicyView[] = rows.map((r) => ({ metric: r.metric, min_effect: r.min_effect, confirm_reruns: r.confirm_reruns, default: false }));
  if (!rows.some((r) => r.metric === '*')) {
    views.unshift({ metric: '*', min_effect: DEFAULT_POLICY.minEffect, confirm_reruns: DEFAULT_POLICY.confirmReruns, default: true });
  }
  return views;
}
