// What the agent started: every runner process (the ONNX worker, a configured runner command)
// gets a unique marker in its environment — inherited by everything it starts — and a record in
// the agent's data folder while it runs. Runners die with the agent on their own (the worker exits
// when its IPC channel closes; a command's process group is killed by a watcher when the agent's
// end of its stdin pipe closes), and whatever still survives is reaped at the next agent start:
// a process is killed only when its environment still carries a recorded marker, so a pid reused
// by an unrelated process is never touched.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The environment variable that marks a runner process and its descendants. */
export const RUNNER_MARKER = 'BENCHFLEET_RUNNER';

export interface RunnerRecord {
  /** The marker's value: `<agent data folder>#<uuid>`. */
  marker: string;
  pid: number;
  /** The runner's own process group (it is started as a group leader). */
  pgid: number;
  kind: string;
  jobId: string;
  attempt: number;
  agentPid: number;
  startedAt: string;
}

export interface ReapedRunner { pid: number; marker: string; kind: string; jobId: string }

/** Processes whose environment carries `BENCHFLEET_RUNNER=<value>` for one of the given values (or any value with the prefix). */
export function markedProcesses(match: (value: string) => boolean): { pid: number; value: string }[] {
  const out: { pid: number; value: string }[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  const prefix = `${RUNNER_MARKER}=`;
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let environ: string;
    try {
      environ = fs.readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue; // gone, or another user's process
    }
    for (const entry of environ.split('\0')) {
      if (!entry.startsWith(prefix)) continue;
      const value = entry.slice(prefix.length);
      if (match(value)) out.push({ pid: Number(name), value });
      break;
    }
  }
  return out;
}

export class RunnerRegistry {
  readonly dir: string;

  constructor(private readonly dataDir: string) {
    this.dir = path.join(dataDir, 'runners');
  }

  /** A fresh marker and the environment to start a runner with. */
  prepare(): { marker: string; env: NodeJS.ProcessEnv } {
    const marker = `${path.resolve(this.dataDir)}#${randomUUID()}`;
    return { marker, env: { ...process.env, [RUNNER_MARKER]: marker } };
  }

  /** Records a started runner (before it can do any work worth measuring). */
  started(marker: string, pid: number, info: { kind: string; jobId: string; attempt: number }): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const record: RunnerRecord = { marker, pid, pgid: pid, ...info, agentPid: process.pid, startedAt: new Date().toISOString() };
    const file = this.file(marker);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(record));
    fs.renameSync(`${file}.tmp`, file);
  }

  /** Forgets a runner once it and its process group are gone. */
  finished(marker: string): void {
    fs.rmSync(this.file(marker), { force: true });
  }

  records(): RunnerRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const out: RunnerRecord[] = [];
    for (const n of names) {
      try {
        out.push(JSON.parse(fs.readFileSync(path.join(this.dir, n), 'utf8')) as RunnerRecord);
      } catch {
        fs.rmSync(path.join(this.dir, n), { force: true }); // a torn record names nothing
      }
    }
    return out;
  }

  /**
   * Kills every process left over from runners recorded by an earlier agent life: those whose
   * environment still carries a recorded marker (the runner, its process group, anything it
   * spawned). A recorded pid alone is never trusted — it may belong to someone else by now.
   */
  reap(): ReapedRunner[] {
    const records = this.records();
    if (records.length === 0) return [];
    const byMarker = new Map(records.map((r) => [r.marker, r]));
    const reaped: ReapedRunner[] = [];
    // Twice: a process forked between the scan and the kill is caught by the second pass.
    for (let pass = 0; pass < 2; pass++) {
      for (const { pid, value } of markedProcesses((v) => byMarker.has(v))) {
        const r = byMarker.get(value)!;
        if (pid === r.pgid) killQuietly(-pid); // its whole group, as started
        killQuietly(pid);
        if (!reaped.some((x) => x.pid === pid)) reaped.push({ pid, marker: value, kind: r.kind, jobId: r.jobId });
      }
    }
    for (const r of records) this.finished(r.marker);
    return reaped;
  }

  private file(marker: string): string {
    return path.join(this.dir, `${marker.slice(marker.lastIndexOf('#') + 1)}.json`);
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
