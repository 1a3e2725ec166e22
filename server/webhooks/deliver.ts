// Webhook delivery: a worker drains the outbox (webhook_deliveries). Each attempt POSTs the
// body with an HMAC-SHA256 signature over `${timestamp}.${body}`; a 2xx marks the delivery
// delivered, anything else schedules a retry with exponential backoff and full jitter until
// maxAttempts, then the delivery is failed. Every attempt is logged. A delivery is marked only
// after its response, so a crash mid-attempt means one more attempt after the restart — receivers
// deduplicate on the delivery id header (at-least-once with an idempotency key; in the normal
// path every delivery arrives exactly once).
import crypto from 'node:crypto';
import type { Db } from '../db/open.js';
import { WEBHOOK_HEADERS, type WebhookDeliveryView } from '../../protocol/alerts.js';
import { BenchfleetError } from '../../protocol/errors.js';
import { randomId } from '../ids.js';
import type { Log } from '../agents/session.js';
import { formatChange } from '../../protocol/change.js';
import { stmt } from '../db/statements.js';

export interface WebhookConfig {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  timeoutMs: number;
  pollMs: number;
  concurrency: number;
}

export const DEFAULT_WEBHOOK_CONFIG: WebhookConfig = {
  maxAttempts: 10, backoffBaseMs: 2_000, backoffMaxMs: 15 * 60_000, timeoutMs: 10_000, pollMs: 1_000, concurrency: 4,
};

/** The signature header's value: `sha256=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Delay before attempt `attempt + 1`: full jitter over an exponentially growing cap. */
export function retryDelay(attempt: number, cfg: Pick<WebhookConfig, 'backoffBaseMs' | 'backoffMaxMs'>, random: () => number = Math.random): number {
  const cap = Math.min(cfg.backoffMaxMs, cfg.backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

interface DeliveryRow { id: string; webhook_id: string; event: string; data: string; attempts: number; created_at: number; url: string; secret: string; format: 'json' | 'slack' }

/** The change of an alert or a series change, as printed everywhere (with its interval). */
const fmtPct = (x: Record<string, unknown>): string => formatChange({
  effect: typeof x.effect === 'number' ? x.effect : null, ci_low: typeof x.ci_low === 'number' ? x.ci_low : null, ci_high: typeof x.ci_high === 'number' ? x.ci_high : null,
});

/** A one-line human summary of an event, used by the Slack format. */
export function describeEvent(event: string, data: Record<string, unknown>): string {
  const d = data as Record<string, Record<string, unknown> | undefined> & { from?: string; to?: string; reason?: string; confirmed_regressions?: number };
  if (event === 'alert.opened' || event === 'alert.resolved') {
    const a = d.alert ?? {};
    const what = `${String(a.family)}:${String(a.variant)} on ${String(a.device_name)}, ${String(a.metric)} ${fmtPct(a)}`;
    const how = a.kind === 'ab' ? 'confirmed by A/B' : a.kind === 'change' ? 'found in the history' : String(a.kind);
    return event === 'alert.opened'
      ? `:rotating_light: ${String(a.severity)} ${Number(a.effect) < 0 ? 'improvement' : 'regression'} (${how}) — ${what} on ${String(a.branch)}`
      : `:white_check_mark: resolved (${String(a.resolved_reason)}) — ${what}`;
  }
  if (event === 'alert.updated') {
    const a = d.alert ?? {};
    return `:chart_with_upwards_trend: alert on ${String(a.family)}:${String(a.variant)} on ${String(a.device_name)} now ${String(a.metric)} ${fmtPct(a)} (${String(a.steps)} steps)`;
  }
  if (event === 'series.changed') {
    const c = d.change ?? {};
    const sr = d.series ?? {};
    return `${c.direction === 'improvement' ? ':rocket: improvement' : ':warning: regression'} — ${String(sr.family)}:${String(sr.variant)} on ${String(sr.device_name)}, ${String(c.metric)} ${fmtPct(c)} (${c.source === 'ab' ? 'A/B' : 'history'})`;
  }
  if (event === 'run.finished') {
    const run = d.run ?? {};
    const model = d.model ?? {};
    const regressions = d.confirmed_regressions ?? 0;
    return `Run ${String(run.id)} ${String(run.status)}: ${String(model.family)}:${String(model.variant)}${regressions > 0 ? `, ${regressions} confirmed regression(s)` : ''}`;
  }
  if (event === 'device.health_changed') {
    const device = d.device ?? {};
    return `Device ${String(device.name)} health ${d.from} → ${d.to}${d.reason ? `: ${d.reason}` : ''}`;
  }
  return `benchfleet ${event}`;
}

/** Links into the dashboard for the objects an event mentions. */
export function eventLinks(event: string, data: Record<string, unknown>, publicUrl: string): Record<string, string> {
  const base = publicUrl.replace(/\/$/, '');
  const links: Record<string, string> = { dashboard: `${base}/` };
  const d = data as Record<string, Record<string, unknown> | undefined>;
  if (d.alert) {
    links.alert = `${base}/#/alerts/${encodeURIComponent(String(d.alert.id))}`;
    links.series = `${base}/#/series/${String(d.alert.series_key)}/${encodeURIComponent(String(d.alert.metric))}`;
    links.run = `${base}/#/runs/${encodeURIComponent(String(d.alert.run_id))}`;
  }
  if (event === 'series.changed' && d.series && d.change) {
    links.series = `${base}/#/series/${String(d.series.key)}/${encodeURIComponent(String(d.change.metric))}`;
    if (d.change.alert_id) links.alert = `${base}/#/alerts/${encodeURIComponent(String(d.change.alert_id))}`;
  }
  if (event === 'run.finished' && d.run) links.run = `${base}/#/runs/${encodeURIComponent(String(d.run.id))}`;
  if (event === 'device.health_changed') links.farm = `${base}/#/farm`;
  return links;
}

export function buildBody(row: Pick<DeliveryRow, 'id' | 'event' | 'data' | 'created_at' | 'format'>, publicUrl: string): string {
  const data = JSON.parse(row.data) as Record<string, unknown>;
  const links = eventLinks(row.event, data, publicUrl);
  if (row.format === 'slack') {
    const text = `${describeEvent(row.event, data)} <${links.alert ?? links.series ?? links.run ?? links.farm ?? links.dashboard}|open>`;
    return JSON.stringify({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] });
  }
  return JSON.stringify({ id: row.id, event: row.event, created_at: new Date(row.created_at).toISOString(), data, links });
}

export class WebhookDeliverer {
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly cfg: WebhookConfig,
    private readonly publicUrl: () => string,
    private readonly log: Log,
    private readonly now: () => number = () => Date.now(),
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Looks for due deliveries soon (after an event was queued). */
  kick(): void {
    if (!this.stopped) this.schedule(20);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; this.poll(); }, ms);
  }

  private poll(): void {
    if (this.stopped) return;
    try {
      const free = this.cfg.concurrency - this.inFlight.size;
      if (free > 0) {
        const rows = stmt(this.db,
          `SELECT d.id, d.webhook_id, d.event, d.data, d.attempts, d.created_at, w.url, w.secret, w.format
           FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
           WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND w.enabled = 1
           ORDER BY d.next_attempt_at, d.rowid LIMIT ?`,
        ).all(this.now(), free + this.inFlight.size) as DeliveryRow[];
        for (const row of rows) {
          if (this.inFlight.has(row.id) || this.inFlight.size >= this.cfg.concurrency) continue;
          const p = this.attempt(row).then(() => undefined, (err: unknown) => this.log('webhook attempt failed', { delivery: row.id, error: String(err) }))
            .finally(() => { this.inFlight.delete(row.id); this.kick(); });
          this.inFlight.set(row.id, p);
        }
      }
    } catch (err) {
      this.log('webhook poll failed', { error: String((err as Error).stack ?? err) });
    }
    if (!this.stopped) this.schedule(this.cfg.pollMs);
  }

  /** One POST; records the attempt and the delivery's new state. */
  private async attempt(row: DeliveryRow): Promise<{ status: number | null; error: string | null }> {
    const body = buildBody(row, this.publicUrl());
    const timestamp = String(Math.floor(this.now() / 1000));
    const started = this.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(row.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'benchfleet-webhooks',
          [WEBHOOK_HEADERS.event]: row.event,
          [WEBHOOK_HEADERS.delivery]: row.id,
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: signPayload(row.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
        redirect: 'manual',
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      error = e.name === 'TimeoutError' ? `no response within ${this.cfg.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    }
    const at = this.now();
    const attempt = row.attempts + 1;
    this.db.transaction(() => {
      stmt(this.db, `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)`)
        .run(row.id, attempt, at, status, error, at - started);
      if (error === null) {
        stmt(this.db, `UPDATE webhook_deliveries SET status = 'delivered', attempts = ?, last_status = ?, last_error = NULL, delivered_at = ? WHERE id = ?`)
          .run(attempt, status, at, row.id);
      } else {
        const failed = attempt >= this.cfg.maxAttempts;
        stmt(this.db, `UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?`)
          .run(failed ? 'failed' : 'pending', attempt, status, error, failed ? at : at + retryDelay(attempt, this.cfg), row.id);
      }
    })();
    if (error !== null) this.log('webhook delivery failed', { delivery: row.id, attempt, error });
    return { status, error };
  }

  /** Sends a `ping` to one webhook now, logged like any delivery; returns the delivery. */
  async sendTest(webhookId: string): Promise<WebhookDeliveryView> {
    const hook = stmt(this.db, 'SELECT id, url, secret, format FROM webhooks WHERE id = ?').get(webhookId) as
      { id: string; url: string; secret: string; format: 'json' | 'slack' } | undefined;
    if (!hook) throw new BenchfleetError('not_found', `no webhook ${webhookId}`);
    const now = this.now();
    const id = randomId('dlv');
    const data = JSON.stringify({ message: 'benchfleet webhook test', webhook_id: webhookId });
    // A test is not retried: it reports the receiver's answer right away.
    stmt(this.db, `INSERT INTO webhook_deliveries (id, webhook_id, event, data, status, next_attempt_at, created_at) VALUES (?, ?, 'ping', ?, 'pending', ?, ?)`)
      .run(id, webhookId, data, Number.MAX_SAFE_INTEGER, now);
    await this.attempt({ id, webhook_id: webhookId, event: 'ping', data, attempts: 0, created_at: now, url: hook.url, secret: hook.secret, format: hook.format });
    stmt(this.db, `UPDATE webhook_deliveries SET status = 'failed' WHERE id = ? AND status = 'pending'`).run(id);
    return getDelivery(this.db, id)!;
  }
}

interface DeliveryViewRow { id: string; webhook_id: string; event: string; status: WebhookDeliveryView['status']; attempts: number; next_attempt_at: number; last_status: number | null; last_error: string | null; created_at: number; delivered_at: number | null }

function toDeliveryView(db: Db, r: DeliveryViewRow): WebhookDeliveryView {
  const log = (stmt(db, 'SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt').all(r.id) as
    { attempt: number; at: number; status_code: number | null; error: string | null; duration_ms: number }[])
    .map((a) => ({ ...a, at: new Date(a.at).toISOString() }));
  return {
    id: r.id, webhook_id: r.webhook_id, event: r.event, status: r.status, attempts: r.attempts,
    next_attempt_at: r.status === 'pending' && r.next_attempt_at < Number.MAX_SAFE_INTEGER ? new Date(r.next_attempt_at).toISOString() : null,
    last_status: r.last_status, last_error: r.last_error, created_at: new Date(r.created_at).toISOString(),
    delivered_at: r.delivered_at === null ? null : new Date(r.delivered_at).toISOString(), log,
  };
}

export function getDelivery(db: Db, id: string): WebhookDeliveryView | null {
  const row = stmt(db, 'SELECT * FROM webhook_deliveries WHERE id = ?').get(id) as DeliveryViewRow | undefined;
  return row ? toDeliveryView(db, row) : null;
}

export function listDeliveries(db: Db, webhookId: string, limit: number): WebhookDeliveryView[] {
  return (stmt(db, 'SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(webhookId, limit) as DeliveryViewRow[])
    .map((r) => toDeliveryView(db, r));
}
