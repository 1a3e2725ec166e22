// Webhook events enter the outbox here: emitEvent() writes one pending delivery per enabled
// webhook that subscribes to the event and whose filters match, in the caller's transaction —
// so an event and its deliveries are stored together or not at all, and survive a restart.
import type { Db } from '../db/open.js';
import type { WebhookEventName, WebhookFilters } from '../../protocol/alerts.js';
import { randomId } from '../ids.js';
import { stmt } from '../db/statements.js';

/** What an event is about; a webhook filter only applies to the fields its event has. */
export interface EventSubject { family?: string; devices?: string[]; metric?: string }

export function matchesFilters(filters: WebhookFilters, subject: EventSubject): boolean {
  if (filters.family !== undefined && subject.family !== undefined && filters.family !== subject.family) return false;
  if (filters.metric !== undefined && subject.metric !== undefined && filters.metric !== subject.metric) return false;
  if (filters.device !== undefined && subject.devices !== undefined && !subject.devices.includes(filters.device)) return false;
  return true;
}

/** Queues the event for every matching webhook; returns the number of deliveries queued. */
export function emitEvent(db: Db, event: WebhookEventName, data: Record<string, unknown>, subject: EventSubject, now: number): number {
  const hooks = stmt(db, `SELECT id, events, filters FROM webhooks WHERE enabled = 1`).all() as { id: string; events: string; filters: string }[];
  const insert = stmt(db,
    `INSERT INTO webhook_deliveries (id, webhook_id, event, data, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  let queued = 0;
  const body = JSON.stringify(data);
  for (const hook of hooks) {
    if (!(JSON.parse(hook.events) as string[]).includes(event)) continue;
    if (!matchesFilters(JSON.parse(hook.filters) as WebhookFilters, subject)) continue;
    insert.run(randomId('dlv'), hook.id, event, body, now, now);
    queued++;
  }
  return queued;
}

/** Records a device health change and queues `device.health_changed`. */
export function deviceHealthChanged(db: Db, deviceId: string, from: string, to: string, reason: string | null, now: number): void {
  if (from === to) return;
  const device = stmt(db, 'SELECT name, driver, labels FROM devices WHERE id = ?').get(deviceId) as { name: string; driver: string; labels: string } | undefined;
  if (!device) return;
  emitEvent(db, 'device.health_changed', {
    device: { id: deviceId, name: device.name, driver: device.driver, labels: JSON.parse(device.labels) as unknown },
    from, to, reason,
  }, { devices: [device.name] }, now);
}
