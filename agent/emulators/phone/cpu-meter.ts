// Measures the CPU time really consumed by the processes the phone started: every shell
// process and all its descendants (found through /proc/<pid>/task/<tid>/children), including
// ones that outlive their shell. Each sample sums utime+stime+cutime+cstime from
// /proc/<pid>/stat; when a member is reaped by a tracked parent its time moves into the
// parent's cutime/cstime, so its last known total is subtracted to avoid counting it twice.
import fs from 'node:fs';
import { CLOCK_TICKS, procStatFields } from '../proc.js';

/** Kernel clock ticks per second (USER_HZ), 100 on every mainstream Linux build. */

interface ProcStat { ppid: number; startTime: string; totalTicks: number }

export function readProcStat(pid: number): ProcStat | null {
  const fields = procStatFields(pid);
  if (!fields) return null;
  const num = (i: number) => Number(fields[i] ?? 0);
  // fields[0] is field 3 (state): ppid=4, utime=14, stime=15, cutime=16, cstime=17, starttime=22.
  return { ppid: num(1), startTime: fields[19] ?? '', totalTicks: num(11) + num(12) + num(13) + num(14) };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const word of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
        const child = Number(word);
        if (child > 0) out.push(child);
      }
    } catch {
      // thread ended
    }
  }
  return out;
}

/** `root` is the pid the phone started (a shell session) this process descends from. */
interface Member { ppid: number; startTime: string; totalTicks: number; root: number }

export class CpuMeter {
  private members = new Map<number, Member>();

  /** Starts following a process the phone spawned (and, from now on, its descendants). */
  track(pid: number): void {
    if (this.members.has(pid)) return;
    const stat = readProcStat(pid);
    // Counted from zero: the whole life of a new process is work done on the phone.
    this.members.set(pid, { ppid: stat?.ppid ?? 0, startTime: stat?.startTime ?? '', totalTicks: 0, root: pid });
  }

  /** Live processes on the phone. */
  pids(): number[] {
    return [...this.members.keys()];
  }

  /** CPU seconds consumed by the phone's processes since the previous sample. */
  sample(): number {
    let total = 0;
    for (const s of this.sampleBySession().values()) total += s;
    return total;
  }

  /** CPU seconds since the previous sample, per shell session (keyed by the pid the phone started). */
  sampleBySession(): Map<number, number> {
    const ticks = new Map<number, number>();
    const add = (root: number, n: number) => ticks.set(root, (ticks.get(root) ?? 0) + n);
    const seen = new Map<number, Member>();
    const queue = [...this.members].map(([pid, m]) => ({ pid, root: m.root }));
    const queued = new Set(queue.map((q) => q.pid));
    for (let i = 0; i < queue.length; i++) {
      const { pid, root } = queue[i]!;
      const stat = readProcStat(pid);
      if (!stat) continue;
      const known = this.members.get(pid);
      if (known && known.startTime && stat.startTime !== known.startTime) continue; // pid reused: ours is gone
      add(root, stat.totalTicks - (known?.totalTicks ?? 0));
      seen.set(pid, { ppid: stat.ppid, startTime: stat.startTime, totalTicks: stat.totalTicks, root });
      for (const child of childrenOf(pid)) {
        if (!queued.has(child)) {
          queued.add(child);
          queue.push({ pid: child, root });
        }
      }
    }
    for (const [pid, gone] of this.members) {
      if (seen.has(pid)) continue;
      // Reaped by a tracked parent: its final total is now inside the parent's cutime/cstime.
      if (this.members.has(gone.ppid) || seen.has(gone.ppid)) add(gone.root, -gone.totalTicks);
    }
    this.members = seen;
    const out = new Map<number, number>();
    for (const [root, n] of ticks) out.set(root, Math.max(0, n) / CLOCK_TICKS);
    return out;
  }
}
