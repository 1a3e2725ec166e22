// Host side of the MLPerf Tiny / EEMBC EnergyRunner DUT serial protocol (performance mode), as
// the MLCommons runner speaks it: commands end with '%', the DUT answers lines ending "\r\n" and
// finishes every command with "m-ready"; "e-[...]" lines are errors. One MlperfTinyDut owns one
// open SerialPort.
//
// Robustness beyond the reference runner:
// - sync() sends '%' (ends any half-received command) and then an unknown command carrying a
//   nonce; the DUT echoes it in "e-[Unknown command: <nonce>]" followed by m-ready, so every
//   stale line before that is known to be stale. Used at open, after a timeout, after a reset and
//   when a reply shows that our command arrived mangled (garbage on the line before it).
// - A boot banner (m-timestamp-mode-..., m-init-done) in the middle of a command means the board
//   reset: DutResetError; the input buffer is then lost, so infer() refuses to run on it.
// - The port closing (device unplugged, QEMU killed) rejects the pending command at once with
//   DutClosedError.
import { SerialPort } from 'serialport';

export const EE_CMD_SIZE = 80;
/** Bytes per `db` chunk: "db " + 62 hex digits = 65 characters, as the MLCommons runner sends. */
export const DEFAULT_CHUNK_BYTES = 31;

export type DutErrorKind = 'dut' | 'timeout' | 'reset' | 'closed' | 'protocol' | 'desync';

export class MlperfTinyError extends Error {
  constructor(readonly kind: DutErrorKind, message: string, readonly command?: string) {
    super(message);
    this.name = 'MlperfTinyError';
  }
}

/** The DUT answered e-[...]: `dutMessage` is the text inside the brackets. */
export class DutError extends MlperfTinyError {
  constructor(readonly dutMessage: string, command: string, readonly lines: string[]) {
    super('dut', `DUT error for "${command}": ${dutMessage}`, command);
    this.name = 'DutError';
  }
}

export class DutTimeoutError extends MlperfTinyError {
  constructor(command: string, readonly timeoutMs: number, readonly partial: string[]) {
    super('timeout', `no reply line from the DUT within ${timeoutMs} ms (command "${command}")`, command);
    this.name = 'DutTimeoutError';
  }
}

export class DutResetError extends MlperfTinyError {
  constructor(command: string, readonly line: string) {
    super('reset', `the DUT reset during "${command}" (saw "${line}")`, command);
    this.name = 'DutResetError';
  }
}

export class DutClosedError extends MlperfTinyError {
  constructor(command: string | undefined, detail: string) {
    super('closed', `serial port closed, device gone${command ? ` (during "${command}")` : ''}: ${detail}`, command);
    this.name = 'DutClosedError';
  }
}

export class DutProtocolError extends MlperfTinyError {
  constructor(command: string, message: string, readonly lines: string[]) {
    super('protocol', `unexpected reply to "${command}": ${message}`, command);
    this.name = 'DutProtocolError';
  }
}

/** Our command reached the DUT mangled (bytes before it on the line); resynchronised, safe to retry. */
export class DutDesyncError extends MlperfTinyError {
  constructor(command: string, readonly dutMessage: string) {
    super('desync', `command "${command}" arrived mangled (${dutMessage}); resynchronised`, command);
    this.name = 'DutDesyncError';
  }
}

export interface MlperfTinyOptions {
  path: string;
  baudRate?: number;
  /** Per-line timeout of ordinary commands (the runner's 5 s). */
  lineTimeoutMs?: number;
  /** Per-line timeout during infer (the runner's 30 s); the timed window is one silent gap. */
  inferLineTimeoutMs?: number;
  /** Per-line timeout while resynchronising (a stale infer may still be running). */
  syncTimeoutMs?: number;
  /** Sync attempts at open (the runner retries name 3 times). */
  openAttempts?: number;
  /** Every line sent and received, for logs. */
  trace?: (direction: 'tx' | 'rx', text: string) => void;
}

export interface DutProfile { profile: string; model: string }

export interface InferResult {
  iterations: number;
  warmup: number;
  /** The two m-lap-us stamps around the timed window. */
  lapUs: [number, number];
  /** t1 - t0 (modulo 2^32: the DUT prints a 32-bit unsigned long). */
  elapsedUs: number;
  latencyUs: number;
  inferencesPerSecond: number;
  results: number[];
  /** From benchfleet's m-cycles-* lines, when the firmware prints them. */
  cyclesTotal: number | null;
  cyclesPerInference: number | null;
  lines: string[];
}

const BANNER = /^m-(timestamp-mode-|init-done)/;
const NAME = /^m-name-dut-\[([^\]]+)\]$/;
const LAP = /^m-lap-us-(\d+)$/;
const RESULTS = /^m-results-\[([^\]]*)\]$/;
const UNKNOWN = /^e-\[Unknown command: (.*)\]$/;

interface Waiter { resolve: (line: string) => void; reject: (err: Error) => void }

export class MlperfTinyDut {
  private readonly port: SerialPort;
  private readonly opts: Required<Omit<MlperfTinyOptions, 'trace'>> & Pick<MlperfTinyOptions, 'trace'>;
  private partial: number[] = [];
  private lines: string[] = [];
  private waiter: Waiter | null = null;
  private closedReason: string | null = null;
  private current: string | undefined;
  private dirty = false;
  private busy: Promise<unknown> = Promise.resolve();
  private nonce = 0;
  private loadedAtReset = -1;
  /** Boot banners seen since open. */
  resets = 0;

  private constructor(opts: MlperfTinyOptions) {
    this.opts = {
      path: opts.path,
      baudRate: opts.baudRate ?? 115200,
      lineTimeoutMs: opts.lineTimeoutMs ?? 5000,
      inferLineTimeoutMs: opts.inferLineTimeoutMs ?? 30_000,
      syncTimeoutMs: opts.syncTimeoutMs ?? 30_000,
      openAttempts: opts.openAttempts ?? 3,
      trace: opts.trace,
    };
    this.port = new SerialPort({ path: opts.path, baudRate: this.opts.baudRate, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false });
    this.port.on('data', (chunk: Buffer) => this.onData(chunk));
    this.port.on('close', (err: (Error & { disconnected?: boolean }) | null) => this.onClosed(err ? err.message : 'closed'));
    this.port.on('error', (err: Error) => this.onClosed(err.message));
  }

  /** Opens the port and synchronises with the DUT. */
  static async open(opts: MlperfTinyOptions): Promise<MlperfTinyDut> {
    const dut = new MlperfTinyDut(opts);
    await new Promise<void>((resolve, reject) => dut.port.open((err) => (err ? reject(err) : resolve())));
    let last: unknown;
    for (let attempt = 0; attempt < dut.opts.openAttempts; attempt++) {
      try {
        await dut.sync(Math.min(dut.opts.syncTimeoutMs, dut.opts.lineTimeoutMs));
        return dut;
      } catch (err) {
        last = err;
        if (err instanceof DutClosedError) break;
      }
    }
    await dut.close();
    throw last;
  }

  get isOpen(): boolean {
    return this.closedReason === null;
  }

  // ---- line reading ----

  private onData(chunk: Buffer): void {
    for (const byte of chunk) {
      if (byte === 0x0d || byte === 0x00) continue;
      if (byte !== 0x0a) {
        this.partial.push(byte);
        continue;
      }
      const line = Buffer.from(this.partial).toString('latin1');
      this.partial = [];
      this.opts.trace?.('rx', line);
      if (BANNER.test(line) && line.startsWith('m-timestamp-mode-')) this.resets++;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w.resolve(line);
      } else {
        this.lines.push(line);
      }
    }
  }

  private onClosed(detail: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = detail;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(new DutClosedError(this.current, detail));
    }
  }

  private nextLine(timeoutMs: number, command: string, partial: string[]): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closedReason !== null) return Promise.reject(new DutClosedError(command, this.closedReason));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter?.resolve !== done) return;
        this.waiter = null;
        reject(new DutTimeoutError(command, timeoutMs, partial));
      }, timeoutMs);
      const done = (line: string) => { clearTimeout(timer); resolve(line); };
      this.waiter = { resolve: done, reject: (err) => { clearTimeout(timer); reject(err); } };
    });
  }

  private write(text: string): Promise<void> {
    if (this.closedReason !== null) return Promise.reject(new DutClosedError(this.current, this.closedReason));
    this.opts.trace?.('tx', text);
    return new Promise<void>((resolve, reject) => {
      this.port.write(Buffer.from(text, 'latin1'), (err) => {
        if (err) { reject(this.closedReason !== null ? new DutClosedError(this.current, this.closedReason) : err); return; }
        this.port.drain((e) => (e ? reject(e) : resolve()));
      });
    });
  }

  /** Runs one operation at a time on the port. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  // ---- commands ----

  /**
   * Resynchronises: ends any half-received command, then sends an unknown command carrying a
   * nonce and discards everything up to its echo and the m-ready after it.
   */
  sync(lineTimeoutMs = this.opts.syncTimeoutMs): Promise<void> {
    return this.exclusive(() => this.syncNow(lineTimeoutMs));
  }

  private async syncNow(lineTimeoutMs: number): Promise<void> {
    const token = `bfsync${++this.nonce}x${Date.now() % 100000}`;
    this.current = 'sync';
    this.dirty = true;
    this.lines = [];
    await this.write(`%${token}%`);
    const expected = `e-[Unknown command: ${token}]`;
    for (;;) {
      const line = await this.nextLine(lineTimeoutMs, 'sync', []);
      if (line === expected) break;
    }
    for (;;) {
      const line = await this.nextLine(lineTimeoutMs, 'sync', []);
      if (line.includes('m-ready')) break;
    }
    this.dirty = false;
  }

  /**
   * Sends one command and returns the lines before m-ready. Throws DutError on an e-[...] line,
   * DutResetError on a boot banner, DutDesyncError when the DUT saw a different command.
   */
  command(cmd: string, lineTimeoutMs = this.opts.lineTimeoutMs): Promise<string[]> {
    return this.exclusive(() => this.commandNow(cmd, lineTimeoutMs));
  }

  private async commandNow(cmd: string, lineTimeoutMs: number): Promise<string[]> {
    if (cmd.includes('%')) throw new Error(`a command cannot contain '%': ${cmd}`);
    if (cmd.length > EE_CMD_SIZE - 1) throw new Error(`command longer than ${EE_CMD_SIZE - 1} characters: ${cmd.slice(0, 20)}…`);
    if (this.dirty) await this.syncNow(this.opts.syncTimeoutMs);
    // Lines nobody asked for (a reset while idle, noise): drop them, counting banners.
    this.lines = [];
    this.current = cmd;
    await this.write(`${cmd}%`);
    const lines: string[] = [];
    try {
      for (;;) {
        const line = await this.nextLine(lineTimeoutMs, cmd, lines);
        if (BANNER.test(line)) {
          this.dirty = true;
          throw new DutResetError(cmd, line);
        }
        if (line.includes('m-ready')) break;
        lines.push(line);
      }
    } catch (err) {
      if (err instanceof DutTimeoutError) this.dirty = true;
      throw err;
    }
    const first = cmd.trim().split(/ +/)[0] ?? '';
    for (const line of lines) {
      const unknown = UNKNOWN.exec(line);
      if (unknown && unknown[1] !== first) {
        this.dirty = true;
        throw new DutDesyncError(cmd, line);
      }
    }
    const error = lines.find((l) => l.startsWith('e-['));
    if (error) throw new DutError(error.slice(3, error.endsWith(']') ? -1 : undefined), cmd, lines);
    return lines;
  }

  /**
   * An idempotent command whose reply is checked: when it arrived mangled (another command name
   * echoed, an e-[...] line although the command cannot fail, or its expected line missing - a
   * NUL before it empties the DUT's buffer), the client resynchronises and sends it once more.
   * E.g. "db " glued before "name" gives "Invalid hex digit 'na'".
   */
  private async checked(cmd: string, expected: RegExp, lineTimeoutMs?: number): Promise<string[]> {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= 1;
      try {
        const lines = await this.command(cmd, lineTimeoutMs);
        if (lines.some((l) => expected.test(l))) return lines;
        this.dirty = true;
        if (last) throw new DutProtocolError(cmd, `no line matching ${expected}`, lines);
      } catch (err) {
        if (last || !(err instanceof DutDesyncError || err instanceof DutError)) throw err;
        this.dirty = true;
      }
    }
  }

  /** The vendor string of m-name-dut-[...]. */
  async name(): Promise<string> {
    const lines = await this.checked('name', NAME);
    return NAME.exec(lines.find((l) => NAME.test(l))!)![1]!;
  }

  async profile(): Promise<DutProfile> {
    const lines = await this.checked('profile', /^m-model-\[[^\]]+\]$/);
    let profile: string | null = null, model: string | null = null;
    for (const line of lines) {
      const m = /^m-(model|profile)-\[([^\]]+)\]$/.exec(line);
      if (m?.[1] === 'model') model = m[2]!;
      else if (m?.[1] === 'profile') profile = m[2]!;
    }
    return { profile: profile ?? '', model: model! };
  }

  /** The DUT's clock in microseconds (m-lap-us-N). */
  async timestamp(): Promise<number> {
    const lines = await this.checked('timestamp', LAP);
    const laps = lapStamps(lines);
    if (laps.length !== 1) throw new DutProtocolError('timestamp', 'expected one m-lap-us line', lines);
    return laps[0]!;
  }

  /**
   * Loads the input tensor: `db load N`, then `db <hex>` chunks (each command under the
   * 80-character buffer), m-ready after each, m-load-done after the last. A load disturbed by
   * garbage on the line starts over once.
   */
  async loadInput(bytes: Uint8Array, opts: { chunkBytes?: number } = {}): Promise<void> {
    const chunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (bytes.length === 0) throw new Error('loadInput: empty input');
    if (!(chunk >= 1 && 3 + 2 * chunk <= EE_CMD_SIZE - 1)) throw new Error(`loadInput: chunk of ${chunk} bytes does not fit the ${EE_CMD_SIZE}-character command buffer`);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.loadOnce(bytes, chunk);
        this.loadedAtReset = this.resets;
        return;
      } catch (err) {
        if (!(err instanceof DutDesyncError) || attempt >= 1) throw err;
      }
    }
  }

  private async loadOnce(bytes: Uint8Array, chunk: number): Promise<void> {
    const loadCmd = `db load ${bytes.length}`;
    const expect = await this.command(loadCmd);
    if (!expect.some((l) => l === `m-[Expecting ${bytes.length} bytes]`)) {
      // e.g. "db 00" on the line before: the DUT took our command for hex digits.
      this.dirty = true;
      throw new DutDesyncError(loadCmd, expect.join(' | ') || 'no m-[Expecting N bytes] line');
    }
    for (let off = 0; off < bytes.length; off += chunk) {
      const part = bytes.subarray(off, off + chunk);
      const cmd = `db ${Buffer.from(part).toString('hex')}`;
      const lines = await this.command(cmd);
      const last = off + chunk >= bytes.length;
      const done = lines.includes('m-load-done');
      if (done !== last) {
        throw new DutProtocolError(cmd, last ? 'no m-load-done after the last chunk' : `m-load-done after ${off + part.length} of ${bytes.length} bytes`, lines);
      }
    }
  }

  /**
   * `infer N W` (W always sent: the DUT's default is 10). Latency per inference is
   * (lap2 - lap1) / N from the two m-lap-us stamps.
   */
  async infer(iterations: number, warmup: number, opts: { lineTimeoutMs?: number } = {}): Promise<InferResult> {
    if (!(Number.isInteger(iterations) && iterations >= 1)) throw new Error(`infer: iterations must be a positive integer, got ${iterations}`);
    if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`infer: warmup must be a non-negative integer, got ${warmup}`);
    if (this.loadedAtReset >= 0 && this.loadedAtReset !== this.resets) {
      throw new DutResetError(`infer ${iterations} ${warmup}`, 'the board reset since the input was loaded');
    }
    const cmd = `infer ${iterations} ${warmup}`;
    // With valid arguments (checked above) the reference DUT has no error reply to infer.
    const lines = await this.checked(cmd, /^m-infer-done$/, opts.lineTimeoutMs ?? this.opts.inferLineTimeoutMs);
    return parseInfer(cmd, iterations, warmup, lines);
  }

  /** m-results-[...] of the last inference. */
  async results(): Promise<number[]> {
    const lines = await this.checked('results', RESULTS);
    const results = parseResults(lines);
    if (!results) throw new DutProtocolError('results', 'no m-results-[...] line', lines);
    return results;
  }

  /**
   * Raw bytes onto the line, unannounced (diagnostics; tests use it as line noise): the client
   * assumes nothing, so the next command has to notice a mangled reply by itself.
   */
  writeRaw(data: string | Uint8Array): Promise<void> {
    return this.exclusive(() => this.write(typeof data === 'string' ? data : Buffer.from(data).toString('latin1')));
  }

  /**
   * Sends `raw` exactly as given (no '%' added, no length check) and returns every line up to and
   * including the next m-ready, without interpreting errors. For protocol conformance checks.
   */
  exchange(raw: string, lineTimeoutMs = this.opts.lineTimeoutMs): Promise<string[]> {
    return this.exclusive(async () => {
      if (this.dirty) await this.syncNow(this.opts.syncTimeoutMs);
      this.lines = [];
      this.current = raw;
      await this.write(raw);
      const lines: string[] = [];
      try {
        for (;;) {
          const line = await this.nextLine(lineTimeoutMs, raw, lines);
          lines.push(line);
          if (line.includes('m-ready')) return lines;
        }
      } catch (err) {
        this.dirty = true;
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closedReason !== null || !this.port.isOpen) {
      this.onClosed('closed by the host');
      return;
    }
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
    this.onClosed('closed by the host');
  }
}

function lapStamps(lines: string[]): number[] {
  const out: number[] = [];
  for (const line of lines) {
    const m = LAP.exec(line);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

/** The numbers of m-results-[...], skipping empty fields (the VWW reference prints a trailing comma). */
export function parseResults(lines: string[]): number[] | null {
  for (const line of lines) {
    const m = RESULTS.exec(line);
    if (!m) continue;
    return m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
      const v = Number(s);
      if (!Number.isFinite(v)) throw new DutProtocolError('results', `not a number: "${s}"`, lines);
      return v;
    });
  }
  return null;
}

export function parseInfer(cmd: string, iterations: number, warmup: number, lines: string[]): InferResult {
  const laps = lapStamps(lines);
  if (laps.length < 2) throw new DutProtocolError(cmd, `expected two m-lap-us lines, got ${laps.length}`, lines);
  if (!lines.includes('m-infer-done')) throw new DutProtocolError(cmd, 'no m-infer-done line', lines);
  const t0 = laps[laps.length - 2]!, t1 = laps[laps.length - 1]!;
  const elapsedUs = t1 >= t0 ? t1 - t0 : t1 + 2 ** 32 - t0;
  if (elapsedUs <= 0) throw new DutProtocolError(cmd, 'the timed window has zero length', lines);
  const results = parseResults(lines);
  if (!results) throw new DutProtocolError(cmd, 'no m-results-[...] line', lines);
  const num = (re: RegExp): number | null => {
    for (const line of lines) {
      const m = re.exec(line);
      if (m) return Number(m[1]);
    }
    return null;
  };
  return {
    iterations, warmup, lapUs: [t0, t1], elapsedUs,
    latencyUs: elapsedUs / iterations,
    inferencesPerSecond: (iterations * 1e6) / elapsedUs,
    results,
    cyclesTotal: num(/^m-cycles-total-(\d+)$/),
    cyclesPerInference: num(/^m-cycles-per-inference-(\d+)$/),
    lines,
  };
}

// ---- performance mode ------------------------------------------------------------------------

export interface PerformanceOptions {
  /** Windows to measure (MLPerf Tiny: exactly 5). */
  windows?: number;
  /** Minimum duration of each window on the DUT's clock (MLPerf Tiny: 10 s). */
  minWindowSeconds?: number;
  /** Warm-up inferences before each window. */
  warmup?: number;
  /** Inputs loaded before the windows, in turn (one per window, as the runner's `download`). */
  inputs?: Uint8Array[];
  /** Timed inferences of the calibration run that sizes the windows. */
  calibrationIterations?: number;
  /** Windows are sized for this multiple of the minimum, so drift does not make them short. */
  margin?: number;
  /** Upper bound on N per window. */
  maxIterations?: number;
  /** Per-line timeout during each window's infer. */
  lineTimeoutMs?: number;
  /** Attempts per window when a window came out shorter than the minimum. */
  attemptsPerWindow?: number;
  onWindow?: (w: PerformanceWindow) => void;
}

export interface PerformanceWindow {
  index: number;
  iterations: number;
  elapsedUs: number;
  latencyUs: number;
  inferencesPerSecond: number;
  cyclesPerInference: number | null;
  results: number[];
}

export interface PerformanceReport {
  windows: PerformanceWindow[];
  medianLatencyUs: number;
  medianInferencesPerSecond: number;
  medianCyclesPerInference: number | null;
  calibration: { iterations: number; latencyUs: number };
  minWindowSeconds: number;
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * MLPerf Tiny performance mode: a calibration inference sizes N so that each window lasts at least
 * `minWindowSeconds` on the DUT's clock; every window's latency is reported with the median.
 */
export async function measurePerformance(dut: MlperfTinyDut, opts: PerformanceOptions = {}): Promise<PerformanceReport> {
  const windows = opts.windows ?? 5;
  const minWindowSeconds = opts.minWindowSeconds ?? 10;
  const warmup = opts.warmup ?? 10;
  const margin = opts.margin ?? 1.1;
  const maxIterations = opts.maxIterations ?? 1_000_000;
  const minUs = minWindowSeconds * 1e6;
  const inputs = opts.inputs ?? [];
  if (!(windows >= 1) || !(minWindowSeconds > 0)) throw new Error('measurePerformance: windows >= 1 and minWindowSeconds > 0');
  const load = async (i: number) => { if (inputs.length > 0) await dut.loadInput(inputs[i % inputs.length]!); };

  await load(0);
  const calIterations = opts.calibrationIterations ?? 1;
  const cal = await dut.infer(calIterations, warmup, { lineTimeoutMs: opts.lineTimeoutMs });
  const size = (latencyUs: number) => Math.min(maxIterations, Math.max(1, Math.ceil((minUs * margin) / latencyUs)));
  let n = size(cal.latencyUs);
  const out: PerformanceWindow[] = [];
  for (let i = 0; i < windows; i++) {
    await load(i);
    for (let attempt = 0; ; attempt++) {
      const r = await dut.infer(n, warmup, { lineTimeoutMs: opts.lineTimeoutMs });
      if (r.elapsedUs >= minUs) {
        const w: PerformanceWindow = {
          index: i, iterations: n, elapsedUs: r.elapsedUs, latencyUs: r.latencyUs,
          inferencesPerSecond: r.inferencesPerSecond, cyclesPerInference: r.cyclesPerInference, results: r.results,
        };
        out.push(w);
        opts.onWindow?.(w);
        break;
      }
      if (n >= maxIterations || attempt + 1 >= (opts.attemptsPerWindow ?? 3)) {
        throw new Error(`window ${i} lasted ${r.elapsedUs} us with ${n} inferences, below the ${minWindowSeconds} s minimum`);
      }
      n = Math.max(n + 1, size(r.latencyUs));
    }
  }
  const cycles = out.map((w) => w.cyclesPerInference).filter((c): c is number => c !== null);
  return {
    windows: out,
    medianLatencyUs: median(out.map((w) => w.latencyUs)),
    medianInferencesPerSecond: median(out.map((w) => w.inferencesPerSecond)),
    medianCyclesPerInference: cycles.length === out.length ? median(cycles) : null,
    calibration: { iterations: calIterations, latencyUs: cal.latencyUs },
    minWindowSeconds,
  };
}
