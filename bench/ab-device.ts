// A simulated device for measuring active confirmation: it answers the jobs the server asks for
// with raw samples whose level depends on the artifact (model version) and on the device's own
// state at that moment — slow drift (an Ornstein–Uhlenbeck process in time: temperature, clocks,
// background load), transient disturbances (Poisson arrivals, each lasting minutes and slowing
// every job it overlaps), and independent per-job noise. Time advances by the job's duration, so
// jobs run back to back share most of the drift and a transient, and jobs hours apart do not.
// The job-to-job σ seen in a series of jobs far apart is √(iid² + drift²) (+ transients).
import { seededRng, type Rng } from '../protocol/random.js';

export interface DeviceModel {
  /** Job-to-job σ of ln(median) between jobs far apart (drift + independent part). */
  sigma: number;
  /** Share of sigma² that is independent per job (the rest is drift). */
  iidShare: number;
  /** Correlation time of the drift, minutes. */
  driftMinutes: number;
  /** Transient disturbances per hour, their slowdown range and duration in minutes. */
  transientsPerHour: number;
  transientSize: [number, number];
  transientMinutes: [number, number];
  /** Minutes one job takes. */
  jobMinutes: number;
  /** Within-job spread and samples per job. */
  withinCv: number;
  samples: number;
}

export const DEFAULT_DEVICE: DeviceModel = {
  sigma: 0.05, iidShare: 0.3, driftMinutes: 60, transientsPerHour: 0.5, transientSize: [0.05, 0.3], transientMinutes: [1, 6],
  jobMinutes: 1, withinCv: 0.03, samples: 100,
};

function normal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

export class SimulatedDevice {
  private readonly rng: Rng;
  private drift: number;
  private minute = 0;
  private readonly transients: { from: number; to: number; factor: number }[] = [];
  private nextTransient: number;
  constructor(readonly model: DeviceModel, seed: number, private readonly base = 10) {
    this.rng = seededRng(seed);
    this.drift = Math.sqrt(model.sigma ** 2 * (1 - model.iidShare)) * normal(this.rng);
    this.nextTransient = this.arrival(0);
  }

  private arrival(from: number): number {
    const rate = this.model.transientsPerHour / 60;
    return rate > 0 ? from - Math.log(1 - this.rng()) / rate : Infinity;
  }

  /** Lets time pass without running anything (the device is idle or busy with other work). */
  idle(minutes: number): void {
    this.advance(minutes);
  }

  private advance(minutes: number): void {
    const driftSd = Math.sqrt(this.model.sigma ** 2 * (1 - this.model.iidShare));
    const decay = Math.exp(-minutes / this.model.driftMinutes);
    this.drift = this.drift * decay + driftSd * Math.sqrt(1 - decay * decay) * normal(this.rng);
    this.minute += minutes;
    while (this.nextTransient <= this.minute) {
      const [lo, hi] = this.model.transientMinutes;
      const [slo, shi] = this.model.transientSize;
      const length = lo + (hi - lo) * this.rng();
      this.transients.push({ from: this.nextTransient, to: this.nextTransient + length, factor: 1 + slo + (shi - slo) * this.rng() });
      this.nextTransient = this.arrival(this.nextTransient);
    }
  }

  /** Runs one job of an artifact whose true latency factor is `level` (1 = the base artifact). */
  run(level: number): Float64Array {
    const start = this.minute;
    this.advance(this.model.jobMinutes);
    let factor = 1;
    for (const t of this.transients) if (t.from < this.minute && t.to > start) factor = Math.max(factor, t.factor);
    const iid = Math.sqrt(this.model.sigma ** 2 * this.model.iidShare) * normal(this.rng);
    const center = this.base * level * factor * Math.exp(this.drift + iid);
    const out = new Float64Array(this.model.samples);
    for (let i = 0; i < out.length; i++) out[i] = center * Math.exp(this.model.withinCv * normal(this.rng));
    return out;
  }
}
