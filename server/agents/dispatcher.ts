// Hands queued jobs to connected agents, driven by events: a run's jobs were queued, a device was
// freed (its job ended), an agent connected or reported its devices, an admin made a device
// schedulable again. Each event names the devices it concerns, and only those are examined, so a
// dispatch costs the same with ten connected agents as with a thousand. A periodic sweep picks up
// what no event announces: jobs whose backoff or A/B spacing ran out, and (rarely) everything
// queued, as a safety net. The claim itself is one guarded UPDATE (queue/jobs.ts claimNextJob); the
// claims of one pass commit together and their assignments are sent after the commit. A send that
// fails leaves the lease to expire, and the reaper requeues the job.
import type { JobAssignment } from '../../protocol/agent-messages.js';
import type { RunSettings } from '../../protocol/domain.js';
import type { ServerContext } from '../context.js';
import { stmt } from '../db/statements.js';
import { claimNextJob } from '../queue/jobs.js';
import { referenceForJob } from '../variants/families.js';
import type { AgentSession, Log } from './session.js';

/** What changed, for the dispatcher to look at. */
export interface DispatchHint {
  devices?: Iterable<string>;
  agent?: string;
  run?: string;
  /** Examine now, before the caller goes on (a submission: its jobs go out before its response is built). */
  immediate?: boolean;
}

/** How often everything queued is examined, in case an event was missed. */
export const FULL_SWEEP_MS = 30_000;

export class Dispatcher {
  private readonly devices = new Set<string>();
  private readonly agents = new Set<string>();
  private readonly runs = new Set<string>();
  private scheduled = false;
  private sweptAt: number;
  private fullSweptAt: number;
  private stopped = false;

  constructor(private readonly ctx: ServerContext, private readonly sessions: Map<string, AgentSession>, private readonly log: Log) {
    this.sweptAt = ctx.now();
    this.fullSweptAt = 0;
  }

  /** Notes what changed; the devices concerned are examined once the current event is handled. */
  kick(hint: DispatchHint): void {
    if (hint.devices) for (const d of hint.devices) this.devices.add(d);
    if (hint.agent) this.agents.add(hint.agent);
    if (hint.run) this.runs.add(hint.run);
    if (this.stopped) return;
    if (hint.immediate) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => { this.scheduled = false; if (!this.stopped) this.flush(); });
  }

  stop(): void {
    this.stopped = true;
  }

  /** Examines the devices named by the events since the last flush. Returns the number of jobs sent. */
  flush(): number {
    const { db } = this.ctx;
    const now = this.ctx.now();
    for (const run of this.runs) {
      for (const r of stmt(db, `SELECT DISTINCT device_id FROM jobs WHERE run_id = ? AND status = 'queued'`).all(run) as { device_id: string }[]) this.devices.add(r.device_id);
    }
    this.runs.clear();
    for (const agent of this.agents) {
      if (!this.sessions.get(agent)?.ready) continue;
      const rows = stmt(db,
        `SELECT d.id FROM devices d WHERE d.agent_id = ? AND d.present = 1 AND d.health IN ('good', 'unknown')
           AND EXISTS (SELECT 1 FROM jobs j WHERE j.device_id = d.id AND j.status = 'queued' AND j.not_before <= ?)`,
      ).all(agent, now) as { id: string }[];
      for (const r of rows) this.devices.add(r.id);
    }
    this.agents.clear();
    const devices = [...this.devices];
    this.devices.clear();
    // All claims of a flush commit together; the assignments go out once they are committed.
    const offers = db.transaction(() => devices.map((id) => this.claim(id, now)).filter((o) => o !== null))();
    let sent = 0;
    for (const o of offers) {
      if (o.session.send({ type: 'job.assign', job: o.job })) sent++;
      this.log('job assigned', { agent: o.agentId, device: o.deviceId, job: o.job.job_id, attempt: o.job.attempt });
      this.ctx.publish({ type: 'job.changed', job_id: o.job.job_id, run_id: o.job.run_id, status: 'assigned' });
      this.ctx.publish({ type: 'device.changed', device_id: o.deviceId });
    }
    return sent;
  }

  /**
   * Looks for what no event announced: jobs that became claimable by time since the last sweep
   * (backoff after a failure, A/B spacing) or were queued by a path that sent no event; and every
   * FULL_SWEEP_MS all queued jobs. Then dispatches at once.
   */
  sweep(): number {
    const { db } = this.ctx;
    const now = this.ctx.now();
    const since = this.sweptAt;
    this.sweptAt = now;
    const full = now - this.fullSweptAt >= FULL_SWEEP_MS;
    if (full) this.fullSweptAt = now;
    const rows = (full
      ? stmt(db, `SELECT DISTINCT device_id FROM jobs WHERE status = 'queued' AND not_before <= ?`).all(now)
      : stmt(db,
        `SELECT device_id FROM jobs WHERE status = 'queued' AND not_before > @since AND not_before <= @now
         UNION SELECT device_id FROM jobs WHERE status = 'queued' AND created_at >= @since`,
      ).all({ since, now })) as { device_id: string }[];
    for (const r of rows) this.devices.add(r.device_id);
    return this.flush();
  }

  /** Claims the device's next job if its agent is connected and the device is free; the assignment to send. */
  private claim(deviceId: string, now: number): { session: AgentSession; agentId: string; deviceId: string; job: JobAssignment } | null {
    const { db } = this.ctx;
    const device = stmt(db,
      `SELECT d.agent_id, d.serial FROM devices d WHERE d.id = ? AND d.present = 1 AND d.health IN ('good', 'unknown')
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.device_id = d.id AND j.status IN ('assigned', 'running'))`,
    ).get(deviceId) as { agent_id: string; serial: string } | undefined;
    if (!device) return null;
    const session = this.sessions.get(device.agent_id);
    if (!session?.ready) return null;
    const claimed = claimNextJob(db, deviceId, device.agent_id, now, this.ctx.policy);
    if (!claimed) return null;
    // A job may run another model than its run's (the baseline arm of an A/B test).
    const run = stmt(db,
      `SELECT r.id, r.runtime, r.settings, m.sha256, m.format, m.size_bytes, m.family FROM jobs j JOIN runs r ON r.id = j.run_id
       JOIN models m ON m.sha256 = COALESCE(j.model_sha256, r.model_sha256) WHERE j.id = ?`,
    ).get(claimed.id) as { id: string; runtime: string; settings: string; sha256: string; format: string; size_bytes: number; family: string };
    const reference = run.format === 'onnx' ? referenceForJob(db, run.family) : null;
    const job: JobAssignment = {
      job_id: claimed.id, attempt: claimed.attempt, run_id: run.id, device_serial: device.serial, runtime: run.runtime,
      model: { sha256: run.sha256, format: run.format, size_bytes: run.size_bytes }, settings: JSON.parse(run.settings) as RunSettings,
      ...(reference ? { reference } : {}),
    };
    return { session, agentId: device.agent_id, deviceId, job };
  }
}
