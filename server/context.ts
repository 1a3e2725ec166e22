// What request handlers and socket handlers share: the database, the model store, the queue
// policy, a clock, and the two notifiers (live dashboard events, agent dispatch).
import type { Db } from './db/open.js';
import type { DispatchHint } from './agents/dispatcher.js';
import type { SeenLog } from './farm/registry.js';
import type { ResultPreparer } from './agents/results.js';
import type { ModelStore } from './models/store.js';
import type { QueuePolicy } from './queue/jobs.js';
import type { LiveEvent } from '../protocol/api.js';
import type { WebhookDeliveryView } from '../protocol/alerts.js';
import type { RunViewCache } from './farm/run-view-cache.js';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  maxModelBytes: number;
  maxJsonBytes: number;
  heartbeatMs: number;
  /** Heartbeat interval of an agent that holds no job: only leases need frequent beats. */
  idleHeartbeatMs: number;
  dispatchIntervalMs: number;
  /** Base URL of the dashboard in webhook links; defaults to the address the server listens on. */
  publicUrl: string | null;
}

export interface ServerContext {
  db: Db;
  models: ModelStore;
  policy: QueuePolicy;
  config: ServerConfig;
  now: () => number;
  /** Parses and prepares results that came in parts, off the event loop. */
  results: ResultPreparer;
  /** Large runs' views, encoded, while nothing they show has changed. */
  runViews: RunViewCache;
  /** Agents' heartbeats, written to the database every 30 s. */
  seen: SeenLog;
  /** Pushes an event to every dashboard socket. */
  publish(event: LiveEvent): void;
  /** Tells the dispatcher what changed (jobs queued on a run, devices freed, an agent ready). */
  kick(hint: DispatchHint): void;
  /** A token or an agent was revoked: sockets opened with it are closed at once. */
  revoked(what: { tokenId?: string; agentId?: string }): void;
  /** Tells the agent holding a job to stop it. */
  cancelOnAgent(agentId: string, jobId: string, attempt: number, reason: string): void;
  /** The webhook outbox worker: look for due deliveries now; send a test delivery. */
  webhooks: { kick(): void; sendTest(webhookId: string): Promise<WebhookDeliveryView> };
}
