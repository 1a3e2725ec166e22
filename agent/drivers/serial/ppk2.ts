// Nordic Power Profiler Kit II (PPK2) over its USB CDC-ACM serial port.
//
// The PPK2 speaks raw binary: one opcode byte plus argument bytes from the host, a text block
// for the metadata (calibration) request, and otherwise a continuous stream of 4-byte
// little-endian sample words at 100 kS/s once AVERAGE_START is sent. Layout of a word:
//
//   bits  0..13  ADC value (14 bits)          bits 18..23  rolling counter 0..63
//   bits 14..16  measurement range 0..4       bits 24..31  logic inputs D0..D7 (bit 24 = D0)
//   bit  17      unused
//
// Units used throughout this module (and in every name that carries a suffix):
//   current  µA (microamperes)      voltage  V, except the regulator setting in mV
//   time     s, measured from the first sample of a measurement (sample i starts at i × 10 µs)
//   energy   J (with mJ and µJ copies in results); µA × V × s = µJ
//
// Sections: constants and opcodes · metadata parsing · word decoding and calibration · the
// sample stream · energy integration · the serial driver (`Ppk2`).
import { SerialPort } from 'serialport';

// ---- constants ---------------------------------------------------------------------------------

/** Samples per second of the continuous stream. */
export const PPK2_SAMPLE_RATE_HZ = 100_000;
/** Duration one sample stands for, in seconds (10 µs). */
export const PPK2_SAMPLE_PERIOD_S = 1 / PPK2_SAMPLE_RATE_HZ;
/** Number of measurement ranges (0 = most sensitive … 4 = highest current). */
export const PPK2_RANGES = 5;
/** Largest 14-bit ADC code. */
export const PPK2_ADC_MAX = 0x3fff;
/** Volts per ADC unit, applied to the 14-bit code multiplied by 4. */
export const PPK2_ADC_MULT = 1.8 / 163840;
/** Source-voltage limits of the regulator, mV. */
export const PPK2_MIN_MV = 800;
export const PPK2_MAX_MV = 5000;

/** Opcodes (first byte of every host → PPK2 command). */
export const Ppk2Op = {
  TRIGGER_SET: 0x01,
  AVG_NUM_SET: 0x02,
  TRIGGER_WINDOW_SET: 0x03,
  TRIGGER_INTERVAL_SET: 0x04,
  TRIGGER_SINGLE_SET: 0x05,
  AVERAGE_START: 0x06,
  AVERAGE_STOP: 0x07,
  RANGE_SET: 0x08,
  LCD_SET: 0x09,
  TRIGGER_STOP: 0x0a,
  DEVICE_RUNNING_SET: 0x0c,
  REGULATOR_SET: 0x0d,
  SWITCH_POINT_DOWN: 0x0e,
  SWITCH_POINT_UP: 0x0f,
  SET_POWER_MODE: 0x11,
  RES_USER_SET: 0x12,
  SPIKE_FILTERING_ON: 0x15,
  SPIKE_FILTERING_OFF: 0x16,
  GET_META_DATA: 0x19,
  RESET: 0x20,
  SET_USER_GAINS: 0x25,
} as const;

/** Argument of SET_POWER_MODE. */
export const Ppk2PowerMode = { AMPERE: 1, SOURCE: 2 } as const;

/** Shunt resistances (Ω) per range used when the metadata lacks a usable value. */
export const PPK2_DEFAULT_R: readonly number[] = [1031.64, 101.65, 10.15, 0.94, 0.043];

/** `[0x0D, hi, lo]`: the regulator voltage in mV, big-endian. Out-of-range values are refused. */
export function regulatorCommand(mV: number): Buffer {
  if (!Number.isInteger(mV) || mV < PPK2_MIN_MV || mV > PPK2_MAX_MV) {
    throw new RangeError(`PPK2 source voltage must be an integer between ${PPK2_MIN_MV} and ${PPK2_MAX_MV} mV, got ${mV}`);
  }
  return Buffer.from([Ppk2Op.REGULATOR_SET, (mV >> 8) & 0xff, mV & 0xff]);
}

// ---- metadata ----------------------------------------------------------------------------------

/** Per-range calibration (index = range 0..4). r in Ω; o in ADC units (×4 scale); s in A/V; i in A. */
export interface Ppk2Calibration {
  r: number[];
  gs: number[];
  gi: number[];
  o: number[];
  s: number[];
  i: number[];
  ug: number[];
}

export function defaultCalibration(): Ppk2Calibration {
  return {
    r: [...PPK2_DEFAULT_R],
    gs: [1, 1, 1, 1, 1],
    gi: [1, 1, 1, 1, 1],
    o: [0, 0, 0, 0, 0],
    s: [0, 0, 0, 0, 0],
    i: [0, 0, 0, 0, 0],
    ug: [1, 1, 1, 1, 1],
  };
}

export interface Ppk2Metadata {
  calibration: Ppk2Calibration;
  /** `Calibrated:` flag, null when absent. */
  calibrated: boolean | null;
  /** `VDD:` the regulator voltage the device reports, mV. */
  vddMv: number | null;
  /** `HW:` hardware revision number. */
  hw: number | null;
  /** `mode:` 1 = ampere meter, 2 = source meter. */
  mode: number | null;
  /** `IA:` as reported (meaning undocumented). */
  ia: number | null;
  /** Every `key: value` line as read (keys as sent). */
  fields: Record<string, string>;
  /** Calibration keys whose value was unusable (missing number, NaN, R = 0) and kept their default. */
  ignored: string[];
}

const CAL_KEYS: Record<string, keyof Ppk2Calibration> = { r: 'r', gs: 'gs', gi: 'gi', o: 'o', s: 's', i: 'i', ug: 'ug' };

/**
 * Parses the text the PPK2 sends after GET_META_DATA: `key: value` lines up to `END`. Calibration
 * keys are a letter group plus the range digit (R0…R4, GS0…, GI0…, O0…, S0…, I0…, UG0…); any key
 * that is missing, not a number (firmware prints `-nan`), or an R of 0 keeps its default.
 */
export function parseMetadata(text: string): Ppk2Metadata {
  const cal = defaultCalibration();
  const fields: Record<string, string> = {};
  const ignored: string[] = [];
  const num = (v: string | undefined): number | null => {
    if (v === undefined || v.trim() === '') return null;
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : null;
  };
  let sawEnd = false;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/\0/g, '').trim();
    if (line === 'END') {
      sawEnd = true;
      break;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    fields[key] = value;
    const m = /^(r|gs|gi|o|s|i|ug)([0-4])$/i.exec(key);
    if (!m) continue;
    const group = CAL_KEYS[m[1]!.toLowerCase()]!;
    const idx = Number(m[2]);
    const n = num(value);
    if (n === null || (group === 'r' && n === 0)) {
      ignored.push(key);
      continue;
    }
    cal[group][idx] = n;
  }
  if (!sawEnd) throw new Error('PPK2 metadata is incomplete: no END line');
  const get = (name: string): number | null => {
    const k = Object.keys(fields).find((f) => f.toLowerCase() === name);
    return k === undefined ? null : num(fields[k]);
  };
  const calibratedRaw = get('calibrated');
  return {
    calibration: cal,
    calibrated: calibratedRaw === null ? null : calibratedRaw !== 0,
    vddMv: get('vdd'),
    hw: get('hw'),
    mode: get('mode'),
    ia: get('ia'),
    fields,
    ignored,
  };
}

// ---- sample words ------------------------------------------------------------------------------

export interface RawSample {
  /** 14-bit ADC code. */
  adc: number;
  /** Measurement range 0..4 (clamped: the 3-bit field can carry 5..7 on a corrupt word). */
  range: number;
  /** Rolling counter 0..63, +1 per sample. */
  counter: number;
  /** Logic inputs, bit n = Dn. */
  logic: number;
}

export function decodeWord(word: number): RawSample {
  const w = word >>> 0;
  return {
    adc: w & 0x3fff,
    range: Math.min((w >>> 14) & 0x7, PPK2_RANGES - 1),
    counter: (w >>> 18) & 0x3f,
    logic: (w >>> 24) & 0xff,
  };
}

/**
 * Current in µA for a 14-bit ADC code in a range, with the device calibration and the regulator
 * voltage in mV (it enters through the S term):
 *   x = (4·adc − O[r]) · 1.8/163840 / R[r]                       (A before gain correction)
 *   I = UG[r] · ( x·(GS[r]·x + GI[r]) + S[r]·Vdd/1000 + I[r] )   (A)
 */
export function adcToMicroamps(adc: number, range: number, cal: Ppk2Calibration, vddMv: number): number {
  const r = Math.min(Math.max(range, 0), PPK2_RANGES - 1);
  const x = ((adc * 4 - cal.o[r]!) * PPK2_ADC_MULT) / cal.r[r]!;
  const amps = cal.ug[r]! * (x * (cal.gs[r]! * x + cal.gi[r]!) + cal.s[r]! * (vddMv / 1000) + cal.i[r]!);
  return amps * 1e6;
}

// ---- the sample stream -------------------------------------------------------------------------

const CHUNK = 65536;

/**
 * Samples of one measurement in arrival order, one every 10 µs: current (µA, float32) and the
 * logic byte. Sample i covers [i·10 µs, (i+1)·10 µs). Samples the device lost (counter gaps) are
 * kept as NaN current so later samples keep their true time. With `maxSeconds`, the oldest whole
 * chunks are dropped; indexes and times stay absolute.
 */
export class SampleStream {
  readonly periodS: number;
  private readonly currents: Float32Array[] = [];
  private readonly logics: Uint8Array[] = [];
  private firstChunkIndex = 0; // absolute index of the first sample of currents[0]
  private count = 0; // absolute index one past the last sample
  private missingCount = 0;
  private readonly maxChunks: number;

  constructor(opts: { periodS?: number; maxSeconds?: number } = {}) {
    this.periodS = opts.periodS ?? PPK2_SAMPLE_PERIOD_S;
    const maxSamples = opts.maxSeconds === undefined ? Infinity : opts.maxSeconds / this.periodS;
    this.maxChunks = Math.max(2, Math.ceil(maxSamples / CHUNK) + 1);
  }

  /** Absolute index one past the newest sample (= samples received + lost since the start). */
  get length(): number {
    return this.count;
  }
  /** Absolute index of the oldest sample still held. */
  get firstIndex(): number {
    return this.firstChunkIndex;
  }
  /** Samples recorded as lost (NaN current). */
  get missing(): number {
    return this.missingCount;
  }
  /** Time (s) at the end of the newest sample. */
  get endTime(): number {
    return this.count * this.periodS;
  }
  /** Start time (s) of sample i. */
  timeOf(i: number): number {
    return i * this.periodS;
  }

  push(currentUa: number, logic: number): void {
    const within = this.count - this.firstChunkIndex;
    const c = Math.floor(within / CHUNK);
    if (c === this.currents.length) {
      this.currents.push(new Float32Array(CHUNK));
      this.logics.push(new Uint8Array(CHUNK));
    }
    const off = within % CHUNK;
    this.currents[c]![off] = currentUa;
    this.logics[c]![off] = logic;
    this.count++;
    if (Number.isNaN(currentUa)) this.missingCount++;
    if (this.currents.length > this.maxChunks && off === CHUNK - 1) {
      this.currents.shift();
      this.logics.shift();
      this.firstChunkIndex += CHUNK;
    }
  }

  /** Records n lost samples: NaN current, logic held from the previous sample. */
  pushGap(n: number, logic: number): void {
    for (let k = 0; k < n; k++) this.push(NaN, logic);
  }

  /** Current (µA) of absolute sample i, NaN if lost; throws if it is no longer (or not yet) held. */
  currentAt(i: number): number {
    const [c, off] = this.locate(i);
    return this.currents[c]![off]!;
  }
  logicAt(i: number): number {
    const [c, off] = this.locate(i);
    return this.logics[c]![off]!;
  }

  /** Visits samples [from, to) (absolute indexes, clamped to what is held). */
  forEach(from: number, to: number, fn: (i: number, currentUa: number, logic: number) => void): void {
    const start = Math.max(from, this.firstChunkIndex);
    const end = Math.min(to, this.count);
    for (let i = start; i < end; ) {
      const within = i - this.firstChunkIndex;
      const c = Math.floor(within / CHUNK);
      const cur = this.currents[c]!;
      const log = this.logics[c]!;
      const stop = Math.min(end, i + (CHUNK - (within % CHUNK)));
      for (let off = within % CHUNK; i < stop; i++, off++) fn(i, cur[off]!, log[off]!);
    }
  }

  private locate(i: number): [number, number] {
    if (!Number.isInteger(i) || i < this.firstChunkIndex || i >= this.count) {
      throw new RangeError(`sample ${i} is not held (held: ${this.firstChunkIndex}..${this.count - 1})`);
    }
    const within = i - this.firstChunkIndex;
    return [Math.floor(within / CHUNK), within % CHUNK];
  }
}

export interface DecoderStats {
  /** Sample words decoded. */
  words: number;
  /** Samples lost according to the rolling counter. */
  dropped: number;
  /** Counter discontinuities seen. */
  gaps: number;
}

/**
 * Turns the byte stream into samples. Keeps the 0–3 bytes of an incomplete word between
 * chunks, follows the rolling counter (a jump of k means k − 1 lost samples, recorded as a gap),
 * converts with the calibration and optionally applies the spike filter.
 */
export class SampleDecoder {
  private remainder = Buffer.alloc(0);
  private lastCounter: number | null = null;
  private lastLogic = 0;
  private readonly filter: SpikeFilter | null;
  readonly stats: DecoderStats = { words: 0, dropped: 0, gaps: 0 };

  constructor(
    private readonly stream: SampleStream,
    private readonly cal: Ppk2Calibration,
    private readonly vddMv: number,
    opts: { spikeFilter?: boolean } = {},
  ) {
    this.filter = opts.spikeFilter ? new SpikeFilter() : null;
  }

  push(chunk: Buffer): void {
    const buf = this.remainder.length ? Buffer.concat([this.remainder, chunk]) : chunk;
    const whole = buf.length - (buf.length % 4);
    for (let off = 0; off < whole; off += 4) this.word(buf.readUInt32LE(off));
    this.remainder = Buffer.from(buf.subarray(whole));
  }

  private word(w: number): void {
    const s = decodeWord(w);
    this.stats.words++;
    if (this.lastCounter !== null) {
      const expected = (this.lastCounter + 1) & 0x3f;
      if (s.counter !== expected) {
        const lost = (s.counter - expected) & 0x3f;
        this.stats.gaps++;
        this.stats.dropped += lost;
        this.stream.pushGap(lost, this.lastLogic);
      }
    }
    this.lastCounter = s.counter;
    this.lastLogic = s.logic;
    let ua = adcToMicroamps(s.adc, s.range, this.cal, this.vddMv);
    if (this.filter) ua = this.filter.apply(ua, s.range);
    this.stream.push(ua, s.logic);
  }
}

/**
 * Optional smoothing around range switches, after the behaviour described for the PPK2 tools:
 * two exponential averages run beside the raw value (α = 0.18, and α = 0.06 for range 4); for the
 * 3 samples after a range change the average is output instead of the raw value; in range 4 the
 * averages are held (previous values restored) until 2 consecutive samples have been seen there.
 */
export class SpikeFilter {
  private avg: number | null = null;
  private avg5: number | null = null;
  private prevAvg: number | null = null;
  private prevAvg5: number | null = null;
  private range: number | null = null;
  private afterSwitch = 0;
  private consecutive = 0;

  apply(ua: number, range: number): number {
    if (this.avg === null || this.avg5 === null) {
      this.avg = this.avg5 = ua;
      this.range = range;
      return ua;
    }
    this.prevAvg = this.avg;
    this.prevAvg5 = this.avg5;
    this.avg += 0.18 * (ua - this.avg);
    this.avg5 += 0.06 * (ua - this.avg5);
    if (range !== this.range) {
      this.range = range;
      this.afterSwitch = 3;
      this.consecutive = 0;
    } else {
      this.consecutive++;
    }
    if (range === 4 && this.consecutive < 2) {
      this.avg = this.prevAvg;
      this.avg5 = this.prevAvg5;
    }
    if (this.afterSwitch > 0) {
      this.afterSwitch--;
      return range === 4 ? this.avg5 : this.avg;
    }
    return ua;
  }
}

// ---- energy ------------------------------------------------------------------------------------

/**
 * The part of a stream to integrate:
 * - `{ t0, t1 }`: a time window in seconds (partial samples at the edges count pro rata);
 * - `{ pin, level }`: every sample where logic input D<pin> is at `level` (default 'high'),
 *   optionally limited to [t0, t1]. Wire the DUT's timestamp GPIO to a PPK2 logic input to cut
 *   the inference window out of the stream.
 */
export type EnergyWindow =
  | { t0: number; t1: number }
  | { pin: number; level?: 'high' | 'low'; t0?: number; t1?: number };

export interface EnergyResult {
  /** ∫ V·I dt over the window, joules. */
  joules: number;
  millijoules: number;
  microjoules: number;
  /** Time counted (s): the window length, or the total time the pin was at the level. */
  seconds: number;
  /** Mean current over the counted time, µA. */
  averageUa: number;
  /** Mean power, W. */
  averageW: number;
  /** Samples that contributed (whole or partly). */
  samples: number;
  /** Lost samples inside the window: counted with the previous valid current. */
  missing: number;
  /** Bounds actually covered (s). */
  t0: number;
  t1: number;
  /** Pin windows only: number of separate runs at the level. */
  segments?: number;
}

/**
 * Energy = ∫ V·I dt with a constant supply voltage `voltageV` (the source-meter setting, or the
 * external supply in ampere mode). Each sample holds its current for one period, so a stream of
 * constant current I over T seconds gives exactly V·I·T.
 */
export function integrateEnergy(stream: SampleStream, voltageV: number, window: EnergyWindow): EnergyResult {
  if (!(voltageV > 0) || !Number.isFinite(voltageV)) throw new RangeError(`voltage must be a positive number of volts, got ${voltageV}`);
  const T = stream.periodS;
  const heldStart = stream.timeOf(stream.firstIndex);
  const t0 = Math.max(window.t0 ?? heldStart, heldStart);
  const t1 = Math.min(window.t1 ?? stream.endTime, stream.endTime);
  if (!(t1 >= t0)) throw new RangeError(`empty or inverted window [${window.t0}, ${window.t1}] (stream holds [${heldStart}, ${stream.endTime}] s)`);
  const first = Math.floor(t0 / T);
  const last = Math.ceil(t1 / T);
  let chargeUaS = 0; // µA·s
  let seconds = 0;
  let samples = 0;
  let missing = 0;
  let segments = 0;
  let inSegment = false;
  let held = NaN;
  // a lost sample before the window starts still has a known predecessor
  if (first > stream.firstIndex) {
    for (let j = first - 1; j >= stream.firstIndex && Number.isNaN(held); j--) {
      const c = stream.currentAt(j);
      if (!Number.isNaN(c)) held = c;
      if (first - j > 1000) break;
    }
  }
  const pinMask = 'pin' in window ? pinBit(window.pin) : 0;
  const wantHigh = 'pin' in window ? (window.level ?? 'high') === 'high' : true;
  stream.forEach(first, last, (i, ua, logic) => {
    let cur = ua;
    if (Number.isNaN(cur)) {
      missing++;
      cur = held;
    } else {
      held = cur;
    }
    if (pinMask) {
      const on = ((logic & pinMask) !== 0) === wantHigh;
      if (!on) {
        inSegment = false;
        return;
      }
      if (!inSegment) segments++;
      inSegment = true;
    }
    const a = Math.max(t0, i * T);
    const b = Math.min(t1, (i + 1) * T);
    const dt = b - a;
    if (dt <= 0) return;
    samples++;
    seconds += dt;
    if (!Number.isNaN(cur)) chargeUaS += cur * dt;
  });
  const microjoules = chargeUaS * voltageV;
  const joules = microjoules / 1e6;
  const result: EnergyResult = {
    joules,
    millijoules: joules * 1e3,
    microjoules,
    seconds,
    averageUa: seconds > 0 ? chargeUaS / seconds : 0,
    averageW: seconds > 0 ? joules / seconds : 0,
    samples,
    missing,
    t0,
    t1,
  };
  if (pinMask) result.segments = segments;
  return result;
}

function pinBit(pin: number): number {
  if (!Number.isInteger(pin) || pin < 0 || pin > 7) throw new RangeError(`logic pin must be 0..7 (D0..D7), got ${pin}`);
  return 1 << pin;
}

/** Energy per inference of a window holding `inferences` inferences (J, mJ, µJ). */
export function perInference(window: EnergyResult, inferences: number): { joules: number; millijoules: number; microjoules: number; seconds: number } {
  if (!Number.isInteger(inferences) || inferences <= 0) throw new RangeError(`inference count must be a positive integer, got ${inferences}`);
  return {
    joules: window.joules / inferences,
    millijoules: window.millijoules / inferences,
    microjoules: window.microjoules / inferences,
    seconds: window.seconds / inferences,
  };
}

/** Times (s) of the transitions of logic input D<pin>: the start time of the first sample at the new level. */
export function pinEdges(stream: SampleStream, pin: number, edge: 'rising' | 'falling', from = 0, to = Infinity): number[] {
  const mask = pinBit(pin);
  const out: number[] = [];
  const start = Math.max(stream.firstIndex, Math.floor(from / stream.periodS));
  let prev: boolean | null = null;
  stream.forEach(start, Math.min(stream.length, Math.ceil(to / stream.periodS)), (i, _ua, logic) => {
    const high = (logic & mask) !== 0;
    if (prev !== null && high !== prev && high === (edge === 'rising')) out.push(stream.timeOf(i));
    prev = high;
  });
  return out;
}

/**
 * The window between the last two edges of a pin: how MLPerf Tiny energy mode marks the timed
 * inferences (the DUT pulses its timestamp pin low before and after them: 'falling').
 */
export function lastEdgeWindow(stream: SampleStream, pin: number, edge: 'rising' | 'falling' = 'falling'): { t0: number; t1: number } {
  const edges = pinEdges(stream, pin, edge);
  if (edges.length < 2) throw new Error(`need two ${edge} edges on D${pin}, found ${edges.length}`);
  return { t0: edges[edges.length - 2]!, t1: edges[edges.length - 1]! };
}

// ---- the driver --------------------------------------------------------------------------------

export interface Ppk2Options {
  /** Serial device path (see ports.ts resolvePort for by-id links). */
  path: string;
  /** Any value works on the CDC port; 115200 by default. */
  baudRate?: number;
  /** Keep at most this many seconds of samples per measurement (default 300). */
  maxSeconds?: number;
  /** Apply the spike filter when decoding (default off: raw calibrated values). */
  spikeFilter?: boolean;
}

export interface Ppk2Stats extends DecoderStats {
  /** Stream bytes received during the measurement. */
  bytes: number;
  /** performance.now() of the first and latest stream bytes, null before any. */
  firstDataAt: number | null;
  lastDataAt: number | null;
}

type State = 'idle' | 'metadata' | 'streaming' | 'stopping';

/**
 * One PPK2. Typical session: `open` → `getMetadata` → `setSourceVoltage` → `useSourceMeter` /
 * `useAmpereMeter` → `setDutPower(true)` → `startMeasuring` → … read `samples` … →
 * `stopMeasuring` → `close`.
 */
export class Ppk2 {
  metadata: Ppk2Metadata | null = null;
  /** Last regulator setting sent, mV. */
  vddMv: number | null = null;
  mode: 'ampere' | 'source' | null = null;
  dutPower: boolean | null = null;
  /** Samples of the current (or last) measurement. */
  samples: SampleStream;
  private state: State = 'idle';
  private decoder: SampleDecoder | null = null;
  private text = '';
  private textWaiter: ((err?: Error) => void) | null = null;
  private dataListeners: (() => void)[] = [];
  private portError: Error | null = null;
  private statsBase: Ppk2Stats = { words: 0, dropped: 0, gaps: 0, bytes: 0, firstDataAt: null, lastDataAt: null };

  private constructor(private readonly port: SerialPort, private readonly opts: Ppk2Options) {
    this.samples = new SampleStream({ maxSeconds: opts.maxSeconds ?? 300 });
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err: Error) => {
      this.portError = err;
      this.textWaiter?.(err);
    });
    port.on('close', () => {
      this.portError ??= new Error(`PPK2 port ${opts.path} closed`);
      this.textWaiter?.(this.portError);
    });
  }

  static async open(opts: Ppk2Options): Promise<Ppk2> {
    const port = new SerialPort({ path: opts.path, baudRate: opts.baudRate ?? 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new Error(`cannot open PPK2 port ${opts.path}: ${err.message}`)) : resolve())));
    return new Ppk2(port, opts);
  }

  get path(): string {
    return this.opts.path;
  }

  get streaming(): boolean {
    return this.state === 'streaming' || this.state === 'stopping';
  }

  stats(): Ppk2Stats {
    const d = this.decoder?.stats ?? { words: 0, dropped: 0, gaps: 0 };
    return { ...this.statsBase, words: d.words, dropped: d.dropped, gaps: d.gaps };
  }

  /** Sends GET_META_DATA and parses the reply (read until `END`). */
  async getMetadata(timeoutMs = 5000): Promise<Ppk2Metadata> {
    if (this.state !== 'idle') throw new Error(`PPK2 metadata can only be read while idle (state: ${this.state})`);
    this.state = 'metadata';
    this.text = '';
    try {
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.textWaiter = null;
          reject(new Error(`PPK2 on ${this.path} sent no complete metadata within ${timeoutMs} ms (got ${JSON.stringify(this.text.slice(0, 120))})`));
        }, timeoutMs);
        this.textWaiter = (err) => {
          clearTimeout(timer);
          this.textWaiter = null;
          if (err) reject(err);
          else resolve();
        };
      });
      await this.write(Buffer.from([Ppk2Op.GET_META_DATA]));
      await done;
      const meta = parseMetadata(this.text);
      this.metadata = meta;
      return meta;
    } finally {
      this.state = 'idle';
    }
  }

  /** Regulator voltage (mV): the DUT supply in source mode, the assumed supply in ampere mode. */
  async setSourceVoltage(mV: number): Promise<void> {
    await this.write(regulatorCommand(mV));
    this.vddMv = mV;
  }

  async useSourceMeter(): Promise<void> {
    await this.write(Buffer.from([Ppk2Op.SET_POWER_MODE, Ppk2PowerMode.SOURCE]));
    this.mode = 'source';
  }

  async useAmpereMeter(): Promise<void> {
    await this.write(Buffer.from([Ppk2Op.SET_POWER_MODE, Ppk2PowerMode.AMPERE]));
    this.mode = 'ampere';
  }

  async setDutPower(on: boolean): Promise<void> {
    await this.write(Buffer.from([Ppk2Op.DEVICE_RUNNING_SET, on ? 1 : 0]));
    this.dutPower = on;
  }

  /** Starts a new measurement: `samples` is replaced by an empty stream that fills at 100 kS/s. */
  async startMeasuring(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`PPK2 is not idle (state: ${this.state})`);
    if (this.vddMv === null) throw new Error('set the source voltage before measuring: it enters the current calibration');
    const meta = this.metadata ?? (await this.getMetadata());
    await new Promise<void>((resolve, reject) => this.port.flush((err) => (err ? reject(err) : resolve())));
    this.samples = new SampleStream({ maxSeconds: this.opts.maxSeconds ?? 300 });
    this.decoder = new SampleDecoder(this.samples, meta.calibration, this.vddMv, { spikeFilter: this.opts.spikeFilter ?? false });
    this.statsBase = { words: 0, dropped: 0, gaps: 0, bytes: 0, firstDataAt: null, lastDataAt: null };
    this.state = 'streaming';
    await this.write(Buffer.from([Ppk2Op.AVERAGE_START]));
  }

  /**
   * Sends AVERAGE_STOP, keeps decoding what was already in flight until the line has been quiet
   * for `quietMs`, then returns to idle (later bytes are discarded).
   */
  async stopMeasuring(quietMs = 50, timeoutMs = 2000): Promise<void> {
    if (!this.streaming) return;
    this.state = 'stopping';
    await this.write(Buffer.from([Ppk2Op.AVERAGE_STOP]));
    const deadline = performance.now() + timeoutMs;
    let lastSeen = performance.now();
    while (performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.max(5, quietMs / 4)));
      const last = this.statsBase.lastDataAt ?? 0;
      if (last > lastSeen) lastSeen = last;
      if (performance.now() - lastSeen >= quietMs) break;
    }
    this.state = 'idle';
  }

  /** Resolves once the stream has reached `seconds` of samples (time, not wall time). */
  waitForSamples(seconds: number, timeoutMs = seconds * 1000 + 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.samples.endTime >= seconds) {
          finish();
          resolve();
          return true;
        }
        if (this.portError) {
          finish();
          reject(this.portError);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`PPK2 stream reached ${this.samples.endTime.toFixed(3)} s of the ${seconds} s awaited within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (): void => void check();
      const finish = (): void => {
        clearTimeout(timer);
        this.dataListeners = this.dataListeners.filter((l) => l !== listener);
      };
      if (!check()) this.dataListeners.push(listener);
    });
  }

  /** Energy over a window of the current stream, with V = the regulator setting unless given. */
  energy(window: EnergyWindow, voltageV?: number): EnergyResult {
    const v = voltageV ?? (this.vddMv === null ? NaN : this.vddMv / 1000);
    return integrateEnergy(this.samples, v, window);
  }

  async reset(): Promise<void> {
    await this.write(Buffer.from([Ppk2Op.RESET]));
  }

  async close(): Promise<void> {
    if (this.streaming && this.port.isOpen) {
      try {
        await this.stopMeasuring(20, 500);
      } catch {
        // closing anyway
      }
    }
    this.state = 'idle';
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  private onData(chunk: Buffer): void {
    switch (this.state) {
      case 'metadata': {
        this.text += chunk.toString('latin1');
        if (/(^|\n)\s*END\b/.test(this.text)) this.textWaiter?.();
        break;
      }
      case 'streaming':
      case 'stopping': {
        const now = performance.now();
        this.statsBase.bytes += chunk.length;
        this.statsBase.firstDataAt ??= now;
        this.statsBase.lastDataAt = now;
        this.decoder?.push(chunk);
        for (const l of [...this.dataListeners]) l();
        break;
      }
      default:
        break; // stray bytes after a stop: discarded
    }
  }

  private async write(bytes: Buffer): Promise<void> {
    if (this.portError) throw this.portError;
    await new Promise<void>((resolve, reject) => {
      this.port.write(bytes, (err) => (err ? reject(err) : undefined));
      this.port.drain((err) => (err ? reject(err) : resolve()));
    });
  }
}
