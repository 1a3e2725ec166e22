// What the emulated PPK2 measures: an activity level 0..1 (0 = the MCU idles, 1 = it computes
// flat out) and optionally the logic inputs D0..D7. The current drawn is then
// idle µA + activity × active µA (see device.ts).
//
// `ProcessCpuActivity` derives the activity from the CPU time a real process consumes: the
// emulated MCU is a process (QEMU), so its busy loops and its sleeps (WFI) show up as current.
import fs from 'node:fs';
import { CLOCK_TICKS, procStatFields } from '../proc.js';

export interface ActivitySource {
  /** Activity now, 0..1. Called once per emulator batch (every few ms). */
  activity(): number;
  /** Logic inputs now, bit n = Dn (optional; 0 when absent). */
  logic?(): number;
}

/** A fixed (settable) activity and logic state. */
export class ConstantActivity implements ActivitySource {
  constructor(public level = 0, public pins = 0) {}
  activity(): number {
    return this.level;
  }
  logic(): number {
    return this.pins;
  }
}

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ: 100 on mainstream Linux). */

/** utime + stime of the whole process (all threads, live and ended) in seconds; null if it is gone. */
export function statCpuSeconds(pid: number): number | null {
  const fields = procStatFields(pid);
  if (!fields) return null;
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / CLOCK_TICKS;
}

/**
 * Time on CPU of the process's live threads in seconds, from /proc/<pid>/task/<tid>/schedstat
 * (first field, nanoseconds): the same CPU time as utime+stime, but with nanosecond resolution
 * instead of 10 ms ticks. Null if the process is gone or schedstat is unavailable.
 */
export function schedstatCpuSeconds(pid: number): number | null {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  let ns = 0;
  let any = false;
  for (const tid of tids) {
    try {
      const first = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0];
      const v = Number(first);
      if (Number.isFinite(v)) {
        ns += v;
        any = true;
      }
    } catch {
      // thread ended between the listing and the read
    }
  }
  return any ? ns / 1e9 : null;
}

export type CpuClock = 'auto' | 'stat' | 'schedstat';

export interface ProcessCpuActivityOptions {
  /** Utilisation is measured over the last `windowMs` of wall time (default 10 ms for schedstat, 40 ms for stat). */
  windowMs?: number;
  /**
   * 'stat': utime+stime from /proc/<pid>/stat (10 ms tick resolution); 'schedstat': per-thread
   * nanosecond run time; 'auto' (default): schedstat when readable, else stat.
   */
  clock?: CpuClock;
  /** Utilisation that counts as activity 1 (default 1 CPU; a multi-threaded process is clamped). */
  fullScaleCpus?: number;
}

/**
 * Activity = CPU utilisation of a process over the last few ms: Δ(CPU time) / Δ(wall time),
 * divided by `fullScaleCpus` and clamped to 0..1. A process that has exited reads as 0.
 */
export class ProcessCpuActivity implements ActivitySource {
  readonly clock: 'stat' | 'schedstat';
  readonly windowMs: number;
  private readonly fullScale: number;
  private readonly history: { wallMs: number; cpuS: number }[] = [];
  private gone = false;

  constructor(readonly pid: number, opts: ProcessCpuActivityOptions = {}) {
    const wanted = opts.clock ?? 'auto';
    this.clock = wanted === 'auto' ? (schedstatCpuSeconds(pid) !== null ? 'schedstat' : 'stat') : wanted;
    this.windowMs = opts.windowMs ?? (this.clock === 'schedstat' ? 10 : 40);
    this.fullScale = opts.fullScaleCpus ?? 1;
    this.record(); // first point of the history
  }

  /** True once the process could not be read any more. */
  get exited(): boolean {
    return this.gone;
  }

  /** Total CPU time of the process (s) by the chosen clock, null if it is gone. */
  cpuSeconds(): number | null {
    return this.clock === 'schedstat' ? schedstatCpuSeconds(this.pid) : statCpuSeconds(this.pid);
  }

  activity(): number {
    const now = this.record();
    if (now === null) return 0;
    // the newest point at least windowMs old (or the oldest we have)
    let base = this.history[0]!;
    for (const p of this.history) {
      if (now.wallMs - p.wallMs >= this.windowMs) base = p;
      else break;
    }
    const dt = (now.wallMs - base.wallMs) / 1000;
    if (dt <= 0) return 0;
    const util = (now.cpuS - base.cpuS) / dt / this.fullScale;
    return Math.min(1, Math.max(0, util));
  }

  private record(): { wallMs: number; cpuS: number } | null {
    const cpuS = this.gone ? null : this.cpuSeconds();
    if (cpuS === null) {
      this.gone = true;
      return null;
    }
    const point = { wallMs: performance.now(), cpuS };
    this.history.push(point);
    // keep one point older than the window, drop the rest
    while (this.history.length > 2 && point.wallMs - this.history[1]!.wallMs >= this.windowMs) this.history.shift();
    return point;
  }
}

/**
 * The CPU utilisation of whichever process a pidfile names, re-read every `recheckMs`: the
 * emulated board's flash command restarts QEMU under a new pid and rewrites its pidfile, and the
 * meter keeps following the board. No pidfile, or a dead pid, reads as 0 (the board is off).
 */
export class PidfileCpuActivity implements ActivitySource {
  private current: ProcessCpuActivity | null = null;
  private checkedAt = -Infinity;

  constructor(readonly pidfile: string, private readonly opts: ProcessCpuActivityOptions & { recheckMs?: number } = {}) {}

  /** The pid followed now, or null. */
  get pid(): number | null {
    return this.current?.pid ?? null;
  }

  activity(): number {
    const now = performance.now();
    if (now - this.checkedAt >= (this.opts.recheckMs ?? 100)) {
      this.checkedAt = now;
      let pid: number | null = null;
      try {
        const n = Number(fs.readFileSync(this.pidfile, 'utf8').trim());
        if (Number.isInteger(n) && n > 0) pid = n;
      } catch {
        // no pidfile: the board is not running
      }
      if (pid === null) this.current = null;
      else if (this.current?.pid !== pid) this.current = new ProcessCpuActivity(pid, this.opts);
    }
    return this.current?.activity() ?? 0;
  }
}
