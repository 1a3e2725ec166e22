// Per-metric regression policy: the smallest change that counts, the false-alert budget the
// detector's alarm threshold comes from, the round budget of an A/B confirmation, the reruns that
// stand in when an A/B test cannot tell (the suspect ran the same artifact as its baseline), and
// whether improvements open alerts too. A metric without its own row uses the '*' row, and without
// that the defaults (chosen on labelled corpora, docs/benchmarks.md).
import type { Db } from '../db/open.js';
import type { PolicyView } from '../../protocol/alerts.js';
import { DETECTOR_DEFAULTS, type DetectorSettings } from './detector.js';
import { stmt } from '../db/statements.js';

export interface Policy {
  minEffect: number;
  confirmReruns: number;
  /** False changes per result of a series without change that the alarm threshold allows. */
  falseAlertRate: number;
  /** Round budget of an A/B confirmation of a suspect (0: no A/B confirmation). */
  abRounds: number;
  alertOnImprovement: boolean;
}

export const DEFAULT_POLICY: Readonly<Policy> = { minEffect: DETECTOR_DEFAULTS.minEffect, confirmReruns: 2, falseAlertRate: 0.001, abRounds: 64, alertOnImprovement: false };

/**
 * The alarm threshold (equivalent normal score) for a false-alert budget per result, measured on
 * the no-change and slow-drift series of the labelled corpora (bench/detector-sweep.ts, seeds
 * 1–3 × 400 series with spikes, throttling and drift at full strength; docs/benchmarks.md): the
 * worst class's false changes per result at each threshold, interpolated on log(rate). Below
 * 0.0004 per result the history alone cannot go (slow drift then dominates): the threshold stays
 * at 5 and confirmation is left to A/B tests.
 */
export const THRESHOLDS: readonly [rate: number, z: number][] = [[0.006, 3.0], [0.002, 3.5], [0.001, 4.0], [0.0005, 4.5], [0.0004, 5.0]];

export function thresholdFor(rate: number): number {
  const t = THRESHOLDS;
  if (rate >= t[0]![0]) return t[0]![1];
  if (rate <= t[t.length - 1]![0]) return t[t.length - 1]![1];
  for (let i = 1; i < t.length; i++) {
    const [r1, z1] = t[i - 1]!;
    const [r2, z2] = t[i]!;
    if (rate <= r1 && rate >= r2) return z1 + ((Math.log(rate) - Math.log(r1)) / (Math.log(r2) - Math.log(r1))) * (z2 - z1);
  }
  return DETECTOR_DEFAULTS.zAlarm;
}

/** The detector settings a policy asks for. */
export function detectorSettings(policy: Policy): DetectorSettings {
  return { ...DETECTOR_DEFAULTS, minEffect: policy.minEffect, zAlarm: thresholdFor(policy.falseAlertRate) };
}

interface PolicyRow { metric: string; min_effect: number; confirm_reruns: number; false_alert_rate: number | null; ab_rounds: number | null; alert_on_improvement: number }

const toPolicy = (r: PolicyRow): Policy => ({
  minEffect: r.min_effect, confirmReruns: r.confirm_reruns, falseAlertRate: r.false_alert_rate ?? DEFAULT_POLICY.falseAlertRate,
  abRounds: r.ab_rounds ?? DEFAULT_POLICY.abRounds, alertOnImprovement: r.alert_on_improvement === 1,
});

export function policyFor(db: Db, metric: string): Policy {
  const row = stmt(db, `SELECT * FROM regression_policies WHERE metric IN (?, '*') ORDER BY metric = '*' LIMIT 1`).get(metric) as PolicyRow | undefined;
  return row ? toPolicy(row) : DEFAULT_POLICY;
}

export function setPolicy(db: Db, metric: string, policy: Policy, now: number): void {
  stmt(db, `INSERT INTO regression_policies (metric, min_effect, confirm_reruns, false_alert_rate, ab_rounds, alert_on_improvement, updated_at)
              VALUES (@metric, @min, @reruns, @rate, @ab, @improve, @now)
              ON CONFLICT (metric) DO UPDATE SET min_effect = excluded.min_effect, confirm_reruns = excluded.confirm_reruns,
                false_alert_rate = excluded.false_alert_rate, ab_rounds = excluded.ab_rounds,
                alert_on_improvement = excluded.alert_on_improvement, updated_at = excluded.updated_at`).run({
    metric, min: policy.minEffect, reruns: policy.confirmReruns, rate: policy.falseAlertRate, ab: policy.abRounds, improve: policy.alertOnImprovement ? 1 : 0, now,
  });
}

export function deletePolicy(db: Db, metric: string): boolean {
  return stmt(db, 'DELETE FROM regression_policies WHERE metric = ?').run(metric).changes > 0;
}

const toView = (metric: string, p: Policy, isDefault: boolean): PolicyView => ({
  metric, min_effect: p.minEffect, confirm_reruns: p.confirmReruns, false_alert_rate: p.falseAlertRate, ab_rounds: p.abRounds,
  alert_on_improvement: p.alertOnImprovement, alarm_z: thresholdFor(p.falseAlertRate), default: isDefault,
});

export function listPolicies(db: Db): PolicyView[] {
  const rows = stmt(db, 'SELECT * FROM regression_policies ORDER BY metric').all() as PolicyRow[];
  const views = rows.map((r) => toView(r.metric, toPolicy(r), false));
  if (!rows.some((r) => r.metric === '*')) views.unshift(toView('*', DEFAULT_POLICY, true));
  return views;
}
