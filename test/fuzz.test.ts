// Bounded, seeded fuzzing of a real server over real HTTP and a real agent WebSocket: a few
// thousand mutated requests (REST bodies, query strings, path parameters, model uploads) and agent
// messages (mutated fields, invalid JSON, unknown types, results for jobs that do not exist).
// Whatever arrives: no 5xx and no `internal` socket error; every 4xx is `{error:{code,message}}`;
// requests that must be refused (and every GET) change nothing in the database; the log grows by a
// bounded amount per request; and the server still answers over HTTP and the socket afterwards.
// The seed is fixed (BENCHFLEET_FUZZ_SEED overrides it) and printed with every failure.
// The fixed seed runs about 3,100 cases in some 15 s on two cores.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { MAX_FRAME_BYTES, serverMessageSchema, type ServerMessage } from '../protocol/agent-messages.js';
import { seededRng, type Rng } from '../protocol/random.js';
import { repoRoot, startFarm, waitFor, type Farm } from './support/farm.js';

const SEED = process.env.BENCHFLEET_FUZZ_SEED ? Number(process.env.BENCHFLEET_FUZZ_SEED) : 0x0b5e55ed;
const SEED_TEXT = `seed ${SEED} (rerun with BENCHFLEET_FUZZ_SEED=${SEED})`;
/** BENCHFLEET_FUZZ_SCALE multiplies the case counts for a longer run by hand (the suite runs 1×, about 3,100 cases). */
const SCALE = Number(process.env.BENCHFLEET_FUZZ_SCALE ?? 1);
const CASES = Object.fromEntries(Object.entries({ rejected: 900, gets: 500, paths: 300, uploads: 150, maySucceed: 400, wsRejected: 700, wsMaySucceed: 150 })
  .map(([k, n]) => [k, Math.max(1, Math.round(n * SCALE))])) as Record<'rejected' | 'gets' | 'paths' | 'uploads' | 'maySucceed' | 'wsRejected' | 'wsMaySucceed', number>;
/** The log may grow by at most this much per request on average, and no line may be longer than LOG_LINE_MAX. */
const LOG_BYTES_PER_CASE = 2048;
const LOG_LINE_MAX = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Random values

class Gen {
  private readonly rng: Rng;
  constructor(seed: number) { this.rng = seededRng(seed); }
  next(): number { return this.rng(); }
  int(n: number): number { return Math.floor(this.rng() * n); }
  chance(p: number): boolean { return this.rng() < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]!; }

  /** A string that is odd in one way or another; `huge` allows up to 300 KiB. */
  string(huge = true): string {
    const kind = this.int(huge ? 9 : 8);
    switch (kind) {
      case 0: return '';
      case 1: return this.ascii(1 + this.int(40));
      case 2: return Array.from({ length: 1 + this.int(12) }, () => this.pick(ODD_PIECES)).join('');
      case 3: return this.pick(NUMBER_LIKE);
      case 4: return this.pick(['null', 'true', '[]', '{}', '__proto__', 'constructor', '*', '.', '..', '../../etc/passwd', '%s%n', '${x}']);
      case 5: return this.ascii(100 + this.int(400));
      case 6: return 'x'.repeat(this.pick([63, 64, 65, 127, 128, 129, 255, 256, 257, 2000, 2001]));
      case 7: return this.pick(ODD_PIECES).repeat(1 + this.int(300));
      default: return this.pick(['a', '🦀', 'é', '\u0000']).repeat(this.pick([20_000, 100_000, 300 * 1024]));
    }
  }

  ascii(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + this.int(95));
    return s;
  }

  number(): number | RawJson {
    return this.pick<() => number | RawJson>([
      () => this.pick([0, -0, 1, -1, 0.5, -0.5, 2 ** 31, -(2 ** 31), 2 ** 53 + 2, -(2 ** 63), Number.MAX_SAFE_INTEGER, 1e308, -1e308, 5e-324, 1.5]),
      () => (this.next() - 0.5) * 10 ** this.int(20),
      () => this.int(1000) - 500,
      () => new RawJson(this.pick(['1e999', '-1e999', '1E400', '-0.0', '0e0', '1.0000000000000000000001', '123456789012345678901234567890'])),
    ])();
  }

  /** Any JSON value, nested up to `depth`. */
  value(depth = 3): unknown {
    const kind = this.int(depth > 0 ? 10 : 7);
    switch (kind) {
      case 0: return null;
      case 1: return this.chance(0.5);
      case 2: case 3: return this.number();
      case 4: case 5: case 6: return this.string(depth >= 3);
      case 7: return Array.from({ length: this.int(5) }, () => this.value(depth - 1));
      case 8: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(5); i > 0; i--) setOwn(o, this.key(), this.value(depth - 1));
        return o;
      }
      default: {
        // Deep nesting.
        let v: unknown = this.value(0);
        for (let i = 0, n = this.pick([10, 100, 500]); i < n; i++) v = this.chance(0.5) ? [v] : { a: v };
        return v;
      }
    }
  }

  key(): string {
    return this.pick<() => string>([
      () => this.pick(['__proto__', 'constructor', 'prototype', '', ' ', 'toString', 'hasOwnProperty', 'x'.repeat(300), '🦀', 'null', '$where', 'a.b', 'a[0]']),
      () => this.ascii(1 + this.int(12)),
      () => `extra_${this.int(1000)}`,
    ])();
  }
}

/** Sets a key as an own property, so that even `__proto__` is written into the JSON text. */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A number written verbatim into the JSON text (JSON.stringify cannot write 1e999 or -0.0). */
class RawJson {
  readonly text: string;
  constructor(text: string) { this.text = text; }
}

const ODD_PIECES = ['é', 'ß', '日本語', '🦀', '\u202e', '\u200b', '\u0000', '\u0007', '\ud800', '\udfff', '\uffff', '\ufeff', 'ǅ', '\n', '\r\n', '\t', '"', '\\', "'",
  '<script>alert(1)</script>', "'; DROP TABLE runs; --", '%00', '%zz', '../', '/', '?', '#', '&', '=', '+', ' ', 'Ω', '\u{10ffff}', 'a'];
const NUMBER_LIKE = ['NaN', 'Infinity', '-Infinity', '-1', '0', '-0', '1e999', '0x10', ' 5', '5 ', '1.5', '1e3', '', '٣', '０', '00001', '9'.repeat(40)];

function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJson) { raws.push(v.text); return `@@raw${raws.length - 1}@@`; }
    return v;
  }) ?? 'null';
  return text.replace(/"@@raw(\d+)@@"/g, (_m, i: string) => raws[Number(i)]!);
}

/** A copy of `body` with a few random changes: fields set to odd values, removed, nested or added. */
function mutate(g: Gen, body: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(body);
  for (let n = 1 + g.int(3); n > 0; n--) {
    const holder = randomObjectIn(g, copy);
    const keys = Object.keys(holder);
    const op = g.int(5);
    if (op === 0 && keys.length > 0) delete holder[g.pick(keys)];
    else if (op === 1) setOwn(holder, g.key(), g.value());
    else if (keys.length > 0) holder[g.pick(keys)] = op === 4 ? { nested: holder[g.pick(keys)] } : g.value();
  }
  return copy;
}

function randomObjectIn(g: Gen, root: Record<string, unknown>): Record<string, unknown> {
  let at = root;
  while (g.chance(0.4)) {
    const inner = Object.values(at).filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof RawJson));
    if (inner.length === 0) break;
    at = g.pick(inner);
  }
  return at;
}

// ---------------------------------------------------------------------------------------------
// HTTP and the database

interface Sent { method: string; path: string; headers: Record<string, string>; body?: Buffer | string }
interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string }

let farm: Farm;
let keepAlive: http.Agent;

function send(req: Sent): Promise<Answer> {
  const url = new URL(farm.url);
  return new Promise((resolve, reject) => {
    let answered = false;
    const r = http.request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers: req.headers, agent: keepAlive }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may answer (413, 401) and close before a large body is sent: that answer counts.
    r.on('error', (err) => { if (!answered) reject(err); });
    r.end(req.body);
  });
}

function describeRequest(req: Sent): string {
  const body = req.body === undefined ? '' : ` body(${Buffer.byteLength(req.body)} bytes)=${JSON.stringify(String(req.body).slice(0, 300))}`;
  return `${req.method} ${req.path.slice(0, 300)}${req.path.length > 300 ? `… (${req.path.length} chars)` : ''} headers=${JSON.stringify(req.headers)}${body}`;
}

/** Why an answer breaks the rules (null when it does not): no 5xx, a JSON error body on every 4xx. */
function problem(ans: Answer, mustRefuse: boolean): string | null {
  if (ans.status >= 500) return `server error ${ans.status}`;
  if (ans.status < 200) return `odd status ${ans.status}`;
  if (ans.status >= 400) {
    let parsed: unknown;
    try { parsed = JSON.parse(ans.text); } catch { return `${ans.status} without a JSON body`; }
    const err = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (!err || typeof err.code !== 'string' || typeof err.message !== 'string' || err.message === '') return `${ans.status} without {error:{code,message}}`;
    if (!/^application\/json/.test(String(ans.headers['content-type']))) return `${ans.status} error body sent as ${ans.headers['content-type']}`;
    return null;
  }
  if (mustRefuse) return `accepted (${ans.status}) a request that must be refused`;
  return null;
}

class Failures {
  readonly list: string[] = [];
  add(phase: string, i: number, what: string, why: string, ans?: Answer): void {
    if (this.list.length < 20) this.list.push(`[${phase} #${i}] ${why}: ${what}${ans ? ` -> ${ans.status} ${ans.text.slice(0, 300)}` : ''}`);
    else if (this.list.length === 20) this.list.push('… more');
  }
  check(phase: string): void {
    assert.equal(this.list.length, 0, `${phase}: ${SEED_TEXT}\n${this.list.join('\n')}`);
  }
}

/** Columns that only record that a token or an agent was seen; everything else is compared. */
const BOOKKEEPING: Record<string, string[]> = { tokens: ['last_used_at'], agents: ['last_seen_at'], devices: ['last_seen_at'] };

/** Per table, a row count and a hash of its rows. */
function snapshot(): Record<string, string> {
  const db = farm.server.db;
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((t) => t.name);
  const out: Record<string, string> = {};
  for (const t of tables) {
    const rows = (db.prepare(`SELECT * FROM "${t}"`).all() as Record<string, unknown>[]).map((r) => {
      for (const c of BOOKKEEPING[t] ?? []) delete r[c];
      return JSON.stringify(r, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    }).sort();
    out[t] = `${rows.length} rows, ${crypto.createHash('sha256').update(rows.join('\n')).digest('hex').slice(0, 16)}`;
  }
  return out;
}

function modelFiles(): string[] {
  return (fs.readdirSync(path.join(farm.dataDir, 'models'), { recursive: true }) as string[]).sort();
}

const logFile = () => path.join(farm.dataDir, 'server.log');
async function logSize(): Promise<number> {
  await new Promise((r) => setTimeout(r, 150)); // the farm's log is a write stream
  return fs.existsSync(logFile()) ? fs.statSync(logFile()).size : 0;
}
/** Log bytes written per phase (printed). */
const logGrowth: Record<string, number> = {};
async function checkLogGrowth(phase: string, from: number, cases: number): Promise<void> {
  const size = await logSize();
  logGrowth[phase] = size - from;
  assert.ok(size - from <= cases * LOG_BYTES_PER_CASE, `${phase}: the log grew by ${size - from} bytes for ${cases} requests (${SEED_TEXT})`);
  const text = fs.readFileSync(logFile()).subarray(from).toString('utf8');
  const longest = Math.max(0, ...text.split('\n').map((l) => l.length));
  assert.ok(longest <= LOG_LINE_MAX, `${phase}: a log line of ${longest} characters (${SEED_TEXT})`);
  assert.ok(!/"msg":"request failed"/.test(text), `${phase}: the server logged a failed request: ${text.slice(text.indexOf('request failed') - 10, text.indexOf('request failed') + 600)}`);
}

// ---------------------------------------------------------------------------------------------
// A raw agent on /ws/agent

class RawAgent {
  readonly inbox: ServerMessage[] = [];
  readonly unparsable: string[] = [];
  closed: { code: number; reason: string } | null = null;
  private syncs = 0;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const text = d.toString();
      let parsed: unknown;
      try { parsed = JSON.parse(text); } catch { this.unparsable.push(text); return; }
      const ok = serverMessageSchema.safeParse(parsed);
      if (ok.success) this.inbox.push(ok.data); else this.unparsable.push(text);
    });
    ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; });
  }

  static async connect(token: string): Promise<RawAgent> {
    const ws = new WebSocket(`${farm.url.replace(/^http/, 'ws')}/ws/agent`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return new RawAgent(ws);
  }

  send(data: string | Buffer): void { this.ws.send(data); }

  /**
   * Sends a message the server must refuse by name, and returns every reply received before its
   * refusal (the session handles an agent's messages in order), job assignments aside.
   */
  async barrier(timeoutMs = 5000): Promise<ServerMessage[]> {
    const tag = `sync-${++this.syncs}`;
    const start = this.inbox.length;
    this.ws.send(JSON.stringify({ type: tag }));
    const isMine = (m: ServerMessage) => m.type === 'error' && m.code === 'invalid_message' && m.message.includes(`type ${tag} `);
    await waitFor(`the server to answer ${tag}${this.closed ? ` (socket closed ${this.closed.code} ${this.closed.reason})` : ''}`, () => this.closed !== null || this.inbox.slice(start).some(isMine), timeoutMs, 2);
    if (this.closed) throw new Error(`the agent socket closed: ${this.closed.code} ${this.closed.reason}`);
    const replies = this.inbox.slice(start);
    return replies.slice(0, replies.findIndex(isMine)).filter((m) => m.type !== 'job.assign');
  }

  close(): void { this.ws.close(); }
}

// ---------------------------------------------------------------------------------------------
// The farm under test: a model, a webhook, a raw agent with one device holding one assigned job

const world = {
  agentToken: '', agentId: '', deviceId: '', deviceName: 'fuzzdev', runId: '', jobId: '', webhookId: '', modelSha: '', seriesKey: 'a'.repeat(32),
};
let agent: RawAgent;
const hello = (running: { job_id: string; attempt: number }[]) => ({
  type: 'hello', protocol: 1, agent_version: 'fuzz', hostname: 'fuzzhost', running,
  devices: [{ serial: 'fuzz-serial', name: 'fuzzdev', driver: 'linux', labels: { rack: 'r1' }, runtimes: ['onnxruntime'], online: true }],
});

before(async () => {
  farm = await startFarm({ policy: { leaseMs: 600_000 } });
  keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const model = fs.readFileSync(path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx'));
  const up = await fetch(`${farm.url}/api/v1/models?family=fz&variant=int8`, {
    method: 'POST', body: model, headers: { authorization: `Bearer ${farm.adminToken}`, 'content-type': 'application/octet-stream' },
  });
  assert.equal(up.status, 201);
  world.modelSha = ((await up.json()) as { model: { sha256: string } }).model.sha256;
  const hook = await farm.api<{ webhook: { id: string } }>('POST', '/webhooks', { url: 'http://127.0.0.1:1/hook', events: ['alert.opened'] });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  world.webhookId = hook.body.webhook.id;
  const made = await farm.api<{ agent: { id: string }; token: string }>('POST', '/agents', { name: 'fuzz-agent' });
  assert.equal(made.status, 201);
  world.agentToken = made.body.token;
  world.agentId = made.body.agent.id;
  agent = await RawAgent.connect(world.agentToken);
  agent.send(JSON.stringify(hello([])));
  await waitFor('welcome', () => agent.inbox.some((m) => m.type === 'welcome'));
  const devices = await farm.api<{ items: { id: string; name: string }[] }>('GET', '/devices');
  world.deviceId = devices.body.items[0]!.id;
  world.deviceName = devices.body.items[0]!.name;
  const run = await farm.api<{ id: string }>('POST', '/runs', { model: 'fz:int8', device: world.deviceName, settings: { iterations: 5, warmup: 1 } });
  assert.equal(run.status, 201, JSON.stringify(run.body));
  world.runId = run.body.id;
  const assigned = await waitFor('the job to be assigned to the raw agent', () => agent.inbox.find((m) => m.type === 'job.assign'));
  assert.ok(assigned.type === 'job.assign');
  world.jobId = assigned.job.job_id;
  assert.equal(assigned.job.attempt, 1);
});
after(async () => {
  agent?.close();
  keepAlive?.destroy();
  await farm?.stop();
});

// ---------------------------------------------------------------------------------------------
// Request generators

const auth = (token = farm.adminToken) => ({ authorization: `Bearer ${token}` });

/** Routes with JSON bodies, each with a body it would accept (given the ids of the world). */
function bodyRoutes(): { method: string; path: string; valid: Record<string, unknown> }[] {
  return [
    { method: 'POST', path: '/runs', valid: { model: 'fz:int8', device: world.deviceName, runtime: 'onnxruntime', settings: { iterations: 5, warmup: 1, threads: 1, inputs: { x: { shape: [1, 2], fill: 0 } } }, git: { branch: 'main', commit: 'abc123' }, max_attempts: 2 } },
    { method: 'PATCH', path: `/devices/${world.deviceId}`, valid: { name: 'fuzzdev-2', health: 'good', labels: { rack: 'r2' } } },
    { method: 'POST', path: '/agents', valid: { name: 'agent-x' } },
    { method: 'POST', path: '/agents/enroll', valid: { name: 'agent-y' } },
    { method: 'POST', path: '/tokens', valid: { role: 'read', name: 'fuzz token' } },
    { method: 'PATCH', path: '/models/fz:int8', valid: { tags: ['a'], accuracy: 0.5, accuracy_note: 'n', parent: null, compression: { quantization: { method: 'ptq', weight_bits: 8 } } } },
    { method: 'POST', path: `/series/${world.seriesKey}/mute`, valid: { metric: 'latency_ms', for: '1h', reason: 'r' } },
    { method: 'POST', path: '/alerts/nonexistent/acknowledge', valid: { note: 'n' } },
    { method: 'POST', path: '/alerts/nonexistent/resolve', valid: { note: 'n' } },
    { method: 'PUT', path: '/policies/latency_ms', valid: { min_effect: 0.05, confirm_reruns: 1, false_alert_rate: 0.001, ab_rounds: 10, alert_on_improvement: false } },
    { method: 'POST', path: '/webhooks', valid: { url: 'http://127.0.0.1:1/h', events: ['run.finished'], filters: { family: 'fz' }, format: 'json', secret: 's'.repeat(16) } },
    { method: 'PATCH', path: `/webhooks/${world.webhookId}`, valid: { url: 'http://127.0.0.1:1/h2', events: ['alert.opened'], filters: {}, format: 'slack', enabled: false } },
    { method: 'PUT', path: '/families/fz/reference', valid: {
      variant: 'int8', min_cosine: 0.9, min_top1: 0.9,
      reference: { samples: 1, inputs: { x: { dtype: 'float32', shape: [1], base64: 'AAAAAA==' } }, outputs: { y: { dtype: 'float32', shape: [1], base64: 'AAAAAA==' } } },
    } },
  ];
}

/** A request that must be refused: a body route's valid body, mutated, then broken in one sure way. */
function refusedBodyRequest(g: Gen): Sent {
  const route = g.pick(bodyRoutes());
  const body = g.chance(0.8) ? mutate(g, route.valid) : route.valid;
  const headers: Record<string, string> = { ...auth(), 'content-type': 'application/json' };
  let text: string | Buffer;
  switch (g.int(8)) {
    case 0: case 1: case 2: // an unknown field (every body schema is strict)
      body[`unknown_${g.int(1000)}`] = g.value();
      text = toJsonText(body);
      break;
    case 3: // not an object
      text = toJsonText(g.pick<unknown>([[], [body], 1, -1, 'text', null, true, g.string(false)]));
      break;
    case 4: { // not JSON
      const json = toJsonText(body);
      // (An empty body is read as {}: a PATCH of nothing, which is allowed; so the cut keeps a byte.)
      text = g.pick([json.slice(0, 1 + g.int(json.length - 1)), `${json}}`, json.replace(/"/g, "'"), `{${g.ascii(20)}`, '\u0000', ' ', g.ascii(50), json.replace(/:/, '::'), `\ufeff${json}x`]);
      break;
    }
    case 5: // not sent as JSON
      text = toJsonText(body);
      headers['content-type'] = g.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/jsonx', '', 'application/json; charset=latin-9', 'application/json; charset=iso-8859-1']);
      if (headers['content-type'] === '') delete headers['content-type'];
      break;
    case 6: // over the size limit (POST /runs has the large limit: an unknown field instead)
      if (route.path === '/runs') { body[`unknown_${g.int(1000)}`] = 'x'.repeat(300 * 1024); text = toJsonText(body); break; }
      text = toJsonText({ ...body, pad: 'x'.repeat(256 * 1024 + g.int(50_000)) });
      break;
    default: // a broken content encoding
      text = Buffer.from(toJsonText(body));
      headers['content-encoding'] = g.pick(['gzip', 'deflate', 'br', 'x-unknown', 'gzip, gzip']);
      if (g.chance(0.3)) text = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0]), text]);
  }
  // Now and then an odd token instead: refused before the body is read.
  if (g.chance(0.05)) {
    headers.authorization = g.pick(['Bearer', 'Bearer ', 'bearer  x', `Basic ${Buffer.from('admin:admin').toString('base64')}`, `Bearer ${'t'.repeat(8000)}`,
      `Bearer ${farm.adminToken}x`, `Bearer ${farm.adminToken} extra`, `Token ${farm.adminToken}`, `Bearer ${farm.adminToken.toUpperCase()}`]);
  }
  return { method: route.method, path: `/api/v1${route.path}`, headers, body: text };
}

const GET_ROUTES = [
  '/devices', '/devices/:device', '/agents', '/tokens', '/models', '/models/fz:int8', '/models/:sha/content', '/runs', '/runs/:run', '/runs/:run/results',
  '/jobs/:job', '/jobs/:job/samples', '/measurements', '/series', '/series/:key', '/series/:key/latency_ms', '/mutes', '/alerts', '/alerts/nonexistent',
  '/policies', '/webhooks', '/webhooks/:hook', '/webhooks/:hook/deliveries', '/families', '/families/fz', '/compare', '/health',
];
const QUERY_KEYS = ['limit', 'cursor', 'status', 'family', 'variant', 'device', 'series', 'format', 'metric', 'run_id', 'job_id', 'branch', 'budget', 'objective',
  'threads', 'runtime', 'settings', 'window', 'devices', 'limit[]', '__proto__', 'constructor', '', 'x'];

function queryValue(g: Gen): string {
  return g.pick<() => string>([
    () => g.pick(['0', '-1', '1', '50', '500', '501', '1e9', 'abc', '', '1.5', 'NaN', 'Infinity', ' 5', '0x10', '5e1', '-0', '1e-400']),
    () => g.pick([world.runId, world.jobId, world.deviceId, world.webhookId, world.modelSha, 'fz', 'latency_ms', 'csv', 'md', 'json', 'open', 'queued', 'main']),
    () => g.string(false).slice(0, 3000),
    () => g.ascii(g.int(200)),
  ])();
}

/** Percent-encodes a random string for a URL, leaving some odd but legal bytes raw. */
function urlPart(g: Gen, s: string): string {
  const encoded = encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd'));
  return g.chance(0.3) ? encoded.replace(/%2C/g, ',').replace(/%3A/g, ':').replace(/%40/g, '@').replace(/%24/g, '$') : encoded;
}

function query(g: Gen): string {
  if (g.chance(0.15)) return '';
  const parts: string[] = [];
  for (let n = 1 + g.int(4); n > 0; n--) {
    const key = g.chance(0.9) ? g.pick(QUERY_KEYS) : g.ascii(1 + g.int(10));
    parts.push(g.chance(0.1) ? urlPart(g, key) : `${urlPart(g, key)}=${urlPart(g, queryValue(g))}`);
  }
  if (g.chance(0.1)) parts.push(g.pick(['%', '%zz', '%E0%A4%A', '&&', '=', '==x', 'limit=1&limit=2', 'a=%00', 'limit=%F0%9F%A6%80']));
  return `?${parts.join('&')}`;
}

function getRequest(g: Gen): Sent {
  const ids: Record<string, string[]> = {
    device: [world.deviceId, world.deviceName, 'nonexistent'], sha: [world.modelSha, 'f'.repeat(64), 'nonexistent'], run: [world.runId, 'nonexistent'],
    job: [world.jobId, 'nonexistent'], key: [world.seriesKey, 'abcdef', 'nonexistent'], hook: [world.webhookId, 'nonexistent'],
  };
  const route = g.pick(GET_ROUTES).replace(/:(device|sha|run|job|key|hook)/g, (_m, name: string) => g.pick(ids[name]!));
  const headers: Record<string, string> = auth(g.chance(0.9) ? farm.adminToken : world.agentToken);
  if (g.chance(0.2)) headers.accept = g.pick(['text/html', 'application/xml', '*/*', 'text/csv', 'garbage']);
  return { method: 'GET', path: `/api/v1${route}${query(g)}`, headers };
}

const ALL_ROUTES = [
  'GET /devices/:a', 'PATCH /devices/:a', 'POST /agents/:a/revoke', 'DELETE /tokens/:a', 'GET /models/:a', 'PATCH /models/:a', 'GET /models/:a/content',
  'GET /runs/:a', 'POST /runs/:a/cancel', 'GET /runs/:a/results', 'GET /jobs/:a', 'GET /jobs/:a/samples', 'GET /series/:a', 'GET /series/:a/:b',
  'POST /series/:a/analyze', 'POST /series/:a/mute', 'DELETE /series/:a/mute', 'GET /alerts/:a', 'POST /alerts/:a/acknowledge', 'POST /alerts/:a/resolve',
  'PUT /policies/:a', 'DELETE /policies/:a', 'GET /webhooks/:a', 'PATCH /webhooks/:a', 'DELETE /webhooks/:a', 'GET /webhooks/:a/deliveries',
  'POST /webhooks/:a/test', 'GET /families/:a', 'PUT /families/:a/reference', 'DELETE /families/:a/reference',
  // Methods these paths do not have.
  'PUT /runs/:a', 'POST /devices/:a', 'DELETE /models/:a', 'PATCH /jobs/:a', 'PUT /webhooks/:a', 'POST /families/:a', 'DELETE /runs/:a/cancel',
];

/** A path parameter nothing is named: long, odd characters, broken or strange percent-encodings. */
function oddParam(g: Gen): string {
  return g.pick<() => string>([
    () => urlPart(g, g.string(false).slice(0, 1000) || 'z'),
    () => 'y'.repeat(g.pick([129, 1000, 6000])),
    () => g.pick(['%', '%zz', '%E0%A4%A', '%00', '%2F', '%2e%2e', '..', '.', '%C0%AF', '%ED%A0%80', '%FF%FE', '%25', '%u0041', '%F0%9F%A6%80', '%0D%0A', '%20']),
    () => `${g.pick(['nonexistent', 'run_', 'job_', 'dev_', 'tok_', 'whk_'])}${urlPart(g, g.ascii(1 + g.int(20)))}`,
    () => Array.from({ length: 1 + g.int(20) }, () => g.pick(['%25', '%2F', '%3F', '%23', '%00', '%7F', '%E2%80%AE', '~', '!', "'", '(', ')', '*', ':', '@'])).join(''),
  ])();
}

function pathRequest(g: Gen): Sent {
  const [method, template] = g.pick(ALL_ROUTES).split(' ') as [string, string];
  const route = template.replace(':a', oddParam(g)).replace(':b', g.chance(0.5) ? 'latency_ms' : oddParam(g));
  const withBody = method !== 'GET' && method !== 'DELETE';
  const req: Sent = { method, path: `/api/v1${route}${g.chance(0.3) ? query(g) : ''}`, headers: { ...auth(), ...(withBody ? { 'content-type': 'application/json' } : {}) } };
  if (withBody) req.body = toJsonText(g.chance(0.5) ? {} : g.value(2));
  return req;
}

const FORMAT_MAGIC = { gguf: Buffer.from('GGUF'), elf: Buffer.from([0x7f, 0x45, 0x4c, 0x46]), tflite: Buffer.from('\0\0\0\0TFL3', 'latin1'), pte: Buffer.from('\0\0\0\0ET12', 'latin1') };

/** A model upload that must be refused: garbage bytes (or a valid model with a wrong query, header or hash). */
function refusedUpload(g: Gen, model: Buffer): Sent {
  const headers: Record<string, string> = { ...auth(), 'content-type': 'application/octet-stream' };
  let q = `family=fz${g.int(5)}&variant=v${g.int(5)}`;
  let body: Buffer = crypto.randomBytes(g.pick([1, 10, 100, 4096, 65_536, 300 * 1024]));
  if (body.subarray(0, 4).toString('latin1') === 'GGUF' || body[0] === 0x7f) body[0] = 0x20;
  switch (g.int(7)) {
    case 0: break; // garbage under a valid query
    case 1: body = Buffer.concat([Buffer.from([0x08, 0x07, 0x12]), body]); break; // starts like protobuf (ONNX)
    case 2: body = g.chance(0.5) ? model.subarray(0, g.int(model.length)) : Buffer.concat([model.subarray(0, 64), body]); break; // truncated ONNX
    case 3: // a valid model with a broken query
      body = model;
      q = g.pick([
        '', 'family=fz', 'variant=v', `family=${urlPart(g, g.string(false).slice(0, 300))}&variant=v`, 'family=a&family=b&variant=v', 'family=fz&variant=v&unknown=1',
        `family=fz&variant=v&metadata=${urlPart(g, g.string(false).slice(0, 3000))}`, `family=fz&variant=v&metadata=${urlPart(g, JSON.stringify({ tags: [g.value(1)], extra: 1 }))}`,
        `family=fz&variant=v&filename=${'f'.repeat(300)}`, `family=fz&variant=v&metadata=${'%7B'.repeat(4000)}`, 'family=%zz&variant=v', `family=fz&variant=v&metadata=${urlPart(g, JSON.stringify({ parent: 'v' }))}`,
      ]);
      break;
    case 4: // a valid model with a wrong announced hash
      body = model;
      headers['x-benchfleet-sha256'] = g.pick(['b'.repeat(64), 'B'.repeat(64), world.modelSha.toUpperCase(), 'zz', '', g.ascii(64), `${world.modelSha}0`]);
      q = 'family=fz&variant=other';
      break;
    case 5: // a valid model not sent as octet-stream
      body = model;
      q = 'family=fz&variant=other';
      headers['content-type'] = g.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/octet-streamx']);
      if (g.chance(0.2)) delete headers['content-type'];
      break;
    default: // the stored model's bytes under another variant (a conflict)
      body = model;
      q = `family=${g.pick(['fz', 'other'])}&variant=int8x`;
  }
  if (headers['x-benchfleet-sha256'] === '') delete headers['x-benchfleet-sha256'];
  return { method: 'POST', path: `/api/v1/models?${q}`, headers, body };
}

/** Requests that may succeed (and so may change data): valid-shaped, with odd but permitted values. */
function maySucceedRequest(g: Gen): Sent {
  const name = () => g.pick([g.string(false).slice(0, 128) || 'n', 'é🦀\u202e', 'x'.repeat(128), `fz-${g.int(1e6)}`]);
  const headers = { ...auth(), 'content-type': 'application/json' };
  const json = (method: string, p: string, body: unknown): Sent => ({ method, path: `/api/v1${p}`, headers, body: toJsonText(body) });
  return g.pick<() => Sent>([
    () => json('POST', '/tokens', { role: g.pick(['read', 'submit', 'enroll', 'admin', 'agent']), name: name() }),
    () => json('PATCH', `/devices/${world.deviceId}`, { labels: { [g.ascii(1 + g.int(10))]: g.string(false).slice(0, 512) }, ...(g.chance(0.3) ? { health: g.pick(['good', 'bad', 'maintenance', 'unknown']) } : {}) }),
    () => json('POST', '/webhooks', { url: `http://127.0.0.1:1/${urlPart(g, g.ascii(g.int(30)))}?q=${urlPart(g, g.string(false).slice(0, 100))}`, events: [g.pick(['run.finished', 'alert.opened', 'series.changed'])], filters: g.chance(0.5) ? { family: name() } : {}, format: g.pick(['json', 'slack']) }),
    () => json('PATCH', `/webhooks/${world.webhookId}`, { enabled: g.chance(0.5), filters: { metric: g.pick(['latency_ms', 'a.b-c', 'x'.repeat(64)]) } }),
    () => json('PUT', `/policies/${g.pick(['latency_ms', '*', 'energy_mj', 'a.b-c'])}`, { min_effect: g.next() * 5, confirm_reruns: g.int(6), ...(g.chance(0.5) ? { false_alert_rate: 0.00001 + g.next() * 0.09 } : {}), ...(g.chance(0.5) ? { ab_rounds: g.int(101) } : {}) }),
    () => json('PATCH', '/models/fz:int8', { tags: Array.from({ length: g.int(5) }, () => g.string(false).slice(0, 64) || 't'), accuracy: g.chance(0.5) ? null : g.next(), accuracy_note: g.chance(0.5) ? null : g.string(false).slice(0, 500) }),
    () => json('POST', '/agents/enroll', { name: `fz${g.int(1e6)}.${g.pick(['a', 'b_c', 'd-e'])}` }),
    () => json('POST', '/runs', { model: g.pick(['fz:int8', world.modelSha]), device: g.pick([world.deviceName, 'rack=r1', '*', 'rack=🦀', 'nosuch=1']), settings: { iterations: 1 + g.int(1000), warmup: g.int(100), seed: g.int(2 ** 31), inputs: g.chance(0.5) ? {} : { [g.ascii(5)]: { fill: g.chance(0.5) ? 'random' : g.next() * 1e6 } } }, git: { branch: g.string(false).slice(0, 256), commit: g.ascii(g.int(64)) } }),
    () => json('POST', `/webhooks/${world.webhookId}/test`, {}),
    () => {
      const magic = g.pick(Object.values(FORMAT_MAGIC));
      return { method: 'POST', path: `/api/v1/models?family=fzmagic&variant=v${g.int(3)}&filename=${urlPart(g, g.string(false).slice(0, 200))}`, headers: { ...auth(), 'content-type': 'application/octet-stream' }, body: Buffer.concat([magic, crypto.randomBytes(g.int(5000))]) };
    },
  ])();
}

// ---------------------------------------------------------------------------------------------
// Agent messages

const realRef = () => ({ job_id: world.jobId, attempt: 1 });
/** Job refs the agent does not hold: unknown ids, or the real job at an attempt that is not current. */
function staleRef(g: Gen): { job_id: string; attempt: number } {
  return {
    job_id: g.pick([world.jobId, world.jobId, 'nonexistent', `job_${g.ascii(10)}`, 'x'.repeat(64), 'é🦀', "'; DROP TABLE jobs; --", g.string(false).slice(0, 64) || 'j']),
    attempt: g.pick([2, 3, 10, 2 ** 31, Number.MAX_SAFE_INTEGER]),
  };
}

function validMessage(g: Gen, ref: { job_id: string; attempt: number }): Record<string, unknown> {
  const type = g.pick(['job.started', 'job.progress', 'job.result', 'job.failed', 'heartbeat']);
  switch (type) {
    case 'job.started': return { type, ...ref };
    case 'job.progress': return { type, ...ref, phase: g.pick(['fetching', 'preparing', 'warmup', 'measuring', 'collecting']), done: g.int(1e6), total: g.int(1e6) };
    case 'job.failed': return { type, ...ref, error: { code: g.pick(['runner_failed', 'device_unavailable', 'internal', 'timed_out']), message: g.string(false).slice(0, 4000), retryable: g.chance(0.5) } };
    case 'heartbeat': return { type, running: [ref] };
    default: return {
      type, ...ref,
      measurements: Array.from({ length: 1 + g.int(3) }, () => ({
        metric: g.pick(['latency_ms', 'energy_mj', 'peak_mem_mib', 'a.b_c']), unit: g.pick(['ms', 'mJ', 'MiB', 'é']),
        samples: Array.from({ length: g.pick([1, 5, 100, 20_000]) }, () => g.pick([0, -1, 1e300, -1e-300, 5e-324, g.next() * 100])),
        ...(g.chance(0.3) ? { flags: [g.pick(['charging', 'throttled', 'hot_start'])] } : {}),
      })),
      environment: Object.fromEntries(Array.from({ length: g.int(5) }, () => [g.key(), g.pick<unknown>([null, true, 1.5, g.string(false).slice(0, 2000)])])),
      ...(g.chance(0.3) ? { operators: [{ type: 'Conv', name: g.string(false).slice(0, 512), avgMs: g.next(), percent: g.next() * 100, timesCalled: g.int(100) }] } : {}),
    };
  }
}

/** A message the session must answer with an error and otherwise ignore. */
function refusedMessage(g: Gen): { data: string | Buffer; expect: 'invalid_json' | 'invalid_message' } {
  const kind = g.int(6);
  if (kind === 0) {
    const text = toJsonText(validMessage(g, staleRef(g)));
    if (g.chance(0.2)) return { data: Buffer.concat([Buffer.from('{'), crypto.randomBytes(16 + g.int(4096))]), expect: 'invalid_json' }; // a binary frame of garbage
    return { data: g.pick([text.slice(0, g.int(text.length)), `${text}]`, g.ascii(30), '', 'undefined', "{'type':'hello'}", `${text}\u0000`]), expect: 'invalid_json' };
  }
  if (kind === 1) return { data: toJsonText(g.pick<unknown>([null, 1, 'hello', [], [validMessage(g, staleRef(g))], true, {}])), expect: 'invalid_message' };
  if (kind === 2) return { data: toJsonText({ type: g.pick(['job.teleport', 'welcome', 'job.assign', 'ack', 'error', 'HELLO', '', g.string(false).slice(0, 300)]), ...staleRef(g) }), expect: 'invalid_message' };
  // A valid-shaped message, mutated, then broken for sure: an unknown field or a field of the wrong type.
  const msg = validMessage(g, g.chance(0.5) ? staleRef(g) : realRef());
  const mutated = g.chance(0.5) ? mutate(g, msg) : msg;
  mutated.type = msg.type;
  if (g.chance(0.5)) mutated[`unknown_${g.int(100)}`] = g.value(1);
  else if (msg.type === 'heartbeat') mutated.running = g.pick<unknown>([null, 'x', [{ job_id: 1, attempt: 1 }], [{ ...realRef(), attempt: 0 }], [{ ...realRef(), attempt: 1.5 }], [{ ...realRef(), attempt: new RawJson('1e999') }]]);
  else mutated[g.pick(['job_id', 'attempt'])] = g.pick<unknown>([null, '', 0, -1, 1.5, new RawJson('1e999'), [], {}, 'x'.repeat(65), 'x'.repeat(300 * 1024), true]);
  const data = toJsonText(mutated);
  return { data: g.chance(0.1) ? Buffer.from(data) : data, expect: 'invalid_message' };
}

// ---------------------------------------------------------------------------------------------
// The tests

/** How many answers of each status each batch got (printed, to show what the fuzz reached). */
const tally: Record<string, Record<number, number>> = {};

async function runBatch(phase: string, count: number, make: (g: Gen, i: number) => Sent, mustRefuse: (req: Sent) => boolean, seed: number, failures: Failures): Promise<void> {
  const g = new Gen(SEED ^ seed);
  const statuses: Record<number, number> = (tally[phase] = {});
  for (let i = 0; i < count; i++) {
    const req = make(g, i);
    let ans: Answer;
    try {
      ans = await send(req);
    } catch (err) {
      failures.add(phase, i, describeRequest(req), `no answer (${(err as Error).message})`);
      continue;
    }
    statuses[ans.status] = (statuses[ans.status] ?? 0) + 1;
    const why = problem(ans, mustRefuse(req));
    if (why) failures.add(phase, i, describeRequest(req), why, ans);
  }
}

test('REST: refused bodies, odd queries and paths, and garbage uploads are 4xx with {error} and change nothing', { timeout: 120_000 }, async () => {
  const started = Date.now();
  const before = snapshot();
  const filesBefore = modelFiles();
  const logFrom = await logSize();
  const failures = new Failures();
  const model = fs.readFileSync(path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx'));
  await runBatch('body', CASES.rejected, refusedBodyRequest, () => true, 1, failures);
  await runBatch('get', CASES.gets, getRequest, () => false, 2, failures);
  await runBatch('path', CASES.paths, pathRequest, (r) => r.method !== 'GET', 3, failures);
  await runBatch('upload', CASES.uploads, (g) => refusedUpload(g, model), () => true, 4, failures);
  failures.check('REST fuzz');
  const total = CASES.rejected + CASES.gets + CASES.paths + CASES.uploads;
  await checkLogGrowth('REST fuzz', logFrom, total);
  assert.deepEqual(snapshot(), before, `refused requests and reads changed the database (${SEED_TEXT})`);
  assert.deepEqual(modelFiles(), filesBefore, `refused uploads left files in the model store (${SEED_TEXT})`);
  assert.equal((await send({ method: 'GET', path: '/api/v1/health', headers: {} })).status, 200);
  console.log(`# REST refused/read fuzz: ${total} requests in ${Date.now() - started} ms (${SEED_TEXT}); statuses ${JSON.stringify(tally)}; log +${logGrowth['REST fuzz']} bytes`);
});

test('agent socket: invalid, unknown and stale messages are answered with errors or stale acks and change nothing', { timeout: 120_000 }, async () => {
  const started = Date.now();
  const before = snapshot();
  const logFrom = await logSize();
  const failures = new Failures();
  // Found by this fuzz (seed 6): a serial with a lone surrogate was stored as invalid UTF-8, read back
  // as U+FFFD, and the next inventory naming it failed with an internal error (a second insert).
  for (let k = 0; k < 2; k++) {
    agent.send(JSON.stringify({ type: 'inventory', devices: [{ serial: 'phone-\ud800', name: 'p', driver: 'adb', labels: {}, runtimes: [], online: true }] }));
    assert.deepEqual((await agent.barrier()).map((m) => m.type === 'error' && m.code), ['invalid_message'], 'a serial that is not well-formed Unicode is refused');
  }
  const g = new Gen(SEED ^ 5);
  let oversized = 0;
  for (let i = 0; i < CASES.wsRejected; i++) {
    const stale = g.chance(0.35);
    const { data, expect } = stale ? { data: toJsonText(validMessage(g, staleRef(g))), expect: 'stale' as const } : refusedMessage(g);
    // A frame over the protocol's bound closes the socket (1009): test/large-results.test.ts covers that.
    if (Buffer.byteLength(data) > MAX_FRAME_BYTES) { oversized++; continue; }
    agent.send(data);
    let replies: ServerMessage[];
    try {
      replies = await agent.barrier();
    } catch (err) {
      failures.add('ws', i, String(data).slice(0, 300), (err as Error).message);
      break;
    }
    const what = `${String(data).slice(0, 300)} -> ${JSON.stringify(replies).slice(0, 300)}`;
    if (replies.some((m) => m.type === 'error' && m.code === 'internal')) failures.add('ws', i, what, 'the server failed to process the message');
    else if (expect === 'stale') {
      if (replies.some((m) => m.type === 'error' || (m.type === 'ack' && m.outcome === 'accepted'))) failures.add('ws', i, what, 'a stale message was not answered as stale');
    } else if (replies.length !== 1 || replies[0]!.type !== 'error' || replies[0]!.code !== expect) {
      failures.add('ws', i, what, `expected exactly one ${expect} error`);
    }
  }
  if (agent.unparsable.length > 0) failures.add('ws', -1, agent.unparsable.slice(0, 3).join(' | '), 'server messages outside the protocol');
  failures.check('agent socket fuzz');
  await checkLogGrowth('agent socket fuzz', logFrom, CASES.wsRejected);
  assert.deepEqual(snapshot(), before, `refused or stale agent messages changed the database (${SEED_TEXT})`);
  // The session still works: the real result of the real attempt is accepted.
  agent.send(JSON.stringify({ type: 'job.result', ...realRef(), measurements: [{ metric: 'latency_ms', unit: 'ms', samples: [1, 2, 3, 2, 1] }], environment: {} }));
  const replies = await agent.barrier();
  assert.deepEqual(replies.filter((m) => m.type === 'ack').map((m) => m.type === 'ack' && m.outcome), ['accepted']);
  assert.equal((await farm.api<{ status: string }>('GET', `/runs/${world.runId}`)).body.status, 'succeeded');
  console.log(`# agent socket refused/stale fuzz: ${CASES.wsRejected - oversized} messages (${oversized} over the frame bound skipped) in ${Date.now() - started} ms (${SEED_TEXT}); log +${logGrowth['agent socket fuzz']} bytes`);
});

test('requests and agent messages that may succeed: never a 5xx or an internal error, and every view still renders', { timeout: 120_000 }, async () => {
  const started = Date.now();
  const logFrom = await logSize();
  const failures = new Failures();
  await runBatch('may-succeed', CASES.maySucceed, maySucceedRequest, () => false, 6, failures);
  // Valid-shaped inventories and hellos with odd devices, and heartbeats.
  const g = new Gen(SEED ^ 7);
  for (let i = 0; i < CASES.wsMaySucceed; i++) {
    const devices = Array.from({ length: g.pick([0, 1, 3, 40]) }, (_v, k) => ({
      serial: g.chance(0.5) ? `s${k}` : g.string(false).slice(0, 256) || 's', name: g.string(false).slice(0, 128) || 'n',
      driver: g.pick(['linux', 'adb', 'serial']), labels: { [g.ascii(1 + g.int(8))]: g.string(false).slice(0, 512) }, runtimes: [g.pick(['onnxruntime', 'tflite', g.ascii(10)])], online: g.chance(0.8),
    }));
    const msg = g.pick<() => unknown>([
      () => ({ type: 'inventory', devices }),
      () => ({ ...hello([]), hostname: g.string(false).slice(0, 256), agent_version: g.string(false).slice(0, 64), devices }),
      () => ({ type: 'heartbeat', running: g.chance(0.5) ? [] : [staleRef(g)] }),
    ])();
    if (Buffer.byteLength(toJsonText(msg)) > MAX_FRAME_BYTES) continue;
    agent.send(toJsonText(msg));
    const replies = await agent.barrier();
    // Serials must be well-formed Unicode (protocol/agent-messages.ts): one with a lone surrogate is refused.
    const allowed = devices.some((d) => /\p{Cs}/u.test(d.serial)) ? ['too_many_devices', 'invalid_message'] : ['too_many_devices'];
    if (replies.some((m) => m.type === 'error' && !allowed.includes(m.code))) failures.add('ws-may-succeed', i, toJsonText(msg).slice(0, 300), `error reply ${JSON.stringify(replies).slice(0, 300)}`);
  }
  failures.check('may-succeed fuzz');
  await checkLogGrowth('may-succeed fuzz', logFrom, CASES.maySucceed + CASES.wsMaySucceed);
  // Whatever was stored renders: every list and the views of what exists.
  const views = ['/devices', '/agents', '/tokens', '/models', '/runs', '/mutes', '/alerts', '/series', '/policies', '/webhooks', '/families', `/webhooks/${world.webhookId}/deliveries`, '/compare?family=fz', '/compare?family=fzmagic'];
  const devices = await farm.api<{ items: { id: string }[] }>('GET', '/devices?limit=500');
  const runs = await farm.api<{ items: { id: string }[] }>('GET', '/runs?limit=500');
  const models = await farm.api<{ items: { sha256: string }[] }>('GET', '/models?limit=500');
  views.push(...devices.body.items.map((d) => `/devices/${d.id}`), ...runs.body.items.map((r) => `/runs/${r.id}`), ...runs.body.items.map((r) => `/runs/${r.id}/results?format=csv`),
    ...models.body.items.map((m) => `/models/${m.sha256}`));
  for (const v of views) {
    const res = await send({ method: 'GET', path: `/api/v1${v}`, headers: auth() });
    assert.equal(res.status, 200, `GET ${v} after the fuzz: ${res.status} ${res.text.slice(0, 300)} (${SEED_TEXT})`);
  }
  console.log(`# may-succeed fuzz: statuses ${JSON.stringify(tally['may-succeed'])}; ${CASES.maySucceed} requests and ${CASES.wsMaySucceed} agent messages, ${views.length} views, in ${Date.now() - started} ms (${SEED_TEXT}); log +${logGrowth['may-succeed fuzz']} bytes`);
});

test('a request line over 16 KiB and malformed HTTP are refused with {error:{code,message}}, not an empty answer', async () => {
  const long = await fetch(`${farm.url}/api/v1/models?family=fz&variant=v&metadata=${'%7B'.repeat(25_000)}`, { method: 'POST', headers: auth() });
  assert.equal(long.status, 431);
  const body = (await long.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'headers_too_large');
  assert.match(body.error.message, /16 KiB/);
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(new URL(farm.url).port), '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
    let text = '';
    socket.on('data', (d) => { text += d.toString(); });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 400 /);
  assert.equal((JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: { code: string } }).error.code, 'bad_request');
});

test('afterwards the server still answers over HTTP and on the agent socket', async () => {
  assert.equal((await send({ method: 'GET', path: '/api/v1/health', headers: {} })).status, 200);
  agent.send('{not json');
  const replies = await agent.barrier();
  assert.deepEqual(replies.filter((m) => m.type === 'error').map((m) => m.type === 'error' && m.code), ['invalid_json']);
  // A new connection replaces the old session and is answered too.
  const fresh = await RawAgent.connect(world.agentToken);
  try {
    fresh.send(JSON.stringify({ type: 'heartbeat', running: [] }));
    const answer = await fresh.barrier();
    assert.deepEqual(answer.map((m) => m.type === 'error' && m.code), ['hello_required']);
    await waitFor('the old socket to be closed as replaced', () => agent.closed !== null, 3000);
    assert.equal(agent.closed?.code, 4409);
  } finally {
    fresh.close();
  }
});
