// Energy over a timed window on a Linux host: RAPL counters (read at both edges, wrap-around
// handled) or, failing that, hwmon power sensors sampled during the window and integrated.
import type { Sysfs } from './sysfs.js';

export interface EnergyReading { source: string; totalUj: number }

export interface EnergyMeter {
  readonly source: string;
  start(): void;
  /** Stops the window and returns the energy used in it, or null when the counters misbehaved. */
  stop(): EnergyReading | null;
}

export function createEnergyMeter(sys: Sysfs, sampleIntervalMs = 20): EnergyMeter | null {
  const rapl = sys.raplDomains();
  if (rapl.length) return new RaplMeter(sys, rapl);
  const sensors = sys.hwmonPowerSensors();
  const first = sensors[0];
  if (first) return new HwmonMeter(sys, first.dir, first.name, sampleIntervalMs);
  return null;
}

class RaplMeter implements EnergyMeter {
  readonly source: string;
  private startUj: (number | null)[] = [];
  constructor(private readonly sys: Sysfs, private readonly domains: { name: string; dir: string; maxRangeUj: number | null }[]) {
    this.source = `rapl:${domains.map((d) => d.name).join('+')}`;
  }
  start(): void {
    this.startUj = this.domains.map((d) => this.sys.raplEnergyUj(d.dir));
  }
  stop(): EnergyReading | null {
    let total = 0;
    for (const [i, d] of this.domains.entries()) {
      const before = this.startUj[i];
      const after = this.sys.raplEnergyUj(d.dir);
      if (before == null || after === null) return null;
      let delta = after - before;
      if (delta < 0) {
        if (d.maxRangeUj === null) return null;
        delta += d.maxRangeUj; // the counter wrapped once during the window
      }
      total += delta;
    }
    return { source: this.source, totalUj: total };
  }
}

/** Trapezoidal integration of sampled power (µW) over time. */
export function integratePowerUw(samples: { tMs: number; uw: number }[]): number {
  let uj = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    uj += ((a.uw + b.uw) / 2) * ((b.tMs - a.tMs) / 1000);
  }
  return uj;
}

class HwmonMeter implements EnergyMeter {
  readonly source: string;
  private samples: { tMs: number; uw: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly sys: Sysfs, private readonly dir: string, name: string, private readonly intervalMs: number) {
    this.source = `hwmon:${name}`;
  }
  private sample(): void {
    const uw = this.sys.hwmonPowerUw(this.dir);
    if (uw !== null) this.samples.push({ tMs: performance.now(), uw });
  }
  start(): void {
    this.samples = [];
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }
  stop(): EnergyReading | null {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    if (this.samples.length < 2) return null;
    return { source: this.source, totalUj: integratePowerUw(this.samples) };
  }
}
