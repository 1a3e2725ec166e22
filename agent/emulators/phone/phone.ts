// EmulatedPhone: an Android phone as the adb server sees it over TCP (`adb connect host:port`).
// It speaks adbd's transport protocol, runs shell commands in a sandboxed folder with the
// host's /bin/sh, serves sync (push/pull/ls/stat), and keeps a /sys tree (battery, thermal
// zones, CPU frequencies) that responds to the CPU time its processes really consume.
// stop() is an unplug: the listener and every connection close at once; the phone's processes
// are ended too so nothing outlives the emulator.
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CpuMeter } from './cpu-meter.js';
import { DEFAULT_FEATURES, connectionBanner, phoneProps } from './profile.js';
import { Sandbox } from './sandbox.js';
import { parseShellService, runShell } from './shell.js';
import { SyncSession } from './sync.js';
import { PhoneModel, SysfsWriter, type CurrentSign, type PhysicsOptions, type PowerTracePoint } from './sysfs-model.js';
import { PHONE_MARKER, installSystemBin } from './system-bin.js';
import { AdbConnection, type AdbStream } from './transport.js';

export interface EmulatedPhoneOptions {
  /** TCP port for adbd; 0 picks a free one (kept across stop/start). Avoid 5555–5585, which the adb server probes for emulators. */
  port: number;
  host?: string;
  /** The phone's file system (created if missing); default: a new temporary folder. */
  root?: string;
  /** getprop values, e.g. { 'ro.product.model': 'Pixel 8' }; also used in the CNXN banner. */
  serialProps?: Record<string, string>;
  /** Features in the CNXN banner; [] makes the host fall back to shell v1 and STAT v1. */
  features?: string[];
  /** Answer CNXN with AUTH challenges nobody accepts: the host lists the phone as `unauthorized`. */
  unauthorized?: boolean;
  /** Bytes the user data partition (/data) may hold; a push beyond it fails with "No space left on device". */
  diskQuotaBytes?: number;
  charging?: boolean;
  /** Starting temperature of every thermal zone, °C. */
  startTemperatureC?: number;
  ambientC?: number;
  /** Hottest-zone temperature where the CPU frequency caps start (default 45 °C). */
  throttleC?: number;
  /** Sign convention of current_now: the kernel ABI says negative while discharging. */
  currentSign?: CurrentSign;
  /** Battery level at start, %. */
  batteryLevel?: number;
  memTotalKb?: number;
  /**
   * Battery power model: a known power profile under load (constant, stepped, ramped watts),
   * the current's rise and fall time constants, idle and full-load current (see sysfs-model.ts).
   */
  power?: Pick<PhysicsOptions, 'profile' | 'riseTauS' | 'fallTauS' | 'loadOnUtilisation' | 'activityWatts' | 'idleCurrentMa' | 'maxCurrentMa'>;
  /** How often the /sys tree is updated. */
  tickMs?: number;
  log?: (message: string, extra?: Record<string, unknown>) => void;
}

const DEFAULT_MEM_TOTAL_KB = 7_421_875; // 7.6 GB, what an 8 GB phone reports

// Safety net for callers that never stop() or dispose(): when the process exits, end every
// phone's processes (they run detached) and remove the temporary roots phones created.
const livePhones = new Set<EmulatedPhone>();
let exitHookInstalled = false;
function cleanUpAtExit(phone: EmulatedPhone): void {
  livePhones.add(phone);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of livePhones) p.powerOffNow();
  });
}

export class EmulatedPhone {
  /** Marks the phone's processes (environment variable value); pkill/pgrep on the phone only see these. */
  readonly id = crypto.randomBytes(6).toString('hex');
  readonly props: Record<string, string>;
  private readonly sandbox: Sandbox;
  private readonly model: PhoneModel;
  private readonly writer: SysfsWriter;
  private readonly meter = new CpuMeter();
  private readonly connections = new Set<AdbConnection>();
  private readonly children = new Set<ChildProcess>();
  private readonly banner: string;
  private server: net.Server | null = null;
  private boundPort: number | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private lastTickMs = 0;
  private readonly ownsRoot: boolean;

  constructor(private readonly options: EmulatedPhoneOptions) {
    this.ownsRoot = options.root === undefined;
    const root = options.root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-phone-'));
    this.sandbox = new Sandbox(root, options.diskQuotaBytes ?? null);
    this.props = phoneProps(options.serialProps, `BF${this.id.toUpperCase()}`);
    this.banner = connectionBanner(this.props, options.features ?? DEFAULT_FEATURES);
    this.model = new PhoneModel({
      cpuCapacity: Math.max(1, Math.min(8, os.availableParallelism())),
      ambientC: options.ambientC,
      startTemperatureC: options.startTemperatureC,
      charging: options.charging,
      currentSign: options.currentSign,
      startLevelPercent: options.batteryLevel,
      throttleC: options.throttleC,
      ...options.power,
    });
    this.writer = new SysfsWriter(path.join(this.sandbox.root, 'sys'));
    installSystemBin(this.sandbox.binDir, this.props, this.id);
    cleanUpAtExit(this);
    this.writeMeminfo(options.memTotalKb ?? DEFAULT_MEM_TOTAL_KB);
    this.writer.write(this.model.files());
  }

  /** The host folder holding the phone's file system. */
  get root(): string {
    return this.sandbox.root;
  }

  /** The listening port, once started. */
  get port(): number | null {
    return this.boundPort;
  }

  /** The serial the adb server gives this phone after `adb connect`. */
  get serial(): string {
    return `${this.options.host ?? '127.0.0.1'}:${this.boundPort ?? this.options.port}`;
  }

  get running(): boolean {
    return this.server !== null;
  }

  async start(): Promise<{ port: number }> {
    if (this.server && this.boundPort !== null) return { port: this.boundPort };
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort ?? this.options.port, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.lastTickMs = performance.now();
    this.ticker = setInterval(() => this.tick(), this.options.tickMs ?? 50);
    this.ticker.unref();
    this.options.log?.('emulated phone listening', { port: this.boundPort, root: this.root });
    return { port: this.boundPort };
  }

  /** Unplugs the phone: closes the listener and every connection now, and ends its processes. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    for (const connection of this.connections) connection.destroy();
    this.connections.clear();
    this.killAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** stop(), then removes the file system if the phone created it (no `root` option). */
  async dispose(): Promise<void> {
    await this.stop();
    this.powerOffNow();
  }

  /**
   * Synchronous last resort (also run when the process exits): kills the phone's processes
   * and removes a root the phone created. The phone cannot be started again afterwards.
   */
  powerOffNow(): void {
    livePhones.delete(this);
    this.killAll();
    if (this.ownsRoot) fs.rmSync(this.sandbox.root, { recursive: true, force: true });
  }

  setCharging(charging: boolean): void {
    this.model.charging = charging;
    this.writer.write(this.model.files());
  }

  /** Sets every thermal zone to this temperature (it then relaxes towards ambient + load heat). */
  setTemperature(celsius: number): void {
    this.model.setTemperature(celsius);
    this.writer.write(this.model.files());
  }

  /** The injected truth: energy of the (lagged) load power over [fromMs, toMs] of performance.now(), J. */
  loadEnergyJ(fromMs: number, toMs: number): number {
    return this.model.loadEnergyJ(fromMs, toMs);
  }

  /** The power model's steps (lagged load power and whole draw, W), newest last. */
  get powerTrace(): readonly PowerTracePoint[] {
    return this.model.trace;
  }

  /** Power of the phone at rest, W. */
  get idleWatts(): number {
    return this.model.idleWatts();
  }

  /** The phone's current sysfs values, keyed by path under /sys. */
  readings(): Record<string, string> {
    return this.model.files();
  }

  private accept(socket: net.Socket): void {
    const connection = new AdbConnection(socket, {
      banner: this.banner,
      unauthorized: this.options.unauthorized ?? false,
      resolveService: (service) => this.resolveService(service),
      log: this.options.log,
    });
    this.connections.add(connection);
    socket.on('close', () => this.connections.delete(connection));
  }

  private resolveService(service: string): ((stream: AdbStream) => void) | null {
    if (service === 'sync:') return (stream) => void new SyncSession(stream, this.sandbox, this.options.log).run();
    const shell = parseShellService(service);
    if (shell) {
      this.options.log?.('shell', { service });
      return (stream) => runShell(stream, shell, {
        sandbox: this.sandbox,
        env: this.shellEnvironment(),
        started: (child) => this.adopt(child),
        log: this.options.log,
      });
    }
    return null;
  }

  private shellEnvironment(): Record<string, string> {
    const tmp = this.sandbox.tmpDir;
    return {
      PATH: [this.sandbox.binDir, path.dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':'),
      HOME: tmp,
      TMPDIR: tmp,
      SHELL: path.join(this.sandbox.binDir, 'sh'),
      USER: 'shell',
      LOGNAME: 'shell',
      HOSTNAME: this.props['ro.product.device'] ?? 'localhost',
      ANDROID_ROOT: '/system',
      ANDROID_DATA: '/data',
      ANDROID_STORAGE: '/storage',
      EXTERNAL_STORAGE: '/sdcard',
      [PHONE_MARKER]: this.id,
    };
  }

  private adopt(child: ChildProcess): void {
    this.children.add(child);
    if (child.pid !== undefined) this.meter.track(child.pid);
    child.on('exit', () => this.children.delete(child));
  }

  private killAll(): void {
    for (const child of this.children) {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // group already gone
      }
    }
    for (const pid of this.meter.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.meter.sample();
  }

  private tick(): void {
    const now = performance.now();
    const dtS = Math.min(1, (now - this.lastTickMs) / 1000);
    this.lastTickMs = now;
    this.model.step(dtS, this.meter.sampleBySession());
    this.writer.write(this.model.files());
  }

  private writeMeminfo(totalKb: number): void {
    const kb = (n: number) => `${String(Math.round(n)).padStart(8)} kB`;
    const lines = [
      `MemTotal:       ${kb(totalKb)}`,
      `MemFree:        ${kb(totalKb * 0.12)}`,
      `MemAvailable:   ${kb(totalKb * 0.41)}`,
      `Buffers:        ${kb(totalKb * 0.002)}`,
      `Cached:         ${kb(totalKb * 0.3)}`,
      `SwapCached:     ${kb(totalKb * 0.004)}`,
      `SwapTotal:      ${kb(totalKb * 0.5)}`,
      `SwapFree:       ${kb(totalKb * 0.38)}`,
    ];
    fs.writeFileSync(path.join(this.sandbox.root, 'proc/meminfo'), `${lines.join('\n')}\n`);
  }
}
