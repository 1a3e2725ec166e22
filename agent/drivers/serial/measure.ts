// MLPerf Tiny performance mode on one DUT, as the serial driver runs it: a calibration inference
// sizes N so that each window lasts at least the minimum on the DUT's clock (and holds at least
// the job's minimum inferences); every window loads its input, runs `infer N W`, and reports the
// latency per inference from its two m-lap-us stamps. A window that came out short is run again
// with a larger N. With a PPK2 each window is also an energy measurement between the moments the
// two m-lap-us lines arrived (see energy.ts). The abort signal is checked between steps; the
// driver closes the port on abort, which ends a running `infer` at once.
import { JobFailure, type JobProgress } from '../driver.js';
import type { EnergyMeter, WindowEnergy } from './energy.js';
import { median, type MlperfTinyDut } from './mlperf-tiny.js';

export interface WindowResult {
  index: number;
  iterations: number;
  elapsedUs: number;
  latencyUs: number;
  cyclesPerInference: number | null;
  energy: WindowEnergy | null;
  results: number[];
}

export interface MeasureReport {
  windows: WindowResult[];
  calibrationLatencyUs: number;
  medianLatencyUs: number;
  /** Windows run again because they came out shorter than the minimum. */
  rerunWindows: number;
  /** Why the PPK2 stopped measuring mid-job (the windows after it have no energy), or null. */
  energyError: string | null;
}

export interface MeasureOptions {
  windows: number;
  minWindowUs: number;
  /** At least this many timed inferences per window. */
  minIterations: number;
  maxIterations: number;
  warmup: number;
  margin: number;
  inputs: Uint8Array[];
  /** Per-line timeout of an `infer` that should last `expectedUs` on the DUT's clock. */
  inferTimeoutMs(expectedUs: number): number;
  meter: EnergyMeter | null;
  /** Stream times of the m-lap-us lines of the current command (filled by the DUT's trace hook). */
  laps: LapMarks;
  signal: AbortSignal;
  progress(p: JobProgress): void;
}

/** Records when each m-lap-us line arrives, on the meter's clock. */
export class LapMarks {
  stamps: number[] = [];
  clock: (() => number) | null = null;

  rx(line: string): void {
    if (this.clock && line.startsWith('m-lap-us-')) this.stamps.push(this.clock());
  }

  reset(clock: (() => number) | null): void {
    this.stamps = [];
    this.clock = clock;
  }
}

export class Aborted extends Error {
  constructor() {
    super('aborted');
    this.name = 'Aborted';
  }
}

const ATTEMPTS_PER_WINDOW = 3;

export async function measureWindows(dut: MlperfTinyDut, o: MeasureOptions): Promise<MeasureReport> {
  const check = () => { if (o.signal.aborted) throw new Aborted(); };
  const load = async (i: number) => {
    check();
    if (o.inputs.length > 1 || i === 0) await dut.loadInput(o.inputs[i % o.inputs.length]!);
  };

  o.progress({ phase: 'warmup', done: 0, total: o.windows });
  await load(0);
  check();
  const cal = await dut.infer(1, 0, { lineTimeoutMs: o.inferTimeoutMs(0) });
  const size = (latencyUs: number) => Math.min(o.maxIterations, Math.max(o.minIterations, Math.ceil((o.minWindowUs * o.margin) / latencyUs)));
  let n = size(cal.latencyUs);
  o.progress({ phase: 'measuring', done: 0, total: o.windows });
  const out: WindowResult[] = [];
  let rerun = 0;
  // A PPK2 that fails mid-job (unplugged) ends the energy measurement, not the job.
  let meter = o.meter;
  let energyError: string | null = null;
  const metered = async <T>(fn: (m: EnergyMeter) => Promise<T>): Promise<T | null> => {
    if (!meter) return null;
    try {
      return await fn(meter);
    } catch (err) {
      energyError = `the PPK2 failed: ${(err as Error).message}`;
      await meter.stop();
      meter = null;
      return null;
    }
  };
  for (let i = 0; i < o.windows; i++) {
    await load(i);
    for (let attempt = 0; ; attempt++) {
      check();
      const expectedUs = n * cal.latencyUs + o.warmup * cal.latencyUs;
      const before = await metered(async (m) => { await m.begin(); return m.now(); });
      const clock = meter;
      o.laps.reset(clock && before !== null ? () => clock.now() : null);
      const r = await dut.infer(n, o.warmup, { lineTimeoutMs: o.inferTimeoutMs(expectedUs) });
      const stamps = o.laps.stamps;
      o.laps.reset(null);
      const energy = before === null ? null : await metered((m) => {
        const [t0, t1] = stamps.length >= 2 ? [stamps[0]!, stamps[1]!] : [before, m.now()];
        return m.end(t0, t1, n);
      });
      if (r.elapsedUs >= o.minWindowUs) {
        out.push({ index: i, iterations: n, elapsedUs: r.elapsedUs, latencyUs: r.latencyUs, cyclesPerInference: r.cyclesPerInference, energy, results: r.results });
        o.progress({ phase: 'measuring', done: i + 1, total: o.windows });
        break;
      }
      if (n >= o.maxIterations || attempt + 1 >= ATTEMPTS_PER_WINDOW) {
        throw new JobFailure('runner_failed', `window ${i} lasted ${r.elapsedUs} µs with ${n} inferences, below the ${o.minWindowUs / 1e6} s minimum (max_iterations ${o.maxIterations})`);
      }
      rerun++;
      n = Math.max(n + 1, size(r.latencyUs));
    }
  }
  return { windows: out, calibrationLatencyUs: cal.latencyUs, medianLatencyUs: median(out.map((w) => w.latencyUs)), rerunWindows: rerun, energyError };
}
