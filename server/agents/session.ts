// One connected agent: validates each message, applies it to the queue through the guarded
// transitions, and acknowledges results so the agent can drop them from its outbox.
import type { WebSocket } from 'ws';
import {
  agentMessageSchema, PROTOCOL_VERSION, type AgentMessage, type DeviceDescriptor, type OperatorStat, type SampleSet, type ServerMessage,
} from '../../protocol/agent-messages.js';
import type { PreparedSet } from '../stats/prepare.js';
import { ResultAssembly } from './results.js';
import { describeZodError } from '../../protocol/errors.js';
import type { ServerContext } from '../context.js';
import { MAX_DEVICES_PER_AGENT, markAgentOnline, syncInventory } from '../farm/registry.js';
import { completeJob, failJob, markJobStarted, recordProgress, renewLeases } from '../queue/jobs.js';
import { stmt } from '../db/statements.js';

export type Log = (msg: string, extra?: Record<string, unknown>) => void;

/** Wall time (ms) the server spent on each of the latest job.result messages: parse, validate, store, judge, acknowledge. */
const RESULT_TIMES = new Float64Array(8192);
let resultCount = 0;

/** The handling times (ms) of the latest job.result messages, at most 8,192, oldest first; `reset` empties the record. */
export function recentResultTimes(reset = false): Float64Array {
  const n = Math.min(resultCount, RESULT_TIMES.length);
  const start = resultCount > RESULT_TIMES.length ? resultCount % RESULT_TIMES.length : 0;
  const out = Float64Array.from({ length: n }, (_, i) => RESULT_TIMES[(start + i) % RESULT_TIMES.length]!);
  if (reset) resultCount = 0;
  return out;
}

/** Results an agent may have in transit as parts at once. */
const MAX_ASSEMBLIES = 2;

export class AgentSession {
  private greeted = false;
  private readonly assemblies = new Map<string, ResultAssembly>();
  constructor(readonly agentId: string, private readonly socket: WebSocket, private readonly ctx: ServerContext, private readonly log: Log) {}

  /** Stores the agent's devices; new ones beyond the per-agent cap are refused, and the agent is told. */
  private inventory(devices: DeviceDescriptor[], now: number): void {
    const changed = syncInventory(this.ctx.db, this.agentId, devices, now);
    for (const id of changed) this.ctx.publish({ type: 'device.changed', device_id: id });
    if (changed.refused) {
      this.log('inventory capped', { agent: this.agentId, refused: changed.refused });
      this.send({ type: 'error', code: 'too_many_devices', message: `${changed.refused} new device(s) ignored: an agent has at most ${MAX_DEVICES_PER_AGENT} devices` });
    }
  }

  send(msg: ServerMessage): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false;
    if (this.held) this.held.push(() => this.socket.send(JSON.stringify(msg)));
    else this.socket.send(JSON.stringify(msg));
    return true;
  }

  close(code: number, reason: string): void {
    if (this.held) this.held.push(() => this.socket.close(code, reason));
    else this.socket.close(code, reason);
  }

  /**
   * While the hub stores a batch of messages in one transaction, replies wait: an acknowledgement
   * goes out only once what it acknowledges is committed (`release`), or never (`discard`).
   */
  private held: (() => void)[] | null = null;
  hold(): void {
    this.held ??= [];
  }
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const act of held) if (this.socket.readyState === this.socket.OPEN) act();
  }
  discard(): void {
    this.held = null;
  }

  get ready(): boolean {
    return this.greeted;
  }

  handleRaw(raw: string): void {
    const started = performance.now();
    if (this.handle(raw) === 'job.result') RESULT_TIMES[resultCount++ % RESULT_TIMES.length] = performance.now() - started;
  }

  /** Applies one message; returns its type once it was valid and applied. */
  private handle(raw: string): string | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      this.send({ type: 'error', code: 'invalid_json', message: 'message is not valid JSON; ignored' });
      return null;
    }
    const result = agentMessageSchema.safeParse(parsed);
    if (!result.success) {
      const type = (parsed as { type?: unknown })?.type;
      this.send({ type: 'error', code: 'invalid_message', message: `message${typeof type === 'string' ? ` of type ${type}` : ''} rejected: ${describeZodError(result.error)}; ignored` });
      return null;
    }
    if (this.isRevoked()) {
      this.send({ type: 'error', code: 'revoked', message: 'this agent was revoked; message ignored' });
      this.close(4403, 'agent revoked');
      return null;
    }
    if (!this.greeted && result.data.type !== 'hello') {
      this.send({ type: 'error', code: 'hello_required', message: `send hello before ${result.data.type}; ignored` });
      return null;
    }
    this.apply(result.data);
    return result.data.type;
  }

  private isRevoked(): boolean {
    const row = stmt(this.ctx.db, 'SELECT revoked_at FROM agents WHERE id = ?').get(this.agentId) as { revoked_at: number | null } | undefined;
    return !row || row.revoked_at !== null;
  }

  private apply(msg: AgentMessage): void {
    const { db, policy } = this.ctx;
    const now = this.ctx.now();
    switch (msg.type) {
      case 'hello': {
        if (msg.protocol !== PROTOCOL_VERSION) {
          this.send({ type: 'error', code: 'protocol_mismatch', message: `server speaks protocol ${PROTOCOL_VERSION}, agent ${msg.protocol}` });
          this.close(4400, 'protocol mismatch');
          return;
        }
        markAgentOnline(db, this.agentId, msg.hostname, msg.agent_version, now);
        this.inventory(msg.devices, now);
        this.releaseForgottenJobs(msg.running.map((r) => r.job_id));
        renewLeases(db, this.agentId, msg.running, now, policy);
        this.greeted = true;
        this.send({
          type: 'welcome', agent_id: this.agentId, heartbeat_ms: this.ctx.config.heartbeatMs,
          idle_heartbeat_ms: Math.max(this.ctx.config.heartbeatMs, this.ctx.config.idleHeartbeatMs), lease_ms: policy.leaseMs,
        });
        this.ctx.publish({ type: 'agent.changed', agent_id: this.agentId });
        this.log('agent online', { agent: this.agentId, devices: msg.devices.length, resumed: msg.running.length });
        this.ctx.kick({ agent: this.agentId });
        return;
      }
      case 'inventory':
        this.inventory(msg.devices, now);
        this.ctx.kick({ agent: this.agentId });
        return;
      case 'heartbeat': {
        this.ctx.seen.note(this.agentId, now);
        if (msg.running.length === 0) return;
        for (const lost of renewLeases(db, this.agentId, msg.running, now, policy)) {
          this.send({ type: 'job.cancel', job_id: lost.job_id, attempt: lost.attempt, reason: 'the server no longer assigns this job attempt to you' });
        }
        return;
      }
      case 'job.started': {
        const outcome = markJobStarted(db, msg, this.agentId, now, policy);
        this.send({ type: 'ack', ref: 'job.started', job_id: msg.job_id, attempt: msg.attempt, outcome });
        if (outcome === 'stale') this.send({ type: 'job.cancel', job_id: msg.job_id, attempt: msg.attempt, reason: 'attempt no longer current' });
        else this.publishJob(msg.job_id);
        return;
      }
      case 'job.progress':
        if (recordProgress(db, msg, this.agentId, { phase: msg.phase, done: msg.done, total: msg.total })) {
          const run = this.runOf(msg.job_id);
          if (run) this.ctx.publish({ type: 'job.changed', job_id: msg.job_id, run_id: run, status: 'running', progress: { phase: msg.phase, done: msg.done, total: msg.total } });
        }
        return;
      case 'job.result':
        this.storeResult(msg, msg.measurements);
        return;
      case 'job.result.part': {
        const key = `${msg.job_id}#${msg.attempt}`;
        let assembly = this.assemblies.get(key);
        if (!assembly || assembly.count !== msg.count) {
          if (!assembly && this.assemblies.size >= MAX_ASSEMBLIES) {
            this.send({ type: 'error', code: 'too_many_results', message: `at most ${MAX_ASSEMBLIES} results may be in transit at once; part of job ${msg.job_id} ignored` });
            return;
          }
          assembly = new ResultAssembly(msg.job_id, msg.attempt, msg.count);
          this.assemblies.set(key, assembly);
        }
        const state = assembly.add(msg.index, msg.data);
        if (state === 'more') return;
        this.assemblies.delete(key);
        if (state !== 'done') {
          this.send({ type: 'error', code: 'result_too_large', message: `job ${msg.job_id} attempt ${msg.attempt}: ${state}; the result was dropped` });
          return;
        }
        void this.storeLargeResult(assembly.all(), msg.job_id, msg.attempt);
        return;
      }
      case 'job.failed': {
        const outcome = failJob(db, msg, this.agentId, now, msg.error, policy);
        this.send({ type: 'ack', ref: 'job.failed', job_id: msg.job_id, attempt: msg.attempt, outcome });
        this.log('job failed', { agent: this.agentId, job: msg.job_id, attempt: msg.attempt, code: msg.error.code, outcome });
        if (outcome === 'accepted') this.afterJobEnded(msg.job_id);
        return;
      }
    }
  }

  /** Stores a result (its sets raw, or prepared off the event loop), acknowledges it and frees its device. */
  private storeResult(msg: { job_id: string; attempt: number; environment: Record<string, unknown>; operators?: OperatorStat[] | undefined }, sets: SampleSet[] | PreparedSet[]): void {
    const outcome = completeJob(this.ctx.db, msg, this.agentId, this.ctx.now(), sets, msg.environment, msg.operators);
    this.send({ type: 'ack', ref: 'job.result', job_id: msg.job_id, attempt: msg.attempt, outcome });
    this.log('job result', { agent: this.agentId, job: msg.job_id, attempt: msg.attempt, outcome });
    if (outcome === 'accepted') this.afterJobEnded(msg.job_id);
  }

  /** A result that came in parts: parsed, validated and prepared in a worker thread, then stored here. */
  private async storeLargeResult(parts: Buffer[], jobId: string, attempt: number): Promise<void> {
    try {
      const prepared = await this.ctx.results.prepare(parts);
      if (!prepared.ok) return void this.send({ type: 'error', code: prepared.code, message: prepared.message });
      const msg = prepared.message;
      if (msg.job_id !== jobId || msg.attempt !== attempt) {
        return void this.send({ type: 'error', code: 'invalid_message', message: `the parts of job ${jobId} attempt ${attempt} held a result of job ${msg.job_id} attempt ${msg.attempt}; ignored` });
      }
      if (this.isRevoked()) return;
      this.storeResult(msg, prepared.sets);
    } catch (err) {
      // E.g. the server shut down meanwhile: the agent keeps the result and sends it again.
      this.log('large result failed', { agent: this.agentId, job: jobId, error: String((err as Error).stack ?? err) });
      this.send({ type: 'error', code: 'internal', message: 'the server failed to store the result; send it again' });
    }
  }

  /** Jobs this agent holds but no longer knows about (it restarted) are failed as retryable now, not after the lease. */
  private releaseForgottenJobs(known: string[]): void {
    const held = stmt(this.ctx.db, `SELECT id, attempt FROM jobs WHERE lease_owner = ? AND status IN ('assigned', 'running')`)
      .all(this.agentId) as { id: string; attempt: number }[];
    for (const job of held) {
      if (known.includes(job.id)) continue;
      failJob(this.ctx.db, { job_id: job.id, attempt: job.attempt }, this.agentId, this.ctx.now(),
        { code: 'agent_disconnected', message: 'the agent restarted and lost this attempt; requeued', retryable: true }, this.ctx.policy);
      this.afterJobEnded(job.id);
    }
  }

  private runOf(jobId: string): string | null {
    return (stmt(this.ctx.db, 'SELECT run_id FROM jobs WHERE id = ?').get(jobId) as { run_id: string } | undefined)?.run_id ?? null;
  }

  /** Tells dashboards about the job, its run and its device; returns the device. */
  private publishJob(jobId: string): string | null {
    const row = stmt(this.ctx.db, 'SELECT j.run_id, j.status, j.device_id, r.status AS run_status FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = ?')
      .get(jobId) as { run_id: string; status: never; device_id: string; run_status: never } | undefined;
    if (!row) return null;
    this.ctx.publish({ type: 'job.changed', job_id: jobId, run_id: row.run_id, status: row.status });
    this.ctx.publish({ type: 'run.changed', run_id: row.run_id, status: row.run_status });
    this.ctx.publish({ type: 'device.changed', device_id: row.device_id });
    return row.device_id;
  }

  private afterJobEnded(jobId: string): void {
    const device = this.publishJob(jobId);
    // The device is free: its next job (or a rerun or A/B round the result asked for) goes out now.
    if (device) this.ctx.kick({ devices: [device] });
    this.ctx.webhooks.kick(); // run.finished, alerts and health changes are queued with job results
  }
}
