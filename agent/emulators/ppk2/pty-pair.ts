// A pseudo-terminal pair joined by socat: bytes written to one end come out of the other, and
// both ends are real tty devices that `serialport` opens like a USB CDC port. The emulated
// instrument opens one end, the driver under test the other.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PtyPair {
  /** Symlink to the first pty (conventionally the emulator's end). */
  a: string;
  /** Symlink to the second pty (the host / driver end). */
  b: string;
  /** Pid of the socat process. */
  pid: number;
  /** Stops socat (the links disappear) and removes the folder if openPtyPair created it. */
  close(): Promise<void>;
}

export const SOCAT_MISSING = 'socat is not installed (needed for the emulated serial link): apt-get install socat';

/**
 * Spawns `socat -d -d pty,raw,echo=0,link=<dir>/a pty,raw,echo=0,link=<dir>/b` and resolves once
 * both links exist and socat reports its transfer loop started.
 */
export async function openPtyPair(opts: { dir?: string; timeoutMs?: number } = {}): Promise<PtyPair> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-pty-'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const timeoutMs = opts.timeoutMs ?? 5000;
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 8192) stderr += s;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | null = null;
  void exited.then((info) => {
    exitInfo = info;
  });

  const cleanupDir = (): void => {
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
  };
  const close = async (): Promise<void> => {
    if (exitInfo === null && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 1000);
      await exited;
      clearTimeout(killer);
    }
    cleanupDir();
  };

  const deadline = Date.now() + timeoutMs;
  while (true) {
    const info = exitInfo as { code: number | null; signal: NodeJS.Signals | null; error?: Error } | null;
    if (info !== null) {
      cleanupDir();
      if (info.error && (info.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(SOCAT_MISSING);
      throw new Error(`socat exited before the pty pair was ready (code ${info.code}, signal ${info.signal}): ${info.error?.message ?? stderr.trim()}`);
    }
    if (fs.existsSync(a) && fs.existsSync(b) && stderr.includes('starting data transfer loop')) break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`socat did not create ${a} and ${b} within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { a, b, pid: child.pid!, close };
}
