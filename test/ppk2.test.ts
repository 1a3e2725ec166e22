// Tests for the PPK2 driver (agent/drivers/serial/ppk2.ts) and the emulated PPK2
// (agent/emulators/ppk2/):
// - sample words decoded from known bytes, the current computed here by hand from the documented
//   formula for every range (default and non-trivial calibration), corrupt range fields clamped;
// - metadata parsing of a realistic block (CRLF, -nan, R = 0, trailing bytes) and a cut one;
// - the byte-stream decoder: words split across reads, counter gaps kept as lost samples;
// - energy = ∫V·I dt on synthetic streams with rectangular pulses: time windows (with partial
//   samples), logic-pin windows, edge windows, lost samples, per-inference division;
// - the emulator's encoding: auto-ranging with hysteresis, and round trips within one ADC step;
// - end to end through a real socat pty pair: metadata, commands, ≈100 kS/s streaming, and a
//   current that rises while the observed child process is busy and falls when it sleeps.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  PPK2_ADC_MAX,
  PPK2_DEFAULT_R,
  Ppk2,
  SampleDecoder,
  SampleStream,
  SpikeFilter,
  adcToMicroamps,
  decodeWord,
  defaultCalibration,
  integrateEnergy,
  lastEdgeWindow,
  parseMetadata,
  perInference,
  pinEdges,
  regulatorCommand,
  type Ppk2Calibration,
} from '../agent/drivers/serial/ppk2.js';
import { ConstantActivity, ProcessCpuActivity, schedstatCpuSeconds, statCpuSeconds } from '../agent/emulators/ppk2/activity.js';
import { EmulatedPpk2 } from '../agent/emulators/ppk2/device.js';
import { AutoRanger, encodeWord, microampsToAdc } from '../agent/emulators/ppk2/encode.js';
import { EMULATED_CALIBRATION } from '../agent/emulators/ppk2/metadata.js';
import { openPtyPair, type PtyPair } from '../agent/emulators/ppk2/pty-pair.js';

// ---- cleanup of everything started here --------------------------------------------------------

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch {
      // keep cleaning
    }
  }
});

// ---- the documented conversion, written out by hand -------------------------------------------

/** µA from the formula in the protocol notes: adc = 4·code; x = (adc − O)·(1.8/163840)/R; I = UG·(x·(GS·x + GI) + S·Vdd/1000 + I). */
function handUa(code: number, r: number, cal: Ppk2Calibration, vddMv: number): number {
  const adc = code * 4;
  const x = ((adc - cal.o[r]!) * (1.8 / 163840)) / cal.r[r]!;
  const amps = cal.ug[r]! * (x * (cal.gs[r]! * x + cal.gi[r]!) + cal.s[r]! * (vddMv / 1000) + cal.i[r]!);
  return amps * 1e6;
}

/** A calibration where every term matters. */
const CAL: Ppk2Calibration = {
  r: [1003.3506, 101.2257, 10.0838, 0.9386, 0.0445],
  gs: [150.2, 12.5, 1.3, 0.12, 0.007],
  gi: [0.98, 1.01, 0.995, 1.02, 0.97],
  o: [112.8, 90.1, 85.6, 102.4, 120.9],
  s: [3e-8, -2e-8, 4e-7, 1e-6, 5e-5],
  i: [-5e-8, 6e-8, -3e-7, 2e-6, -1e-4],
  ug: [1.02, 0.99, 1.0, 1.01, 0.98],
};

/** Words with known fields: [bytes as sent (little-endian), adc, range, counter, logic]. */
const WORDS: [number[], number, number, number, number][] = [
  [[0xe8, 0x03, 0x14, 0x01], 1000, 0, 5, 0x01],
  [[0xff, 0x5f, 0xfc, 0x80], 8191, 1, 63, 0x80],
  [[0xe8, 0x83, 0x00, 0x00], 1000, 2, 0, 0x00],
  [[0xff, 0xff, 0x80, 0xff], 16383, 3, 32, 0xff],
  [[0x23, 0x01, 0x45, 0x55], 291, 4, 17, 0x55],
];

test('sample words: fields decoded from known bytes', () => {
  for (const [bytes, adc, range, counter, logic] of WORDS) {
    const word = Buffer.from(bytes).readUInt32LE(0);
    assert.deepEqual(decodeWord(word), { adc, range, counter, logic }, `word ${Buffer.from(bytes).toString('hex')}`);
    assert.equal(encodeWord(adc, range, counter, logic), word, 'the emulator packs the same word');
  }
  // range bits 0b111 on a corrupt word are clamped to 4; bit 17 is ignored
  assert.deepEqual(decodeWord(Buffer.from([0x0a, 0xc0, 0x01, 0x00]).readUInt32LE(0)), { adc: 10, range: 4, counter: 0, logic: 0 });
  assert.deepEqual(decodeWord(0x00020000 | 77), { adc: 77, range: 0, counter: 0, logic: 0 });
});

test('current per range: default calibration matches the worked example, a full calibration matches the formula', () => {
  const def = defaultCalibration();
  assert.deepEqual(def.r, [...PPK2_DEFAULT_R]);
  // worked example: code 1000 in range 2 → x = 4000 × 1.8/163840 V / 10.15 Ω = 4.32959 mA; with the
  // default GS = GI = 1 the current is x·(x + 1) = 4.34833 mA (the notes' 4.33 mA leaves out GS·x²)
  assert.ok(Math.abs(adcToMicroamps(1000, 2, def, 3300) - 4348.3328) < 0.001);
  assert.ok(Math.abs(adcToMicroamps(1000, 0, def, 3300) - 42.59934) < 0.0001);
  for (const cal of [def, CAL]) {
    for (const [bytes, adc, range] of WORDS) {
      const word = Buffer.from(bytes).readUInt32LE(0);
      const s = decodeWord(word);
      for (const vdd of [1800, 3300]) {
        const expected = handUa(adc, range, cal, vdd);
        const got = adcToMicroamps(s.adc, s.range, cal, vdd);
        assert.ok(Math.abs(got - expected) <= 1e-9 * Math.abs(expected) + 1e-9, `range ${range} code ${adc}: ${got} vs ${expected}`);
      }
    }
  }
  // the S term makes the supply voltage matter
  assert.notEqual(adcToMicroamps(1000, 4, CAL, 1800), adcToMicroamps(1000, 4, CAL, 3300));
});

test('decoder: words split across reads, calibration applied, counter gaps kept as lost samples', () => {
  const stream = new SampleStream();
  const dec = new SampleDecoder(stream, CAL, 3000);
  const bytes = Buffer.concat(WORDS.map(([b]) => Buffer.from(b)));
  // counters 5, 63, 0, 32, 17: 5→63 loses 57, 63→0 none, 0→32 loses 31, 32→17 loses 48
  dec.push(bytes.subarray(0, 0)); // an empty read is harmless
  dec.push(bytes.subarray(0, 3));
  dec.push(bytes.subarray(3, 9));
  dec.push(bytes.subarray(9, 10));
  dec.push(bytes.subarray(10));
  assert.deepEqual(dec.stats, { words: 5, dropped: 57 + 31 + 48, gaps: 3 });
  assert.equal(stream.length, 5 + 57 + 31 + 48);
  assert.equal(stream.missing, 57 + 31 + 48);
  const real = [0, 58, 59, 91, 140];
  for (const [k, i] of real.entries()) {
    const [, adc, range, , logic] = WORDS[k]!;
    assert.ok(Math.abs(stream.currentAt(i) - handUa(adc, range, CAL, 3000)) <= 1e-4 * Math.abs(handUa(adc, range, CAL, 3000)) + 1e-3, `sample ${i}`);
    assert.equal(stream.logicAt(i), logic);
  }
  assert.ok(Number.isNaN(stream.currentAt(1)) && Number.isNaN(stream.currentAt(57)));
  assert.equal(stream.logicAt(1), 0x01, 'lost samples hold the previous logic state');
  assert.equal(stream.timeOf(58), 58e-5);
  assert.throws(() => stream.currentAt(141), /not held/);
});

test('metadata: a realistic block with CRLF, -nan and a zero shunt', () => {
  const block = [
    'Calibrated: 1',
    'R0: 1003.3506', 'R1: 101.5865', 'R2: 10.1623', 'R3: 0', 'R4: 0.0437',
    'GS0: 0.0000', 'GS1: 112.7531', 'GS2: 10.3920', 'GS3: 0.9741', 'GS4: 0.0460',
    'GI0: 1.0000', 'GI1: 0.9811', 'GI2: 0.9903', 'GI3: 0.9944', 'GI4: 1.0021',
    'O0: 112.8462', 'O1: 77.0211', 'O2: 66.5007', 'O3: 59.8813', 'O4: 73.9032',
    'VDD: 3000', 'HW: 9173', 'mode: 2',
    'S0: 0.000000024', 'S1: 0.000000017', 'S2: -nan', 'S3: 0.000002', 'S4: 0.0000511',
    'I0: -0.000000041', 'I1: 0.00000006', 'I2: -0.0000003', 'I3: 0.0000021', 'I4: -0.00011',
    'UG0: 1.00', 'UG1: 1.00', 'UG2: 0.9876', 'UG3: 1.00', 'UG4: 1.00',
    'IA: 56',
    'END',
  ].join('\r\n') + '\r\n\x06\x00';
  const meta = parseMetadata(block);
  assert.deepEqual(meta.calibration.r, [1003.3506, 101.5865, 10.1623, PPK2_DEFAULT_R[3], 0.0437], 'R3 = 0 keeps the default shunt');
  assert.deepEqual(meta.calibration.gs, [0, 112.7531, 10.392, 0.9741, 0.046]);
  assert.deepEqual(meta.calibration.gi, [1, 0.9811, 0.9903, 0.9944, 1.0021]);
  assert.deepEqual(meta.calibration.o, [112.8462, 77.0211, 66.5007, 59.8813, 73.9032]);
  assert.deepEqual(meta.calibration.s, [2.4e-8, 1.7e-8, 0, 2e-6, 5.11e-5], '-nan keeps the default 0');
  assert.deepEqual(meta.calibration.i, [-4.1e-8, 6e-8, -3e-7, 2.1e-6, -1.1e-4]);
  assert.deepEqual(meta.calibration.ug, [1, 1, 0.9876, 1, 1]);
  assert.deepEqual(meta.ignored.sort(), ['R3', 'S2']);
  assert.equal(meta.calibrated, true);
  assert.equal(meta.vddMv, 3000);
  assert.equal(meta.hw, 9173);
  assert.equal(meta.mode, 2);
  assert.equal(meta.ia, 56);
  assert.equal(meta.fields['S2'], '-nan');
  // keys missing entirely keep defaults
  const sparse = parseMetadata('Calibrated: 0\nR0: 1000.5\nEND\n');
  assert.deepEqual(sparse.calibration.r, [1000.5, ...PPK2_DEFAULT_R.slice(1)]);
  assert.deepEqual(sparse.calibration.ug, [1, 1, 1, 1, 1]);
  assert.equal(sparse.calibrated, false);
  assert.equal(sparse.vddMv, null);
  assert.throws(() => parseMetadata('Calibrated: 0\nR0: 1000.5\nR1: 10'), /no END line/);
});

test('regulator command: big-endian mV, limits enforced', () => {
  assert.deepEqual([...regulatorCommand(3300)], [0x0d, 0x0c, 0xe4]);
  assert.deepEqual([...regulatorCommand(800)], [0x0d, 0x03, 0x20]);
  assert.deepEqual([...regulatorCommand(5000)], [0x0d, 0x13, 0x88]);
  assert.throws(() => regulatorCommand(799), /between 800 and 5000 mV/);
  assert.throws(() => regulatorCommand(5001), /between 800 and 5000 mV/);
  assert.throws(() => regulatorCommand(1800.5), /integer/);
});

// ---- energy ------------------------------------------------------------------------------------

/** 1 s at 100 kS/s: 100 µA, with pulses of 5000 µA in [a, b) given in sample indexes; D2 high and D7 low-pulsed around each. */
function pulseStream(pulses: [number, number][], total = 100_000): SampleStream {
  const s = new SampleStream();
  for (let i = 0; i < total; i++) {
    const inPulse = pulses.some(([a, b]) => i >= a && i < b);
    const edgeMark = pulses.some(([a, b]) => i === a || i === b); // D7 dips for one sample at each boundary
    const logic = (inPulse ? 0x04 : 0) | (edgeMark ? 0 : 0x80);
    s.push(inPulse ? 5000 : 100, logic);
  }
  return s;
}

const close = (got: number, want: number, rel = 1e-9): boolean => Math.abs(got - want) <= rel * Math.abs(want);

test('energy over time windows: rectangular pulse integrates to V·I·t', () => {
  const s = pulseStream([[20_000, 50_000]]); // 5000 µA from 0.2 s to 0.5 s
  const V = 3.0;
  const whole = integrateEnergy(s, V, { t0: 0, t1: 1 });
  // 100 µA for 0.7 s + 5000 µA for 0.3 s at 3 V
  const want = V * (100e-6 * 0.7 + 5000e-6 * 0.3);
  assert.ok(close(whole.joules, want), `${whole.joules} J vs ${want} J`);
  assert.ok(close(whole.millijoules, want * 1e3) && close(whole.microjoules, want * 1e6));
  assert.ok(close(whole.seconds, 1));
  assert.equal(whole.samples, 100_000);
  assert.ok(close(whole.averageUa, 100 * 0.7 + 5000 * 0.3));
  assert.ok(close(whole.averageW, want));
  const pulse = integrateEnergy(s, V, { t0: 0.2, t1: 0.5 });
  assert.ok(close(pulse.joules, V * 5000e-6 * 0.3), `${pulse.millijoules} mJ`);
  // a window cutting samples in half: 2.5 µs of 100 µA before the pulse, 0.1 s of pulse, 2.5 µs after 0.3 s still in it
  const partial = integrateEnergy(s, V, { t0: 0.2 - 2.5e-6, t1: 0.3 + 2.5e-6 });
  const wantPartial = V * (100e-6 * 2.5e-6 + 5000e-6 * (0.1 + 2.5e-6));
  assert.ok(close(partial.joules, wantPartial, 1e-8), `${partial.joules} vs ${wantPartial}`);
  assert.equal(partial.samples, 10_002);
  // windows are clamped to the stream
  assert.ok(close(integrateEnergy(s, V, { t0: -5, t1: 50 }).joules, want));
  assert.throws(() => integrateEnergy(s, V, { t0: 0.5, t1: 0.2 }), /empty or inverted window/);
  assert.throws(() => integrateEnergy(s, 0, { t0: 0, t1: 1 }), /positive number of volts/);
  const per = perInference(pulse, 30);
  assert.ok(close(per.millijoules, pulse.millijoules / 30) && close(per.joules, pulse.joules / 30) && close(per.seconds, 0.01));
  assert.throws(() => perInference(pulse, 0), /positive integer/);
});

test('energy over logic-pin windows and MLPerf Tiny edge windows', () => {
  const V = 1.8;
  const s = pulseStream([[10_000, 20_000], [60_000, 75_000]]); // 0.1–0.2 s and 0.6–0.75 s
  const high = integrateEnergy(s, V, { pin: 2 });
  assert.ok(close(high.joules, V * 5000e-6 * 0.25), `${high.joules}`);
  assert.equal(high.segments, 2);
  assert.ok(close(high.seconds, 0.25));
  assert.ok(close(high.averageUa, 5000));
  const low = integrateEnergy(s, V, { pin: 2, level: 'low' });
  assert.ok(close(low.joules, V * 100e-6 * 0.75));
  assert.equal(low.segments, 3);
  const firstOnly = integrateEnergy(s, V, { pin: 2, t0: 0, t1: 0.5 });
  assert.ok(close(firstOnly.joules, V * 5000e-6 * 0.1));
  assert.equal(firstOnly.segments, 1);
  assert.throws(() => integrateEnergy(s, V, { pin: 8 }), /0\.\.7/);
  // D7 is high with one-sample low pulses at 0.1, 0.2, 0.6, 0.75 s
  const falls = pinEdges(s, 7, 'falling');
  assert.deepEqual(falls.map((t) => Math.round(t * 1e5)), [10_000, 20_000, 60_000, 75_000]);
  assert.deepEqual(pinEdges(s, 2, 'rising').map((t) => Math.round(t * 1e5)), [10_000, 60_000]);
  const w = lastEdgeWindow(s, 7);
  assert.ok(close(w.t0, 0.6) && close(w.t1, 0.75));
  const e = integrateEnergy(s, V, w);
  assert.ok(close(e.joules, V * 5000e-6 * 0.15));
  assert.ok(close(perInference(e, 15).microjoules, (V * 5000 * 0.15) / 15));
  assert.throws(() => lastEdgeWindow(pulseStream([]), 7), /need two falling edges on D7, found 0/);
});

test('energy: lost samples count with the previous current and are reported', () => {
  const s = new SampleStream();
  for (let i = 0; i < 1000; i++) s.push(200, 0);
  s.pushGap(500, 0);
  for (let i = 0; i < 1000; i++) s.push(200, 0);
  const e = integrateEnergy(s, 3.3, { t0: 0, t1: s.endTime });
  assert.equal(e.missing, 500);
  assert.ok(close(e.joules, 3.3 * 200e-6 * 2500e-5));
  // a window starting inside the gap finds the value before it
  const inGap = integrateEnergy(s, 3.3, { t0: 1200e-5, t1: 1400e-5 });
  assert.ok(close(inGap.joules, 3.3 * 200e-6 * 200e-5));
});

test('sample stream with a size limit keeps absolute times', () => {
  const s = new SampleStream({ maxSeconds: 1 }); // 100 000 samples → a few 65536-sample chunks
  for (let i = 0; i < 400_000; i++) s.push(i % 1000, 0);
  assert.equal(s.length, 400_000);
  assert.ok(s.firstIndex > 0 && s.firstIndex <= 400_000 - 100_000, `first held ${s.firstIndex}`);
  assert.equal(s.currentAt(399_999), 999);
  assert.equal(s.currentAt(s.firstIndex), s.firstIndex % 1000);
  assert.throws(() => s.currentAt(0), /not held/);
  const e = integrateEnergy(s, 1, { t0: 3.99, t1: 4 });
  assert.ok(close(e.averageUa, 499.5));
});

test('spike filter: the three samples after a range change are smoothed', () => {
  const f = new SpikeFilter();
  const out: number[] = [];
  for (let i = 0; i < 20; i++) out.push(f.apply(10, 0));
  const spike = [900, 880, 860, 850, 850, 850];
  for (const v of spike) out.push(f.apply(v, 1));
  assert.deepEqual(out.slice(0, 20), new Array(20).fill(10));
  for (let k = 0; k < 3; k++) assert.ok(out[20 + k]! < spike[k]! * 0.7, `smoothed ${out[20 + k]}`);
  assert.deepEqual(out.slice(23), [850, 850, 850], 'raw values again afterwards');
});

// ---- the emulator's encoding -------------------------------------------------------------------

test('emulator encoding: auto-range with hysteresis, round trip within one ADC step', () => {
  const cal = structuredClone(EMULATED_CALIBRATION) as Ppk2Calibration;
  const vdd = 3300;
  const ranger = new AutoRanger(cal, vdd);
  const fs = ranger.fullScale;
  for (let r = 1; r < 5; r++) assert.ok(fs[r]! > fs[r - 1]! * 5, 'each range reaches much further');
  // sweep 0.5 µA → 5 A upwards then back down
  const currents: number[] = [];
  for (let ua = 0.5; ua < 5e6; ua *= 1.07) currents.push(ua);
  const upRanges: number[] = [];
  for (const ua of currents) {
    const r = ranger.pick(ua);
    upRanges.push(r);
    assert.ok(ua <= 0.9 * fs[r]! || r === 4, `${ua} µA must not saturate range ${r}`);
    const code = microampsToAdc(ua, r, cal, vdd);
    const back = adcToMicroamps(code, r, cal, vdd);
    const lsb = adcToMicroamps(code + 1, r, cal, vdd) - back;
    assert.ok(Math.abs(back - ua) <= lsb, `${ua} µA in range ${r}: decoded ${back} (LSB ${lsb})`);
  }
  assert.deepEqual([...new Set(upRanges)], [0, 1, 2, 3, 4], 'the sweep visits every range in order');
  const downRanges = [...currents].reverse().map((ua) => ranger.pick(ua));
  // hysteresis: going down, each switch happens at a lower current than the switch going up
  for (let r = 1; r < 5; r++) {
    const upAt = currents[upRanges.indexOf(r)]!;
    const downBelow = [...currents].reverse()[downRanges.indexOf(r - 1)]!;
    assert.ok(downBelow < upAt, `range ${r}: up at ${upAt} µA, down at ${downBelow} µA`);
  }
  // the most sensitive range that fits: a current settled low returns to range 0
  assert.equal(ranger.pick(1), 0);
  assert.equal(microampsToAdc(-50, 0, cal, vdd), 0, 'negative currents clamp');
  assert.equal(microampsToAdc(1e9, 0, cal, vdd), PPK2_ADC_MAX, 'saturation clamps');
});

test('ProcessCpuActivity follows a busy and a sleeping process (both clocks)', async () => {
  const busy = spawn(process.execPath, ['-e', 'const end = Date.now() + 4000; while (Date.now() < end) {}']);
  const idle = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 4000)']);
  cleanups.push(() => void busy.kill('SIGKILL'), () => void idle.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 300)); // past node's start-up
  for (const clock of ['schedstat', 'stat'] as const) {
    const b = new ProcessCpuActivity(busy.pid!, { clock, windowMs: 100 });
    const i = new ProcessCpuActivity(idle.pid!, { clock, windowMs: 100 });
    let sumB = 0;
    let sumI = 0;
    for (let k = 0; k < 10; k++) {
      await new Promise((r) => setTimeout(r, 30));
      if (k >= 4) {
        sumB += b.activity();
        sumI += i.activity();
      } else {
        b.activity();
        i.activity();
      }
    }
    assert.ok(sumB / 6 > 0.5, `${clock}: busy process activity ${sumB / 6}`);
    assert.ok(sumI / 6 < 0.2, `${clock}: sleeping process activity ${sumI / 6}`);
  }
  const gone = new ProcessCpuActivity(2 ** 22 + 12345, { clock: 'stat' });
  assert.equal(gone.activity(), 0);
  assert.equal(gone.exited, true);
  busy.kill('SIGKILL');
  idle.kill('SIGKILL');
});

// ---- end to end over a socat pty pair ----------------------------------------------------------

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** CPU seconds of a process, by the same clock ProcessCpuActivity picks by default. */
function statOrSched(pid: number): number {
  const v = schedstatCpuSeconds(pid) ?? statCpuSeconds(pid);
  if (v === null) throw new Error(`process ${pid} is gone`);
  return v;
}

function requireSocat(): void {
  const r = spawnSync('socat', ['-V'], { encoding: 'utf8' });
  if (r.error) throw new Error(`socat is missing (${(r.error as NodeJS.ErrnoException).code}): this test needs it, apt-get install socat`);
}

test('pty pair: a missing socat is reported with the install command', async () => {
  const saved = process.env['PATH'];
  process.env['PATH'] = '/nonexistent-benchfleet-path';
  try {
    await assert.rejects(openPtyPair({ timeoutMs: 2000 }), /socat is not installed .*apt-get install socat/);
  } finally {
    process.env['PATH'] = saved;
  }
});

test('end to end: driver ↔ emulated PPK2 over socat, 100 kS/s, current follows the busy child', { timeout: 60_000 }, async (t) => {
  requireSocat();
  // the observed "MCU": waits for a line on stdin, busy-loops 300 ms, reports, then sleeps
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [
    '-e',
    "process.stdin.once('data', () => { const end = Date.now() + 300; while (Date.now() < end) {} process.stdout.write('done\\n'); setTimeout(() => {}, 20000); });",
  ]);
  cleanups.push(() => void child.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 300)); // node start-up CPU is over before measuring

  const pair: PtyPair = await openPtyPair();
  cleanups.push(() => pair.close());
  const emu = await EmulatedPpk2.open({ path: pair.a, activity: new ProcessCpuActivity(child.pid!), idleUa: 250, activeUa: 7500, seed: 42 });
  cleanups.push(() => emu.close());
  const ppk = await Ppk2.open({ path: pair.b });
  cleanups.push(() => ppk.close());

  // metadata: the emulator's own calibration, read back exactly
  const meta = await ppk.getMetadata();
  assert.deepEqual(meta.calibration, EMULATED_CALIBRATION);
  assert.equal(meta.vddMv, 3300);
  assert.equal(meta.mode, 1);
  assert.deepEqual(meta.ignored, []);

  await ppk.setSourceVoltage(3000);
  await ppk.useSourceMeter();
  await ppk.setDutPower(true);
  await waitFor(() => emu.stats.commands.length >= 4, 2000);
  assert.deepEqual(emu.stats.commands, ['19', '0d0bb8', '1102', '0c01']);
  assert.equal(emu.vddMv, 3000);
  assert.equal(emu.mode, 'source');
  assert.equal(emu.dutPower, true);
  assert.equal((await ppk.getMetadata()).vddMv, 3000, 'metadata reports the new regulator setting');

  const wallStart = performance.now();
  await ppk.startMeasuring();
  await ppk.waitForSamples(0.3);
  const tGo = ppk.samples.endTime;
  const cpuGo = statOrSched(child.pid!);
  const wallGo = performance.now();
  const done = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdin.write('go\n');
  await done;
  const tDone = ppk.samples.endTime;
  // how much CPU the child really got while busy (less than 100 % on a loaded machine)
  const utilisation = (statOrSched(child.pid!) - cpuGo) / ((performance.now() - wallGo) / 1000);
  await ppk.waitForSamples(tDone + 0.4);
  await ppk.stopMeasuring();
  const wallS = (performance.now() - wallStart) / 1000;
  assert.equal(emu.streaming, false, 'AVERAGE_STOP stops the stream');

  const st = ppk.stats();
  const span = (st.lastDataAt! - st.firstDataAt!) / 1000;
  const rate = st.words / span;
  const sent = emu.stats.samplesSent;
  t.diagnostic(`${st.words} samples in ${span.toFixed(3)} s of data (${wallS.toFixed(3)} s wall): ${Math.round(rate)} S/s; emulator sent ${sent}, dropped ${emu.stats.samplesDropped}; decoder gaps ${st.gaps}`);
  assert.ok(rate > 85_000 && rate < 115_000, `sample rate ${rate} S/s`);
  assert.equal(st.words, sent, 'every sample sent was decoded');
  assert.equal(st.dropped, emu.stats.samplesDropped, 'drops seen through the counter = drops made');
  assert.ok(st.dropped < 0.02 * st.words, `dropped ${st.dropped}`);

  const mean = (t0: number, t1: number): number => ppk.energy({ t0, t1 }).averageUa;
  const before = mean(0.05, tGo - 0.03);
  const busy = mean(tGo + 0.08, tDone - 0.03);
  const busyWhole = mean(tGo, tDone);
  const expectedBusy = 250 + Math.min(1, utilisation) * 7500;
  const afterwards = mean(tDone + 0.1, ppk.samples.endTime - 0.01);
  t.diagnostic(`busy window ${(tDone - tGo).toFixed(3)} s; mean current before ${before.toFixed(1)} µA, busy ${busy.toFixed(1)} µA, after ${afterwards.toFixed(1)} µA`);
  assert.ok(Math.abs(before - 250) < 0.05 * 250, `idle current ${before} µA`);
  t.diagnostic(`child CPU utilisation while busy ${(utilisation * 100).toFixed(0)} % → expected ${expectedBusy.toFixed(0)} µA, measured ${busyWhole.toFixed(0)} µA over the whole busy stretch`);
  assert.ok(busy > 250 + 0.15 * 7500, `busy current ${busy} µA should stand clearly above the idle 250 µA`);
  assert.ok(utilisation > 0.1, `the child got ${utilisation} of a CPU`);
  assert.ok(Math.abs(busyWhole - expectedBusy) < 0.25 * (expectedBusy - 250) + 150, `busy current ${busyWhole} µA vs ${expectedBusy} µA expected from the child's CPU time`);
  assert.ok(Math.abs(afterwards - 250) < 0.15 * 250, `idle-again current ${afterwards} µA`);
  assert.ok(tDone - tGo > 0.25 && tDone - tGo < 1.5, `busy for ${tDone - tGo} s of stream time`);
  // energy of the busy stretch ≈ V · I · t with the measured mean
  const e = ppk.energy({ t0: tGo + 0.08, t1: tDone - 0.03 });
  assert.ok(close(e.joules, 3.0 * busy * 1e-6 * (tDone - 0.03 - tGo - 0.08), 1e-6));

  // source mode with DUT power off: no current
  await ppk.setDutPower(false);
  await ppk.startMeasuring();
  await ppk.waitForSamples(0.1);
  await ppk.stopMeasuring();
  const off = ppk.energy({ t0: 0, t1: ppk.samples.endTime }).averageUa;
  assert.ok(Math.abs(off) < 1, `current with DUT power off: ${off} µA`);
  assert.deepEqual(emu.stats.unknownOpcodes, []);
});

test('emulator with a constant activity in ampere mode: logic pins pass through', { timeout: 30_000 }, async () => {
  requireSocat();
  const pair = await openPtyPair();
  cleanups.push(() => pair.close());
  const act = new ConstantActivity(0.5, 0b1000_0100);
  const emu = await EmulatedPpk2.open({ path: pair.a, activity: act, idleUa: 40, activeUa: 100_000, seed: 7 });
  cleanups.push(() => emu.close());
  const ppk = await Ppk2.open({ path: pair.b });
  cleanups.push(() => ppk.close());
  await ppk.setSourceVoltage(1800);
  await ppk.useAmpereMeter();
  await ppk.startMeasuring(); // reads the metadata itself
  await ppk.waitForSamples(0.1);
  act.pins = 0b1000_0000; // D2 drops
  const tDrop = ppk.samples.endTime;
  await ppk.waitForSamples(tDrop + 0.1);
  await ppk.stopMeasuring();
  assert.equal(emu.mode, 'ampere');
  const onD2 = ppk.energy({ pin: 2 }, 1.8);
  assert.ok(onD2.seconds > 0.08 && onD2.seconds < tDrop + 0.02, `D2 high for ${onD2.seconds} s`);
  assert.equal(onD2.segments, 1);
  assert.ok(Math.abs(onD2.averageUa - 50_040) < 0.03 * 50_040, `mean ${onD2.averageUa} µA at activity 0.5`);
  assert.equal(ppk.energy({ pin: 7, level: 'low' }, 1.8).samples, 0, 'D7 stayed high');
  await assert.rejects(ppk.startMeasuring().then(() => ppk.startMeasuring()), /not idle/);
  await ppk.stopMeasuring();
});
