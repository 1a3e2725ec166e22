// Battery energy and heat on a phone. A shell loop on the phone prints battery current and
// voltage at a configurable rate; the agent timestamps each pair. Before the runner starts, the
// phone rests with the loop running (settle), then the loop samples the resting baseline; energy
// per inference is the mean power over the runner's timed window less the resting power, times
// the window, ÷ inferences. Thermal zones,
// CPU frequencies, caps and cooling devices are read before, during and after for the cooldown
// gate and the throttling flags (see ../throttling.ts).
import type { Phone } from './phone.js';
import { numbers, type FreqSnapshot } from '../throttling.js';

export interface PowerSample { tMs: number; watts: number }

export interface BatteryInfo { dir: string; level: number | null; status: string | null; charging: boolean }

const PS = '/sys/class/power_supply';

/** Shell command listing every power supply with a current_now, with type, level and status. */
export const BATTERY_COMMAND = `for d in ${PS}/*; do if [ -r $d/current_now ]; then echo "$d|$(cat $d/type 2>/dev/null)|$(cat $d/capacity 2>/dev/null)|$(cat $d/status 2>/dev/null)"; fi; done`;

/** Finds the battery (a power_supply with current_now) and its state. */
export async function readBattery(phone: Phone): Promise<BatteryInfo | null> {
  return parseBattery(await phone.run(BATTERY_COMMAND));
}

export function parseBattery(out: string): BatteryInfo | null {
  const rows = out.split('\n').filter((l) => l.includes('|')).map((l) => l.split('|'));
  const row = rows.find((r) => (r[1] ?? '').toLowerCase() === 'battery' || (r[0] ?? '').endsWith('/battery')) ?? rows[0];
  if (!row?.[0]) return null;
  const status = row[3]?.trim() || null;
  const level = row[2] ? Number(row[2]) : NaN;
  return { dir: row[0], level: Number.isFinite(level) ? level : null, status, charging: status === 'Charging' || status === 'Full' };
}

/**
 * Power from one current/voltage pair. current_now is µA and voltage_now µV; vendors disagree on
 * the sign of a discharging current (the kernel ABI says negative), so the magnitude is used.
 */
export function wattsFrom(currentUa: number, voltageUv: number): number {
  return (Math.abs(currentUa) * Math.abs(voltageUv)) / 1e12;
}

export interface ThermalSample extends ThermalState { tMs: number }

export interface BaselinePlan {
  /** Wait at rest, the sampler running, before the baseline starts, ms. */
  settleMs: number;
  /** Length of the resting baseline, ms. */
  baselineMs: number;
  /** Longest wait for a moving (falling or rising) current to settle, ms (default 10 s). */
  maxSettleMs?: number;
}

/**
 * Whether the power is still moving: `newer` above or below `older` by more than three standard
 * errors. Falling is a previous job's load decaying; rising is the phone's own response to the
 * sampler (a phone that counts the sampler's loop as load ramps up to its load draw) — a
 * baseline taken on either slope is no rest.
 */
function changing(older: PowerSample[], newer: PowerSample[]): boolean {
  if (older.length < 2 || newer.length < 2) return true; // not a second of samples yet: keep waiting
  const stats = (xs: PowerSample[]) => {
    const m = xs.reduce((a, s) => a + s.watts, 0) / xs.length;
    const v = xs.reduce((a, s) => a + (s.watts - m) ** 2, 0) / (xs.length - 1);
    return { m, se2: v / xs.length };
  };
  const a = stats(older);
  const b = stats(newer);
  return Math.abs(a.m - b.m) > 3 * Math.sqrt(a.se2 + b.se2);
}

/**
 * Samples battery power and, every tenth sample, the thermal zones, CPU frequencies and caps and
 * the cooling devices, in one shell loop on the phone; the agent timestamps every line. The loop
 * starts no process at all: it reads sysfs with the shell's own `read`, and it is paced by the
 * agent, which writes one newline to its stdin per sample (a `sleep` or `cat` per sample would
 * cost the phone far more than the reads). Its small draw is the same through the resting
 * baseline and the timed window, so it cancels (see estimateEnergy).
 */
export class PowerSampler {
  readonly samples: PowerSample[] = [];
  readonly thermal: ThermalSample[] = [];
  private startedMs = 0;
  private handle: { done: Promise<unknown>; stop(): void; write(text: string): void } | null = null;
  private pacer: NodeJS.Timeout | null = null;
  private readonly waiters: { atMs: number; wake(): void }[] = [];

  constructor(private readonly phone: Phone, private readonly batteryDir: string, readonly hz: number, readonly plan: BaselinePlan) {}

  async start(): Promise<void> {
    const rd = (file: string, into: string) => `read x 2>/dev/null < ${file} && ${into}="$${into} $x"`;
    const thermal = `t=; for z in /sys/class/thermal/thermal_zone*/temp; do ${rd('$z', 't')}; done; ` +
      `f=; m=; h=; for d in /sys/devices/system/cpu/cpu[0-9]*/cpufreq; do ${rd('$d/scaling_cur_freq', 'f')}; ${rd('$d/scaling_max_freq', 'm')}; ${rd('$d/cpuinfo_max_freq', 'h')}; done; ` +
      `k=; for z in /sys/class/thermal/cooling_device*/cur_state; do ${rd('$z', 'k')}; done; echo "t$t f$f m$m h$h k$k"`;
    const cmd = `B=${this.batteryDir}; i=0; while read _; do c=; v=; read c 2>/dev/null < $B/current_now; read v 2>/dev/null < $B/voltage_now; echo "p $c $v"; ` +
      `if [ $((i % 10)) -eq 0 ]; then ${thermal}; fi; i=$((i + 1)); done`;
    this.startedMs = performance.now();
    this.handle = await this.phone.stream(cmd, (line) => {
      const text = line.trim();
      const now = performance.now();
      const m = /^p (-?\d+) (-?\d+)$/.exec(text);
      if (m) {
        this.samples.push({ tMs: now, watts: wattsFrom(Number(m[1]), Number(m[2])) });
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          if (now >= this.waiters[i]!.atMs) this.waiters.splice(i, 1)[0]!.wake();
        }
        return;
      }
      const t = /^t([-\d ]*) f([\d ]*) m([\d ]*) h([\d ]*) k([\d ]*)$/.exec(text);
      if (t) this.thermal.push({ tMs: now, ...parseThermal(t[1] ?? '', t[2] ?? '', t[3] ?? '', t[4] ?? '', t[5] ?? '') });
    });
    this.handle.done.catch(() => {}); // ended by stop(); a dropped phone is noticed by the runner stream
    const handle = this.handle;
    handle.write('\n');
    this.pacer = setInterval(() => handle.write('\n'), 1000 / this.hz);
  }

  private until(atMs: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const limit = setTimeout(wake, atMs - performance.now() + 3000); // a phone whose battery stays silent
      function wake() { clearTimeout(limit); signal.removeEventListener('abort', wake); resolve(); }
      this.waiters.push({ atMs, wake });
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  /**
   * Waits until the phone has settled — at least `settleMs` (and samples in both halves), then for
   * as long as the power still moves (the last half second above or below the one before by more
   * than three standard errors; at most `maxSettleMs`) — then samples the baseline, and starts
   * over when the power fell or rose within the baseline itself. Returns its samples and the settle time.
   */
  async baseline(signal: AbortSignal): Promise<{ samples: PowerSample[]; settledMs: number }> {
    let at = this.startedMs + this.plan.settleMs;
    const latest = this.startedMs + (this.plan.maxSettleMs ?? 10_000);
    for (;;) {
      for (;;) {
        await this.until(at, signal);
        if (signal.aborted || at >= latest || !changing(samplesIn(this.samples, at - 1000, at - 500), samplesIn(this.samples, at - 500, at))) break;
        at += 250;
      }
      const to = at + this.plan.baselineMs;
      await this.until(to, signal);
      // A current that held up and then fell inside the baseline (a previous job's load ending),
      // or still rose, is no rest: settle on from there and take the baseline again.
      const mid = (at + to) / 2;
      if (!signal.aborted && to < latest && changing(samplesIn(this.samples, at, mid), samplesIn(this.samples, mid, to))) {
        at = to;
        continue;
      }
      return { samples: samplesIn(this.samples, at, to), settledMs: Math.round(at - this.startedMs) };
    }
  }

  stop(): void {
    if (this.pacer) clearInterval(this.pacer);
    this.pacer = null;
    this.handle?.stop();
    this.handle = null;
  }
}

export interface EnergyEstimate {
  /** Mean power of the resting baseline (the sampler's own draw included), W. */
  restW: number;
  /** Mean power over the timed window, W. */
  busyW: number;
  /** busyW − restW (restW − busyW while charging), W. */
  netW: number;
  /** Three standard errors of netW from the baseline's sample spread, W. */
  noiseW: number;
  /** Energy per inference, mJ; null when netW is not above noiseW (energy_below_noise). */
  mjPerInference: number | null;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean power over the samples' span, each pair joined by a straight line (robust to uneven spacing). */
function timeMean(samples: PowerSample[]): number {
  const span = samples[samples.length - 1]!.tMs - samples[0]!.tMs;
  if (!(span > 0)) return mean(samples.map((s) => s.watts));
  let area = 0;
  for (let i = 1; i < samples.length; i++) area += ((samples[i]!.watts + samples[i - 1]!.watts) / 2) * (samples[i]!.tMs - samples[i - 1]!.tMs);
  return area / span;
}

/**
 * Energy per inference = (mean window power − mean resting power) × window length ÷ inferences;
 * the window's mean is over time (samples joined by straight lines), so uneven sampling does not
 * weigh some stretches more than others.
 * Both are sampled by the same loop at the same rate, so the sampler's own draw is in both and
 * cancels. A difference not above three standard errors (from the baseline's spread, counting
 * distinct readings: a slow fuel gauge repeats its value) is no measurement: the result is null and the job says energy_below_noise — never a silent 0.
 * Null overall when either stretch has fewer than two samples. On a charging phone (flagged
 * `charging`) the extra draw is the fall of the power flowing into the battery.
 */
export function estimateEnergy(baseline: PowerSample[], windowSamples: PowerSample[], windowMs: number, iterations: number, charging = false): EnergyEstimate | null {
  if (baseline.length < 2 || windowSamples.length < 2 || iterations <= 0 || !(windowMs > 0)) return null;
  const restW = mean(baseline.map((s) => s.watts));
  const busyW = timeMean(windowSamples);
  // A fuel gauge updates current_now more slowly than we may sample it: a reading repeated by the
  // next sample is no new information, so the noise counts distinct readings, not samples.
  const rest = distinctReadings(baseline);
  const sd = rest.length > 1 ? Math.sqrt(rest.reduce((a, w) => a + (w - restW) ** 2, 0) / (rest.length - 1)) : 0;
  const noiseW = 3 * sd * Math.sqrt(1 / rest.length + 1 / distinctReadings(windowSamples).length);
  // While charging, the battery takes the charger's power less the phone's draw: extra draw shows
  // as less power into the battery.
  const netW = charging ? restW - busyW : busyW - restW;
  const mjPerInference = netW > noiseW ? (netW * windowMs) / iterations : null;
  return { restW, busyW, netW, noiseW, mjPerInference };
}

/** The readings that differ from the one before (a run of repeats counts once). */
function distinctReadings(samples: PowerSample[]): number[] {
  const out: number[] = [];
  samples.forEach((s, i) => { if (i === 0 || s.watts !== samples[i - 1]!.watts) out.push(s.watts); });
  return out;
}

/** The samples inside [fromMs, toMs]. */
export function samplesIn(samples: PowerSample[], fromMs: number, toMs: number): PowerSample[] {
  return samples.filter((s) => s.tMs >= fromMs && s.tMs <= toMs);
}

export interface ThermalState extends FreqSnapshot { maxCelsius: number | null; zones: number; minFreqKhz: number | null; avgFreqKhz: number | null }

const SYS_CPU = '/sys/devices/system/cpu/cpu[0-9]*/cpufreq';

/** One shell round trip: thermal zones, every CPU's frequency, cap and maximum, and the cooling devices. */
export async function readThermal(phone: Phone): Promise<ThermalState> {
  const out = await phone.run(`cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null; echo --; cat ${SYS_CPU}/scaling_cur_freq 2>/dev/null; echo --; ` +
    `cat ${SYS_CPU}/scaling_max_freq 2>/dev/null; echo --; cat ${SYS_CPU}/cpuinfo_max_freq 2>/dev/null; echo --; cat /sys/class/thermal/cooling_device*/cur_state 2>/dev/null; true`);
  const [temps = '', freqs = '', caps = '', maxes = '', cooling = ''] = out.split('--');
  return parseThermal(temps, freqs, caps, maxes, cooling);
}

export function parseThermal(temps: string, freqs: string, caps = '', maxes = '', cooling = ''): ThermalState {
  const t = numbers(temps)
    // Zones report millidegrees; a few vendors report degrees (values under 200 are taken as °C).
    .map((v) => (Math.abs(v) >= 200 ? v / 1000 : v));
  const f = numbers(freqs).filter((v) => v > 0);
  return {
    maxCelsius: t.length ? Math.max(...t) : null,
    zones: t.length,
    minFreqKhz: f.length ? Math.min(...f) : null,
    avgFreqKhz: f.length ? f.reduce((a, b) => a + b, 0) / f.length : null,
    curKhz: f, capKhz: numbers(caps), maxKhz: numbers(maxes), cooling: numbers(cooling),
  };
}
