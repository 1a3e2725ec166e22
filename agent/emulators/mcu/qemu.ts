// Starts the emulated MCU board: qemu-system-arm running a firmware image, its UART on a
// pseudo-terminal. QEMU runs detached (it outlives the caller, like a flashed board), its output
// goes to a log file, and the pty it announces ("char device redirected to /dev/pts/N") is
// published through a stable symlink, so agent configs can name one path across restarts. A
// pidfile records the instance: starting again kills the previous one first ("reflashing").
// A QMP socket beside it allows a board reset.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { procStatFields } from '../proc.js';

export const DEFAULT_MACHINE = 'mps2-an385';
/** Each guest instruction takes 2^6 ns = 64 ns of virtual time: 1.6 cycles of the board's 25 MHz clock. */
export const DEFAULT_ICOUNT_SHIFT = 6;
export const QEMU_INSTALL_HINT = 'apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm';

export interface QemuOptions {
  /** Firmware image (ELF) to run. */
  image: string;
  machine?: string;
  /** -icount shift: deterministic virtual time, 2^shift ns per instruction. null: no -icount. */
  icountShift?: number | null;
  /** Symlink to point at the pty (replaced atomically). */
  link?: string;
  /** Records the QEMU pid; a live QEMU recorded there is stopped first. Default `<link>.pid` with a link. */
  pidfile?: string;
  /** QEMU's stdout/stderr. Default `<link>.log`, or a file in a temp directory. */
  logFile?: string;
  /** QMP control socket. Default `<link>.qmp`, or beside the log file. */
  qmpSocket?: string;
  qemuBinary?: string;
  startTimeoutMs?: number;
  extraArgs?: string[];
}

export interface QemuInstance {
  pid: number;
  /** The pseudo-terminal, e.g. /dev/pts/3. */
  pty: string;
  link: string | undefined;
  pidfile: string | undefined;
  logFile: string;
  qmpSocket: string;
  args: string[];
  /** Stops QEMU (SIGTERM, then SIGKILL) and removes the link and pidfile if they are still ours. */
  stop(): Promise<void>;
  /** Runs a QMP command, e.g. system_reset, stop, cont. */
  qmp(command: string, args?: Record<string, unknown>): Promise<unknown>;
}

/** Where a pidfile/link/log/qmp set lives by default. */
function defaults(opts: QemuOptions): { pidfile: string | undefined; logFile: string; qmpSocket: string } {
  let logFile = opts.logFile;
  if (!logFile) logFile = opts.link ? `${opts.link}.log` : path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-qemu-')), 'qemu.log');
  const pidfile = opts.pidfile ?? (opts.link ? `${opts.link}.pid` : undefined);
  const qmpSocket = opts.qmpSocket ?? (opts.link ? `${opts.link}.qmp` : path.join(path.dirname(logFile), 'qemu.qmp'));
  return { pidfile, logFile, qmpSocket };
}

export function qemuArgs(opts: QemuOptions & { qmpSocket: string }): string[] {
  const args = [
    '-M', opts.machine ?? DEFAULT_MACHINE,
    '-nodefaults', '-display', 'none', '-net', 'none',
    '-serial', 'pty',
    '-qmp', `unix:${opts.qmpSocket},server=on,wait=off`,
  ];
  const shift = opts.icountShift === undefined ? DEFAULT_ICOUNT_SHIFT : opts.icountShift;
  if (shift !== null) args.push('-icount', `shift=${shift}`);
  args.push('-kernel', path.resolve(opts.image), ...(opts.extraArgs ?? []));
  return args;
}

/** A live (not zombie) process. */
export function isAlive(pid: number): boolean {
  const fields = procStatFields(pid);
  return fields !== null && fields[0] !== 'Z';
}

function isQemu(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.includes('qemu-system');
  } catch {
    return false;
  }
}

/** Stops one QEMU process: SIGTERM, then SIGKILL after `graceMs`. Resolves true once it is gone. */
export async function stopPid(pid: number, graceMs = 2000): Promise<boolean> {
  if (!isAlive(pid)) return true;
  try { process.kill(pid, 'SIGTERM'); } catch { return !isAlive(pid); }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(20);
  if (isAlive(pid)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    const hard = Date.now() + 2000;
    while (isAlive(pid) && Date.now() < hard) await sleep(20);
  }
  return !isAlive(pid);
}

/** Stops the QEMU recorded in a pidfile (only if that pid really is a QEMU) and removes the pidfile. */
export async function stopFromPidfile(pidfile: string): Promise<number | null> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
  } catch {
    return null;
  }
  fs.rmSync(pidfile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !isQemu(pid)) return null;
  await stopPid(pid);
  return pid;
}

function replaceSymlink(target: string, link: string): void {
  const tmp = `${link}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link);
}

const PTY_LINE = /char device redirected to (\/dev\/pts\/\d+) \(label ([^)]+)\)/;

export async function startQemu(opts: QemuOptions): Promise<QemuInstance> {
  if (!fs.existsSync(opts.image)) throw new Error(`firmware image not found: ${opts.image}`);
  const { pidfile, logFile, qmpSocket } = defaults(opts);
  if (pidfile) await stopFromPidfile(pidfile);
  fs.rmSync(qmpSocket, { force: true });
  const args = qemuArgs({ ...opts, qmpSocket });
  const binary = opts.qemuBinary ?? 'qemu-system-arm';
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const logFd = fs.openSync(logFile, 'w');
  let spawnError: Error | null = null;
  let exited: number | string | null = null;
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  child.on('error', (err) => { spawnError = err; });
  child.on('exit', (code, signal) => { exited = signal ?? code ?? -1; });
  child.unref();

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  let pty: string | null = null;
  for (;;) {
    const err = spawnError as (Error & { code?: string }) | null;
    if (err) {
      throw new Error(err.code === 'ENOENT' ? `${binary} not found: ${QEMU_INSTALL_HINT}` : `cannot start ${binary}: ${err.message}`);
    }
    const log = fs.readFileSync(logFile, 'utf8');
    const m = PTY_LINE.exec(log);
    if (m) { pty = m[1]!; break; }
    if (exited !== null) throw new Error(`${binary} exited (${exited}) before opening its serial port:\n${log.trim()}`);
    if (Date.now() > deadline) {
      if (child.pid) await stopPid(child.pid);
      throw new Error(`${binary} did not announce its serial pty within ${opts.startTimeoutMs ?? 10_000} ms:\n${log.trim()}`);
    }
    await sleep(10);
  }
  const pid = child.pid!;
  if (opts.link) replaceSymlink(pty, opts.link);
  if (pidfile) fs.writeFileSync(pidfile, `${pid}\n`);

  return {
    pid, pty, link: opts.link, pidfile, logFile, qmpSocket, args: [binary, ...args],
    async stop() {
      await stopPid(pid);
      if (pidfile) {
        try {
          if (Number(fs.readFileSync(pidfile, 'utf8').trim()) === pid) fs.rmSync(pidfile, { force: true });
        } catch { /* gone already */ }
      }
      if (opts.link) {
        try {
          if (fs.readlinkSync(opts.link) === pty) fs.rmSync(opts.link, { force: true });
        } catch { /* gone already */ }
      }
      fs.rmSync(qmpSocket, { force: true });
    },
    qmp: (command, qmpArgs) => qmpCommand(qmpSocket, command, qmpArgs),
  };
}

/** One QMP command over QEMU's control socket: greeting, qmp_capabilities, the command. */
export function qmpCommand(socketPath: string, command: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buf = '';
    let stage = 0;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`QMP ${command}: no answer within ${timeoutMs} ms`)); }, timeoutMs);
    const done = (err: Error | null, value?: unknown) => {
      clearTimeout(timer);
      sock.end();
      if (err) reject(err); else resolve(value);
    };
    sock.on('error', (err) => done(new Error(`QMP ${command}: ${err.message}`)));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc?: string }; event?: string };
        if (msg.event) continue;
        if (msg.error) { done(new Error(`QMP ${command}: ${msg.error.desc ?? 'error'}`)); return; }
        if (stage === 0 && msg.QMP) {
          stage = 1;
          sock.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
        } else if (stage === 1 && 'return' in msg) {
          stage = 2;
          sock.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
        } else if (stage === 2 && 'return' in msg) {
          done(null, msg.return);
        }
      }
    });
  });
}
