// Reads the host's sysfs/procfs under a configurable root (tests pass a fixture tree): CPU
// frequencies, thermal zones, RAPL energy counters and hwmon power sensors (INA2xx and others).
import fs from 'node:fs';
import path from 'node:path';
import type { FreqSnapshot } from '../throttling.js';

export class Sysfs {
  constructor(readonly root: string = '/') {}

  p(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  readText(...parts: string[]): string | null {
    try {
      return fs.readFileSync(this.p(...parts), 'utf8').replace(/\0/g, '').trim();
    } catch {
      return null;
    }
  }

  readNumber(...parts: string[]): number | null {
    const text = this.readText(...parts);
    if (text === null || text === '') return null;
    const n = Number(text);
    return Number.isFinite(n) ? n : null;
  }

  list(...parts: string[]): string[] {
    try {
      return fs.readdirSync(this.p(...parts)).sort();
    } catch {
      return [];
    }
  }

  /** Current frequency of every CPU that reports one, in kHz. */
  cpuFreqsKhz(): number[] {
    return this.list('sys/devices/system/cpu')
      .filter((d) => /^cpu\d+$/.test(d))
      .map((d) => this.readNumber('sys/devices/system/cpu', d, 'cpufreq/scaling_cur_freq'))
      .filter((n): n is number => n !== null);
  }

  /** Per CPU with cpufreq: current, cap (scaling_max_freq) and maximum (cpuinfo_max_freq), kHz. */
  cpuFreqSnapshot(): FreqSnapshot {
    const dirs = this.list('sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d));
    const read = (file: string) => dirs.map((d) => this.readNumber('sys/devices/system/cpu', d, 'cpufreq', file)).filter((n): n is number => n !== null);
    const cooling = this.list('sys/class/thermal').filter((d) => d.startsWith('cooling_device'))
      .map((d) => this.readNumber('sys/class/thermal', d, 'cur_state')).filter((n): n is number => n !== null);
    return { curKhz: read('scaling_cur_freq'), capKhz: read('scaling_max_freq'), maxKhz: read('cpuinfo_max_freq'), cooling };
  }

  /** Thermal zones: type and temperature in °C (sysfs reports millidegrees). */
  thermalZones(): { zone: string; type: string; celsius: number }[] {
    return this.list('sys/class/thermal')
      .filter((d) => d.startsWith('thermal_zone'))
      .flatMap((zone) => {
        const milli = this.readNumber('sys/class/thermal', zone, 'temp');
        return milli === null ? [] : [{ zone, type: this.readText('sys/class/thermal', zone, 'type') ?? zone, celsius: milli / 1000 }];
      });
  }

  /** Top-level RAPL package domains (intel-rapl:N) with their cumulative energy counter in µJ. */
  raplDomains(): { name: string; dir: string; maxRangeUj: number | null }[] {
    return this.list('sys/class/powercap')
      .filter((d) => /^intel-rapl:\d+$/.test(d))
      .filter((d) => this.readNumber('sys/class/powercap', d, 'energy_uj') !== null)
      .map((d) => ({ name: this.readText('sys/class/powercap', d, 'name') ?? d, dir: d, maxRangeUj: this.readNumber('sys/class/powercap', d, 'max_energy_range_uj') }));
  }

  raplEnergyUj(dir: string): number | null {
    return this.readNumber('sys/class/powercap', dir, 'energy_uj');
  }

  /** hwmon devices exposing instantaneous power (power1_input, µW), e.g. INA219/INA226 on a board's supply. */
  hwmonPowerSensors(): { name: string; dir: string }[] {
    return this.list('sys/class/hwmon')
      .filter((d) => this.readNumber('sys/class/hwmon', d, 'power1_input') !== null)
      .map((d) => ({ name: this.readText('sys/class/hwmon', d, 'name') ?? d, dir: d }));
  }

  hwmonPowerUw(dir: string): number | null {
    return this.readNumber('sys/class/hwmon', dir, 'power1_input');
  }
}

/** A point-in-time view of frequency and temperature, stored in a job's environment. */
export function thermalSnapshot(sys: Sysfs): { cpu_freq_mhz_avg: number | null; cpu_freq_mhz_min: number | null; temp_c_max: number | null; freq: FreqSnapshot } {
  const freqs = sys.cpuFreqsKhz();
  const temps = sys.thermalZones().map((z) => z.celsius);
  return {
    freq: sys.cpuFreqSnapshot(),
    cpu_freq_mhz_avg: freqs.length ? round(freqs.reduce((a, b) => a + b, 0) / freqs.length / 1000) : null,
    cpu_freq_mhz_min: freqs.length ? round(Math.min(...freqs) / 1000) : null,
    temp_c_max: temps.length ? round(Math.max(...temps)) : null,
  };
}

const round = (n: number): number => Math.round(n * 100) / 100;
