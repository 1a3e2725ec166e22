// The emulated phone (agent/emulators/phone) driven by the real adb client: a private adb
// server (its own port, emulator scanning off, its own HOME for keys) connects to emulated
// phones over TCP. Checks the device list, getprop, shell v2 exit codes and stderr, push/pull,
// the disk quota, pkill, battery current and temperature that follow real CPU work, the ONNX
// runner on the phone, unplug/replug, an unauthorized phone and the no-features (v1) fallback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmulatedPhone } from '../agent/emulators/phone/phone.js';
import { writeRunnerBinary } from '../agent/emulators/phone/tools/install.js';

const ADB = '/usr/bin/adb';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-phone-test-'));
const QUOTA = 4 * 1024 * 1024;

let adbPort = 0;
let adbEnv: NodeJS.ProcessEnv = {};
let adbStarted = false;
const phones: EmulatedPhone[] = [];
let phone: EmulatedPhone;
let serial = '';

interface Run { code: number; stdout: string; stderr: string }

/** Runs the adb client against the private server (never blocks the event loop: the phones live in this process). */
function adb(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(ADB, ['-P', String(adbPort), ...args], { env: adbEnv, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const shell = (target: string, command: string) => adb(['-s', target, 'shell', command]);

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const p = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(p));
      });
    });
    if (port !== 5037 && (port < 5554 || port > 5585)) return port;
  }
}

async function startPhone(options: Partial<ConstructorParameters<typeof EmulatedPhone>[0]> = {}): Promise<EmulatedPhone> {
  const p = new EmulatedPhone({ port: await freePort(), root: fs.mkdtempSync(path.join(tmp, 'phone-')), ...options });
  phones.push(p);
  await p.start();
  return p;
}

async function connect(p: EmulatedPhone): Promise<Run> {
  return adb(['connect', p.serial]);
}

async function stateOf(target: string): Promise<string | null> {
  const { stdout } = await adb(['devices']);
  for (const line of stdout.split('\n')) {
    const [s, state] = line.trim().split('\t');
    if (s === target) return state ?? null;
  }
  return null;
}

async function waitForState(target: string, state: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const elapsed = Date.now() - started;
    if ((await stateOf(target)) === state) return elapsed;
    if (elapsed > timeoutMs) assert.fail(`${target} did not become ${state} within ${timeoutMs} ms (now ${await stateOf(target)})`);
    await sleep(250);
  }
}

async function readNumber(target: string, file: string): Promise<number> {
  const r = await shell(target, `cat ${file}`);
  assert.equal(r.code, 0, r.stderr);
  const n = Number(r.stdout.trim());
  assert.ok(Number.isFinite(n), `${file} holds a number, got "${r.stdout}"`);
  return n;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

before(async () => {
  if (!fs.existsSync(ADB)) throw new Error('adb not found: install it with `apt-get install -y adb`');
  const home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  // A private server: its own port, no emulator scan (5555–5585), its own ~/.android keys.
  adbEnv = { ...process.env, HOME: home, ADB_EMU: '0' };
  delete adbEnv.ANDROID_SERIAL;
  delete adbEnv.ANDROID_ADB_SERVER_PORT;
  delete adbEnv.ADB_VENDOR_KEYS;
  adbPort = await freePort();
  const started = await adb(['start-server']);
  assert.equal(started.code, 0, `adb start-server failed: ${started.stderr}`);
  adbStarted = true;
  phone = await startPhone({ diskQuotaBytes: QUOTA, serialProps: { 'ro.product.model': 'Pixel 8' } });
  serial = phone.serial;
  const c = await connect(phone);
  // adb connect exits 0 even when it fails: the message is what counts.
  assert.match(c.stdout, new RegExp(`^connected to ${serial.replace(/\./g, '\\.')}`), c.stdout + c.stderr);
});

after(async () => {
  for (const p of phones) await p.stop();
  if (adbStarted) await adb(['kill-server']);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('adb devices -l lists the connected phone with its model', async () => {
  const { stdout } = await adb(['devices', '-l']);
  const line = stdout.split('\n').find((l) => l.startsWith(`${serial} `));
  assert.ok(line, `no ${serial} in:\n${stdout}`);
  assert.match(line, /\sdevice product:shiba model:Pixel_8 device:shiba transport_id:\d+/);
});

test('getprop answers one property and lists them all', async () => {
  const one = await shell(serial, 'getprop ro.product.model');
  assert.equal(one.code, 0);
  assert.equal(one.stdout, 'Pixel 8\n');
  const all = await shell(serial, 'getprop');
  for (const expected of ['[ro.product.model]: [Pixel 8]', '[ro.product.cpu.abi]: [arm64-v8a]', '[ro.soc.model]: [Tensor G3]', '[ro.build.version.sdk]: [34]', '[ro.product.manufacturer]: [Google]']) {
    assert.ok(all.stdout.split('\n').includes(expected), `missing ${expected} in:\n${all.stdout}`);
  }
  const meminfo = await shell(serial, 'cat /proc/meminfo');
  const kb = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo.stdout)?.[1]);
  assert.ok(kb > 7_000_000 && kb < 8_000_000, meminfo.stdout);
});

test('shell v2 returns the exit status and keeps stderr apart', async () => {
  const exit3 = await shell(serial, 'exit 3');
  assert.equal(exit3.code, 3);
  const split = await shell(serial, 'echo out; echo err >&2; pwd');
  assert.equal(split.code, 0);
  assert.equal(split.stdout, 'out\n/data/local/tmp\n');
  assert.equal(split.stderr, 'err\n');
  const killed = await shell(serial, 'kill -9 $$');
  assert.equal(killed.code, 128 + 9);
});

test('push and pull a 300 KB file byte for byte, and ls shows it', async () => {
  const local = path.join(tmp, 'random.bin');
  const data = crypto.randomBytes(300 * 1024);
  fs.writeFileSync(local, data);
  const push = await adb(['-s', serial, 'push', local, '/data/local/tmp/random.bin']);
  assert.equal(push.code, 0, push.stderr + push.stdout);
  assert.deepEqual(fs.readFileSync(path.join(phone.root, 'data/local/tmp/random.bin')), data);
  const back = path.join(tmp, 'random-back.bin');
  const pull = await adb(['-s', serial, 'pull', '/data/local/tmp/random.bin', back]);
  assert.equal(pull.code, 0, pull.stderr + pull.stdout);
  assert.ok(fs.readFileSync(back).equals(data), 'pulled bytes differ');
  const ls = await shell(serial, 'ls /data/local/tmp');
  assert.ok(ls.stdout.split('\n').includes('random.bin'), ls.stdout);
  // SEND applies the mode with the user bits copied to group and other, like adbd (0644 → 0666).
  assert.equal(fs.statSync(path.join(phone.root, 'data/local/tmp/random.bin')).mode & 0o777, 0o666);
  const outside = await adb(['-s', serial, 'push', local, '/etc/benchfleet-should-not-exist']);
  assert.notEqual(outside.code, 0);
  assert.equal(fs.existsSync('/etc/benchfleet-should-not-exist'), false);
});

test('a push beyond the disk quota fails like a full phone and leaves no partial file', async () => {
  const local = path.join(tmp, 'too-big.bin');
  fs.writeFileSync(local, crypto.randomBytes(QUOTA + 512 * 1024));
  const push = await adb(['-s', serial, 'push', local, '/data/local/tmp/too-big.bin']);
  assert.notEqual(push.code, 0);
  assert.match(push.stdout + push.stderr, /No space left on device/, JSON.stringify(push));
  assert.equal(fs.existsSync(path.join(phone.root, 'data/local/tmp/too-big.bin')), false);
  const ls = await shell(serial, 'ls /data/local/tmp');
  assert.ok(!ls.stdout.includes('too-big.bin'), ls.stdout);
  // The phone still works after the failed transfer.
  assert.equal((await shell(serial, 'echo still-here')).stdout, 'still-here\n');
});

test('an interrupted push leaves no partial file on the phone', async () => {
  const roomy = await startPhone();
  assert.match((await connect(roomy)).stdout, /^connected to/);
  await waitForState(roomy.serial, 'device', 10_000);
  const local = path.join(tmp, 'huge.bin');
  fs.writeFileSync(local, crypto.randomBytes(96 * 1024 * 1024));
  const target = path.join(roomy.root, 'data/local/tmp/huge.bin');
  const child = execFile(ADB, ['-P', String(adbPort), '-s', roomy.serial, 'push', local, '/data/local/tmp/huge.bin'], { env: adbEnv });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const started = Date.now();
  while (!fs.existsSync(target) && Date.now() - started < 10_000) await sleep(10);
  assert.ok(fs.existsSync(target), 'the push started');
  child.kill('SIGKILL');
  await exited;
  // The server notices its client is gone and closes the stream; the phone then removes the file.
  const killedAt = Date.now();
  while (fs.existsSync(target) && Date.now() - killedAt < 5000) await sleep(20);
  const size = fs.existsSync(target) ? fs.statSync(target).size : null;
  assert.equal(size, null, `a ${size}-byte partial file was left behind`);
  fs.rmSync(local);
  await roomy.stop();
});

test('kill and pkill end processes started on the phone, and only those', async () => {
  const bg = await shell(serial, 'sleep 60 >/dev/null 2>&1 & echo $!');
  const pid = Number(bg.stdout.trim());
  assert.ok(pid > 0, bg.stdout);
  assert.ok(fs.existsSync(`/proc/${pid}`), 'the background process outlives its shell, as on a phone');
  const found = await shell(serial, 'pgrep -f "sleep 60"');
  assert.equal(found.stdout.trim(), String(pid));
  const pkill = await shell(serial, 'pkill -f "sleep 60"; echo rc=$?');
  assert.equal(pkill.stdout.trim(), 'rc=0');
  await sleep(200);
  assert.equal(fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '), false);
  const none = await shell(serial, 'pkill -f "sleep 60"; echo rc=$?');
  assert.equal(none.stdout.trim(), 'rc=1');
  const other = await shell(serial, 'sleep 30 >/dev/null 2>&1 & echo $!');
  const kill = await shell(serial, `kill ${other.stdout.trim()}; echo rc=$?`);
  assert.equal(kill.stdout.trim(), 'rc=0');
});

test('battery current, temperature and CPU frequency follow real CPU work on the phone', async () => {
  const battery = '/sys/class/power_supply/battery';
  assert.equal((await shell(serial, `cat ${battery}/status`)).stdout.trim(), 'Discharging');
  const idle: number[] = [];
  for (let i = 0; i < 5; i++) {
    idle.push(await readNumber(serial, `${battery}/current_now`));
    await sleep(150);
  }
  assert.ok(idle.every((ua) => ua < 0), `discharging current is negative: ${idle.join(' ')}`);
  const tempBefore = await readNumber(serial, '/sys/class/thermal/thermal_zone0/temp');
  const freqBefore = await readNumber(serial, '/sys/devices/system/cpu/cpu7/cpufreq/scaling_cur_freq');
  const voltage = await readNumber(serial, `${battery}/voltage_now`);
  assert.ok(voltage > 3_600_000 && voltage < 4_300_000, `voltage_now ${voltage} µV`);

  const busy = shell(serial, 'node -e "const end = Date.now() + 3000; while (Date.now() < end) {}"');
  await sleep(800);
  const loaded: number[] = [];
  const freqs: number[] = [];
  for (let i = 0; i < 6; i++) {
    loaded.push(await readNumber(serial, `${battery}/current_now`));
    freqs.push(await readNumber(serial, '/sys/devices/system/cpu/cpu7/cpufreq/scaling_cur_freq'));
    await sleep(150);
  }
  const tempDuring = await readNumber(serial, '/sys/class/thermal/thermal_zone0/temp');
  assert.equal((await busy).code, 0);
  const idleMa = Math.abs(mean(idle)) / 1000;
  const loadedMa = Math.abs(mean(loaded)) / 1000;
  assert.ok(idleMa > 100 && idleMa < 250, `idle current ${idleMa.toFixed(0)} mA`);
  assert.ok(loadedMa > idleMa + 100, `current under load ${loadedMa.toFixed(0)} mA vs idle ${idleMa.toFixed(0)} mA`);
  assert.ok(tempDuring > tempBefore + 500, `thermal_zone0 ${tempBefore} → ${tempDuring} m°C`);
  assert.ok(Math.max(...freqs) > freqBefore, `cpu7 frequency ${freqBefore} → ${freqs.join(' ')} kHz`);
});

test('a hot phone throttles and a charging phone reports a charging current', async () => {
  phone.setTemperature(62);
  const freqs = phone.readings();
  assert.ok(Number(freqs['devices/system/cpu/cpu7/cpufreq/scaling_max_freq']) < 2_914_000 * 0.6);
  assert.ok(await readNumber(serial, '/sys/class/thermal/thermal_zone2/temp') > 55_000);
  phone.setCharging(true);
  assert.equal((await shell(serial, 'cat /sys/class/power_supply/battery/status')).stdout.trim(), 'Charging');
  assert.ok(await readNumber(serial, '/sys/class/power_supply/battery/current_now') > 0);
  phone.setCharging(false);
  phone.setTemperature(30);
});

test('no runner is preinstalled; a pushed benchfleet-onnx-runner runs the ONNX model', async () => {
  const missing = await shell(serial, 'benchfleet-onnx-runner --model x; for p in benchfleet-onnx-runner onnxruntime_perf_test benchmark_model llama-bench; do command -v $p; done');
  assert.match(missing.stdout + missing.stderr, /benchfleet-onnx-runner: not found/);
  assert.doesNotMatch(missing.stdout, /\//, 'none of the runner programs is on the phone');
  const model = path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx');
  const push = await adb(['-s', serial, 'push', model, '/data/local/tmp/kws.onnx']);
  assert.equal(push.code, 0, push.stderr);
  const local = writeRunnerBinary('benchfleet-onnx-runner', path.join(os.tmpdir(), `bf-runner-${process.pid}`, 'benchfleet-onnx-runner'));
  const pushRunner = await adb(['-s', serial, 'push', local, '/data/local/tmp/benchfleet-onnx-runner']);
  assert.equal(pushRunner.code, 0, pushRunner.stderr);
  fs.rmSync(path.dirname(local), { recursive: true, force: true });
  const run = await shell(serial, '/data/local/tmp/benchfleet-onnx-runner --model /data/local/tmp/kws.onnx --iterations 20');
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const records = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; metric?: string; values?: number[] });
  const samples = records.find((r) => r.type === 'samples' && r.metric === 'latency_ms');
  assert.ok(samples?.values, run.stdout);
  assert.equal(samples.values.length, 20);
  assert.ok(samples.values.every((v) => v > 0));
  assert.equal(new Set(samples.values).size > 1, true, 'real timings vary');
  assert.equal(records.at(-1)?.type, 'done');
});

test('unplugging the phone shows it offline; plugging it back in brings it back', async (t) => {
  await phone.stop();
  await waitForState(serial, 'offline', 10_000);
  const failed = await shell(serial, 'echo hi');
  assert.notEqual(failed.code, 0);
  // Stay unplugged past the server's first quick redial, so the phone comes back through the
  // periodic one (about every 10 s; `adb connect` only answers "already connected").
  await sleep(1500);
  await phone.start();
  const ms = await waitForState(serial, 'device', 30_000);
  t.diagnostic(`back online ${ms} ms after replugging`);
  assert.equal((await shell(serial, 'echo back')).stdout, 'back\n');
});

test('an unauthorized phone is listed as unauthorized', async () => {
  const locked = await startPhone({ unauthorized: true });
  const c = await connect(locked);
  assert.match(c.stdout + c.stderr, /failed to authenticate|connected to/);
  await waitForState(locked.serial, 'unauthorized', 10_000);
  const r = await shell(locked.serial, 'echo hi');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unauthorized/);
});

test('with no features the host falls back to shell v1 and STAT v1, which still work', async () => {
  const old = await startPhone({ features: [] });
  const c = await connect(old);
  assert.match(c.stdout, /^connected to/);
  await waitForState(old.serial, 'device', 10_000);
  const echo = await shell(old.serial, 'echo hi; echo err >&2');
  assert.equal(echo.stdout, 'hi\nerr\n', 'v1 merges stderr into stdout');
  assert.equal((await shell(old.serial, 'exit 3')).code, 0, 'shell v1 carries no exit status');
  const local = path.join(tmp, 'v1.bin');
  const data = crypto.randomBytes(150 * 1024);
  fs.writeFileSync(local, data);
  const push = await adb(['-s', old.serial, 'push', local, '/data/local/tmp/v1.bin']);
  assert.equal(push.code, 0, push.stderr);
  const back = path.join(tmp, 'v1-back.bin');
  const pull = await adb(['-s', old.serial, 'pull', '/data/local/tmp/v1.bin', back]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.ok(fs.readFileSync(back).equals(data));
});
