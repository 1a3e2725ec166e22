// The agent core: keeps one WebSocket to the server (reconnecting with backoff), reports its
// drivers' devices, runs the jobs it is assigned — each under an AbortSignal for cancel and
// timeout — and delivers every job's final message through the durable outbox.
import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import {
  MAX_RESULT_BYTES, resultFrames, PROTOCOL_VERSION, serverMessageSchema, type AgentMessage, type DeviceDescriptor, type JobAssignment, type ServerMessage,
} from '../protocol/agent-messages.js';
import { describeZodError, jobError, type JobErrorCode } from '../protocol/errors.js';
import { JobFailure, type Driver, type JobProgress } from './drivers/driver.js';
import { ModelCache } from './model-cache.js';
import { Outbox, type FinalMessage } from './outbox.js';
import { RunnerRegistry } from './runners/registry.js';

export type Log = (msg: string, extra?: Record<string, unknown>) => void;

export interface AgentOptions {
  server: string;
  token: string;
  dataDir: string;
  drivers: Driver[];
  log?: Log;
  version?: string;
  /** Upper bound of the reconnect backoff. */
  maxBackoffMs?: number;
}

interface ActiveJob { job: JobAssignment; controller: AbortController }

export class Agent extends EventEmitter {
  private ws: WebSocket | null = null;
  private readonly active = new Map<string, ActiveJob>();
  private readonly outbox: Outbox;
  private readonly cache: ModelCache;
  private readonly runners: RunnerRegistry;
  private readonly log: Log;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Beat intervals from the server's welcome: while holding a job (leases) and while idle. */
  private beatMs = { busy: 5000, idle: 5000 };
  private nextBeatAt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private welcomed = false;
  private stopped = false;
  private devices = new Map<string, Driver>();
  agentId: string | null = null;

  constructor(private readonly opts: AgentOptions) {
    super();
    this.log = opts.log ?? (() => {});
    this.outbox = new Outbox(path.join(opts.dataDir, 'outbox'));
    this.runners = new RunnerRegistry(opts.dataDir);
    this.cache = new ModelCache(path.join(opts.dataDir, 'models'), opts.server.replace(/\/$/, ''), opts.token);
    for (const d of opts.drivers) d.onChange?.(() => void this.sendInventory());
  }

  async start(): Promise<void> {
    this.stopped = false;
    // Runners a previous life of this agent started and that outlived it would share the host
    // (and skew the timing) with the jobs about to run: kill them first.
    const reaped = this.runners.reap();
    if (reaped.length > 0) this.log('killed runner processes left by a previous agent', { processes: reaped });
    for (const d of this.opts.drivers) {
      try {
        await d.start?.({ dataDir: this.opts.dataDir });
      } catch (err) {
        this.log('driver failed to start', { driver: d.name, error: (err as Error).message });
      }
    }
    if (!this.stopped) this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.heartbeat) clearTimeout(this.heartbeat);
    for (const a of this.active.values()) a.controller.abort('agent stopping');
    this.ws?.close(1000, 'agent stopping');
    for (const d of this.opts.drivers) await d.close?.();
  }

  private wsUrl(): string {
    const u = new URL(this.opts.server);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = '/ws/agent';
    return u.toString();
  }

  private connect(): void {
    const ws = new WebSocket(this.wsUrl(), { headers: { authorization: `Bearer ${this.opts.token}` }, maxPayload: 64 * 1024 * 1024 });
    this.ws = ws;
    ws.on('open', () => void this.hello(ws));
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => {
        const message = safeErrorMessage(body) ?? `HTTP ${res.statusCode}`;
        this.log('server refused the agent socket', { status: res.statusCode, message });
        if (res.statusCode === 401 || res.statusCode === 403) this.emit('fatal', new Error(`server refused this agent's token: ${message}`));
        ws.terminate();
      });
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.welcomed = false;
      if (this.heartbeat) clearTimeout(this.heartbeat);
      this.heartbeat = null;
      this.emit('disconnected');
      if (code === 4403) this.emit('fatal', new Error(`server closed the connection: ${reason.toString()}`));
      this.scheduleReconnect();
    });
    ws.on('error', (err) => this.log('socket error', { error: err.message }));
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const base = Math.min(500 * 2 ** this.failures, this.opts.maxBackoffMs ?? 30_000);
    const delay = base / 2 + Math.random() * (base / 2);
    this.failures++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private async inventory(): Promise<DeviceDescriptor[]> {
    const all: DeviceDescriptor[] = [];
    this.devices = new Map();
    for (const driver of this.opts.drivers) {
      try {
        for (const d of await driver.discover()) {
          all.push(d);
          this.devices.set(d.serial, driver);
        }
      } catch (err) {
        this.log('device discovery failed', { driver: driver.name, error: (err as Error).message });
      }
    }
    return all;
  }

  private async sendInventory(): Promise<void> {
    if (!this.welcomed) return; // the hello carries the inventory
    this.send({ type: 'inventory', devices: await this.inventory() });
  }

  /**
   * Heartbeats renew the leases of held jobs: every `heartbeat_ms` while this agent holds one,
   * every `idle_heartbeat_ms` while it holds none (a farm of idle agents costs the server little).
   */
  private scheduleBeat(): void {
    if (this.heartbeat) clearTimeout(this.heartbeat);
    const delay = this.heldJobs().length > 0 ? this.beatMs.busy : this.beatMs.idle;
    this.nextBeatAt = Date.now() + delay;
    this.heartbeat = setTimeout(() => {
      this.heartbeat = null;
      if (!this.welcomed) return;
      this.send({ type: 'heartbeat', running: this.heldJobs() });
      this.scheduleBeat();
    }, delay);
  }

  /** Jobs in progress and jobs whose final message still waits in the outbox. */
  private heldJobs(): { job_id: string; attempt: number }[] {
    const refs = [...this.active.values()].map((a) => ({ job_id: a.job.job_id, attempt: a.job.attempt }));
    for (const m of this.outbox.pending()) if (!refs.some((r) => r.job_id === m.job_id)) refs.push({ job_id: m.job_id, attempt: m.attempt });
    return refs;
  }

  private async hello(ws: WebSocket): Promise<void> {
    const devices = await this.inventory();
    if (ws !== this.ws) return;
    this.send({
      type: 'hello', protocol: PROTOCOL_VERSION, agent_version: this.opts.version ?? '0.1.0', hostname: os.hostname(), devices, running: this.heldJobs(),
    });
  }

  private send(msg: AgentMessage): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    // A large result goes as parts: the server takes frames of at most 1 MiB.
    if (msg.type === 'job.result') for (const frame of resultFrames(msg)) this.ws.send(frame);
    else this.ws.send(JSON.stringify(msg));
    return true;
  }

  private onMessage(raw: string): void {
    let msg: ServerMessage;
    try {
      const parsed = serverMessageSchema.safeParse(JSON.parse(raw));
      if (!parsed.success) return this.log('ignored an invalid server message', { error: describeZodError(parsed.error) });
      msg = parsed.data;
    } catch {
      return this.log('ignored a server message that is not JSON');
    }
    switch (msg.type) {
      case 'welcome':
        this.failures = 0;
        this.welcomed = true;
        this.agentId = msg.agent_id;
        this.beatMs = { busy: msg.heartbeat_ms, idle: msg.idle_heartbeat_ms ?? msg.heartbeat_ms };
        this.scheduleBeat();
        for (const pending of this.outbox.pending()) this.send(pending);
        this.log('connected', { agent: msg.agent_id, devices: this.devices.size });
        this.emit('connected', msg.agent_id);
        return;
      case 'job.assign':
        void this.execute(msg.job);
        return;
      case 'job.cancel': {
        const a = this.active.get(msg.job_id);
        if (a && a.job.attempt === msg.attempt) {
          this.log('job canceled by the server', { job: msg.job_id, reason: msg.reason });
          a.controller.abort('canceled');
        }
        return;
      }
      case 'ack':
        if (msg.ref !== 'job.started') {
          this.outbox.remove(msg.job_id, msg.attempt);
          this.emit('acked', msg);
        }
        return;
      case 'error':
        this.log('server reported an error', { code: msg.code, message: msg.message });
        return;
    }
  }

  private async execute(job: JobAssignment): Promise<void> {
    const existing = this.active.get(job.job_id);
    if (existing && existing.job.attempt === job.attempt) return;
    const receivedAt = performance.now();
    const controller = new AbortController();
    this.active.set(job.job_id, { job, controller });
    // Holding a job now: the next beat comes within the busy interval (the lease was just granted).
    // A beat already due sooner is kept, so assignments in quick succession cannot postpone it.
    if (this.welcomed && this.nextBeatAt - Date.now() > this.beatMs.busy) this.scheduleBeat();
    const timer = setTimeout(() => controller.abort('timeout'), job.settings.timeout_ms);
    const ref = { job_id: job.job_id, attempt: job.attempt };
    const log: Log = (m, extra) => this.log(m, { job: job.job_id, attempt: job.attempt, device: job.device_serial, ...extra });
    let lastProgress = 0;
    const progress = (p: JobProgress) => {
      const now = Date.now();
      if (now - lastProgress < 200 && p.done !== p.total) return;
      lastProgress = now;
      this.send({ type: 'job.progress', ...ref, ...p });
    };
    let final: FinalMessage;
    try {
      this.send({ type: 'job.started', ...ref });
      const driver = this.devices.get(job.device_serial);
      if (!driver) throw new JobFailure('device_unavailable', `device ${job.device_serial} is not attached to this agent`);
      progress({ phase: 'fetching', done: 0, total: job.model.size_bytes });
      const model = await this.cache.get(job.model.sha256, controller.signal);
      log('model ready', { cached: model.cached });
      progress({ phase: 'preparing', done: 0, total: 1 });
      const output = await driver.run(job.device_serial, { job, modelPath: model.path, signal: controller.signal, progress, log, receivedAt, timings: {}, runners: this.runners });
      final = { type: 'job.result', ...ref, measurements: output.measurements, environment: output.environment, ...(output.operators ? { operators: output.operators } : {}) };
      log('job finished');
    } catch (err) {
      let code: JobErrorCode;
      let message: string;
      if (controller.signal.aborted) {
        code = controller.signal.reason === 'timeout' ? 'timed_out' : 'canceled';
        message = code === 'timed_out' ? `the job exceeded its timeout of ${job.settings.timeout_ms} ms and was stopped` : 'the job was canceled';
      } else if (err instanceof JobFailure) {
        code = err.code;
        message = err.message;
      } else {
        code = 'internal';
        message = (err as Error)?.message ?? String(err);
      }
      final = { type: 'job.failed', ...ref, error: jobError(code, message) };
      log('job failed', { code, message });
    } finally {
      clearTimeout(timer);
    }
    if (controller.signal.reason === 'agent stopping') {
      // The attempt is abandoned; the server requeues it when this agent returns or its lease runs out.
      this.active.delete(job.job_id);
      return;
    }
    if (final.type === 'job.result') {
      const bytes = Buffer.byteLength(JSON.stringify(final));
      if (bytes > MAX_RESULT_BYTES) {
        final = { type: 'job.failed', ...ref, error: jobError('result_too_large', `the result is ${bytes} bytes of JSON, more than the ${MAX_RESULT_BYTES} one result may carry; lower the iterations`) };
        log('job failed', { code: 'result_too_large', bytes });
      }
    }
    this.outbox.put(final);
    this.active.delete(job.job_id);
    this.send(final);
  }
}

function safeErrorMessage(body: string): string | null {
  try {
    return (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? null;
  } catch {
    return null;
  }
}
