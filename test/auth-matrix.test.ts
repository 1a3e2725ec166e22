// The auth matrix, checked against the routes the server really has: the API's routes are read
// from the express router at run time and must equal this file's table row for row (a new route
// cannot ship without its row), and every route is then called over real HTTP with no token, a bad
// token and a token of each role — 401, 401, then 403 exactly for the roles the row does not allow.
// Every refusal is `{error:{code,message}}`, and none of the calls changes the database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { WebSocket } from 'ws';
import { TOKEN_ROLES, type TokenRole } from '../protocol/domain.js';
import { allows, type Permission } from '../server/auth/tokens.js';
import { apiRoutes, createApp } from '../server/http/app.js';
import { startFarm, type Farm } from './support/farm.js';

/** Who may call each route: 'open' needs no token. One row per `METHOD /path` under /api/v1. */
const MATRIX: Record<string, Permission | 'open'> = {
  'GET /health': 'open',

  'GET /devices': 'read',
  'GET /devices/:id': 'read',
  'PATCH /devices/:id': 'admin',
  'GET /agents': 'read',
  'POST /agents': 'admin',
  'POST /agents/enroll': 'enroll',
  'POST /agents/:id/revoke': 'admin',
  'GET /tokens': 'admin',
  'POST /tokens': 'admin',
  'DELETE /tokens/:id': 'admin',

  'POST /models': 'submit',
  'GET /models': 'read',
  'GET /models/:ref': 'read',
  'PATCH /models/:ref': 'submit',
  'GET /models/:sha256/content': 'fetch_model',

  'POST /runs': 'submit',
  'GET /runs': 'read',
  'GET /runs/:id': 'read',
  'POST /runs/:id/cancel': 'submit',
  'GET /runs/:id/results': 'read',
  'GET /jobs/:id': 'read',
  'GET /jobs/:id/samples': 'read',
  'GET /measurements': 'read',

  'GET /series': 'read',
  'GET /series/:key': 'read',
  'GET /series/:key/:metric': 'read',
  'POST /series/:key/analyze': 'submit',
  'POST /series/:key/mute': 'submit',
  'DELETE /series/:key/mute': 'submit',
  'GET /mutes': 'read',
  'GET /alerts': 'read',
  'GET /alerts/:id': 'read',
  'POST /alerts/:id/acknowledge': 'submit',
  'POST /alerts/:id/resolve': 'submit',
  'GET /policies': 'read',
  'PUT /policies/:metric': 'admin',
  'DELETE /policies/:metric': 'admin',

  'GET /webhooks': 'admin',
  'POST /webhooks': 'admin',
  'GET /webhooks/:id': 'admin',
  'PATCH /webhooks/:id': 'admin',
  'DELETE /webhooks/:id': 'admin',
  'GET /webhooks/:id/deliveries': 'admin',
  'POST /webhooks/:id/test': 'admin',

  'GET /families': 'read',
  'GET /families/:name': 'read',
  'PUT /families/:name/reference': 'submit',
  'DELETE /families/:name/reference': 'submit',
  'GET /compare': 'read',
};

/** The roles each permission admits, as documented in server/auth/tokens.ts (admin may do everything but be an agent). */
const ROLES_FOR: Record<Permission, readonly TokenRole[]> = {
  read: ['admin', 'submit', 'read'],
  submit: ['admin', 'submit'],
  admin: ['admin'],
  agent: ['agent'],
  enroll: ['admin', 'enroll'],
  fetch_model: ['admin', 'submit', 'agent'],
};

/** Placeholder path parameters: nothing by these names exists, so an allowed call ends in a 400 or 404, never a change. */
const PLACEHOLDERS: Record<string, string> = {
  id: 'nonexistent', ref: 'nonexistent', sha256: 'nonexistent', key: 'nonexistent', metric: 'latency_ms', name: 'nonexistent',
};

let farm: Farm;
const tokens = {} as Record<TokenRole, string>;

before(async () => {
  farm = await startFarm();
  tokens.admin = farm.adminToken;
  for (const role of ['submit', 'read', 'enroll'] as const) {
    const made = await farm.api<{ token: string }>('POST', '/tokens', { role, name: `matrix-${role}` });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    tokens[role] = made.body.token;
  }
  const agent = await farm.api<{ token: string }>('POST', '/agents', { name: 'matrix-agent' });
  assert.equal(agent.status, 201, JSON.stringify(agent.body));
  tokens.agent = agent.body.token;
});
after(async () => { await farm.stop(); });

function concretePath(route: string): string {
  return route.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    const value = PLACEHOLDERS[name];
    assert.ok(value, `no placeholder for path parameter :${name} (in ${route}): add one to PLACEHOLDERS`);
    return value;
  });
}

async function call(method: string, route: string, token: string | null): Promise<{ status: number; body: unknown; text: string }> {
  const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const res = await fetch(`${farm.url}/api/v1${concretePath(route)}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(withBody ? { 'content-type': 'application/json' } : {}) },
    body: withBody ? JSON.stringify({ probe: 'auth-matrix' }) : undefined,
  });
  const text = await res.text();
  let body: unknown = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = undefined; }
  return { status: res.status, body, text };
}

function assertErrorShape(what: string, res: { status: number; body: unknown; text: string }, code?: string): void {
  const err = (res.body as { error?: { code?: unknown; message?: unknown } } | null | undefined)?.error;
  assert.ok(err && typeof err.code === 'string' && typeof err.message === 'string' && err.message.length > 0,
    `${what}: ${res.status} without an {error:{code,message}} body: ${res.text.slice(0, 300)}`);
  if (code) assert.equal(err.code, code, `${what}: error code`);
}

/** A digest of every table, to prove that the probes changed nothing (tokens' last_used_at is bookkeeping of authentication). */
function snapshot(): string {
  const db = farm.server.db;
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((t) => t.name);
  const hash = crypto.createHash('sha256');
  for (const t of tables) {
    const rows = db.prepare(`SELECT * FROM "${t}"`).all() as Record<string, unknown>[];
    const lines = rows.map((r) => JSON.stringify(t === 'tokens' ? { ...r, last_used_at: null } : r, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v))).sort();
    hash.update(`${t}\n${lines.join('\n')}\n`);
  }
  return hash.digest('hex');
}

test('the permission table matches allows() for every role and permission', () => {
  for (const [permission, roles] of Object.entries(ROLES_FOR) as [Permission, readonly TokenRole[]][]) {
    for (const role of TOKEN_ROLES) {
      assert.equal(allows(role, permission), roles.includes(role), `allows(${role}, ${permission})`);
    }
  }
});

test('the table has exactly one row for every route the server registers', () => {
  const registered = apiRoutes(createApp(farm.server.ctx, () => {})).map(([method, path]) => `${method} ${path}`);
  assert.ok(registered.length >= 40, `read ${registered.length} routes from the router: the walk over express's router is broken`);
  const duplicates = registered.filter((r, i) => registered.indexOf(r) !== i);
  assert.deepEqual(duplicates, [], 'a route registered twice');
  const missing = registered.filter((r) => !(r in MATRIX));
  assert.deepEqual(missing, [], `routes without a row in the auth matrix: ${missing.join(', ')} — add each with the permission it requires`);
  const stale = Object.keys(MATRIX).filter((r) => !registered.includes(r));
  assert.deepEqual(stale, [], `rows for routes the server does not have: ${stale.join(', ')}`);
});

test('every route: no token and a bad token are 401, each role is allowed or 403 exactly as its row says', { timeout: 60_000 }, async () => {
  const before = snapshot();
  let calls = 0;
  for (const [route, permission] of Object.entries(MATRIX)) {
    const [method, path] = route.split(' ') as [string, string];
    const anonymous = await call(method, path, null);
    const forged = await call(method, path, `bfa_${crypto.randomBytes(24).toString('base64url')}`);
    calls += 2;
    if (permission === 'open') {
      assert.equal(anonymous.status, 200, `${route} without a token: ${anonymous.text.slice(0, 300)}`);
      assert.equal(forged.status, 200, `${route} with a bad token: ${forged.text.slice(0, 300)}`);
    } else {
      assert.equal(anonymous.status, 401, `${route} without a token: ${anonymous.text.slice(0, 300)}`);
      assertErrorShape(`${route} without a token`, anonymous, 'unauthorized');
      assert.equal(forged.status, 401, `${route} with a bad token: ${forged.text.slice(0, 300)}`);
      assertErrorShape(`${route} with a bad token`, forged, 'unauthorized');
    }
    for (const role of TOKEN_ROLES) {
      const res = await call(method, path, tokens[role]);
      calls++;
      const what = `${route} as ${role}`;
      assert.ok(res.status < 500, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
      if (permission === 'open' || ROLES_FOR[permission].includes(role)) {
        assert.ok(res.status !== 401 && res.status !== 403, `${what} is allowed by the table but was refused: ${res.status} ${res.text.slice(0, 300)}`);
      } else {
        assert.equal(res.status, 403, `${what} must be forbidden (needs ${permission}): got ${res.status} ${res.text.slice(0, 300)}`);
        assertErrorShape(what, res, 'forbidden');
      }
      if (res.status >= 400) assertErrorShape(what, res);
    }
  }
  assert.equal(calls, Object.keys(MATRIX).length * (2 + TOKEN_ROLES.length));
  assert.equal(snapshot(), before, 'a probe of the matrix changed the database');
});

test('the sockets: /ws/agent takes only an agent token, /ws/live a token that may read', async () => {
  const wsUrl = farm.url.replace(/^http/, 'ws');
  const open = (path: string, token: string | null) => new Promise<number>((resolve) => {
    const ws = new WebSocket(`${wsUrl}${path}`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); });
    ws.on('open', () => { resolve(101); ws.close(); });
    ws.on('error', () => resolve(-1));
  });
  assert.equal(await open('/ws/agent', null), 401);
  assert.equal(await open('/ws/agent', 'bfa_not-a-token'), 401);
  assert.equal(await open('/ws/live', null), 401);
  assert.equal(await open('/ws/live', 'bfr_not-a-token'), 401);
  for (const role of TOKEN_ROLES) {
    assert.equal(await open('/ws/agent', tokens[role]), role === 'agent' ? 101 : 403, `/ws/agent as ${role}`);
    assert.equal(await open('/ws/live', tokens[role]), allows(role, 'read') ? 101 : 403, `/ws/live as ${role}`);
  }
});
