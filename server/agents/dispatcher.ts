// Hands queued jobs to connected agents: for every idle, healthy device of a connected agent,
// claim its next job (a guarded UPDATE) and send the assignment. A send that fails leaves the
// lease to expire, and the reaper requeues the job.
import type { JobAssignment } from '../../protocol/agent-messages.js';
import type { RunSettings } from '../../protocol/domain.js';
import type { ServerContext } from '../context.js';
import { claimNextJob } from '../queue/jobs.js';
import { referenceForJob } from '../variants/families.js';
import type { AgentSession, Log } from './session.js';

export function dispatch(ctx: ServerContext, sessions: Map<string, AgentSession>, log: Log): number {
  let sent = 0;
  for (const [agentId, session] of sessions) {
    if (!session.ready) continue;
    const devices = ctx.db.prepare(
      `SELECT d.id, d.serial FROM devices d
       WHERE d.agent_id = ? AND d.present = 1 AND d.health IN ('good', 'unknown')
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.device_id = d.id AND j.status IN ('assigned', 'running'))
         AND EXISTS (SELECT 1 FROM jobs j WHERE j.device_id = d.id AND j.status = 'queued')`,
    ).all(agentId) as { id: string; serial: string }[];
    for (const device of devices) {
      const claimed = claimNextJob(ctx.db, device.id, agentId, ctx.now(), ctx.policy);
      if (!claimed) continue;
      // A job may run another model than its run's (the baseline arm of an A/B test).
      const run = ctx.db.prepare(
        `SELECT r.id, r.runtime, r.settings, m.sha256, m.format, m.size_bytes, m.family FROM jobs j JOIN runs r ON r.id = j.run_id
         JOIN models m ON m.sha256 = COALESCE(j.model_sha256, r.model_sha256) WHERE j.id = ?`,
      ).get(claimed.id) as { id: string; runtime: string; settings: string; sha256: string; format: string; size_bytes: number; family: string };
      const reference = run.format === 'onnx' ? referenceForJob(ctx.db, run.family) : null;
      const job: JobAssignment = {
        job_id: claimed.id, attempt: claimed.attempt, run_id: run.id, device_serial: device.serial, runtime: run.runtime,
        model: { sha256: run.sha256, format: run.format, size_bytes: run.size_bytes }, settings: JSON.parse(run.settings) as RunSettings,
        ...(reference ? { reference } : {}),
      };
      if (session.send({ type: 'job.assign', job })) sent++;
      log('job assigned', { agent: agentId, device: device.id, job: claimed.id, attempt: claimed.attempt });
      ctx.publish({ type: 'job.changed', job_id: claimed.id, run_id: run.id, status: 'assigned' });
      ctx.publish({ type: 'device.changed', device_id: device.id });
    }
  }
  return sent;
}
