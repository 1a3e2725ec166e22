// A thin, promise-based view of one phone through adbkit and the adb server: run a shell
// command and learn its exit status (adbkit's shell is v1, so an explicit end marker is
// appended — a dropped phone otherwise looks like a successful, truncated command), stream a
// long-running command line by line, and push files.
import type { Duplex } from 'node:stream';
import adbkit from '@devicefarmer/adbkit';
import { JobFailure } from '../driver.js';

export type AdbClient = ReturnType<typeof adbkit.Adb.createClient>;
type DeviceClient = ReturnType<AdbClient['getDevice']>;

const END_MARKER = '__BF_RC=';

/** Quotes a string for a POSIX shell (the phone's /system/bin/sh). */
export function shq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface ShellResult { output: string; exitCode: number }

export class Phone {
  readonly device: DeviceClient;
  constructor(readonly client: AdbClient, readonly serial: string) {
    this.device = client.getDevice(serial);
  }

  private async open(command: string): Promise<Duplex> {
    try {
      return await this.device.shell(`${command}; echo ${END_MARKER}$?`);
    } catch (err) {
      throw lostPhone(this.serial, err);
    }
  }

  /** Runs a short command and collects its output; throws device_unavailable if the phone drops mid-way. */
  async exec(command: string, timeoutMs = 30_000): Promise<ShellResult> {
    const stream = await this.open(command);
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { stream.destroy(); reject(new JobFailure('device_unavailable', `${this.serial}: "${command.slice(0, 80)}" did not finish in ${timeoutMs} ms`)); }, timeoutMs);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => { clearTimeout(timer); resolve(); });
      stream.on('error', (err) => { clearTimeout(timer); reject(lostPhone(this.serial, err)); });
    });
    return splitMarker(this.serial, Buffer.concat(chunks).toString('utf8'));
  }

  /** Like exec, but a non-zero exit status is an error carrying the output. */
  async run(command: string, timeoutMs?: number): Promise<string> {
    const r = await this.exec(command, timeoutMs);
    if (r.exitCode !== 0) throw new Error(`"${command.slice(0, 120)}" exited ${r.exitCode}: ${r.output.trim().slice(-500)}`);
    return r.output;
  }

  /**
   * Streams a long-running command: calls onLine for every output line (CR stripped) as it
   * arrives. Resolves with the exit status once the end marker arrives; `stop()` closes the stream.
   */
  async stream(command: string, onLine: (line: string) => void): Promise<{ done: Promise<ShellResult>; stop(): void; write(text: string): void }> {
    const stream = await this.open(command);
    let pending = '';
    let all = '';
    const done = new Promise<ShellResult>((resolve, reject) => {
      stream.on('data', (c: Buffer) => {
        const text = c.toString('utf8');
        all += text;
        pending += text;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (!line.startsWith(END_MARKER)) onLine(line.replace(/\r$/, ''));
      });
      stream.on('end', () => {
        if (pending && !pending.startsWith(END_MARKER)) onLine(pending.replace(/\r$/, ''));
        try { resolve(splitMarker(this.serial, all)); } catch (err) { reject(err as Error); }
      });
      stream.on('error', (err) => reject(lostPhone(this.serial, err)));
    });
    return { done, stop: () => stream.end(), write: (text: string) => { if (stream.writable) stream.write(text); } };
  }

  async push(localPath: string, remotePath: string, mode = 0o755): Promise<void> {
    let transfer;
    try {
      transfer = await this.device.push(localPath, remotePath, mode);
    } catch (err) {
      throw lostPhone(this.serial, err);
    }
    await new Promise<void>((resolve, reject) => {
      transfer.on('end', () => resolve());
      transfer.on('error', (err: Error) => reject(new JobFailure('push_failed', `pushing to ${this.serial}:${remotePath} failed: ${err.message}`)));
    });
  }

  async state(): Promise<string> {
    const list = await this.client.listDevices();
    return (list as { id: string; type: string }[]).find((d) => d.id === this.serial)?.type ?? 'absent';
  }
}

function splitMarker(serial: string, text: string): ShellResult {
  const at = text.lastIndexOf(END_MARKER);
  if (at < 0) throw new JobFailure('device_unavailable', `${serial} stopped answering in the middle of a command (unplugged?)`);
  const exitCode = Number(/^(\d+)/.exec(text.slice(at + END_MARKER.length))?.[1] ?? 255);
  return { output: text.slice(0, at).replace(/\r\n/g, '\n'), exitCode };
}

function lostPhone(serial: string, err: unknown): JobFailure {
  const message = (err as Error)?.message ?? String(err);
  if (/unauthorized/i.test(message)) return new JobFailure('device_unauthorized', `${serial}: ${message}; accept the USB debugging prompt on the phone`);
  return new JobFailure('device_unavailable', `${serial}: ${message}`);
}
