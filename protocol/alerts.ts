// Wire types for regression watching: series, change points, alerts, mutes, per-metric
// policies and webhooks (REST bodies, query strings and the views the server returns).
import { z } from 'zod';
import { paginationQuerySchema } from './api.js';

const metricName = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -');
const seriesKeySchema = z.string().regex(/^[0-9a-f]{32}$/, 'a series key is 32 hex digits');

/** A series key or a unique prefix of it (at least 6 hex digits), as in `series show 3fa2c1`. */
const seriesRefSchema = z.string().regex(/^[0-9a-f]{6,32}$/, 'a series key is 32 hex digits (or a unique prefix of at least 6)');

export const seriesParamSchema = z.strictObject({ key: seriesRefSchema });
export const seriesMetricParamSchema = z.strictObject({ key: seriesRefSchema, metric: metricName });

export const listSeriesQuerySchema = paginationQuerySchema.extend({
  family: z.string().max(128).optional(),
  variant: z.string().max(128).optional(),
  device: z.string().max(128).optional(),
});

export const seriesHistoryQuerySchema = z.strictObject({
  branch: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(2000).default(200),
});

export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];
export type AlertSeverity = 'low' | 'medium' | 'high';

export const listAlertsQuerySchema = paginationQuerySchema.extend({
  status: z.enum([...ALERT_STATUSES, 'unresolved']).optional(),
  family: z.string().max(128).optional(),
  device: z.string().max(128).optional(),
  series: seriesKeySchema.optional(),
});

export const alertActionSchema = z.strictObject({ note: z.string().max(2000).optional() });

/** Duration like 30m, 12h, 7d (max 365 days). */
export const durationSchema = z.string().regex(/^\d+(\.\d+)?(m|h|d)$/, 'a duration like 30m, 12h or 7d');
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|h|d)$/.exec(text);
  if (!m) return Number.NaN; // never throws: zod runs refinements even after the regex failed
  const unit = m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : 86_400_000;
  return Math.round(Number(m[1]) * unit);
}

export const muteSchema = z.strictObject({
  metric: z.union([metricName, z.literal('*')]).default('*'),
  for: durationSchema.refine((d) => !(durationMs(d) > 365 * 86_400_000), 'at most 365 days'),
  reason: z.string().max(500).optional(),
});

export const policySchema = z.strictObject({
  /** Minimum relative change that counts (0.01 = 1%). */
  min_effect: z.number().min(0).max(5),
  /** Reruns of a suspect when an A/B test cannot tell (the same artifact as the baseline); 0 = none. */
  confirm_reruns: z.number().int().min(0).max(5),
  /** False changes per result of an unchanged series that the alarm threshold allows (default 0.001). */
  false_alert_rate: z.number().min(0.00001).max(0.1).optional(),
  /** Round budget of an A/B confirmation of a suspect; 0 = no A/B confirmation (default 64). */
  ab_rounds: z.number().int().min(0).max(100).optional(),
  /** Improvements open alerts too (default: they are reported as changes only). */
  alert_on_improvement: z.boolean().optional(),
});
export const policyParamSchema = z.strictObject({ metric: z.union([metricName, z.literal('*')]) });

export const WEBHOOK_EVENTS = ['alert.opened', 'alert.updated', 'alert.resolved', 'series.changed', 'run.finished', 'device.health_changed'] as const;
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

export const webhookFiltersSchema = z.strictObject({
  family: z.string().min(1).max(128).optional(),
  device: z.string().min(1).max(128).optional(),
  metric: metricName.optional(),
});
export type WebhookFilters = z.infer<typeof webhookFiltersSchema>;

export const createWebhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2000),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).default([...WEBHOOK_EVENTS]),
  filters: webhookFiltersSchema.default({}),
  format: z.enum(['json', 'slack']).default('json'),
  /** HMAC key; generated when omitted and returned once. */
  secret: z.string().min(16).max(256).optional(),
});
export const patchWebhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).optional(),
  filters: webhookFiltersSchema.optional(),
  format: z.enum(['json', 'slack']).optional(),
  enabled: z.boolean().optional(),
});

export interface SeriesView {
  key: string;
  family: string;
  variant: string;
  device_id: string;
  device_name: string;
  runtime: string;
  settings: Record<string, unknown>;
  metrics: string[];
  last_result_at: string;
  open_alerts: number;
}

export interface SeriesPoint {
  job_id: string;
  run_id: string;
  at: string;
  branch: string | null;
  commit: string | null;
  model_sha256: string;
  median: number;
  ci_low: number;
  ci_high: number;
  flags: string[];
  verdict: string | null;
  /** Set on a rerun queued to confirm a suspect result (that job's id). */
  confirms_job_id: string | null;
}

/** A change the detector (or an A/B confirmation) found in a series, in either direction. */
export interface SeriesChangeView {
  id: string;
  series_key: string;
  metric: string;
  branch: string;
  /** The first result at the new level, and the result at which the change was found. */
  job_id: string;
  detected_job_id: string;
  source: 'history' | 'ab';
  direction: 'regression' | 'improvement';
  before: number;
  after: number;
  /** Relative change from before to after, positive = worse, with its 95% interval, and what it rests on. */
  effect: number;
  ci_low: number | null;
  ci_high: number | null;
  evidence: string | null;
  /** Evidence as an equivalent normal score, and how many results (or A/B rounds) carried it. */
  z: number;
  results: number;
  alert_id: string | null;
  detected_at: string;
}

/** What the detector knows of a series now: its noise and level, and what it can see. */
export interface SeriesWatchView {
  results: number;
  /** Current level (value units) and results since the last change. */
  level: number | null;
  level_results: number;
  /** Job-to-job σ of the series (relative), and with slow drift. */
  noise: number | null;
  noise_long: number | null;
  /** Share of results that were lone outliers. */
  outlier_rate: number | null;
  /** The smallest change found with probability 0.9 within the given number of results. */
  detectable: { results: number; effect: number | null }[];
  /** The smallest change an A/B confirmation finds with probability 0.9, and the rounds it takes. */
  ab_detectable: { effect: number; rounds: number }[];
  /** Whether the A/B figures rest on measured paired noise or assume all noise is independent per job. */
  ab_noise: number | null;
  ab_noise_measured: boolean;
  suspect_job_id: string | null;
  alarm_z: number;
  summary: string;
}

export interface SeriesHistoryView {
  series: SeriesView;
  metric: string;
  unit: string | null;
  direction: 'lower_is_better' | 'higher_is_better';
  branch: string;
  points: SeriesPoint[];
  changes: SeriesChangeView[];
  watch: SeriesWatchView | null;
  alerts: AlertView[];
}

export interface AlertView {
  id: string;
  series_key: string;
  family: string;
  variant: string;
  device_name: string;
  metric: string;
  branch: string;
  /** change: found by the detector on the series' history; ab: confirmed by a paired A/B test; gate/change_point: older alerts. */
  kind: 'change' | 'ab' | 'gate' | 'change_point';
  status: AlertStatus;
  severity: AlertSeverity;
  /** The change against the alert's baseline (positive = worse), its 95% interval, and what it rests on. */
  effect: number;
  ci_low: number | null;
  ci_high: number | null;
  evidence: string | null;
  baseline_median: number;
  current_median: number;
  job_id: string;
  run_id: string;
  commit: string | null;
  opened_at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  resolved_at: string | null;
  resolved_reason: string | null;
  muted_until: string | null;
  /** Changes of the series since the alert opened (a further step updates it), and when it last changed. */
  steps: number;
  updated_at: string;
}

export interface MuteView { series_key: string; metric: string; until: string; reason: string | null; created_by: string | null }

export interface PolicyView {
  metric: string; min_effect: number; confirm_reruns: number; false_alert_rate: number; ab_rounds: number; alert_on_improvement: boolean;
  /** The alarm threshold (equivalent normal score) the false-alert budget gives. */
  alarm_z: number;
  default: boolean;
}

export interface WebhookView {
  id: string;
  url: string;
  events: WebhookEventName[];
  filters: WebhookFilters;
  format: 'json' | 'slack';
  enabled: boolean;
  created_at: string;
  pending: number;
  delivered: number;
  failed: number;
}

export interface WebhookDeliveryView {
  id: string;
  webhook_id: string;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  log: { attempt: number; at: string; status_code: number | null; error: string | null; duration_ms: number }[];
}

/** Headers on every webhook delivery. The signature is HMAC-SHA256(secret, `${timestamp}.${body}`), hex. */
export const WEBHOOK_HEADERS = {
  event: 'x-benchfleet-event',
  delivery: 'x-benchfleet-delivery',
  timestamp: 'x-benchfleet-timestamp',
  signature: 'x-benchfleet-signature',
} as const;
