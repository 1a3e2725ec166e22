// API tokens: random secrets handed out once; the database stores only their sha256.
// Roles: admin (everything), submit (push models, submit runs, read), read (dashboard),
// agent (one per agent: its socket and model downloads), enroll (may only enroll agents).
import crypto from 'node:crypto';
import type { Db } from '../db/open.js';
import type { TokenRole } from '../../protocol/domain.js';
import type { TokenView } from '../../protocol/api.js';
import { randomId } from '../ids.js';
import { stmt } from '../db/statements.js';

export interface Principal { tokenId: string; role: TokenRole; agentId: string | null; name: string }

export function hashSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function createToken(db: Db, role: TokenRole, name: string, agentId: string | null = null, now = Date.now()): { id: string; secret: string } {
  const id = randomId('tok');
  const secret = `bf${role[0]}_${crypto.randomBytes(24).toString('base64url')}`;
  stmt(db, `INSERT INTO tokens (id, name, role, hash, agent_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
    .run(id, name, role, hashSecret(secret), agentId, now);
  return { id, secret };
}

/** Resolves a secret to its principal, or null when unknown or revoked (including a revoked agent). */
export function authenticate(db: Db, secret: string, now = Date.now()): Principal | null {
  const row = stmt(db,
      `SELECT t.id, t.role, t.agent_id, t.name FROM tokens t LEFT JOIN agents a ON a.id = t.agent_id
       WHERE t.hash = ? AND t.revoked_at IS NULL AND (t.agent_id IS NULL OR a.revoked_at IS NULL)`,
    )
    .get(hashSecret(secret)) as { id: string; role: TokenRole; agent_id: string | null; name: string } | undefined;
  if (!row) return null;
  stmt(db, 'UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)').run(now, row.id, now - 60_000);
  return { tokenId: row.id, role: row.role, agentId: row.agent_id, name: row.name };
}

/** What each role may do; admin may do everything. */
export type Permission = 'read' | 'submit' | 'admin' | 'agent' | 'enroll' | 'fetch_model';
const GRANTS: Record<TokenRole, readonly Permission[]> = {
  admin: ['read', 'submit', 'admin', 'enroll', 'fetch_model'],
  submit: ['read', 'submit', 'fetch_model'],
  read: ['read'],
  agent: ['agent', 'fetch_model'],
  enroll: ['enroll'],
};

export function allows(role: TokenRole, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

export function listTokens(db: Db): TokenView[] {
  const rows = stmt(db, `SELECT id, name, role, agent_id, created_at, revoked_at FROM tokens ORDER BY created_at`).all() as {
    id: string; name: string; role: TokenRole; agent_id: string | null; created_at: number; revoked_at: number | null;
  }[];
  return rows.map((r) => ({ id: r.id, name: r.name, role: r.role, agent_id: r.agent_id, created_at: new Date(r.created_at).toISOString(), revoked: r.revoked_at !== null }));
}

export function revokeToken(db: Db, id: string, now = Date.now()): boolean {
  return stmt(db, 'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id).changes === 1;
}

export function countAdminTokens(db: Db): number {
  return (stmt(db, `SELECT COUNT(*) AS n FROM tokens WHERE role = 'admin' AND revoked_at IS NULL`).get() as { n: number }).n;
}
