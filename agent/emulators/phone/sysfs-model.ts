// The emulated phone's physics, exposed the way a phone exposes it in sysfs. Fed with the CPU
// time the phone's processes really used, it derives utilisation; battery current follows it
// (idle current + load current), voltage sags with current, charge drains or fills, thermal
// zones follow a first-order model towards ambient + heat × utilisation, and the CPU
// frequencies follow a simple governor capped by thermal throttling. SysfsWriter renders the
// state into <root>/sys (atomically, so a concurrent `cat` never reads a half-written file).
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
}

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

export class PhoneModel {
  private readonly o: Required<PhysicsOptions>;
  private utilisation = 0;
  private zonesC: number[];
  private chargeMah: number;
  private currentMa = 0; // positive = drawn from the battery
  private averageCurrentMa = 0;
  charging: boolean;

  constructor(options: PhysicsOptions) {
    this.o = {
      ambientC: 25, idleCurrentMa: 150, maxCurrentMa: 1200, chargerCurrentMa: 1500, batteryCapacityMah: 4575,
      startLevelPercent: 80, charging: false, currentSign: 'negative-discharge', throttleC: 45, random: Math.random,
      startTemperatureC: (options.ambientC ?? 25) + IDLE_HEAT_C,
      ...definedOnly(options),
    } as Required<PhysicsOptions>;
    this.charging = this.o.charging;
    this.zonesC = ZONES.map(() => this.o.startTemperatureC);
    this.chargeMah = (this.o.batteryCapacityMah * this.o.startLevelPercent) / 100;
    this.currentMa = this.loadCurrentMa();
    this.averageCurrentMa = this.currentMa;
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

  /** Advances the model by dtS seconds during which the phone's processes used cpuSeconds. */
  step(dtS: number, cpuSeconds: number): void {
    if (dtS <= 0) return;
    const instant = Math.min(1, cpuSeconds / dtS / this.o.cpuCapacity);
    // Smooths the 10 ms granularity of the kernel's CPU accounting over ~0.25 s.
    this.utilisation += (instant - this.utilisation) * (1 - Math.exp(-dtS / 0.25));
    const noise = (this.o.random() - 0.5) * 10;
    this.currentMa = this.loadCurrentMa() + noise;
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

  private loadCurrentMa(): number {
    return this.o.idleCurrentMa + (this.o.maxCurrentMa - this.o.idleCurrentMa) * this.utilisation;
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
    const soc = level / 100;
    const intoBatteryMa = (this.charging ? this.o.chargerCurrentMa : 0) - this.currentMa;
    const ocvV = 3.7 + 0.5 * soc;
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
