// End to end through the real stack for MCU boards: a real server, a real agent process whose
// config declares one serial board — the reference MLPerf Tiny firmware on QEMU (mps2-an385),
// flashed by the emulator's flash command — with an emulated PPK2 (socat pty pair) whose current
// follows the CPU time of whichever QEMU the board's pidfile names. The CLI pushes the int8 and
// fp32 firmware images and submits runs with `--runtime mlperf-tiny --wait`. Checked: latency per
// window stored, int8 faster and cheaper in energy than fp32, a second run of the same image
// skips flashing (also after an agent restart), a DUT e-[...] error fails the job without retry,
// killing QEMU mid-job gives a retryable device_unavailable with the board offline and the job
// requeued (and finished once the board is back), and an image larger than the declared flash is
// refused at submit. Missing qemu-system-arm / arm-none-eabi-gcc / socat fail the test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { DeviceView, JobView, RunView } from '../protocol/api.js';
import { JOB_ERROR_CODES } from '../protocol/errors.js';
import { isAlive } from '../agent/emulators/mcu/qemu.js';
import { startFarm, tempDir, waitFor, type Farm } from './support/farm.js';
import { buildFirmware, firmwareImage, repoRoot, requireTools, run } from './support/mcu.js';

const started = Date.now();
const tmp = tempDir('mcu-e2e');
const link = path.join(tmp, 'board');
const pidfile = `${link}.pid`;
const flashJs = path.join(repoRoot, 'dist', 'agent', 'emulators', 'mcu', 'flash.js');
const ppk2Js = path.join(repoRoot, 'dist', 'agent', 'emulators', 'ppk2', 'main.js');
const BOARD = 'qemu-kws';
const FLASH_BYTES = 64 * 1024;

let farm: Farm | null = null;
let ppk2: ChildProcess | null = null;
let socatPid: number | null = null;
const qemuPids = new Set<number>();
const figures: Record<string, number> = {};

function noteQemuPid(): number | null {
  try {
    const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) {
      qemuPids.add(pid);
      return pid;
    }
  } catch {
    // no board running
  }
  return null;
}

function killAll(): void {
  noteQemuPid();
  for (const pid of [...qemuPids, ...(socatPid ? [socatPid] : [])]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (ppk2?.exitCode === null) ppk2.kill('SIGKILL');
}
process.on('exit', killAll);

function requireSocat(): void {
  const r = spawnSync('socat', ['-V'], { encoding: 'utf8' });
  if (r.error) throw new Error('socat is missing: this test needs it for the emulated PPK2, apt-get install socat');
}

/** A firmware image whose 96 KiB of constants cannot fit the board's declared 64 KiB of flash. */
function buildOversizedImage(): string {
  const src = path.join(tmp, 'big.c');
  fs.writeFileSync(src, 'const unsigned char weights[98304] = {1, 2, 3};\nint main(void) { unsigned s = 0; for (unsigned i = 0; i < sizeof weights; i++) s += weights[i]; return (int)s; }\n');
  const out = path.join(tmp, 'big.elf');
  const r = spawnSync('arm-none-eabi-gcc', ['-mcpu=cortex-m3', '-mthumb', '-O1', '--specs=nosys.specs', src, '-o', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, `arm-none-eabi-gcc failed: ${r.stderr}`);
  return out;
}

async function flashManually(flavor: 'int8' | 'fp32'): Promise<void> {
  const r = await run(process.execPath, [flashJs, '--link', link, firmwareImage(flavor)]);
  assert.equal(r.code, 0, r.stderr);
  noteQemuPid();
}

/** Starts the emulated PPK2 following the board's pidfile; resolves with the port the driver opens. */
async function startPpk2(): Promise<string> {
  const child = spawn(process.execPath, [ppk2Js, '--pty-dir', fs.mkdtempSync(path.join(tmp, 'ppk2-')), '--pidfile', pidfile, '--seed', '7'], { stdio: ['ignore', 'pipe', 'pipe'] });
  ppk2 = child;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ port: string; socatPid: number }>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as { port: string; socatPid: number }));
    child.once('exit', (code) => reject(new Error(`the emulated PPK2 exited (${code}): ${stderr}`)));
  });
  socatPid = ready.socatPid;
  return ready.port;
}

const device = async (): Promise<DeviceView> => {
  const res = await farm!.api<{ items: DeviceView[] }>('GET', '/devices');
  const d = res.body.items.find((x) => x.name === BOARD);
  assert.ok(d, `device ${BOARD} is registered: ${JSON.stringify(res.body.items.map((x) => x.name))}`);
  return d;
};
const job = async (id: string) => (await farm!.api<JobView>('GET', `/jobs/${id}`)).body;
const samples = async (jobId: string, metric: string) => (await farm!.api<{ samples: number[] }>('GET', `/jobs/${jobId}/samples?metric=${metric}`)).body.samples;
/** The agent's last log lines, for failure messages. */
function agentLogTail(lines = 25): string {
  try {
    return fs.readFileSync(path.join(farm!.dataDir, 'agent.log'), 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no agent log)';
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** `run submit … --wait --json` through the CLI; returns the finished run's only job. */
async function submitAndWait(variant: string, extra: string[] = []): Promise<JobView> {
  const r = await farm!.cli([
    'run', 'submit', '--model', `kws-mcu:${variant}`, '--device', BOARD, '--runtime', 'mlperf-tiny',
    '--warmup', '1', '--iterations', '3', '--min-duration', '20s', '--wait', '--wait-timeout', '60s', '--json', ...extra,
  ]);
  assert.equal(r.code, 0, `run submit failed (${r.code}): ${r.stderr}\nagent log:\n${agentLogTail()}`);
  const runView = JSON.parse(r.stdout) as RunView;
  assert.equal(runView.jobs?.length, 1);
  return runView.jobs![0]!;
}

before(async () => {
  await requireTools();
  requireSocat();
  await buildFirmware();
  const big = buildOversizedImage();
  // The board is plugged in and running something before the agent starts (as a real board would).
  await flashManually('int8');
  const ppkPort = await startPpk2();
  const node = process.execPath;
  const config = {
    linux: false,
    serial: {
      poll_ms: 300,
      boards: [{
        name: BOARD, port: link, board: 'mps2-an385', flash_bytes: FLASH_BYTES, ram_bytes: 64 * 1024,
        flash: `${node} ${flashJs} --link ${link} {image}`,
        reset: `${node} ${flashJs} --link ${link} --reset`,
        ppk2: { port: ppkPort, voltage_mv: 3300 },
        measurement: { windows: 3 },
      }],
    },
  };
  const configFile = path.join(tmp, 'agent.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  farm = await startFarm({ policy: { backoffBaseMs: 200 } });
  await farm.startAgent({ config: configFile });
  for (const [variant, file] of [['int8', firmwareImage('int8')], ['fp32', firmwareImage('fp32')], ['big', big]] as const) {
    const push = await farm.cli(['model', 'push', file, '--family', 'kws-mcu', '--variant', variant]);
    assert.equal(push.code, 0, push.stderr);
  }
});

after(async () => {
  try {
    await farm?.stop();
  } finally {
    if (ppk2 && ppk2.exitCode === null) {
      ppk2.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(r, 2000); ppk2!.once('exit', () => { clearTimeout(t); r(undefined); }); });
    }
    await run(process.execPath, [flashJs, '--link', link, '--stop']);
    killAll();
    for (const pid of qemuPids) assert.ok(!isAlive(pid) || (await waitFor(`QEMU ${pid} to exit`, () => !isAlive(pid), 3000)), `QEMU ${pid} still runs`);
    fs.rmSync(tmp, { recursive: true, force: true });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(`# mcu-e2e figures: ${JSON.stringify(figures)}; whole file ${seconds} s\n`);
  }
});

test('the declared board is a serial device with its labels and the DUT\'s model id', async () => {
  const d = await waitFor('the model label', async () => {
    const dev = await device();
    return dev.labels.model ? dev : null;
  }, 10_000);
  assert.equal(d.driver, 'serial');
  assert.deepEqual(d.runtimes, ['mlperf-tiny']);
  assert.equal(d.state, 'idle');
  assert.deepEqual(d.labels, {
    protocol: 'mlperf-tiny', port: link, board: 'mps2-an385', flash_bytes: String(FLASH_BYTES), ram_bytes: String(64 * 1024), model: 'kws01', energy_meter: 'ppk2',
  });
});

let int8First: JobView;

test('int8 run: the image is flashed, three windows of latency, cycles and energy per inference are stored', { timeout: 60_000 }, async (t) => {
  const j = await submitAndWait('int8');
  assert.equal(j.status, 'succeeded', JSON.stringify(j.error));
  int8First = j;
  const env = j.environment!;
  assert.equal(env.flash, 'done', 'the agent never flashed this board before');
  assert.ok(typeof env.flash_ms === 'number' && env.flash_ms > 0);
  assert.equal(env.dut_name, 'benchfleet-mps2-an385-kws01-int8');
  assert.equal(env.dut_model, 'kws01');
  assert.equal(env.windows, 3);
  assert.equal(env.input_bytes, 490);
  assert.equal(env.energy_meter, 'ppk2');
  assert.equal(typeof env.iterations_per_window, 'number');
  const lat = await samples(j.id, 'latency_ms');
  assert.equal(lat.length, 3, 'one latency sample per window');
  // The board's clock: about 5.68 M cycles per inference at 25 MHz.
  for (const v of lat) assert.ok(v > 100 && v < 400, `int8 latency ${v} ms`);
  // Each window lasted at least the 20 s asked for, on the DUT's clock.
  assert.ok((env.iterations_per_window as number) * lat[0]! >= 20_000, `${env.iterations_per_window} × ${lat[0]} ms`);
  const cycles = await samples(j.id, 'cycles_per_inference');
  assert.equal(cycles.length, 3);
  assert.ok(Math.abs(cycles[0]! / 25_000 - lat[0]!) / lat[0]! < 0.01, 'latency agrees with the cycle counter');
  const energy = await samples(j.id, 'energy_mj');
  assert.equal(energy.length, 3);
  for (const e of energy) assert.ok(e > 0, `energy ${e} mJ`);
  figures.int8_latency_ms = median(lat);
  figures.int8_energy_mj = median(energy);
  t.diagnostic(`int8: ${median(lat).toFixed(2)} ms/inference (DUT clock), ${median(energy).toFixed(4)} mJ/inference, N=${env.iterations_per_window}, flash ${env.flash_ms} ms`);
});

test('the same image again: flashing is skipped, the latency is the same', { timeout: 60_000 }, async () => {
  const j = await submitAndWait('int8');
  assert.equal(j.status, 'succeeded', JSON.stringify(j.error));
  assert.equal(j.environment!.flash, 'skipped');
  assert.equal(j.environment!.flash_ms, null);
  const a = median(await samples(int8First.id, 'latency_ms'));
  const b = median(await samples(j.id, 'latency_ms'));
  assert.ok(Math.abs(a - b) / a < 0.005, `deterministic cycles: ${a} vs ${b} ms`);
});

test('fp32 run: flashed, slower and more energy per inference than int8', { timeout: 60_000 }, async (t) => {
  const j = await submitAndWait('fp32');
  assert.equal(j.status, 'succeeded', JSON.stringify(j.error));
  assert.equal(j.environment!.flash, 'done');
  assert.equal(j.environment!.dut_name, 'benchfleet-mps2-an385-kws01-fp32');
  const lat = await samples(j.id, 'latency_ms');
  const energy = await samples(j.id, 'energy_mj');
  assert.equal(lat.length, 3);
  assert.equal(energy.length, 3);
  figures.fp32_latency_ms = median(lat);
  figures.fp32_energy_mj = median(energy);
  t.diagnostic(`fp32: ${median(lat).toFixed(2)} ms/inference, ${median(energy).toFixed(4)} mJ/inference, N=${j.environment!.iterations_per_window}`);
  assert.ok(figures.int8_latency_ms! < figures.fp32_latency_ms, `int8 ${figures.int8_latency_ms} ms must beat fp32 ${figures.fp32_latency_ms} ms`);
  assert.ok(figures.int8_energy_mj! < figures.fp32_energy_mj, `int8 ${figures.int8_energy_mj} mJ must cost less than fp32 ${figures.fp32_energy_mj} mJ`);
  assert.equal((await device()).labels.model, 'kws01');
});

test('a DUT error (input larger than the firmware buffer) fails the job without retry, carrying the DUT\'s message', { timeout: 30_000 }, async () => {
  const data = { dtype: 'uint8', shape: [600], base64: Buffer.alloc(600, 7).toString('base64') };
  const res = await farm!.api<RunView>('POST', '/runs', {
    model: 'kws-mcu:fp32', device: BOARD, runtime: 'mlperf-tiny', settings: { warmup: 0, iterations: 1, min_duration_ms: 1000, inputs: { input: { data } } },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.jobs![0]!.id;
  const j = await waitFor('the job to fail', async () => {
    const got = await job(id);
    return ['failed', 'succeeded'].includes(got.status) ? got : null;
  }, 20_000);
  assert.equal(j.status, 'failed');
  assert.equal(j.attempt, 1, 'not retried');
  assert.equal(j.error?.code, 'runner_failed');
  assert.match(j.error!.message, /Supplied buffer size 600 exceeds maximum of 490/);
  const d = await device();
  assert.equal(d.health === 'good' || d.health === 'unknown', true, 'not a device fault');
  assert.equal(d.consecutive_failures, 0);
});

/**
 * Submits an fp32 run whose windows last long (1000 s on the DUT clock, ~16 s here); with `inWindow`
 * waits until the board is inside its first window (the agent sends at most one progress message
 * per 200 ms, so the phase alone is not a reliable signal: running + 1.5 s is past calibration).
 */
async function startLongRun(settings: Record<string, number> = {}, inWindow = true): Promise<{ runId: string; jobId: string }> {
  const res = await farm!.api<RunView>('POST', '/runs', {
    model: 'kws-mcu:fp32', device: BOARD, runtime: 'mlperf-tiny', settings: { warmup: 0, iterations: 3, min_duration_ms: 1_000_000, ...settings },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const jobId = res.body.jobs![0]!.id;
  if (inWindow) {
    await waitFor('the job to run', async () => (await job(jobId)).status === 'running', 20_000, 50);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await job(jobId)).status, 'running');
  }
  return { runId: res.body.id, jobId };
}

/** From the agent log: when it ended a job and with which code, and when it received the cancel. */
async function agentFinished(jobId: string): Promise<{ at: number; code: string | undefined; cancelReceivedAt: number | null }> {
  return waitFor(`the agent to end job ${jobId}`, () => {
    let cancelReceivedAt: number | null = null;
    for (const line of fs.readFileSync(path.join(farm!.dataDir, 'agent.log'), 'utf8').split('\n')) {
      if (!line.includes(jobId)) continue;
      const rec = JSON.parse(line) as { t: string; msg: string; code?: string };
      if (rec.msg === 'job canceled by the server') cancelReceivedAt = Date.parse(rec.t);
      if (rec.msg === 'job failed' || rec.msg === 'job finished') return { at: Date.parse(rec.t), code: rec.code, cancelReceivedAt };
    }
    return null;
  }, 10_000, 50);
}

test('cancel mid-window: the agent stops at once, resets the board, and the next job runs normally', { timeout: 60_000 }, async () => {
  const { runId, jobId } = await startLongRun();
  const canceledAt = Date.now();
  const cancel = await farm!.api('POST', `/runs/${runId}/cancel`);
  assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
  const end = await agentFinished(jobId);
  assert.equal(end.code, 'canceled');
  assert.ok(end.cancelReceivedAt !== null, 'the agent received the cancel');
  // The port is closed under the running infer: the driver returns within milliseconds.
  assert.ok(end.at - end.cancelReceivedAt < 1000, `the driver stopped ${end.at - end.cancelReceivedAt} ms after the cancel arrived`);
  assert.ok(end.at - canceledAt < 3000, `the agent stopped ${end.at - canceledAt} ms after the cancel request`);
  figures.cancel_stop_ms = end.at - end.cancelReceivedAt;
  assert.equal((await job(jobId)).status, 'canceled');
  // The board was left mid-infer and is reset in the background; the next job waits for that.
  const next = await submitAndWait('fp32');
  assert.equal(next.status, 'succeeded', JSON.stringify(next.error));
  assert.equal(next.environment!.flash, 'skipped', 'a reset keeps the image');
});

test('a job past its timeout is stopped by the agent and ends timed_out', { timeout: 60_000 }, async () => {
  const startedAt = Date.now();
  const { jobId } = await startLongRun({ timeout_ms: 4000 }, false);
  const end = await agentFinished(jobId);
  assert.equal(end.code, 'timed_out');
  const j = await waitFor('the job to end', async () => {
    const got = await job(jobId);
    return got.status === 'timed_out' ? got : null;
  }, 10_000, 50);
  assert.equal(j.attempt, 1);
  assert.ok(end.at - startedAt < 7000, `stopped ${end.at - startedAt} ms after submit (timeout 4 s)`);
});

test('QEMU killed mid-job: retryable device_unavailable, the board goes offline, the job is requeued and finishes once the board is back', { timeout: 60_000 }, async () => {
  // fp32 is on the board: no flash; windows of 100 s on the DUT clock last a couple of seconds here.
  const res = await farm!.api<RunView>('POST', '/runs', {
    model: 'kws-mcu:fp32', device: BOARD, runtime: 'mlperf-tiny', settings: { warmup: 1, iterations: 3, min_duration_ms: 100_000 },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.jobs![0]!.id;
  await waitFor('the job to run', async () => (await job(id)).status === 'running', 20_000, 50);
  await new Promise((r) => setTimeout(r, 1000)); // inside the first window
  const pid = noteQemuPid();
  assert.ok(pid && isAlive(pid));
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  const requeued = await waitFor('the job to be requeued', async () => {
    const j = await job(id);
    return j.status === 'queued' && j.error ? j : null;
  }, 10_000, 50);
  const failMs = Date.now() - killedAt;
  assert.equal(requeued.error!.code, 'device_unavailable');
  assert.equal(JOB_ERROR_CODES.device_unavailable.retryable, true);
  assert.equal(requeued.attempt, 1);
  assert.ok(failMs < 3000, `the failure took ${failMs} ms`);
  const gone = await waitFor('the board to go offline', async () => {
    const d = await device();
    return d.state === 'offline' ? d : null;
  }, 5000, 50);
  assert.equal(gone.consecutive_failures, 1, 'a device fault');
  figures.kill_to_requeue_ms = failMs;
  // The board comes back (someone flashes it by hand): the job runs again and succeeds; the agent
  // flashes the image itself, since the board's contents are unknown after it vanished.
  await flashManually('fp32');
  const done = await waitFor('the retry to finish', async () => {
    const j = await job(id);
    return ['succeeded', 'failed'].includes(j.status) ? j : null;
  }, 40_000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.attempt, 2);
  assert.equal(done.environment!.flash, 'done');
  assert.equal((await samples(id, 'latency_ms')).length, 3);
  assert.equal((await device()).consecutive_failures, 0, 'a success resets the streak');
});

test('the flashed image is remembered across an agent restart', { timeout: 60_000 }, async () => {
  await farm!.stopAgent('SIGTERM');
  const state = JSON.parse(fs.readFileSync(path.join(farm!.dataDir, 'agent', 'serial-boards.json'), 'utf8')) as { boards: Record<string, { sha256: string }> };
  assert.match(state.boards[BOARD]!.sha256, /^[0-9a-f]{64}$/);
  await farm!.startAgent({ config: path.join(tmp, 'agent.json') });
  const j = await submitAndWait('fp32');
  assert.equal(j.status, 'succeeded', JSON.stringify(j.error));
  assert.equal(j.environment!.flash, 'skipped');
});

test('an image larger than the board\'s declared flash is refused at submit (422)', async () => {
  const cli = await farm!.cli(['run', 'submit', '--model', 'kws-mcu:big', '--device', BOARD, '--runtime', 'mlperf-tiny']);
  assert.equal(cli.code, 3, cli.stderr);
  assert.match(cli.stderr, /does not fit/);
  const api = await farm!.api<{ error: { code: string; message: string } }>('POST', '/runs', { model: 'kws-mcu:big', device: BOARD, runtime: 'mlperf-tiny' });
  assert.equal(api.status, 422);
  assert.equal(api.body.error.code, 'does_not_fit');
  assert.match(api.body.error.message, new RegExp(`${BOARD}: image needs \\d+ bytes of flash .* but the device has ${FLASH_BYTES}`));
});
