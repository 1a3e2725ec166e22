// The emulated phone's physics, exposed the way a phone exposes it in sysfs. Fed with the CPU
// time the phone's processes really used, it derives utilisation; battery power follows it
// (idle power + load power, reached through first-order lags: the current rises with
// `riseTauS` under load and decays with `fallTauS` after), voltage sags with current, charge
// drains or fills, thermal zones follow a first-order model towards ambient + heat ×
// utilisation, and the CPU frequencies follow a simple governor capped by thermal throttling
// (the cap shows in scaling_max_freq and in the cpufreq cooling devices' cur_state).
//
// Load power has two modes. Without a profile it is proportional to utilisation (every CPU
// second costs power, the battery sampler's shell loop included). With a `profile` (known watts:
// constant, stepped, ramped) utilisation is kept per shell session: the phone is "under load"
// while some session's utilisation stays above `loadOnUtilisation` (hysteresis down to half of
// it), and the load power is the profile's watts at the time since the load began; every other
// session's CPU work (a battery sampler's shell loop, say) costs `activityWatts` × its
// utilisation on top, under load or not, as light work on an otherwise idle core does. The load's
// power — the lagged profile plus the light work of sessions that have been under load (their ramp
// before crossing the threshold) — is recorded (`trace`) so tests can integrate the injected truth.
// SysfsWriter renders the state into <root>/sys (atomically, so a concurrent `cat` never reads
// a half-written file).
import fs from 'node:fs';
import path from 'node:path';

export type CurrentSign = 'negative-discharge' | 'positive-discharge';

export interface PhysicsOptions {
  /** CPU-seconds per second that count as 100 % utilisation (the CPUs the sandbox can use). */
  cpuCapacity: number;
  ambientC?: number;
  /** Starting temperature of every zone (default: ambient + idle heat). */
  startTemperatureC?: number;
  idleCurrentMa?: number;
  /** Current at 100 % utilisation. */
  maxCurrentMa?: number;
  chargerCurrentMa?: number;
  batteryCapacityMah?: number;
  startLevelPercent?: number;
  charging?: boolean;
  currentSign?: CurrentSign;
  /** Hottest-zone temperature where throttling starts; frequencies are capped harder above it. */
  throttleC?: number;
  random?: () => number;
  /** Time constant of the current rising under load, s (default 0.2). */
  riseTauS?: number;
  /** Time constant of the current decaying after load, s (default 0.3). */
  fallTauS?: number;
  /** Known extra power under load; without one, load power is proportional to utilisation. */
  profile?: PowerProfile | null;
  /**
   * A session's utilisation that counts as "under load" for a profile (default 0.2; off below
   * half of it). 0: every live session is load, the battery sampler's loop included.
   */
  loadOnUtilisation?: number;
  /** With a profile: power of CPU work at rest, W at 100 % utilisation (default: as without a profile). */
  activityWatts?: number;
}

import { profileWatts, type PowerProfile } from '../power-profile.js';

export { profileWatts, type PowerProfile };

/** One model step: when it was taken (performance.now()), the lagged profile power and the whole draw, W. */
export interface PowerTracePoint { tMs: number; loadWatts: number; totalWatts: number }

interface ZoneSpec { type: string; tauS: number; heatC: number }

const ZONES: ZoneSpec[] = [
  { type: 'soc-thermal', tauS: 6, heatC: 40 },
  { type: 'gpu-thermal', tauS: 12, heatC: 22 },
  { type: 'battery', tauS: 40, heatC: 10 },
];
const IDLE_HEAT_C = 4;
const CHARGING_HEAT_C = 6;
const INTERNAL_RESISTANCE_OHM = 0.1;

interface Cluster { cpus: number[]; minKhz: number; maxKhz: number }

const CLUSTERS: Cluster[] = [
  { cpus: [0, 1, 2, 3], minKhz: 324_000, maxKhz: 1_704_000 },
  { cpus: [4, 5, 6], minKhz: 402_000, maxKhz: 2_367_000 },
  { cpus: [7], minKhz: 500_000, maxKhz: 2_914_000 },
];

const TRACE_POINTS = 24_000; // 20 min at 50 ms ticks

export class PhoneModel {
  private readonly o: Required<PhysicsOptions>;
  private utilisation = 0;
  private zonesC: number[];
  private chargeMah: number;
  private currentMa = 0; // positive = drawn from the battery
  private averageCurrentMa = 0;
  private loadWatts = 0; // lagged profile power (profile mode) or utilisation power
  private activityW = 0; // lagged power of CPU work at rest (profile mode)
  private loadSinceS: number | null = null;
  private readonly sessionUtil = new Map<number, number>();
  private readonly loadSessions = new Set<number>();
  private readonly sessionLight = new Map<number, number>();
  private readonly everLoaded = new Set<number>();
  private loadLightW = 0;
  private clockS = 0;
  /** Every step's lagged load power and total draw (newest last), for tests and benches. */
  readonly trace: PowerTracePoint[] = [];
  charging: boolean;

  constructor(options: PhysicsOptions) {
    this.o = {
      ambientC: 25, idleCurrentMa: 150, maxCurrentMa: 1200, chargerCurrentMa: 1500, batteryCapacityMah: 4575,
      startLevelPercent: 80, charging: false, currentSign: 'negative-discharge', throttleC: 45, random: Math.random,
      startTemperatureC: (options.ambientC ?? 25) + IDLE_HEAT_C,
      riseTauS: 0.2, fallTauS: 0.3, profile: null, loadOnUtilisation: 0.2, activityWatts: NaN,
      ...definedOnly(options),
    } as Required<PhysicsOptions>;
    if (!Number.isFinite(this.o.activityWatts)) this.o.activityWatts = ((this.o.maxCurrentMa - this.o.idleCurrentMa) / 1000) * this.ocvV();
    this.charging = this.o.charging;
    this.zonesC = ZONES.map(() => this.o.startTemperatureC);
    this.chargeMah = (this.o.batteryCapacityMah * this.o.startLevelPercent) / 100;
    this.currentMa = this.currentForWatts(this.idleWatts());
    this.averageCurrentMa = this.currentMa;
  }

  private ocvV(): number {
    const soc = this.chargeMah === undefined ? this.o.startLevelPercent / 100 : this.chargeMah / this.o.batteryCapacityMah;
    return 3.7 + 0.5 * soc;
  }

  /** Power of the phone at rest (idle current at the open-circuit voltage, less the sag), W. */
  idleWatts(): number {
    const ocv = this.ocvV();
    const i = this.o.idleCurrentMa / 1000;
    return i * (ocv - i * INTERNAL_RESISTANCE_OHM);
  }

  /** Battery current (mA) that delivers `watts` at the sagging terminal voltage V = OCV − I·R. */
  private currentForWatts(watts: number): number {
    const ocv = this.ocvV();
    const r = INTERNAL_RESISTANCE_OHM;
    const disc = Math.max(0, ocv * ocv - 4 * r * watts);
    return ((ocv - Math.sqrt(disc)) / (2 * r)) * 1000;
  }

  /** Whether a profile's load is on now. */
  get underLoad(): boolean {
    return this.loadSinceS !== null;
  }

  /** The injected truth: ∫ lagged load power over [fromMs, toMs] (performance.now() times), J. */
  loadEnergyJ(fromMs: number, toMs: number): number {
    return integrate(this.trace, fromMs, toMs, (p) => p.loadWatts);
  }

  setTemperature(celsius: number): void {
    this.zonesC = ZONES.map(() => celsius);
  }

  get hottestC(): number {
    return Math.max(...this.zonesC);
  }

  get utilisationNow(): number {
    return this.utilisation;
  }

  /**
   * Advances the model by dtS seconds during which the phone's processes used `cpu` seconds
   * (a total, or per shell session).
   */
  step(dtS: number, cpu: number | Map<number, number>): void {
    if (dtS <= 0) return;
    const bySession = typeof cpu === 'number' ? new Map([[0, cpu]]) : cpu;
    let cpuSeconds = 0;
    for (const v of bySession.values()) cpuSeconds += v;
    const instant = Math.min(1, cpuSeconds / dtS / this.o.cpuCapacity);
    // Smooths the 10 ms granularity of the kernel's CPU accounting over ~0.25 s.
    const smooth = 1 - Math.exp(-dtS / 0.25);
    this.utilisation += (instant - this.utilisation) * smooth;
    for (const id of new Set([...this.sessionUtil.keys(), ...bySession.keys()])) {
      const u = this.sessionUtil.get(id) ?? 0;
      const next = u + (Math.min(1, (bySession.get(id) ?? 0) / dtS / this.o.cpuCapacity) - u) * smooth;
      if (next >= this.o.loadOnUtilisation) this.loadSessions.add(id);
      else if (next < this.o.loadOnUtilisation / 2) this.loadSessions.delete(id);
      if (next < 1e-5 && !bySession.has(id)) this.sessionUtil.delete(id);
      else this.sessionUtil.set(id, next);
    }
    this.clockS += dtS;
    const lag = (value: number, target: number) => value + (target - value) * (1 - Math.exp(-dtS / (target > value ? this.o.riseTauS : this.o.fallTauS)));
    const profile = this.o.profile;
    if (profile) {
      if (this.loadSinceS === null && this.loadSessions.size > 0) this.loadSinceS = this.clockS;
      else if (this.loadSinceS !== null && this.loadSessions.size === 0) this.loadSinceS = null;
      const target = this.loadSinceS === null ? 0 : profileWatts(profile, this.clockS - this.loadSinceS);
      this.loadWatts = lag(this.loadWatts, target);
      // Light work, lagged per session; a session that has been under load (the runner) counts
      // its light work, the ramp before it crossed the threshold included, with the load.
      let other = 0;
      let loadLight = 0;
      for (const id of new Set([...this.sessionUtil.keys(), ...this.sessionLight.keys()])) {
        if (this.loadSessions.has(id)) this.everLoaded.add(id);
        const u = this.loadSessions.has(id) ? 0 : this.sessionUtil.get(id) ?? 0;
        const w = lag(this.sessionLight.get(id) ?? 0, this.o.activityWatts * u);
        if (w < 1e-6 && !this.sessionUtil.has(id)) { this.sessionLight.delete(id); this.everLoaded.delete(id); continue; }
        this.sessionLight.set(id, w);
        if (this.everLoaded.has(id)) loadLight += w;
        else other += w;
      }
      this.activityW = other;
      this.loadLightW = loadLight;
    } else {
      this.loadWatts = lag(this.loadWatts, this.o.activityWatts * this.utilisation);
    }
    const totalWatts = this.idleWatts() + this.loadWatts + this.loadLightW + this.activityW;
    const noise = (this.o.random() - 0.5) * 10;
    this.currentMa = this.currentForWatts(totalWatts) + noise;
    this.trace.push({ tMs: performance.now(), loadWatts: this.loadWatts + this.loadLightW, totalWatts });
    if (this.trace.length > TRACE_POINTS) this.trace.splice(0, this.trace.length - TRACE_POINTS);
    this.averageCurrentMa += (this.currentMa - this.averageCurrentMa) * (1 - Math.exp(-dtS / 5));
    const netIntoBattery = (this.charging ? this.o.chargerCurrentMa : 0) - this.currentMa;
    this.chargeMah = Math.min(this.o.batteryCapacityMah, Math.max(0, this.chargeMah + (netIntoBattery * dtS) / 3600));
    ZONES.forEach((zone, i) => {
      const heat = zone.heatC * this.utilisation + IDLE_HEAT_C + (this.charging && zone.type === 'battery' ? CHARGING_HEAT_C : 0);
      const target = this.o.ambientC + heat;
      const t = this.zonesC[i]!;
      this.zonesC[i] = t + (target - t) * (1 - Math.exp(-dtS / zone.tauS));
    });
  }

  /** Battery current as the kernel reports it, in µA, with the configured sign convention. */
  private reportedCurrentUa(currentMa: number): number {
    const intoBattery = (this.charging ? this.o.chargerCurrentMa : 0) - currentMa;
    const signed = this.o.currentSign === 'negative-discharge' ? intoBattery : -intoBattery;
    return Math.round(signed * 1000);
  }

  /** Frequency cap from throttling: 1 below the threshold, down to 0.45 at threshold + 15 °C. */
  private throttleFactor(): number {
    const over = (this.hottestC - this.o.throttleC) / 15;
    return 1 - 0.55 * Math.min(1, Math.max(0, over));
  }

  /** Every sysfs file, by path relative to <root>/sys. */
  files(): Record<string, string> {
    const level = (this.chargeMah / this.o.batteryCapacityMah) * 100;
    const intoBatteryMa = (this.charging ? this.o.chargerCurrentMa : 0) - this.currentMa;
    const ocvV = this.ocvV();
    const voltageV = ocvV + (intoBatteryMa / 1000) * INTERNAL_RESISTANCE_OHM;
    const batteryZone = this.zonesC[ZONES.findIndex((z) => z.type === 'battery')] ?? this.o.ambientC;
    const bat = 'class/power_supply/battery';
    const out: Record<string, string> = {
      [`${bat}/type`]: 'Battery',
      [`${bat}/present`]: '1',
      [`${bat}/technology`]: 'Li-ion',
      [`${bat}/health`]: batteryZone > 55 ? 'Overheat' : 'Good',
      [`${bat}/status`]: this.charging ? (level >= 99.5 ? 'Full' : 'Charging') : 'Discharging',
      [`${bat}/capacity`]: String(Math.round(level)),
      [`${bat}/charge_full_design`]: String(this.o.batteryCapacityMah * 1000),
      [`${bat}/charge_counter`]: String(Math.round(this.chargeMah * 1000)),
      [`${bat}/current_now`]: String(this.reportedCurrentUa(this.currentMa)),
      [`${bat}/current_avg`]: String(this.reportedCurrentUa(this.averageCurrentMa)),
      [`${bat}/voltage_now`]: String(Math.round(voltageV * 1e6)),
      [`${bat}/voltage_ocv`]: String(Math.round(ocvV * 1e6)),
      [`${bat}/temp`]: String(Math.round(batteryZone * 10)),
      'class/power_supply/usb/type': 'USB',
      'class/power_supply/usb/online': this.charging ? '1' : '0',
      'devices/system/cpu/possible': '0-7',
      'devices/system/cpu/online': '0-7',
    };
    ZONES.forEach((zone, i) => {
      out[`class/thermal/thermal_zone${i}/type`] = zone.type;
      out[`class/thermal/thermal_zone${i}/temp`] = String(Math.round((this.zonesC[i] ?? 0) * 1000));
    });
    const cap = this.throttleFactor();
    const demand = Math.min(1, 0.15 + 1.2 * this.utilisation);
    CLUSTERS.forEach((cluster, i) => {
      // A cpufreq cooling device per cluster: cur_state 0 = no cap, max_state = the hardest cap.
      const dev = `class/thermal/cooling_device${i}`;
      out[`${dev}/type`] = `thermal-cpufreq-${i}`;
      out[`${dev}/max_state`] = '10';
      out[`${dev}/cur_state`] = String(Math.round(((1 - cap) / 0.55) * 10));
    });
    for (const cluster of CLUSTERS) {
      const maxKhz = Math.max(cluster.minKhz, roundKhz(cluster.maxKhz * cap));
      const curKhz = Math.min(maxKhz, roundKhz(cluster.minKhz + (cluster.maxKhz - cluster.minKhz) * demand));
      for (const cpu of cluster.cpus) {
        const dir = `devices/system/cpu/cpu${cpu}/cpufreq`;
        out[`${dir}/scaling_cur_freq`] = String(curKhz);
        out[`${dir}/scaling_max_freq`] = String(maxKhz);
        out[`${dir}/scaling_min_freq`] = String(cluster.minKhz);
        out[`${dir}/cpuinfo_max_freq`] = String(cluster.maxKhz);
        out[`${dir}/cpuinfo_min_freq`] = String(cluster.minKhz);
        out[`${dir}/scaling_governor`] = 'schedutil';
      }
    }
    return out;
  }
}

/** ∫ f over [fromMs, toMs] of a trace whose every value holds until the next point. */
export function integrate(trace: PowerTracePoint[], fromMs: number, toMs: number, f: (p: PowerTracePoint) => number): number {
  let joules = 0;
  for (let i = 0; i < trace.length; i++) {
    const start = Math.max(fromMs, trace[i]!.tMs);
    const end = Math.min(toMs, trace[i + 1]?.tMs ?? toMs);
    if (end > start) joules += (f(trace[i]!) * (end - start)) / 1000;
  }
  return joules;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Frequencies move in 1 MHz steps, like an OPP table rounded for display. */
function roundKhz(khz: number): number {
  return Math.round(khz / 1000) * 1000;
}

/** Writes changed files under a directory, each through a rename so readers see whole values. */
export class SysfsWriter {
  private readonly last = new Map<string, string>();

  constructor(private readonly dir: string) {}

  write(files: Record<string, string>): void {
    for (const [rel, value] of Object.entries(files)) {
      const content = `${value}\n`;
      if (this.last.get(rel) === content) continue;
      const file = path.join(this.dir, rel);
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(tmp, content);
        fs.renameSync(tmp, file);
        this.last.set(rel, content);
      } catch {
        // the sandbox was removed underneath us; try again next tick
      }
    }
  }

  /** Forget what was written (after the tree may have been changed by someone else). */
  reset(): void {
    this.last.clear();
  }
}
