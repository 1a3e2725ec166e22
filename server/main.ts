// Starts the benchfleet server: database, HTTP API + dashboard and both WebSocket endpoints on
// one port, the dispatcher and the lease reaper. On first start it creates an admin token.
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { openDatabase, type Db } from './db/open.js';
import { Checkpointer } from './db/checkpointer.js';
import { ModelStore } from './models/store.js';
import { DEFAULT_POLICY, reapExpiredLeases, type QueuePolicy } from './queue/jobs.js';
import { createApp } from './http/app.js';
import { SocketHub } from './sockets.js';
import { Dispatcher } from './agents/dispatcher.js';
import { ResultPreparer } from './agents/results.js';
import { countAdminTokens, createToken } from './auth/tokens.js';
import type { ServerConfig, ServerContext } from './context.js';
import type { Log } from './agents/session.js';
import type { LiveEvent } from '../protocol/api.js';
import { DEFAULT_WEBHOOK_CONFIG, WebhookDeliverer, type WebhookConfig } from './webhooks/deliver.js';
import { advanceAbTests } from './regression/ab.js';
import { pruneForgottenDevices, SeenLog } from './farm/registry.js';
import { stmt } from './db/statements.js';
import { RunViewCache } from './farm/run-view-cache.js';
import { syncCompareIndex } from './variants/compare-index.js';
import { VERSION } from './http/app.js';

export interface StartOptions extends Partial<ServerConfig> { policy?: Partial<QueuePolicy>; webhooks?: Partial<WebhookConfig>; log?: Log; now?: () => number }

export interface RunningServer {
  url: string;
  port: number;
  db: Db;
  ctx: ServerContext;
  /** The admin token created on first start (null on later starts: only its hash is stored). */
  firstAdminToken: string | null;
  close(): Promise<void>;
}

export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  maxModelBytes: 2 * 1024 ** 3,
  maxJsonBytes: 32 * 1024 * 1024,
  heartbeatMs: 5000,
  idleHeartbeatMs: 30_000,
  dispatchIntervalMs: 1000,
  publicUrl: null,
};

export function jsonLog(component: string): Log {
  return (msg, extra) => process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), component, msg, ...extra })}\n`);
}

/** Log lines carry bounded values: a string over 2 KiB (a request value, a stack) is cut, with its length noted. */
export function boundedLog(log: Log, max = 2048): Log {
  const cut = (v: unknown): unknown => {
    if (typeof v === 'string') return v.length > max ? `${v.slice(0, max)}… (${v.length} characters)` : v;
    if (typeof v !== 'object' || v === null) return v;
    const text = JSON.stringify(v) ?? '';
    return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : v;
  };
  return (msg, extra) => log(String(cut(msg)), extra && Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, cut(v)])));
}

/** Devices absent this long that never ran a job are pruned. */
export const FORGOTTEN_DEVICE_MS = 7 * 86_400_000;

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const { policy: policyOverrides, webhooks: webhookOverrides, log: logOption, now: nowOption, ...configOverrides } = opts;
  const config: ServerConfig = { ...DEFAULT_CONFIG, ...configOverrides };
  const log = boundedLog(logOption ?? jsonLog('server'));
  const dbFile = path.join(config.dataDir, 'benchfleet.db');
  const db = openDatabase(dbFile);
  // Checkpoints run in a worker thread (db/checkpointer.ts), not inside the commits of the event loop.
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('journal_size_limit = 67108864');
  const checkpointer = new Checkpointer(dbFile);
  const models = new ModelStore(db, path.join(config.dataDir, 'models'));
  const policy: QueuePolicy = { ...DEFAULT_POLICY, ...policyOverrides };
  let hub: SocketHub | null = null;
  let dispatcher: Dispatcher | null = null;
  let listenUrl = '';
  const now = nowOption ?? (() => Date.now());
  const deliverer = new WebhookDeliverer(db, { ...DEFAULT_WEBHOOK_CONFIG, ...webhookOverrides }, () => config.publicUrl ?? listenUrl, log, now);

  const ctx: ServerContext = {
    db, models, policy, config,
    now,
    seen: new SeenLog(),
    results: new ResultPreparer(),
    // Run views of 64 KiB and more (a few hundred jobs) are kept encoded, 64 MiB in all; the ETag
    // names this process too, so a client never keeps a view shaped by another build.
    runViews: new RunViewCache(64 * 2 ** 20, 64 * 1024, `${VERSION}.${Date.now().toString(36)}`),
    publish: (event: LiveEvent) => hub?.publish(event),
    kick: (hint) => dispatcher?.kick(hint),
    revoked: (what) => hub?.revoke(what),
    cancelOnAgent: (agentId, jobId, attempt, reason) => {
      hub?.sessions.get(agentId)?.send({ type: 'job.cancel', job_id: jobId, attempt, reason });
    },
    webhooks: { kick: () => deliverer.kick(), sendTest: (id) => deliverer.sendTest(id) },
  };
  hub = new SocketHub(ctx, log);
  dispatcher = new Dispatcher(ctx, hub.sessions, log);

  let firstAdminToken: string | null = null;
  if (countAdminTokens(db) === 0) firstAdminToken = createToken(db, 'admin', 'first admin').secret;
  // Agents that were online when the server stopped are offline until they reconnect.
  stmt(db, 'UPDATE agents SET online = 0').run();
  stmt(db, 'UPDATE devices SET present = 0').run();
  // Leases that ran out while the server was down get one more lease period for their agents to reconnect.
  stmt(db, `UPDATE jobs SET lease_expires_at = MAX(lease_expires_at, ?) WHERE status IN ('assigned', 'running')`).run(Date.now() + policy.leaseMs);

  const server = http.createServer(createApp(ctx, log));
  server.requestTimeout = 0; // uploads of large models may take long; sockets still time out when idle
  // Requests Node refuses before express sees them (headers over 16 KiB, malformed HTTP) get the
  // same {error:{code,message}} body as every other refusal, not an empty answer.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return void socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({ error: tooLarge
      ? { code: 'headers_too_large', message: 'the request line and headers exceed 16 KiB; send large values in the body' }
      : { code: 'bad_request', message: `malformed HTTP request (${err.code ?? 'parse error'})` } });
    socket.end(`HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  hub.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  listenUrl = `http://${hostForUrl}:${port}`;
  deliverer.start();

  let lastPrune = 0;
  const tick = setInterval(() => {
    try {
      ctx.seen.flush(db, ctx.now());
      const reaped = reapExpiredLeases(db, ctx.now(), policy);
      for (const job of reaped) {
        log('lease reaped', { job: job.id, attempt: job.attempt, now: job.status });
        if (job.lease_owner) ctx.cancelOnAgent(job.lease_owner, job.id, job.attempt, 'the job timed out on the server');
        ctx.publish({ type: 'job.changed', job_id: job.id, run_id: job.run_id, status: job.status as never });
        const run = stmt(db, 'SELECT status FROM runs WHERE id = ?').get(job.run_id) as { status: never };
        ctx.publish({ type: 'run.changed', run_id: job.run_id, status: run.status });
      }
      // A/B rounds whose jobs ended by a lease expiry or a cancel are settled here.
      if (advanceAbTests(db, ctx.now()) > 0) deliverer.kick();
      // Devices freed by the reaper, jobs whose backoff ran out, jobs queued without an event.
      if (reaped.length > 0) dispatcher?.kick({ devices: reaped.map((j) => j.device_id) });
      dispatcher?.sweep();
      // Results stored since the last tick go into the variant comparison's index, a batch at a time.
      syncCompareIndex(db, 2000);
      // Devices gone for a week that never ran a job are removed, once an hour.
      if (ctx.now() - lastPrune > 3_600_000) {
        lastPrune = ctx.now();
        const pruned = pruneForgottenDevices(db, lastPrune, FORGOTTEN_DEVICE_MS);
        if (pruned > 0) log('forgotten devices pruned', { devices: pruned });
      }
    } catch (err) {
      log('tick failed', { error: String((err as Error).stack ?? err) });
    }
  }, config.dispatchIntervalMs);

  return {
    url: listenUrl,
    port, db, ctx, firstAdminToken,
    close: async () => {
      clearInterval(tick);
      ctx.seen.flush(db, ctx.now(), true);
      dispatcher?.stop();
      await deliverer.stop();
      hub?.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ctx.results.close();
      await checkpointer.stop();
      db.close();
    },
  };
}
