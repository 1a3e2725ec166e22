// Tests for agent/drivers/linux/{sysfs,energy,describe}.ts against fixture trees built in a temp
// folder at test time: CPU frequencies, thermal zones and the thermal snapshot, host labels from
// the device tree / cpuinfo / os-release (Raspberry Pi and x86 styles), RAPL meters (delta,
// wrap-around, sub-domains ignored, several packages), the hwmon fallback that integrates
// sampled power, trapezoid integration by hand, and no meter at all on a bare tree.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sysfs, thermalSnapshot } from '../agent/drivers/linux/sysfs.js';
import { throttleReasons } from '../agent/drivers/throttling.js';
import { createEnergyMeter, integratePowerUw } from '../agent/drivers/linux/energy.js';
import { describeHost } from '../agent/drivers/linux/describe.js';

// ---- fixture trees -----------------------------------------------------------------------------

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function makeTree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-sysfs-'));
  tempDirs.push(root);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return root;
}

const write = (root: string, rel: string, content: string): void => fs.writeFileSync(path.join(root, rel), content);

const RAPL_MAX = 262143328850;

const PI_CPUINFO = [0, 1, 2, 3]
  .map((i) => `processor\t: ${i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n`)
  .join('\n') + '\nRevision\t: d03114\nSerial\t\t: 10000000abcdef01\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n';

const X86_CPUINFO = [0, 1]
  .map((i) => `processor\t: ${i}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 142\nmodel name\t: Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz\nstepping\t: 10\ncpu MHz\t\t: 2112.000\ncache size\t: 8192 KB\nflags\t\t: fpu vme de pse tsc msr\n`)
  .join('\n');

/** The main tree: four CPUs, two thermal zones, one RAPL package with a sub-domain, an INA226 and a Pi's identity. */
function mainTree(): string {
  return makeTree({
    'sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq': '1234567\n',
    'sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq': '1800000\n',
    'sys/devices/system/cpu/cpu2/cpufreq/scaling_cur_freq': '600000\n',
    'sys/devices/system/cpu/cpu3/cpufreq/scaling_cur_freq': '1500000\n',
    // look-alikes that are not CPUs
    'sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq': '999999\n',
    'sys/devices/system/cpu/cpuidle/current_driver': 'none\n',
    'sys/devices/system/cpu/online': '0-3\n',
    'sys/class/thermal/thermal_zone0/type': 'cpu-thermal\n',
    'sys/class/thermal/thermal_zone0/temp': '47234\n',
    'sys/class/thermal/thermal_zone1/type': 'gpu-thermal\n',
    'sys/class/thermal/thermal_zone1/temp': '45100\n',
    'sys/class/thermal/cooling_device0/cur_state': '0\n',
    'sys/class/powercap/intel-rapl/enabled': '1\n',
    'sys/class/powercap/intel-rapl:0/name': 'package-0\n',
    'sys/class/powercap/intel-rapl:0/energy_uj': '1000000\n',
    'sys/class/powercap/intel-rapl:0/max_energy_range_uj': `${RAPL_MAX}\n`,
    'sys/class/powercap/intel-rapl:0:0/name': 'core\n',
    'sys/class/powercap/intel-rapl:0:0/energy_uj': '400000\n',
    'sys/class/powercap/intel-rapl:0:0/max_energy_range_uj': `${RAPL_MAX}\n`,
    'sys/class/hwmon/hwmon0/name': 'ina226\n',
    'sys/class/hwmon/hwmon0/power1_input': '2000000\n',
    'proc/device-tree/model': 'Raspberry Pi 4 Model B Rev 1.4\0',
    'proc/cpuinfo': PI_CPUINFO,
    'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  });
}

/** An x86 host: cpuinfo with `model name`, no device tree. */
function x86Tree(): string {
  return makeTree({
    'proc/cpuinfo': X86_CPUINFO,
    'etc/os-release': 'NAME="Ubuntu"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nID=ubuntu\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n',
  });
}

/** No RAPL; a hwmon without power first, then an INA226 with power. */
function hwmonTree(powerUw: number): string {
  return makeTree({
    'sys/class/hwmon/hwmon0/name': 'cpu_thermal\n',
    'sys/class/hwmon/hwmon0/temp1_input': '48000\n',
    'sys/class/hwmon/hwmon1/name': 'ina226\n',
    'sys/class/hwmon/hwmon1/power1_input': `${powerUw}\n`,
  });
}

// ---- Sysfs readers -------------------------------------------------------------------------------

test('cpuFreqsKhz reads scaling_cur_freq of cpuN directories only', () => {
  const sys = new Sysfs(mainTree());
  assert.deepEqual(sys.cpuFreqsKhz(), [1234567, 1800000, 600000, 1500000]);
});

test('cpuFreqsKhz skips CPUs without cpufreq and unparsable values', () => {
  const root = mainTree();
  fs.rmSync(path.join(root, 'sys/devices/system/cpu/cpu2/cpufreq'), { recursive: true });
  write(root, 'sys/devices/system/cpu/cpu3/cpufreq/scaling_cur_freq', '<unsupported>\n');
  assert.deepEqual(new Sysfs(root).cpuFreqsKhz(), [1234567, 1800000]);
});

test('thermalZones converts millidegrees to °C and keeps the zone type', () => {
  const sys = new Sysfs(mainTree());
  assert.deepEqual(sys.thermalZones(), [
    { zone: 'thermal_zone0', type: 'cpu-thermal', celsius: 47.234 },
    { zone: 'thermal_zone1', type: 'gpu-thermal', celsius: 45.1 },
  ]);
});

test('thermalZones falls back to the zone name without a type and skips zones without temp', () => {
  const root = makeTree({
    'sys/class/thermal/thermal_zone0/temp': '-5500\n',
    'sys/class/thermal/thermal_zone1/type': 'broken\n',
  });
  assert.deepEqual(new Sysfs(root).thermalZones(), [{ zone: 'thermal_zone0', type: 'thermal_zone0', celsius: -5.5 }]);
});

test('thermalSnapshot averages and minimises frequencies in MHz and takes the hottest zone', () => {
  // (1234567 + 1800000 + 600000 + 1500000) / 4 = 1283641.75 kHz → 1283.64 MHz; min 600 MHz; max 47.234 → 47.23 °C
  assert.deepEqual(thermalSnapshot(new Sysfs(mainTree())), {
    cpu_freq_mhz_avg: 1283.64, cpu_freq_mhz_min: 600, temp_c_max: 47.23,
    freq: { curKhz: [1234567, 1800000, 600000, 1500000], capKhz: [], maxKhz: [], cooling: [0] },
  });
});

test('throttling on the host follows caps and cooling devices, not a warm start or a rising frequency', () => {
  const cpu = (i: number, cur: number, cap: number) => ({
    [`sys/devices/system/cpu/cpu${i}/cpufreq/scaling_cur_freq`]: `${cur}\n`,
    [`sys/devices/system/cpu/cpu${i}/cpufreq/scaling_max_freq`]: `${cap}\n`,
    [`sys/devices/system/cpu/cpu${i}/cpufreq/cpuinfo_max_freq`]: '2112000\n',
  });
  const tree = (cur: number, cap: number, state: number, celsius: number) => new Sysfs(makeTree({
    ...cpu(0, cur, cap), ...cpu(1, cur, cap),
    'sys/class/thermal/thermal_zone0/temp': `${celsius * 1000}\n`,
    'sys/class/thermal/cooling_device0/cur_state': `${state}\n`,
  }));
  const warmIdle = thermalSnapshot(tree(505000, 2112000, 0, 47)).freq;
  // Warm at the start, the frequency rose 505 → 2112 MHz: not throttled.
  assert.deepEqual(throttleReasons(warmIdle, [thermalSnapshot(tree(2112000, 2112000, 0, 52)).freq]), []);
  // The cap fell below cpuinfo_max_freq during the run: throttled.
  assert.deepEqual(throttleReasons(warmIdle, [thermalSnapshot(tree(1500000, 1500000, 0, 52)).freq]), ['frequency_capped']);
  // A cooling device engaged: throttled.
  assert.deepEqual(throttleReasons(warmIdle, [thermalSnapshot(tree(2112000, 2112000, 2, 52)).freq]), ['thermal_status']);
  // Without readable caps, a frequency falling under load counts.
  const bare = (cur: number) => ({ curKhz: [cur], capKhz: [], maxKhz: [], cooling: [] });
  assert.deepEqual(throttleReasons(bare(500000), [bare(2000000), bare(1500000)]), ['frequency_fell']);
  assert.deepEqual(throttleReasons(bare(500000), [bare(1500000), bare(2000000)]), []);
});

test('an empty tree reads as nothing', () => {
  const sys = new Sysfs(makeTree({}));
  assert.deepEqual(sys.cpuFreqsKhz(), []);
  assert.deepEqual(sys.thermalZones(), []);
  assert.deepEqual(sys.raplDomains(), []);
  assert.deepEqual(sys.hwmonPowerSensors(), []);
  assert.deepEqual(thermalSnapshot(sys), { cpu_freq_mhz_avg: null, cpu_freq_mhz_min: null, temp_c_max: null, freq: { curKhz: [], capKhz: [], maxKhz: [], cooling: [] } });
  assert.equal(sys.readText('proc/device-tree/model'), null);
  assert.equal(sys.readNumber('nope'), null);
});

test('readText strips NULs and whitespace; readNumber rejects empty and non-numeric text', () => {
  const root = makeTree({ a: 'Raspberry Pi\0', b: '  42\n', c: '\n', d: 'abc\n' });
  const sys = new Sysfs(root);
  assert.equal(sys.readText('a'), 'Raspberry Pi');
  assert.equal(sys.readNumber('b'), 42);
  assert.equal(sys.readNumber('c'), null);
  assert.equal(sys.readNumber('d'), null);
});

test('raplDomains lists top-level packages only, not sub-domains', () => {
  const sys = new Sysfs(mainTree());
  assert.deepEqual(sys.raplDomains(), [{ name: 'package-0', dir: 'intel-rapl:0', maxRangeUj: RAPL_MAX }]);
  assert.equal(sys.raplEnergyUj('intel-rapl:0'), 1000000);
});

test('hwmonPowerSensors lists only devices with power1_input', () => {
  assert.deepEqual(new Sysfs(mainTree()).hwmonPowerSensors(), [{ name: 'ina226', dir: 'hwmon0' }]);
  const sys = new Sysfs(hwmonTree(1500000));
  assert.deepEqual(sys.hwmonPowerSensors(), [{ name: 'ina226', dir: 'hwmon1' }]);
  assert.equal(sys.hwmonPowerUw('hwmon1'), 1500000);
});

// ---- describeHost ------------------------------------------------------------------------------

test('describeHost labels a Raspberry Pi: board from the device tree (NUL stripped), cpu, distro', () => {
  const labels = describeHost(new Sysfs(mainTree()));
  assert.equal(labels.board, 'Raspberry Pi 4 Model B Rev 1.4');
  assert.equal(labels.cpu, 'ARM Cortex-A72', 'named from the CPU part number (0xd08)');
  assert.equal(labels.distro, 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(labels.os, 'linux');
  assert.equal(labels.kernel, os.release());
  assert.equal(labels.arch, os.arch());
  assert.match(labels.cores ?? '', /^[1-9]\d*$/);
  assert.match(labels.ram_mib ?? '', /^[1-9]\d*$/);
  for (const v of Object.values(labels)) assert.ok(!v.includes('\0'), `label ${JSON.stringify(v)} contains a NUL`);
});

test('describeHost labels an x86 host from `model name` and has no board', () => {
  const labels = describeHost(new Sysfs(x86Tree()));
  assert.equal(labels.cpu, 'Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz');
  assert.equal(labels.distro, 'Ubuntu 22.04.4 LTS');
  assert.equal(labels.board, undefined);
});

test('describeHost reads an unquoted PRETTY_NAME and omits labels it cannot find', () => {
  const labels = describeHost(new Sysfs(makeTree({ 'etc/os-release': 'NAME=Arch\nPRETTY_NAME=Arch Linux\n' })));
  assert.equal(labels.distro, 'Arch Linux');
  assert.equal(labels.cpu, undefined);
  assert.equal(labels.board, undefined);
  const bare = describeHost(new Sysfs(makeTree({})));
  assert.deepEqual(Object.keys(bare).sort(), ['arch', 'cores', 'kernel', 'os', 'ram_mib']);
});

// ---- RAPL meter --------------------------------------------------------------------------------

test('RAPL meter: the energy between start and stop, sub-domains not counted', () => {
  const root = mainTree();
  const meter = createEnergyMeter(new Sysfs(root));
  assert.ok(meter);
  assert.equal(meter.source, 'rapl:package-0');
  meter.start();
  write(root, 'sys/class/powercap/intel-rapl:0/energy_uj', `${1000000 + 12345678}\n`);
  write(root, 'sys/class/powercap/intel-rapl:0:0/energy_uj', '99999999\n');
  assert.deepEqual(meter.stop(), { source: 'rapl:package-0', totalUj: 12345678 });
  // a second window starts from the new counter value
  meter.start();
  write(root, 'sys/class/powercap/intel-rapl:0/energy_uj', `${1000000 + 12345678 + 250}\n`);
  assert.equal(meter.stop()?.totalUj, 250);
});

test('RAPL meter: a counter that wrapped during the window uses max_energy_range_uj', () => {
  const root = mainTree();
  const before = RAPL_MAX - 1000;
  write(root, 'sys/class/powercap/intel-rapl:0/energy_uj', `${before}\n`);
  const meter = createEnergyMeter(new Sysfs(root));
  assert.ok(meter);
  meter.start();
  write(root, 'sys/class/powercap/intel-rapl:0/energy_uj', '500\n');
  const reading = meter.stop();
  assert.ok(reading);
  // 1000 µJ to the top of the range, then 500 from zero (±1 for whether the top value itself counts)
  assert.ok(Math.abs(reading.totalUj - 1500) <= 1, `wrapped delta ${reading.totalUj}`);
});

test('RAPL meter: a wrap without a known range, or a vanished counter, gives null', () => {
  const root = mainTree();
  fs.rmSync(path.join(root, 'sys/class/powercap/intel-rapl:0/max_energy_range_uj'));
  const meter = createEnergyMeter(new Sysfs(root));
  assert.ok(meter);
  meter.start();
  write(root, 'sys/class/powercap/intel-rapl:0/energy_uj', '10\n');
  assert.equal(meter.stop(), null);

  const root2 = mainTree();
  const meter2 = createEnergyMeter(new Sysfs(root2));
  assert.ok(meter2);
  meter2.start();
  fs.rmSync(path.join(root2, 'sys/class/powercap/intel-rapl:0/energy_uj'));
  assert.equal(meter2.stop(), null);
});

test('RAPL meter: several packages are summed', () => {
  const root = makeTree({
    'sys/class/powercap/intel-rapl:0/name': 'package-0\n',
    'sys/class/powercap/intel-rapl:0/energy_uj': '5000\n',
    'sys/class/powercap/intel-rapl:0/max_energy_range_uj': '100000\n',
    'sys/class/powercap/intel-rapl:1/name': 'package-1\n',
    'sys/class/powercap/intel-rapl:1/energy_uj': '99000\n',
    'sys/class/powercap/intel-rapl:1/max_energy_range_uj': '100000\n',
    'sys/class/powercap/intel-rapl:1:0/name': 'dram\n',
    'sys/class/powercap/intel-rapl:1:0/energy_uj': '7\n',
  });
  const meter = createEnergyMeter(new Sysfs(root));
  assert.ok(meter);
  assert.equal(meter.source, 'rapl:package-0+package-1');
  meter.start();
  write(root, 'sys/class/powercap/intel-rapl:0/energy_uj', '8000\n'); // +3000
  write(root, 'sys/class/powercap/intel-rapl:1/energy_uj', '1000\n'); // wrapped: +1000 to the top, +1000 from zero
  const reading = meter.stop();
  assert.ok(reading);
  assert.ok(Math.abs(reading.totalUj - 5000) <= 1, `total ${reading.totalUj}`);
});

test('a RAPL domain without a readable counter is skipped in favour of hwmon', () => {
  const root = hwmonTree(1000000);
  fs.mkdirSync(path.join(root, 'sys/class/powercap/intel-rapl:0'), { recursive: true });
  write(root, 'sys/class/powercap/intel-rapl:0/name', 'package-0\n');
  const meter = createEnergyMeter(new Sysfs(root));
  assert.equal(meter?.source, 'hwmon:ina226');
});

// ---- hwmon meter -------------------------------------------------------------------------------

test('integratePowerUw integrates a hand-made series with trapezoids', () => {
  // 1→3 W over 1 s = 2 J; 3 W for 0.5 s = 1.5 J; 3→0 W over 1 s = 1.5 J; total 5 J
  const series = [
    { tMs: 0, uw: 1_000_000 },
    { tMs: 1000, uw: 3_000_000 },
    { tMs: 1500, uw: 3_000_000 },
    { tMs: 2500, uw: 0 },
  ];
  assert.equal(integratePowerUw(series), 5_000_000);
  // offset start times and uneven steps: 2 W · 0.25 s + (2+4)/2 W · 0.125 s = 0.5 + 0.375 J
  assert.equal(integratePowerUw([{ tMs: 10_000, uw: 2e6 }, { tMs: 10_250, uw: 2e6 }, { tMs: 10_375, uw: 4e6 }]), 875_000);
  assert.equal(integratePowerUw([]), 0);
  assert.equal(integratePowerUw([{ tMs: 5, uw: 7e6 }]), 0);
});

test('hwmon meter integrates a constant 2 W over the window', async () => {
  const root = hwmonTree(2_000_000);
  const meter = createEnergyMeter(new Sysfs(root), 5);
  assert.ok(meter);
  assert.equal(meter.source, 'hwmon:ina226');
  const t0 = performance.now();
  meter.start();
  // keep rewriting the sensor while the meter samples, as a driver updating its reading would
  const writer = setInterval(() => write(root, 'sys/class/hwmon/hwmon1/power1_input', '2000000\n'), 3);
  await sleep(200);
  clearInterval(writer);
  const reading = meter.stop();
  const elapsedS = (performance.now() - t0) / 1000;
  assert.ok(reading);
  assert.equal(reading.source, 'hwmon:ina226');
  const expectedUj = 2_000_000 * elapsedS;
  assert.ok(Math.abs(reading.totalUj - expectedUj) / expectedUj < 0.15, `${reading.totalUj} µJ vs 2 W × ${elapsedS} s = ${expectedUj} µJ`);
});

test('hwmon meter samples during the window: a power pulse between two idle phases is measured', async () => {
  // 1 W, then 5 W for ~100 ms, then 1 W. Sampling only at start and stop would see 1 W throughout.
  const root = hwmonTree(1_000_000);
  const meter = createEnergyMeter(new Sysfs(root), 5);
  assert.ok(meter);
  const t0 = performance.now();
  meter.start();
  await sleep(50);
  const t1 = performance.now();
  write(root, 'sys/class/hwmon/hwmon1/power1_input', '5000000\n');
  await sleep(100);
  const t2 = performance.now();
  write(root, 'sys/class/hwmon/hwmon1/power1_input', '1000000\n');
  await sleep(50);
  const reading = meter.stop();
  const t3 = performance.now();
  assert.ok(reading);
  const expectedUj = (1e6 * (t1 - t0) + 5e6 * (t2 - t1) + 1e6 * (t3 - t2)) / 1000;
  assert.ok(Math.abs(reading.totalUj - expectedUj) / expectedUj < 0.15, `${reading.totalUj} µJ vs ${expectedUj} µJ`);
});

test('hwmon meter returns null when the sensor stops answering', () => {
  const root = hwmonTree(2_000_000);
  const meter = createEnergyMeter(new Sysfs(root), 5);
  assert.ok(meter);
  meter.start();
  fs.rmSync(path.join(root, 'sys/class/hwmon/hwmon1/power1_input'));
  assert.equal(meter.stop(), null);
});

test('createEnergyMeter prefers RAPL over hwmon, and returns null with neither', () => {
  assert.equal(createEnergyMeter(new Sysfs(mainTree()))?.source, 'rapl:package-0');
  assert.equal(createEnergyMeter(new Sysfs(x86Tree())), null);
  assert.equal(createEnergyMeter(new Sysfs(makeTree({ 'sys/class/hwmon/hwmon0/name': 'cpu_thermal\n', 'sys/class/hwmon/hwmon0/temp1_input': '40000\n' }))), null);
});
