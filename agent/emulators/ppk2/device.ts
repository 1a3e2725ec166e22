// An emulated Nordic PPK2 on a serial port (normally one end of a socat pty pair). It answers
// the opcodes the host driver sends and, while streaming, writes 4-byte sample words at
// 100 kS/s in real time: every `tickMs` it computes how many samples are due from the monotonic
// clock and writes them as one batch. The current follows an ActivitySource:
//
//   current (µA) = idleUa + activity × activeUa, plus Gaussian noise from a seeded PRNG,
//
// in source mode only while DUT power is on (ampere mode: the DUT has its own supply). Each value
// is auto-ranged and encoded with the emulator's factory calibration, so a host that decodes with
// the metadata it read gets the current back to within one ADC step.
//
// If the host stops reading and the port's write queue grows past `maxBacklogBytes`, or the
// event loop stalls for more than `maxBatchMs`, samples are dropped the way USB loses them: not
// sent, but the rolling counter still advances, so the host sees the gap.
import { SerialPort } from 'serialport';
import { seededRng, type Rng } from '../../../protocol/random.js';
import {
  PPK2_MAX_MV,
  PPK2_MIN_MV,
  PPK2_RANGES,
  PPK2_SAMPLE_RATE_HZ,
  Ppk2Op,
  Ppk2PowerMode,
  type Ppk2Calibration,
} from '../../drivers/serial/ppk2.js';
import { ConstantActivity, type ActivitySource } from './activity.js';
import type { PowerProfile } from '../power-profile.js';
import { profileWatts } from '../power-profile.js';
import { AutoRanger, encodeWord, microampsToAdc } from './encode.js';
import { EMULATED_CALIBRATION, renderMetadata } from './metadata.js';

export interface EmulatedPpk2Options {
  /** Serial device the emulator owns (e.g. PtyPair.a). */
  path: string;
  /** Where the activity comes from (default: constant 0, an idle MCU). */
  activity?: ActivitySource;
  /**
   * A DUT drawing known power (W, over the stream's time from its first sample): replaces
   * idle + activity, current = watts ÷ supply voltage; the truth is profileEnergyJ over a window.
   */
  power?: PowerProfile;
  /** Current of the idle DUT, µA (default 250). */
  idleUa?: number;
  /** Extra current at activity 1, µA (default 7500). */
  activeUa?: number;
  /** Noise σ as a fraction of the current (default 0.01) … */
  noiseFraction?: number;
  /** … plus an absolute floor, µA (default 0.05). */
  noiseFloorUa?: number;
  /** PRNG seed for the noise (default 1). */
  seed?: number;
  /** Factory calibration (default EMULATED_CALIBRATION). */
  calibration?: Ppk2Calibration;
  /** Regulator voltage at power-up, mV (default 3300). */
  initialVddMv?: number;
  /** Batch period, ms (default 4). */
  tickMs?: number;
  /** Longest stretch generated in one batch; anything older is dropped (default 200 ms). */
  maxBatchMs?: number;
  /** Drop batches while this much is queued on the port (default 512 KiB). */
  maxBacklogBytes?: number;
  log?: (msg: string) => void;
}

export interface EmulatedPpk2Stats {
  samplesSent: number;
  samplesDropped: number;
  bytesSent: number;
  /** Every command received, as opcode plus arguments in hex (e.g. "0d0ce4"). */
  commands: string[];
  /** Opcodes the emulator does not implement (dropped one byte at a time). */
  unknownOpcodes: number[];
}

/** Argument bytes after each opcode the emulator implements. */
const ARG_BYTES: Record<number, number> = {
  [Ppk2Op.AVERAGE_START]: 0,
  [Ppk2Op.AVERAGE_STOP]: 0,
  [Ppk2Op.DEVICE_RUNNING_SET]: 1,
  [Ppk2Op.REGULATOR_SET]: 2,
  [Ppk2Op.SET_POWER_MODE]: 1,
  [Ppk2Op.SPIKE_FILTERING_ON]: 0,
  [Ppk2Op.SPIKE_FILTERING_OFF]: 0,
  [Ppk2Op.GET_META_DATA]: 0,
  [Ppk2Op.RESET]: 0,
  [Ppk2Op.SET_USER_GAINS]: 5,
};

export class EmulatedPpk2 {
  vddMv: number;
  mode: 'ampere' | 'source' = 'ampere';
  dutPower = false;
  spikeFiltering = false;
  readonly stats: EmulatedPpk2Stats = { samplesSent: 0, samplesDropped: 0, bytesSent: 0, commands: [], unknownOpcodes: [] };

  private source: ActivitySource;
  private readonly factory: Ppk2Calibration;
  /** What the metadata reports: the factory calibration plus user gains set by the host. */
  private readonly reported: Ppk2Calibration;
  private readonly rng: Rng;
  private ranger: AutoRanger;
  private inbox = Buffer.alloc(0);
  private timer: NodeJS.Timeout | null = null;
  private streamStart = 0;
  private generated = 0; // samples due so far in this measurement (sent + dropped)
  private counter = 0;
  private lastActivity = 0;
  private spare: number | null = null; // second Box–Muller deviate

  private constructor(private readonly port: SerialPort, private readonly opts: EmulatedPpk2Options) {
    this.source = opts.activity ?? new ConstantActivity(0);
    this.factory = structuredClone(opts.calibration ?? EMULATED_CALIBRATION) as Ppk2Calibration;
    this.reported = structuredClone(this.factory);
    this.rng = seededRng(opts.seed ?? 1);
    this.vddMv = opts.initialVddMv ?? 3300;
    this.ranger = new AutoRanger(this.factory, this.vddMv);
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err: Error) => this.log(`port error: ${err.message}`));
  }

  static async open(opts: EmulatedPpk2Options): Promise<EmulatedPpk2> {
    const port = new SerialPort({ path: opts.path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new Error(`emulated PPK2 cannot open ${opts.path}: ${err.message}`)) : resolve())));
    return new EmulatedPpk2(port, opts);
  }

  get streaming(): boolean {
    return this.timer !== null;
  }

  setActivitySource(source: ActivitySource): void {
    this.source = source;
  }

  /** The current the model draws at an activity level, µA (before noise). */
  modelCurrentUa(activity: number): number {
    if (this.mode === 'source' && !this.dutPower) return 0;
    return (this.opts.idleUa ?? 250) + Math.min(1, Math.max(0, activity)) * (this.opts.activeUa ?? 7500);
  }

  /** The current of a known power profile at stream time tS, µA (0 while a sourced DUT is off). */
  profileCurrentUa(tS: number): number {
    if (!this.opts.power || (this.mode === 'source' && !this.dutPower)) return 0;
    return (profileWatts(this.opts.power, tS) / (this.vddMv / 1000)) * 1e6;
  }

  async close(): Promise<void> {
    this.stopStreaming();
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }

  private onData(chunk: Buffer): void {
    this.inbox = Buffer.concat([this.inbox, chunk]);
    while (this.inbox.length > 0) {
      const op = this.inbox[0]!;
      const args = ARG_BYTES[op];
      if (args === undefined) {
        this.stats.unknownOpcodes.push(op);
        this.log(`unsupported opcode 0x${op.toString(16).padStart(2, '0')} ignored`);
        this.inbox = this.inbox.subarray(1);
        continue;
      }
      if (this.inbox.length < 1 + args) break; // the rest of the command is still on its way
      const cmd = this.inbox.subarray(0, 1 + args);
      this.inbox = this.inbox.subarray(1 + args);
      this.stats.commands.push(cmd.toString('hex'));
      this.execute(op, cmd.subarray(1));
    }
  }

  private execute(op: number, args: Buffer): void {
    switch (op) {
      case Ppk2Op.GET_META_DATA:
        this.send(
          Buffer.from(
            renderMetadata({ calibration: this.reported, vddMv: this.vddMv, mode: this.mode === 'source' ? Ppk2PowerMode.SOURCE : Ppk2PowerMode.AMPERE }),
            'latin1',
          ),
        );
        break;
      case Ppk2Op.REGULATOR_SET: {
        const mV = (args[0]! << 8) | args[1]!;
        this.vddMv = Math.min(PPK2_MAX_MV, Math.max(PPK2_MIN_MV, mV));
        this.ranger = new AutoRanger(this.factory, this.vddMv, undefined, undefined, this.ranger.range);
        this.log(`regulator ${this.vddMv} mV`);
        break;
      }
      case Ppk2Op.SET_POWER_MODE:
        if (args[0] === Ppk2PowerMode.SOURCE) this.mode = 'source';
        else if (args[0] === Ppk2PowerMode.AMPERE) this.mode = 'ampere';
        else this.log(`unknown power mode ${args[0]}`);
        break;
      case Ppk2Op.DEVICE_RUNNING_SET:
        this.dutPower = args[0] !== 0;
        break;
      case Ppk2Op.SPIKE_FILTERING_ON:
        this.spikeFiltering = true;
        break;
      case Ppk2Op.SPIKE_FILTERING_OFF:
        this.spikeFiltering = false;
        break;
      case Ppk2Op.SET_USER_GAINS: {
        const range = args[0]!;
        const gain = args.readFloatLE(1);
        if (range < PPK2_RANGES && Number.isFinite(gain)) this.reported.ug[range] = gain;
        break;
      }
      case Ppk2Op.AVERAGE_START:
        this.startStreaming();
        break;
      case Ppk2Op.AVERAGE_STOP:
        this.stopStreaming();
        break;
      case Ppk2Op.RESET:
        this.stopStreaming();
        this.mode = 'ampere';
        this.dutPower = false;
        this.vddMv = this.opts.initialVddMv ?? 3300;
        this.reported.ug = [...this.factory.ug];
        this.ranger = new AutoRanger(this.factory, this.vddMv);
        break;
      default:
        break;
    }
  }

  private startStreaming(): void {
    if (this.timer) return;
    this.streamStart = performance.now();
    this.generated = 0;
    this.lastActivity = this.safeActivity();
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 4);
  }

  private stopStreaming(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private safeActivity(): number {
    try {
      const a = this.source.activity();
      return Number.isFinite(a) ? Math.min(1, Math.max(0, a)) : 0;
    } catch {
      return 0;
    }
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.streamStart) * PPK2_SAMPLE_RATE_HZ) / 1000) - this.generated;
    if (due <= 0) return;
    const activity = this.safeActivity();
    const logic = (this.source.logic?.() ?? 0) & 0xff;
    const maxBatch = Math.round(((this.opts.maxBatchMs ?? 200) * PPK2_SAMPLE_RATE_HZ) / 1000);
    let n = due;
    if (n > maxBatch) {
      this.drop(n - maxBatch);
      n = maxBatch;
    }
    if (this.port.writableLength > (this.opts.maxBacklogBytes ?? 512 * 1024)) {
      this.drop(n);
      this.lastActivity = activity;
      return;
    }
    const buf = Buffer.allocUnsafe(n * 4);
    const from = this.lastActivity;
    const noiseFraction = this.opts.noiseFraction ?? 0.01;
    const noiseFloor = this.opts.noiseFloorUa ?? 0.05;
    for (let k = 0; k < n; k++) {
      // the activity ramps linearly from the previous batch's value to this one's
      const a = from + ((activity - from) * (k + 1)) / n;
      const model = this.opts.power ? this.profileCurrentUa((this.generated + k) / PPK2_SAMPLE_RATE_HZ) : this.modelCurrentUa(a);
      const ua = Math.max(0, model + this.gaussian() * (model * noiseFraction + noiseFloor));
      const range = this.ranger.pick(ua);
      const adc = microampsToAdc(ua, range, this.factory, this.vddMv);
      buf.writeUInt32LE(encodeWord(adc, range, this.counter, logic), k * 4);
      this.counter = (this.counter + 1) & 0x3f;
    }
    this.lastActivity = activity;
    this.generated += n;
    this.stats.samplesSent += n;
    this.send(buf);
  }

  private drop(n: number): void {
    this.generated += n;
    this.stats.samplesDropped += n;
    this.counter = (this.counter + n) & 0x3f;
  }

  private send(buf: Buffer): void {
    this.stats.bytesSent += buf.length;
    this.port.write(buf);
  }

  private gaussian(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = 1 - this.rng(); // (0, 1]
    const v = this.rng();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}
