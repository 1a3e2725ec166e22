// Webhook subscriptions: URL, events, filters, payload format and the HMAC secret (kept in
// clear because every delivery is signed with it; returned once, at creation).
import crypto from 'node:crypto';
import type { z } from 'zod';
import type { Db } from '../db/open.js';
import type { createWebhookSchema, patchWebhookSchema, WebhookEventName, WebhookFilters, WebhookView } from '../../protocol/alerts.js';
import { BenchfleetError } from '../../protocol/errors.js';
import { randomId } from '../ids.js';
import { stmt } from '../db/statements.js';

interface WebhookRow { id: string; url: string; events: string; filters: string; format: 'json' | 'slack'; enabled: number; created_at: number; pending: number; delivered: number; failed: number }

const SELECT = `SELECT w.*,
  (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending,
  (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'delivered') AS delivered,
  (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'failed') AS failed
  FROM webhooks w`;

const toView = (r: WebhookRow): WebhookView => ({
  id: r.id, url: r.url, events: JSON.parse(r.events) as WebhookEventName[], filters: JSON.parse(r.filters) as WebhookFilters,
  format: r.format, enabled: r.enabled === 1, created_at: new Date(r.created_at).toISOString(),
  pending: r.pending, delivered: r.delivered, failed: r.failed,
});

export function createWebhook(db: Db, body: z.infer<typeof createWebhookSchema>, now: number): { webhook: WebhookView; secret: string } {
  const id = randomId('whk');
  const secret = body.secret ?? crypto.randomBytes(24).toString('base64url');
  stmt(db, `INSERT INTO webhooks (id, url, secret, events, filters, format, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
    .run(id, body.url, secret, JSON.stringify(body.events), JSON.stringify(body.filters), body.format, now);
  return { webhook: getWebhook(db, id)!, secret };
}

export function getWebhook(db: Db, id: string): WebhookView | null {
  const row = stmt(db, `${SELECT} WHERE w.id = ?`).get(id) as WebhookRow | undefined;
  return row ? toView(row) : null;
}

export function listWebhooks(db: Db): WebhookView[] {
  return (stmt(db, `${SELECT} ORDER BY w.created_at`).all() as WebhookRow[]).map(toView);
}

export function patchWebhook(db: Db, id: string, patch: z.infer<typeof patchWebhookSchema>): WebhookView {
  if (!getWebhook(db, id)) throw new BenchfleetError('not_found', `no webhook ${id}`);
  stmt(db, `UPDATE webhooks SET url = COALESCE(@url, url), events = COALESCE(@events, events), filters = COALESCE(@filters, filters),
                format = COALESCE(@format, format), enabled = COALESCE(@enabled, enabled) WHERE id = @id`).run({
    id, url: patch.url ?? null, events: patch.events ? JSON.stringify(patch.events) : null,
    filters: patch.filters ? JSON.stringify(patch.filters) : null, format: patch.format ?? null,
    enabled: patch.enabled === undefined ? null : patch.enabled ? 1 : 0,
  });
  return getWebhook(db, id)!;
}

export function deleteWebhook(db: Db, id: string): void {
  if (stmt(db, 'DELETE FROM webhooks WHERE id = ?').run(id).changes === 0) throw new BenchfleetError('not_found', `no webhook ${id}`);
}
