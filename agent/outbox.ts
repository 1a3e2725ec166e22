// Durable outbox: a job's final message (result or failure) is written to disk before it is
// sent, and deleted only when the server acknowledges it. Results of jobs finished while the
// agent was disconnected — or before it crashed — are sent on the next connection.
import fs from 'node:fs';
import path from 'node:path';
import { agentMessageSchema, type AgentMessage } from '../protocol/agent-messages.js';

export type FinalMessage = Extract<AgentMessage, { type: 'job.result' | 'job.failed' }>;

export class Outbox {
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  private file(jobId: string, attempt: number): string {
    return path.join(this.dir, `${jobId}.${attempt}.json`);
  }

  /** Writes atomically (temp file, fsync, rename) so a crash never leaves half a message. */
  put(msg: FinalMessage): void {
    const final = this.file(msg.job_id, msg.attempt);
    const tmp = `${final}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, JSON.stringify(msg));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, final);
  }

  remove(jobId: string, attempt: number): void {
    fs.rmSync(this.file(jobId, attempt), { force: true });
  }

  /** Pending messages; unreadable files are moved aside rather than resent forever. */
  pending(): FinalMessage[] {
    const out: FinalMessage[] = [];
    for (const name of fs.readdirSync(this.dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const full = path.join(this.dir, name);
      try {
        const parsed = agentMessageSchema.parse(JSON.parse(fs.readFileSync(full, 'utf8')));
        if (parsed.type === 'job.result' || parsed.type === 'job.failed') out.push(parsed);
      } catch {
        fs.renameSync(full, `${full}.corrupt`);
      }
    }
    return out;
  }
}
