// Agents and their devices: created by an admin (or enrolled), brought online by a socket
// `hello`, and kept in step with the agent's inventory. A device's identity is its serial under its agent.
import type { Db } from '../db/open.js';
import type { DeviceDescriptor } from '../../protocol/agent-messages.js';
import { BenchfleetError } from '../../protocol/errors.js';
import { randomId, type IdGenerator } from '../ids.js';
import { createToken } from '../auth/tokens.js';
import { stmt } from '../db/statements.js';

export function createAgent(db: Db, name: string, now = Date.now(), ids: IdGenerator = randomId): { agentId: string; token: string } {
  return db.transaction(() => {
    const existing = stmt(db, 'SELECT id FROM agents WHERE name = ?').get(name);
    if (existing) throw new BenchfleetError('conflict', `an agent named ${name} exists already`);
    const agentId = ids('agt');
    stmt(db, 'INSERT INTO agents (id, name, created_at) VALUES (?, ?, ?)').run(agentId, name, now);
    const { secret } = createToken(db, 'agent', `agent ${name}`, agentId, now);
    return { agentId, token: secret };
  })();
}

export function revokeAgent(db: Db, agentId: string, now = Date.now()): boolean {
  return db.transaction(() => {
    const changed = stmt(db, 'UPDATE agents SET revoked_at = ?, online = 0 WHERE id = ? AND revoked_at IS NULL').run(now, agentId).changes === 1;
    stmt(db, 'UPDATE tokens SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL').run(now, agentId);
    stmt(db, 'UPDATE devices SET present = 0 WHERE agent_id = ?').run(agentId);
    return changed;
  })();
}

export function markAgentOnline(db: Db, agentId: string, hostname: string, version: string, now: number): void {
  stmt(db, 'UPDATE agents SET online = 1, hostname = ?, version = ?, last_seen_at = ? WHERE id = ?').run(hostname, version, now, agentId);
}

/**
 * Heartbeats are noted in memory and written for all agents at once, every FLUSH_MS: a farm of
 * 1,000 agents beats 200 times a second, and a write per beat was most of the server's idle load.
 * So `last_seen_at` of a connected agent is at most FLUSH_MS old (its `online` flag says it is
 * there now); a disconnect writes it at once, and a server stop flushes what was noted.
 */
export class SeenLog {
  static readonly FLUSH_MS = 30_000;
  private readonly seen = new Map<string, number>();
  private flushedAt = 0;

  note(agentId: string, now: number): void {
    this.seen.set(agentId, now);
  }

  /** Writes what was noted, if FLUSH_MS passed since the last write (or `force`). */
  flush(db: Db, now: number, force = false): void {
    if (this.seen.size === 0 || (!force && now - this.flushedAt < SeenLog.FLUSH_MS)) return;
    this.flushedAt = now;
    const entries = [...this.seen];
    this.seen.clear();
    db.transaction(() => {
      for (const [agentId, at] of entries) {
        stmt(db, 'UPDATE agents SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?) WHERE id = ?').run(at, agentId);
        stmt(db, 'UPDATE devices SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?) WHERE agent_id = ? AND present = 1').run(at, agentId);
      }
    })();
  }
}

export function markAgentOffline(db: Db, agentId: string, now: number): void {
  db.transaction(() => {
    stmt(db, 'UPDATE agents SET online = 0, last_seen_at = ? WHERE id = ?').run(now, agentId);
    stmt(db, 'UPDATE devices SET present = 0 WHERE agent_id = ?').run(agentId);
  })();
}

/** At most this many devices per agent: an inventory beyond it adds none of the extra ones. */
export const MAX_DEVICES_PER_AGENT = 1024;

/**
 * Makes the stored devices of an agent match its inventory: new serials become devices (the
 * name is made unique if another agent uses it), known ones are refreshed, missing ones go absent.
 * New devices beyond MAX_DEVICES_PER_AGENT are refused (counted in `refused`). Returns the ids of
 * devices whose row changed.
 */
export function syncInventory(db: Db, agentId: string, devices: DeviceDescriptor[], now: number, ids: IdGenerator = randomId): string[] & { refused?: number } {
  return db.transaction(() => {
    const before = stmt(db, 'SELECT id, serial, present, labels FROM devices WHERE agent_id = ?').all(agentId) as {
      id: string; serial: string; present: number; labels: string;
    }[];
    const bySerial = new Map(before.map((d) => [d.serial, d]));
    const changed: string[] & { refused?: number } = [];
    const seen = new Set<string>();
    let count = before.length;
    let refused = 0;
    for (const d of devices) {
      if (seen.has(d.serial)) continue; // a serial listed twice is one device
      seen.add(d.serial);
      const known = bySerial.get(d.serial);
      const labels = JSON.stringify(d.labels);
      if (known) {
        stmt(db, 'UPDATE devices SET driver = ?, labels = ?, runtimes = ?, present = ?, last_seen_at = ? WHERE id = ?')
          .run(d.driver, labels, JSON.stringify(d.runtimes), d.online ? 1 : 0, now, known.id);
        if (known.present !== (d.online ? 1 : 0) || known.labels !== labels) changed.push(known.id);
        continue;
      }
      if (count >= MAX_DEVICES_PER_AGENT) { refused++; continue; }
      count++;
      const id = ids('dev');
      stmt(db,
        `INSERT INTO devices (id, agent_id, serial, name, driver, labels, runtimes, present, last_seen_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(id, agentId, d.serial, uniqueDeviceName(db, d.name), d.driver, labels, JSON.stringify(d.runtimes), d.online ? 1 : 0, now, now);
      changed.push(id);
    }
    for (const d of before) {
      if (!seen.has(d.serial) && d.present === 1) {
        stmt(db, 'UPDATE devices SET present = 0 WHERE id = ?').run(d.id);
        changed.push(d.id);
      }
    }
    if (refused > 0) changed.refused = refused;
    return changed;
  })();
}

/**
 * A free device name from a wanted one: the name itself, else name-2, name-3, … taken from a
 * counter per base name, so that a thousand devices of one name cost a thousand steps, not a
 * million (a suffix already taken — by an older row or a device named so — is skipped).
 */
function uniqueDeviceName(db: Db, wanted: string): string {
  const taken = stmt(db, 'SELECT 1 FROM devices WHERE name = ?');
  const base = (wanted.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'device').slice(0, 100);
  if (!taken.get(base)) return base;
  const next = stmt(db, `INSERT INTO device_name_counters (base, next) VALUES (?, 3) ON CONFLICT (base) DO UPDATE SET next = next + 1 RETURNING next - 1 AS n`);
  for (;;) {
    const n = (next.get(base) as { n: number }).n;
    if (!taken.get(`${base}-${n}`)) return `${base}-${n}`;
  }
}

/**
 * Removes devices that are gone: absent for longer than `olderThanMs` and never given a job (a
 * device with jobs keeps its history). Returns how many were removed.
 */
export function pruneForgottenDevices(db: Db, now: number, olderThanMs: number): number {
  return stmt(db,
    `DELETE FROM devices WHERE present = 0 AND last_seen_at < ? AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.device_id = devices.id)
       AND NOT EXISTS (SELECT 1 FROM series s WHERE s.device_id = devices.id)`,
  ).run(now - olderThanMs).changes;
}
