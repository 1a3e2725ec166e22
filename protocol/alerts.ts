// Wire types for regression watching: series, change points, alerts, mutes, per-metric
// policies and webhooks (REST bodies, query strings and the views the server returns).
import { z } from 'zod';
import { paginationQuerySchema } from './api.js';

const metricName = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -');
const seriesKeySchema = z.string().regex(/^[0-9a-f]{32}$/, 'a series key is 32 hex digits');

export const seriesParamSchema = z.strictObject({ key: seriesKeySchema });
export const seriesMetricParamSchema = z.strictObject({ key: seriesKeySchema, metric: metricName });

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
  if (!m) throw new Error(`not a duration: ${text}`);
  const unit = m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : 86_400_000;
  return Math.round(Number(m[1]) * unit);
}

export const muteSchema = z.strictObject({
  metric: z.union([metricName, z.literal('*')]).default('*'),
  for: durationSchema.refine((d) => durationMs(d) <= 365 * 86_400_000, 'at most 365 days'),
  reason: z.string().max(500).optional(),
});

export const policySchema = z.strictObject({
  /** Minimum relative change that counts (0.03 = 3%). */
  min_effect: z.number().min(0).max(5),
  /** Reruns that must agree before a regression is confirmed; 0 = alert on the first verdict. */
  confirm_reruns: z.number().int().min(0).max(5),
});
export const policyParamSchema = z.strictObject({ metric: z.union([metricName, z.literal('*')]) });

export const WEBHOOK_EVENTS = ['alert.opened', 'alert.resolved', 'run.finished', 'device.health_changed'] as const;
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
}

export interface ChangePointView {
  job_id: string;
  branch: string;
  position: number;
  p_value: number;
  before_median: number;
  after_median: number;
  effect: number;
  detected_at: string;
}

export interface SeriesHistoryView {
  series: SeriesView;
  metric: string;
  unit: string | null;
  direction: 'lower_is_better' | 'higher_is_better';
  branch: string;
  points: SeriesPoint[];
  change_points: ChangePointView[];
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
  kind: 'gate' | 'change_point';
  status: AlertStatus;
  severity: AlertSeverity;
  effect: number;
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
}

export interface MuteView { series_key: string; metric: string; until: string; reason: string | null; created_by: string | null }

export interface PolicyView { metric: string; min_effect: number; confirm_reruns: number; default: boolean }

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
