// The serial driver: MCU boards declared in the agent config, each reached over its UART with
// the MLPerf Tiny DUT protocol. A board is present while its port resolves (polled; a killed
// emulator or an unplugged USB-UART leaves a dangling link and the board goes offline). A job's
// model is the firmware image: it is flashed with the board's command unless the board already
// runs it (the sha256 of the last image flashed is kept in the agent's data folder), the DUT
// must answer `name%`, then an input is loaded and the performance-mode windows run (measure.ts),
// with energy per inference from a PPK2 when one is configured (energy.ts). Failures become
// JobFailure codes: a DUT e-[...] is the runner's error; a port that closes is the device gone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DeviceDescriptor } from '../../../protocol/agent-messages.js';
import { JobFailure, type Driver, type DriverEnv, type JobContext, type JobOutput } from '../driver.js';
import { describeFailure, expandBoardCommand, runBoardCommand, type CommandResult } from './board-command.js';
import type { BoardConfig, SerialConfig } from './config.js';
import { EnergyMeter } from './energy.js';
import { FlashState } from './flash-state.js';
import { jobInputs } from './inputs.js';
import { Aborted, LapMarks, measureWindows } from './measure.js';
import {
  DutClosedError, DutDesyncError, DutError, DutProtocolError, DutResetError, DutTimeoutError, MlperfTinyDut,
} from './mlperf-tiny.js';
import { resolvePort } from './ports.js';
import { jobOutput, type FlashOutcome } from './results.js';

type Log = (msg: string, extra?: Record<string, unknown>) => void;

interface Board {
  config: BoardConfig;
  /** Real device path while the port resolves, else null. */
  portPath: string | null;
  /** Why the port does not resolve (for logs). */
  absentReason: string | null;
  /** Model id from `profile%` (label), once known. */
  model: string | null;
  busy: boolean;
  /** A profile query in progress (discovery). */
  describing: Promise<void> | null;
  /** Work that must finish before the next job (a reset after a canceled job). */
  settling: Promise<unknown> | null;
}

export class SerialDriver implements Driver {
  readonly name = 'serial' as const;
  private readonly boards = new Map<string, Board>();
  private readonly listeners: (() => void)[] = [];
  private poller: NodeJS.Timeout | null = null;
  /** The devices as discover() last returned them (JSON). */
  private lastReported = '';
  private state: FlashState;
  /** Where images are staged for flashing, one folder per board (under the agent's data folder once started). */
  private imagesDir = path.join(os.tmpdir(), 'benchfleet-serial-images');

  constructor(private readonly config: SerialConfig, private readonly log: Log = () => {}) {
    for (const c of config.boards) {
      this.boards.set(c.name, { config: c, portPath: null, absentReason: null, model: null, busy: false, describing: null, settling: null });
    }
    this.state = new FlashState(config.state_file ?? null, log);
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  async start(env?: DriverEnv): Promise<void> {
    if (!this.config.state_file && env) this.state = new FlashState(path.join(env.dataDir, 'serial-boards.json'), this.log);
    if (env) this.imagesDir = path.join(env.dataDir, 'serial-images');
    for (const b of this.boards.values()) {
      if (!b.config.power_on) continue;
      const r = await this.boardCommand(b, 'power_on', b.config.power_on, {});
      if (r.code !== 0) this.log('power_on failed', { board: b.config.name, error: describeFailure('power_on', r, b.config.command_timeout_ms) });
    }
    this.poll();
    this.poller = setInterval(() => this.poll(), this.config.poll_ms);
  }

  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    for (const b of this.boards.values()) {
      if (b.config.power_off) await this.boardCommand(b, 'power_off', b.config.power_off, {});
    }
  }

  // ---- presence --------------------------------------------------------------------------------

  /** Re-resolves every idle board's port; reports a change of presence or labels. */
  private poll(): void {
    let changed = false;
    for (const b of this.boards.values()) {
      if (b.busy) continue; // a job holds the port; its outcome decides
      if (this.refreshPresence(b)) changed = true;
      if (b.portPath && b.model === null && !b.describing) this.describe(b);
    }
    // Also when a change went unreported: a notification before the agent's socket was
    // welcomed is dropped, so compare with what discover() last returned.
    if (changed || JSON.stringify(this.descriptors()) !== this.lastReported) this.changed();
  }

  /** Resolves the board's port; true when presence changed. */
  private refreshPresence(b: Board): boolean {
    const before = b.portPath;
    try {
      b.portPath = resolvePort(b.config.port);
      b.absentReason = null;
    } catch (err) {
      b.portPath = null;
      b.absentReason = (err as Error).message;
    }
    if (before !== null && b.portPath !== null && before !== b.portPath) {
      // Another device node behind the same name (re-enumerated, emulator restarted): ask again.
      b.model = null;
      return true;
    }
    if ((before === null) === (b.portPath === null)) return false;
    this.log(b.portPath ? 'board present' : 'board gone', { board: b.config.name, port: b.portPath ?? b.config.port, reason: b.absentReason ?? undefined });
    if (!b.portPath) b.model = null; // learn it again when the board is back (it may run something else)
    return true;
  }

  /** Asks an idle, present board for its model id (label); quietly gives up when it does not answer. */
  private describe(b: Board): void {
    const portPath = b.portPath!;
    b.describing = (async () => {
      let dut: MlperfTinyDut | null = null;
      try {
        dut = await MlperfTinyDut.open({ path: portPath, baudRate: b.config.baud, lineTimeoutMs: 2000, openAttempts: 1 });
        const p = await dut.profile();
        if (b.model !== p.model) {
          b.model = p.model;
          this.changed();
        }
      } catch (err) {
        b.model = ''; // not reachable now: no model label until a job learns it
        this.log('board did not answer profile%', { board: b.config.name, error: (err as Error).message });
      } finally {
        await dut?.close().catch(() => undefined);
        b.describing = null;
      }
    })();
  }

  async discover(): Promise<DeviceDescriptor[]> {
    const devices = this.descriptors();
    this.lastReported = JSON.stringify(devices);
    return devices;
  }

  private descriptors(): DeviceDescriptor[] {
    return [...this.boards.values()].map((b) => {
      const c = b.config;
      const labels: Record<string, string> = { protocol: c.protocol, port: c.port };
      if (c.board) labels.board = c.board;
      if (c.flash_bytes !== undefined) labels.flash_bytes = String(c.flash_bytes);
      if (c.ram_bytes !== undefined) labels.ram_bytes = String(c.ram_bytes);
      if (b.model) labels.model = b.model;
      if (c.ppk2) labels.energy_meter = 'ppk2';
      return { serial: c.name, name: c.name, driver: 'serial', labels, runtimes: ['mlperf-tiny'], online: b.busy || b.portPath !== null };
    });
  }

  // ---- jobs ------------------------------------------------------------------------------------

  async run(serial: string, ctx: JobContext): Promise<JobOutput> {
    const b = this.boards.get(serial);
    if (!b) throw new JobFailure('device_unavailable', `no board ${serial} is declared in this agent's serial config`);
    if (ctx.job.runtime !== 'mlperf-tiny') throw new JobFailure('unsupported_runtime', `board ${serial} runs mlperf-tiny firmware images only, not ${ctx.job.runtime}`);
    await b.settling?.catch(() => undefined);
    await b.describing;
    b.busy = true;
    try {
      return await this.runOnBoard(b, ctx);
    } catch (err) {
      const failure = this.toFailure(err, b, ctx);
      if (failure.code === 'device_unavailable') {
        // Report the board gone now, before the server assigns the retry here.
        b.busy = false;
        if (this.refreshPresence(b) || !b.portPath) this.changed();
      }
      throw failure;
    } finally {
      b.busy = false;
    }
  }

  private toFailure(err: unknown, b: Board, ctx: JobContext): JobFailure {
    const name = b.config.name;
    if (ctx.signal.aborted || err instanceof Aborted) return new JobFailure('canceled', 'aborted');
    if (err instanceof JobFailure) return err;
    if (err instanceof DutError) return new JobFailure('runner_failed', `the DUT answered "${err.command}" with an error: ${err.dutMessage}`);
    if (err instanceof DutClosedError) {
      this.state.forget(name); // it may come back running something else
      return new JobFailure('device_unavailable', `board ${name}: ${err.message}`);
    }
    if (err instanceof DutTimeoutError) return new JobFailure('runner_crashed', `board ${name} stopped answering: ${err.message}`);
    if (err instanceof DutResetError) return new JobFailure('runner_crashed', `board ${name} reset during the job: ${err.message}`);
    if (err instanceof DutProtocolError || err instanceof DutDesyncError) return new JobFailure('output_unparseable', `board ${name}: ${err.message}`);
    const e = err as NodeJS.ErrnoException;
    if (/cannot open|No such file|ENOENT|EBUSY|EACCES|Resource temporarily unavailable/i.test(e?.message ?? '')) {
      return new JobFailure('device_unavailable', `board ${name}: cannot open ${b.config.port}: ${e.message}`);
    }
    return new JobFailure('internal', `board ${name}: ${e?.message ?? String(err)}`);
  }

  private async runOnBoard(b: Board, ctx: JobContext): Promise<JobOutput> {
    const c = b.config;
    const m = c.measurement;
    const mark = (name: string) => { if (ctx.receivedAt !== undefined) ctx.timings[`t_${name}_ms`] = Math.round(performance.now() - ctx.receivedAt); };
    await this.requirePort(b, ctx);
    const laps = new LapMarks();
    let dut: MlperfTinyDut | null = null;
    let meter: EnergyMeter | null = null;
    const closeDut = async () => {
      const d = dut;
      dut = null;
      await d?.close().catch(() => undefined);
    };
    // Closing the port ends a pending command at once (DutClosedError, read as canceled).
    const onAbort = () => void closeDut();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      ctx.progress({ phase: 'preparing', done: 0, total: 1 });
      const { dut: opened, dutName, flash } = await this.prepare(b, ctx, laps);
      dut = opened;
      mark('flashed');
      const profile = await opened.profile();
      if (b.model !== profile.model) {
        b.model = profile.model;
        this.changed();
      }
      let energySkipped: string | null = null;
      if (c.ppk2) {
        try {
          meter = await EnergyMeter.open(c.ppk2);
        } catch (err) {
          energySkipped = `the PPK2 on ${c.ppk2.port} could not be used: ${(err as Error).message}`;
          this.log('energy measurement skipped', { board: c.name, reason: energySkipped });
        }
      }
      const { settings } = ctx.job;
      const inputs = jobInputs(settings, m.windows, { boardBytes: c.input_bytes, modelId: profile.model });
      const minWindowUs = (settings.min_duration_ms > 0 ? settings.min_duration_ms / 1000 : m.min_window_s) * 1e6;
      mark('prepared');
      const report = await measureWindows(opened, {
        windows: m.windows, minWindowUs, minIterations: Math.max(1, Math.ceil(settings.iterations / m.windows)),
        maxIterations: m.max_iterations, warmup: settings.warmup, margin: m.margin, inputs: inputs.perWindow,
        inferTimeoutMs: (expectedUs) => Math.round((expectedUs / 1000) * 1.5) + m.infer_slack_ms,
        meter, laps, signal: ctx.signal, progress: ctx.progress,
      });
      mark('measured');
      return jobOutput(c, ctx, report, { dutName, profile, flash, inputs, minWindowUs, meter, energySkipped });
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      await meter?.close();
      await closeDut();
      if (ctx.signal.aborted && c.reset) {
        // The DUT may still be inside a long infer: reset it before the next job talks to it.
        b.settling = this.boardCommand(b, 'reset', c.reset, {}).finally(() => { b.settling = null; });
      }
    }
  }

  /** The board's port must resolve; power_on (when configured) gets one chance to bring it up. */
  private async requirePort(b: Board, ctx: JobContext): Promise<void> {
    this.refreshPresence(b);
    if (b.portPath) return;
    if (b.config.power_on) {
      const r = await this.boardCommand(b, 'power_on', b.config.power_on, {}, ctx.signal);
      if (r.code === 0 && (await this.waitForPort(b, b.config.boot_timeout_ms, ctx.signal))) return;
    }
    throw new JobFailure('device_unavailable', `board ${b.config.name} is not reachable: ${b.absentReason ?? `${b.config.port} does not resolve`}`);
  }

  private async waitForPort(b: Board, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.refreshPresence(b);
      if (b.portPath) return true;
      if (Date.now() > deadline || signal.aborted) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private openDut(b: Board, laps: LapMarks, lineTimeoutMs = b.config.measurement.line_timeout_ms): Promise<MlperfTinyDut> {
    return MlperfTinyDut.open({
      path: b.portPath!, baudRate: b.config.baud, lineTimeoutMs, syncTimeoutMs: Math.max(lineTimeoutMs, b.config.measurement.infer_slack_ms),
      trace: (dir, text) => { if (dir === 'rx') laps.rx(text); },
    });
  }

  /**
   * A DUT that answers `name%` and runs the job's image: the open board when it already runs it,
   * else after flashing (the state is forgotten first: a flash that fails leaves it unknown).
   */
  private async prepare(b: Board, ctx: JobContext, laps: LapMarks): Promise<{ dut: MlperfTinyDut; dutName: string; flash: FlashOutcome }> {
    const c = b.config;
    const sha = ctx.job.model.sha256;
    let reason = this.state.image(c.name) === null ? 'the image on the board is unknown' : 'the board runs another image';
    // A board that already runs the image only has to answer; a silent one is reset (when it can
    // be) and asked again before it is flashed again.
    for (let attempt = 0; this.state.image(c.name) === sha && attempt < (c.reset ? 2 : 1); attempt++) {
      if (attempt > 0) {
        const r = await this.boardCommand(b, 'reset', c.reset!, {}, ctx.signal);
        if (r.aborted) throw new Aborted();
        if (r.code !== 0 || !(await this.waitForPort(b, c.boot_timeout_ms, ctx.signal))) break;
      }
      let dut: MlperfTinyDut | null = null;
      try {
        dut = await this.openDut(b, laps);
        const dutName = await dut.name();
        return { dut, dutName, flash: { flashed: false, ms: null, reason: attempt > 0 ? 'the board runs this image (answered after a reset)' : 'the board already runs this image' } };
      } catch (err) {
        await dut?.close().catch(() => undefined);
        if (ctx.signal.aborted || err instanceof DutClosedError) throw err;
        if (!(err instanceof DutTimeoutError || err instanceof DutProtocolError || err instanceof DutDesyncError || err instanceof DutResetError)) throw err;
        reason = `the board did not answer (${err.message})`;
        this.log('board with the job\'s image does not answer', { board: c.name, error: err.message, next: attempt === 0 && c.reset ? 'reset' : 'flash' });
      }
    }
    this.state.forget(c.name);
    ctx.progress({ phase: 'preparing', done: 0, total: 2 });
    const image = this.stageImage(c.name, ctx);
    const started = performance.now();
    const r = await this.boardCommand(b, 'flash', c.flash, { image }, ctx.signal);
    if (r.aborted) throw new Aborted();
    if (r.code !== 0) throw new JobFailure('flash_failed', describeFailure(`flashing board ${c.name} (${c.flash.split(/\s+/)[0]})`, r, c.flash_timeout_ms));
    ctx.progress({ phase: 'preparing', done: 1, total: 2 });
    const dut = await this.waitForFirmware(b, ctx, laps);
    const ms = Math.round(performance.now() - started);
    this.state.flashed(c.name, sha);
    return { ...dut, flash: { flashed: true, ms, reason } };
  }

  /** After flashing: the port (re)appears and the firmware answers name% within boot_timeout_ms. */
  private async waitForFirmware(b: Board, ctx: JobContext, laps: LapMarks): Promise<{ dut: MlperfTinyDut; dutName: string }> {
    const c = b.config;
    const deadline = Date.now() + c.boot_timeout_ms;
    let last = 'the port did not appear';
    while (Date.now() < deadline) {
      if (ctx.signal.aborted) throw new Aborted();
      this.refreshPresence(b);
      if (b.portPath) {
        let dut: MlperfTinyDut | null = null;
        try {
          dut = await this.openDut(b, laps, Math.min(c.measurement.line_timeout_ms, Math.max(500, deadline - Date.now())));
          return { dut, dutName: await dut.name() };
        } catch (err) {
          await dut?.close().catch(() => undefined);
          last = (err as Error).message;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new JobFailure('firmware_unresponsive', `board ${c.name} was flashed but its firmware did not answer name% within ${c.boot_timeout_ms} ms (${last}); is it an MLPerf Tiny DUT firmware at ${c.baud} baud?`);
  }

  /**
   * A copy of the model named <sha256>.elf (flashing tools pick the format by the extension) in
   * the board's own folder. It stays until the board's next flash: an emulated board keeps
   * reading its image after the flash command returned (QEMU loads it after announcing its pty).
   */
  private stageImage(board: string, ctx: JobContext): string {
    const dir = path.join(this.imagesDir, board);
    fs.mkdirSync(dir, { recursive: true });
    const name = `${ctx.job.model.sha256}.elf`;
    for (const old of fs.readdirSync(dir)) if (old !== name) fs.rmSync(path.join(dir, old), { force: true });
    const file = path.join(dir, name);
    const tmp = `${file}.${process.pid}.part`;
    fs.copyFileSync(ctx.modelPath, tmp);
    fs.renameSync(tmp, file);
    return file;
  }

  private async boardCommand(b: Board, what: string, template: string, extra: { image?: string }, signal?: AbortSignal): Promise<CommandResult> {
    const c = b.config;
    const values = { image: extra.image, port: b.portPath ?? c.port, name: c.name, board: c.board ?? c.name, baud: c.baud };
    const command = expandBoardCommand(template, values);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) if (v !== undefined) env[`BENCHFLEET_${k.toUpperCase()}`] = String(v);
    const timeoutMs = what === 'flash' ? c.flash_timeout_ms : c.command_timeout_ms;
    const r = await runBoardCommand(command, { timeoutMs, signal, env });
    this.log(`board ${what}`, { board: c.name, command, code: r.code, ms: r.ms, timedOut: r.timedOut || undefined });
    return r;
  }
}
