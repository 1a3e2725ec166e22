// The reference MLPerf Tiny DUT firmware (agent/firmware/) on an emulated Cortex-M3 board
// (qemu-system-arm -M mps2-an385, -icount), driven through the real `serialport` package on
// QEMU's pseudo-terminal by the host client (agent/drivers/serial/mlperf-tiny.ts). Builds the
// firmware with make (missing tools fail the test with the apt-get line), boots the int8 and
// fp32 builds through the launcher (agent/emulators/mcu/qemu.ts), and checks: protocol
// conformance line by line, every e-[...] error's wording, the 80-character command buffer,
// chunked input loading, results equal to the TypeScript reference network (int8 bit-exact),
// int8 against fp32 (cycles, flash size, output agreement), deterministic cycle counts across
// runs, the flash CLI (restart through the pidfile, stop), resynchronisation after line noise,
// timeout on silence, a board reset mid-command, and a killed QEMU mid-infer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DutClosedError, DutError, DutResetError, DutTimeoutError, MlperfTinyDut, measurePerformance, parseResults,
  type InferResult,
} from '../agent/drivers/serial/mlperf-tiny.js';
import {
  argmax, buildFloatModel, floatMilli, forwardFloat, forwardInt8, int8Milli, kwsInput, quantizeModel,
} from '../agent/emulators/mcu/kws-model.js';
import { isAlive, startQemu, type QemuInstance } from '../agent/emulators/mcu/qemu.js';
import { readProcStat } from '../agent/emulators/phone/cpu-meter.js';
import { buildFirmware, firmwareImage, repoRoot, requireTools, run, sectionSizes } from './support/mcu.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-mcu-test-'));
const flashJs = path.join(repoRoot, 'dist', 'agent', 'emulators', 'mcu', 'flash.js');
const CPU_MHZ = 25; // the board's core clock; m-lap-us = cycles / 25

// Every QEMU this file starts, killed on the way out even if the after hook never runs.
const startedPids = new Set<number>();
process.on('exit', () => {
  for (const pid of startedPids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

interface Board { flavor: 'fp32' | 'int8'; qemu: QemuInstance; dut: MlperfTinyDut; rx: string[]; tx: string[] }
const boards: Board[] = [];
const clients: MlperfTinyDut[] = [];
let int8!: Board;
let fp32!: Board;

async function openDut(link: string, rx: string[] = [], tx: string[] = []): Promise<MlperfTinyDut> {
  const dut = await MlperfTinyDut.open({
    path: link, lineTimeoutMs: 5000, inferLineTimeoutMs: 30_000, syncTimeoutMs: 10_000,
    trace: (dir, text) => (dir === 'rx' ? rx : tx).push(text),
  });
  clients.push(dut);
  return dut;
}

async function boot(flavor: 'fp32' | 'int8', name: string): Promise<Board> {
  const qemu = await startQemu({ image: firmwareImage(flavor), link: path.join(tmp, name) });
  startedPids.add(qemu.pid);
  const rx: string[] = [], tx: string[] = [];
  const board: Board = { flavor, qemu, dut: null as unknown as MlperfTinyDut, rx, tx };
  boards.push(board);
  board.dut = await openDut(qemu.link!, rx, tx);
  return board;
}

const model = buildFloatModel();
const qmodel = quantizeModel(model);
const inputBytes = (seed: number) => new Uint8Array(kwsInput(seed).buffer);
const refInt8 = (seed: number) => int8Milli(forwardInt8(qmodel, kwsInput(seed)).scores).map((v) => v / 1000);
const refFp32 = (seed: number) => floatMilli(forwardFloat(model, kwsInput(seed)).scores).map((v) => v / 1000);

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

before(async () => {
  await requireTools();
  await buildFirmware();
  int8 = await boot('int8', 'mcu-int8');
  fp32 = await boot('fp32', 'mcu-fp32');
});

after(async () => {
  for (const b of boards) {
    try { process.kill(b.qemu.pid, 'SIGCONT'); } catch { /* gone */ }
  }
  for (const c of clients) await c.close().catch(() => undefined);
  for (const b of boards) await b.qemu.stop();
  for (const pid of startedPids) {
    if (isAlive(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('launcher: QEMU runs detached on a pty published through the link, with a pidfile', () => {
  const q = int8.qemu;
  assert.match(q.pty, /^\/dev\/pts\/\d+$/);
  assert.equal(fs.readlinkSync(q.link!), q.pty);
  assert.equal(Number(fs.readFileSync(q.pidfile!, 'utf8')), q.pid);
  assert.ok(isAlive(q.pid));
  assert.ok(q.args.includes('-icount') && q.args.includes('mps2-an385'), q.args.join(' '));
});

test('name and profile, exactly as the reference DUT prints them', async () => {
  assert.deepEqual(await int8.dut.exchange('name%'), ['m-name-dut-[benchfleet-mps2-an385-kws01-int8]', 'm-ready']);
  assert.deepEqual(await int8.dut.exchange('profile%'), ['m-profile-[ULPMark for tinyML Firmware V0.0.1]', 'm-model-[kws01]', 'm-ready']);
  assert.equal(await fp32.dut.name(), 'benchfleet-mps2-an385-kws01-fp32');
  assert.deepEqual(await fp32.dut.profile(), { profile: 'ULPMark for tinyML Firmware V0.0.1', model: 'kws01' });
});

test('timestamp: m-lap-us in microseconds of the board clock, increasing', async () => {
  const lines = await int8.dut.exchange('timestamp%');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^m-lap-us-\d+$/);
  assert.equal(lines[1], 'm-ready');
  const a = await int8.dut.timestamp();
  const b = await int8.dut.timestamp();
  assert.ok(b > a, `${b} > ${a}`);
});

test('unknown commands, empty commands and the 80-character buffer', async () => {
  const ex = (raw: string) => int8.dut.exchange(raw);
  assert.deepEqual(await ex('foo bar%'), ['e-[Unknown command: foo]', 'm-ready']);
  assert.deepEqual(await ex('%'), ['m-ready']);
  // 100 characters: the first 80 are kept (later ones overwrite the last slot).
  assert.deepEqual(await ex(`${'z'.repeat(100)}%`), [`e-[Unknown command: ${'z'.repeat(80)}]`, 'm-ready']);
  assert.deepEqual(await ex(`${'y'.repeat(79)}abc%`), [`e-[Unknown command: ${'y'.repeat(79)}c]`, 'm-ready']);
  // And the DUT still works.
  assert.equal(await int8.dut.name(), 'benchfleet-mps2-an385-kws01-int8');
  // The client refuses to send what the DUT would corrupt.
  await assert.rejects(int8.dut.command(`db ${'00'.repeat(39)}`), /longer than 79/);
  const err = await rejection(int8.dut.command('frobnicate 1 2'));
  assert.ok(err instanceof DutError);
  assert.equal(err.dutMessage, 'Unknown command: frobnicate');
});

test('db: load, hex chunks, m-load-done, print, and every error with its reference wording', async () => {
  const ex = (raw: string) => int8.dut.exchange(raw);
  assert.deepEqual(await ex('db load 0%'), ["e-[Command 'db load' must be >0 bytes]", 'm-ready']);
  assert.deepEqual(await ex('db load%'), ["e-[Command 'db load' must be >0 bytes]", 'm-ready']);
  assert.deepEqual(await ex('db load 491%'), ['e-[Supplied buffer size 491 exceeds maximum of 490]', 'm-ready']);
  assert.deepEqual(await ex('db load 4%'), ['m-[Expecting 4 bytes]', 'm-ready']);
  assert.deepEqual(await ex('db 0a0%'), ['e-[Insufficent number of hex digits]', 'm-ready']);
  assert.deepEqual(await ex('db 0g12%'), ["e-[Invalid hex digit '0g']", 'm-ready']);
  assert.deepEqual(await ex('db 0A0b%'), ['m-ready']);
  assert.deepEqual(await ex('db 0c0dee%'), ['m-load-done', 'm-ready']); // digits past N are ignored
  assert.deepEqual(await ex('db print%'), ['m-buffer-0a-0b-0c-0d', 'm-ready']);

  const zero = await rejection(int8.dut.command('db load 0'));
  assert.ok(zero instanceof DutError);
  assert.equal(zero.dutMessage, "Command 'db load' must be >0 bytes");
  const odd = await rejection(int8.dut.command('db abc'));
  assert.ok(odd instanceof DutError && odd.dutMessage === 'Insufficent number of hex digits');
  const bad = await rejection(int8.dut.command('db zz'));
  assert.ok(bad instanceof DutError && bad.dutMessage === "Invalid hex digit 'zz'");

  // The client's load: db load 490, then 16 chunks of at most 31 bytes, each under 80 characters.
  const txBefore = int8.tx.length;
  await int8.dut.loadInput(inputBytes(1001));
  const sent = int8.tx.slice(txBefore);
  assert.equal(sent[0], 'db load 490%');
  const chunks = sent.slice(1);
  assert.equal(chunks.length, Math.ceil(490 / 31));
  for (const c of chunks) assert.ok(/^db [0-9a-f]+%$/.test(c) && c.length <= 66, c); // 65 characters + '%'
  const printed = (await ex('db print%')).filter((l) => l.startsWith('m-buffer-'));
  const bytes = printed.flatMap((l) => l.slice('m-buffer-'.length).split('-').map((h) => parseInt(h, 16)));
  assert.deepEqual(bytes, Array.from(inputBytes(1001)));
});

test('infer: warm-up lines, two laps, m-infer-done, results; errors; W defaults to 10', async () => {
  const ex = (raw: string) => int8.dut.exchange(raw, 30_000);
  assert.deepEqual(await ex('infer 0 1%'), ['e-[Inference iterations must be >0]', 'm-ready']);
  assert.deepEqual(await ex('infer -3 1%'), ['e-[Inference iterations must be >0]', 'm-ready']);
  assert.deepEqual(await ex('infer 1 -1%'), ['e-[Inference warmup iterations must be >=0]', 'm-ready']);
  const zero = await rejection(int8.dut.infer(1, 0).then(() => int8.dut.command('infer 0 0')));
  assert.ok(zero instanceof DutError && zero.dutMessage === 'Inference iterations must be >0');

  await int8.dut.loadInput(inputBytes(1002));
  const lines = await ex('infer 2 1%');
  assert.equal(lines.length, 10, lines.join('\n'));
  assert.deepEqual(lines.slice(0, 3), ['m-warmup-start-1', 'm-warmup-done', 'm-infer-start-2']);
  assert.match(lines[3]!, /^m-lap-us-\d+$/);
  assert.match(lines[4]!, /^m-lap-us-\d+$/);
  assert.equal(lines[5], 'm-infer-done');
  assert.match(lines[6]!, /^m-cycles-total-\d+$/);
  assert.match(lines[7]!, /^m-cycles-per-inference-\d+$/);
  assert.match(lines[8]!, /^m-results-\[(\d\.\d{3},){11}\d\.\d{3}\]$/);
  assert.equal(lines[9], 'm-ready');
  assert.deepEqual(parseResults([lines[8]!]), refInt8(1002));
  // results% reprints the same line.
  assert.deepEqual(await ex('results%'), [lines[8], 'm-ready']);
  assert.deepEqual(await int8.dut.results(), refInt8(1002));
  // Without W the DUT runs 10 warm-ups.
  assert.equal((await ex('infer 1%'))[0], 'm-warmup-start-10');
  // The VWW reference prints a trailing comma: empty fields are skipped.
  assert.deepEqual(parseResults(['m-results-[0.123,0.877,]']), [0.123, 0.877]);

  const r = await int8.dut.infer(3, 0);
  assert.equal(r.elapsedUs, r.lapUs[1] - r.lapUs[0]);
  assert.equal(r.latencyUs, r.elapsedUs / 3);
  assert.ok(r.cyclesTotal !== null && r.cyclesPerInference !== null);
  // The laps are the cycle counter in µs: the window is the cycles plus a few printed characters.
  const cyclesUs = r.cyclesTotal / CPU_MHZ;
  assert.ok(r.elapsedUs >= cyclesUs && r.elapsedUs < cyclesUs * 1.001 + 200, `${r.elapsedUs} µs vs ${cyclesUs} µs of cycles`);
});

const SEEDS = [1001, 1002, 1003, 1004, 1005, 1006];

test('int8 against fp32: same network, fewer cycles, smaller flash, outputs within quantization error', async (t) => {
  const size8 = await sectionSizes(firmwareImage('int8'));
  const size32 = await sectionSizes(firmwareImage('fp32'));
  let maxDiff = 0;
  const cycles8: number[] = [], cycles32: number[] = [];
  for (const seed of SEEDS) {
    const x = inputBytes(seed);
    await int8.dut.loadInput(x);
    await fp32.dut.loadInput(x);
    const r8 = await int8.dut.infer(1, 0);
    const r32 = await fp32.dut.infer(1, 0);
    // Each build computes its network exactly: int8 bit-exact with the reference, fp32 to the
    // last printed digit (newlib's expf and Math.exp may differ in the last float bit).
    assert.deepEqual(r8.results, refInt8(seed), `int8 seed ${seed}`);
    const ref32 = refFp32(seed);
    r32.results.forEach((v, i) => assert.ok(Math.abs(v - ref32[i]!) <= 0.0011, `fp32 seed ${seed} class ${i}: ${v} vs ${ref32[i]}`));
    assert.equal(argmax(r8.results), argmax(r32.results), `top-1 of seed ${seed}: int8 ${r8.results} fp32 ${r32.results}`);
    for (let i = 0; i < r8.results.length; i++) maxDiff = Math.max(maxDiff, Math.abs(r8.results[i]! - r32.results[i]!));
    cycles8.push(r8.cyclesPerInference!);
    cycles32.push(r32.cyclesPerInference!);
  }
  const c8 = Math.max(...cycles8), c32 = Math.min(...cycles32);
  t.diagnostic(`cycles/inference: int8 ${cycles8.join(' ')}; fp32 ${cycles32.join(' ')} (fp32/int8 ${(c32 / c8).toFixed(2)}x)`);
  t.diagnostic(`flash (text+data): int8 ${size8.flash} B, fp32 ${size32.flash} B; RAM (data+bss): int8 ${size8.data + size8.bss} B, fp32 ${size32.data + size32.bss} B`);
  t.diagnostic(`max |int8 - fp32| of the dequantized scores over ${SEEDS.length} inputs: ${maxDiff.toFixed(3)}`);
  assert.ok(c8 < c32, `int8 ${c8} cycles must beat fp32 ${c32}`);
  assert.ok(size8.flash < size32.flash, `int8 flash ${size8.flash} must be smaller than fp32 ${size32.flash}`);
  assert.ok(maxDiff <= 0.05, `max abs diff ${maxDiff}`);
});

async function cyclesFor(dut: MlperfTinyDut, seed: number): Promise<InferResult> {
  await dut.loadInput(inputBytes(seed));
  return dut.infer(2, 1);
}

test('cycle counts are deterministic under -icount: repeated runs, and a fresh QEMU started by the flash CLI', async () => {
  const a = await cyclesFor(int8.dut, 1003);
  const b = await cyclesFor(int8.dut, 1003);
  assert.equal(a.cyclesTotal, b.cyclesTotal);
  const f1 = await cyclesFor(fp32.dut, 1003);
  const f2 = await cyclesFor(fp32.dut, 1003);
  assert.equal(f1.cyclesTotal, f2.cyclesTotal);

  // The flash command: flashing again kills the previous QEMU (pidfile) and moves the link.
  const link = path.join(tmp, 'cli-board');
  const flash = async () => {
    const r = await run(process.execPath, [flashJs, '--link', link, firmwareImage('int8')]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { event: string; pid: number; pty: string; pidfile: string };
    startedPids.add(out.pid);
    return out;
  };
  const first = await flash();
  const second = await flash();
  assert.notEqual(first.pid, second.pid);
  assert.ok(!isAlive(first.pid), 'the first QEMU was stopped');
  assert.ok(isAlive(second.pid));
  assert.equal(fs.readlinkSync(link), second.pty);
  assert.equal(Number(fs.readFileSync(`${link}.pid`, 'utf8')), second.pid);
  const dut = await openDut(link);
  const c = await cyclesFor(dut, 1003);
  assert.equal(c.cyclesTotal, a.cyclesTotal, 'same cycles in another QEMU run');
  assert.deepEqual(c.results, a.results);
  await dut.close();
  const stop = await run(process.execPath, [flashJs, '--link', link, '--stop']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.ok(!isAlive(second.pid));
  assert.ok(!fs.existsSync(link) && !fs.existsSync(`${link}.pid`));
});

test('line noise before a command is survived (resynchronisation, retry)', async () => {
  // Bytes glued to the front of the next command: the DUT reports another command name.
  await int8.dut.writeRaw(Buffer.from([0xff, 0x41, 0x42, 0x07]));
  assert.equal(await int8.dut.name(), 'benchfleet-mps2-an385-kws01-int8');
  // A NUL ends the DUT's string: it sees an empty command and answers only m-ready.
  await int8.dut.writeRaw(Buffer.from([0x00, 0x13]));
  assert.equal(await int8.dut.timestamp() > 0, true);
  // A complete garbage command: its reply arrives first.
  await int8.dut.writeRaw('junk here%');
  assert.deepEqual(await int8.dut.profile(), { profile: 'ULPMark for tinyML Firmware V0.0.1', model: 'kws01' });
  // "db " before name: the DUT parses "name" as hex digits.
  await int8.dut.writeRaw('db ');
  assert.equal(await int8.dut.name(), 'benchfleet-mps2-an385-kws01-int8');
  // Half a hex chunk before a load: the load starts over.
  await int8.dut.writeRaw('db 00');
  await int8.dut.loadInput(inputBytes(1004));
  assert.deepEqual((await int8.dut.infer(1, 0)).results, refInt8(1004));
});

test('silence: a per-line timeout error, then the client resynchronises', async () => {
  process.kill(int8.qemu.pid, 'SIGSTOP');
  let err: Error;
  const started = Date.now();
  try {
    err = await rejection(int8.dut.command('name', 400));
  } finally {
    process.kill(int8.qemu.pid, 'SIGCONT');
  }
  assert.ok(err instanceof DutTimeoutError, String(err));
  assert.ok(Date.now() - started < 2000);
  // The late reply to the timed-out command must not be taken for the next one's.
  assert.deepEqual(await int8.dut.profile(), { profile: 'ULPMark for tinyML Firmware V0.0.1', model: 'kws01' });
  assert.equal(await int8.dut.name(), 'benchfleet-mps2-an385-kws01-int8');
});

test('performance mode: windows of at least the minimum on the DUT clock, median latency', async (t) => {
  const inputs = [inputBytes(1001), inputBytes(1002)];
  const r8 = await measurePerformance(int8.dut, { windows: 3, minWindowSeconds: 1, warmup: 1, inputs });
  const r32 = await measurePerformance(fp32.dut, { windows: 3, minWindowSeconds: 2, warmup: 0, inputs });
  for (const r of [r8, r32]) {
    assert.equal(r.windows.length, 3);
    for (const w of r.windows) {
      assert.ok(w.elapsedUs >= r.minWindowSeconds * 1e6, `window ${w.index}: ${w.elapsedUs} µs`);
      assert.equal(w.latencyUs, w.elapsedUs / w.iterations);
    }
    // Latency from the laps agrees with the cycle counter (25 cycles per µs).
    assert.ok(r.medianCyclesPerInference !== null);
    const fromCycles = r.medianCyclesPerInference / CPU_MHZ;
    assert.ok(Math.abs(r.medianLatencyUs - fromCycles) / fromCycles < 0.01, `${r.medianLatencyUs} vs ${fromCycles}`);
  }
  t.diagnostic(`int8: N=${r8.windows.map((w) => w.iterations).join('/')} median ${(r8.medianLatencyUs / 1000).toFixed(2)} ms/inference`);
  t.diagnostic(`fp32: N=${r32.windows.map((w) => w.iterations).join('/')} median ${(r32.medianLatencyUs / 1000).toFixed(2)} ms/inference`);
  assert.ok(r8.medianLatencyUs < r32.medianLatencyUs);
});

test('WFI idle: the QEMU process sleeps while the board waits for input and works while it infers', async (t) => {
  const cpuMs = () => readProcStat(int8.qemu.pid)!.totalTicks * 10; // USER_HZ = 100
  const idleStart = cpuMs();
  await sleep(1000);
  const idleMs = cpuMs() - idleStart;
  await int8.dut.loadInput(inputBytes(1001));
  const busyStart = cpuMs();
  const wallStart = Date.now();
  await int8.dut.infer(100, 0);
  const wallMs = Date.now() - wallStart;
  const busyMs = cpuMs() - busyStart;
  t.diagnostic(`QEMU CPU: idle ${idleMs} ms over 1000 ms; inferring ${busyMs} ms over ${wallMs} ms`);
  assert.ok(idleMs <= 50, `idle QEMU used ${idleMs} ms of CPU in 1 s`);
  // Loose bounds: the two cores are shared with other work.
  assert.ok(busyMs >= wallMs * 0.3, `inferring QEMU used ${busyMs} ms of CPU in ${wallMs} ms`);
  assert.ok(busyMs / wallMs >= 10 * (idleMs / 1000), 'inferring must cost far more CPU than idling');
});

test('boot banner after a reset; a reset mid-command is a distinct error and the input is lost', async () => {
  const from = int8.rx.length;
  const resets = int8.dut.resets;
  await int8.qemu.qmp('system_reset');
  const deadline = Date.now() + 5000;
  while (!int8.rx.slice(from).includes('m-ready') && Date.now() < deadline) await sleep(20);
  const banner = int8.rx.slice(from);
  assert.equal(banner.length, 4, banner.join('\n'));
  assert.equal(banner[0], 'm-timestamp-mode-performance');
  assert.match(banner[1]!, /^m-lap-us-\d+$/);
  assert.deepEqual(banner.slice(2), ['m-init-done', 'm-ready']);
  assert.equal(int8.dut.resets, resets + 1);

  // Reset in the middle of a long infer on the fp32 board.
  await fp32.dut.loadInput(inputBytes(1005));
  const pending = fp32.dut.infer(200, 0);
  const seen = fp32.rx.length;
  while (!fp32.rx.slice(seen).some((l) => l.startsWith('m-infer-start-'))) await sleep(10);
  await fp32.qemu.qmp('system_reset');
  const err = await rejection(pending);
  assert.ok(err instanceof DutResetError, String(err));
  // The board lost its input: infer refuses until it is loaded again.
  assert.ok(await rejection(fp32.dut.infer(1, 0)) instanceof DutResetError);
  await fp32.dut.loadInput(inputBytes(1005));
  assert.ok(Math.abs((await fp32.dut.infer(1, 0)).results[7]! - refFp32(1005)[7]!) <= 0.0011);
});

test('killing QEMU mid-infer: the client fails promptly with a port-closed error', async () => {
  await fp32.dut.loadInput(inputBytes(1006));
  const pending = fp32.dut.infer(500, 0);
  const seen = fp32.rx.length;
  while (!fp32.rx.slice(seen).some((l) => l.startsWith('m-infer-start-'))) await sleep(10);
  const killedAt = Date.now();
  process.kill(fp32.qemu.pid, 'SIGKILL');
  const err = await rejection(pending);
  const ms = Date.now() - killedAt;
  assert.ok(err instanceof DutClosedError, String(err));
  assert.match(err.message, /port closed, device gone/);
  assert.ok(ms < 1500, `took ${ms} ms`);
  assert.ok(!fp32.dut.isOpen);
  await assert.rejects(fp32.dut.name(), DutClosedError);
});
