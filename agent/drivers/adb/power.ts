// Battery energy and heat on a phone. A shell loop on the phone prints battery current and
// voltage at a configurable rate; the agent timestamps each pair, integrates power over the
// runner's timed window and subtracts the idle baseline measured just before. Thermal zones and
// CPU frequencies are read before and after for the cooldown gate and the throttling flag.
import type { Phone } from './phone.js';

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

export interface ThermalSample { tMs: number; maxCelsius: number | null; minFreqKhz: number | null }

/**
 * Samples battery power at `hz` and, every tenth sample, the thermal zones and CPU frequencies,
 * in one shell loop on the phone; the agent timestamps every line.
 */
export class PowerSampler {
  readonly samples: PowerSample[] = [];
  readonly thermal: ThermalSample[] = [];
  private handle: { done: Promise<unknown>; stop(): void } | null = null;

  constructor(private readonly phone: Phone, private readonly batteryDir: string, private readonly hz: number) {}

  async start(): Promise<void> {
    const period = (1 / this.hz).toFixed(3);
    const thermal = `echo "t $(cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null | tr '\\n' ' ')f $(cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq 2>/dev/null | tr '\\n' ' ')"`;
    const cmd = `i=0; while true; do echo "p $(cat ${this.batteryDir}/current_now) $(cat ${this.batteryDir}/voltage_now)"; ` +
      `if [ $((i % 10)) -eq 0 ]; then ${thermal}; fi; i=$((i + 1)); sleep ${period}; done`;
    this.handle = await this.phone.stream(cmd, (line) => {
      const text = line.trim();
      const m = /^p (-?\d+) (-?\d+)$/.exec(text);
      if (m) {
        this.samples.push({ tMs: performance.now(), watts: wattsFrom(Number(m[1]), Number(m[2])) });
        return;
      }
      const t = /^t ([-\d ]*)f ([\d ]*)$/.exec(text);
      if (t) {
        const parsed = parseThermal(t[1] ?? '', t[2] ?? '');
        this.thermal.push({ tMs: performance.now(), maxCelsius: parsed.maxCelsius, minFreqKhz: parsed.minFreqKhz });
      }
    });
    this.handle.done.catch(() => {}); // ended by stop(); a dropped phone is noticed by the runner stream
  }

  stop(): void {
    this.handle?.stop();
    this.handle = null;
  }
}

/** Mean power of the samples inside [fromMs, toMs]. */
export function meanWatts(samples: PowerSample[], fromMs: number, toMs: number): number | null {
  const inside = samples.filter((s) => s.tMs >= fromMs && s.tMs <= toMs);
  if (inside.length < 2) return null;
  return inside.reduce((a, s) => a + s.watts, 0) / inside.length;
}

/** Energy per inference in mJ: (mean window power − idle baseline) × window length ÷ iterations. */
export function energyPerInferenceMj(samples: PowerSample[], baseline: [number, number], window: [number, number], iterations: number): number | null {
  const idle = meanWatts(samples, baseline[0], baseline[1]);
  const busy = meanWatts(samples, window[0], window[1]);
  if (idle === null || busy === null || iterations <= 0) return null;
  const joules = Math.max(0, busy - idle) * ((window[1] - window[0]) / 1000);
  return (joules * 1000) / iterations;
}

export interface ThermalState { maxCelsius: number | null; zones: number; minFreqKhz: number | null; avgFreqKhz: number | null }

/** One shell round trip: every thermal zone and every CPU's current frequency. */
export async function readThermal(phone: Phone): Promise<ThermalState> {
  const out = await phone.run('cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null; echo --; cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq 2>/dev/null; true');
  const [temps = '', freqs = ''] = out.split('--');
  return parseThermal(temps, freqs);
}

export function parseThermal(temps: string, freqs: string): ThermalState {
  const t = temps.split(/\s+/).filter(Boolean).map(Number).filter(Number.isFinite)
    // Zones report millidegrees; a few vendors report degrees (values under 200 are taken as °C).
    .map((v) => (Math.abs(v) >= 200 ? v / 1000 : v));
  const f = freqs.split(/\s+/).filter(Boolean).map(Number).filter((v) => Number.isFinite(v) && v > 0);
  return {
    maxCelsius: t.length ? Math.max(...t) : null,
    zones: t.length,
    minFreqKhz: f.length ? Math.min(...f) : null,
    avgFreqKhz: f.length ? f.reduce((a, b) => a + b, 0) / f.length : null,
  };
}
