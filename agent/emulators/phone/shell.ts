// The shell services: `shell:<cmd>` (v1: raw bytes, stdout and stderr merged, no exit status),
// `shell,v2,…:<cmd>` (shell protocol packets [id u8][len u32 LE][data]: 0 stdin, 1 stdout,
// 2 stderr, 3 exit, 4 close-stdin, 5 window size) and `exec:<cmd>` (raw, like v1). Commands run
// in the host's /bin/sh inside the sandbox. The process group is hung up (then killed) when the
// host closes the stream before the command ends, as adbd does when its socket goes away.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Readable } from 'node:stream';
import { EndOfStream } from './byte-reader.js';
import type { Sandbox } from './sandbox.js';
import type { AdbStream } from './transport.js';

export const SHELL_STDIN = 0;
export const SHELL_STDOUT = 1;
export const SHELL_STDERR = 2;
export const SHELL_EXIT = 3;
export const SHELL_CLOSE_STDIN = 4;

export interface ShellRequest {
  protocol: 'v1' | 'v2';
  command: string;
  term: string;
}

/** Parses `shell[,arg…]:cmd` and `exec:cmd`; null for other services. */
export function parseShellService(service: string): ShellRequest | null {
  if (service.startsWith('exec:')) return { protocol: 'v1', command: service.slice(5), term: 'dumb' };
  const m = /^shell(,[^:]*)?:([\s\S]*)$/.exec(service);
  if (!m) return null;
  const args = (m[1] ?? '').split(',').filter(Boolean);
  const term = args.find((a) => a.startsWith('TERM='))?.slice(5) ?? 'dumb';
  return { protocol: args.includes('v2') ? 'v2' : 'v1', command: m[2] ?? '', term };
}

export interface ShellHost {
  sandbox: Sandbox;
  /** The environment every phone process starts with. */
  env: Record<string, string>;
  /** Called with every process the phone starts. */
  started(child: ChildProcess): void;
  log?: (message: string, extra?: Record<string, unknown>) => void;
}

function shellPacket(id: number, data: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(id, 0);
  header.writeUInt32LE(data.length, 1);
  return Buffer.concat([header, data]);
}

/** Kills a process group: SIGHUP first, SIGKILL a second later for whatever ignored it. */
export function hangUpGroup(pgid: number, graceMs = 1000): void {
  try {
    process.kill(-pgid, 'SIGHUP');
  } catch {
    return; // the group is already empty
  }
  setTimeout(() => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }, graceMs).unref();
}

export function runShell(stream: AdbStream, request: ShellRequest, host: ShellHost): void {
  const v2 = request.protocol === 'v2';
  const command = host.sandbox.rewriteCommand(request.command);
  const child = spawn('/bin/sh', command ? ['-c', command] : [], {
    cwd: host.sandbox.tmpDir,
    env: { ...host.env, TERM: request.term },
    detached: true, // its own session and process group, so the whole group can be hung up
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const frame = (id: number, data: Buffer) => (v2 ? shellPacket(id, data) : data);

  child.on('error', (err) => {
    void stream.write(frame(SHELL_STDERR, Buffer.from(`error: ${err.message}\n`)));
    if (v2) void stream.write(shellPacket(SHELL_EXIT, Buffer.from([126])));
    void stream.close();
  });
  if (child.pid === undefined) return;
  const pgid = child.pid;
  host.started(child);

  forward(child.stdout, SHELL_STDOUT);
  forward(child.stderr, SHELL_STDERR);
  function forward(readable: Readable, id: number): void {
    const rewriter = host.sandbox.outputRewriter();
    readable.on('data', (chunk: Buffer) => {
      const out = rewriter.push(chunk);
      if (out.length === 0) return;
      readable.pause();
      void stream.write(frame(id, out)).then(() => readable.resume());
    });
    readable.on('end', () => {
      const rest = rewriter.flush();
      if (rest.length) void stream.write(frame(id, rest));
    });
  }

  child.on('close', (code, signal) => {
    const status = code ?? (signal ? 0x80 | (os.constants.signals[signal] ?? 0) : 1);
    if (v2) void stream.write(shellPacket(SHELL_EXIT, Buffer.from([status & 0xff])));
    void stream.close();
  });

  stream.onClose((reason) => {
    if (reason !== 'local') hangUpGroup(pgid);
  });

  child.stdin.on('error', () => {}); // EPIPE when the command does not read its input
  const toStdin = (data: Buffer) => new Promise<void>((resolve) => {
    if (!child.stdin.writable) resolve();
    else child.stdin.write(data, () => resolve());
  });
  void (async () => {
    try {
      if (!v2) {
        for (let data = await stream.input.readSome(); data; data = await stream.input.readSome()) await toStdin(data);
        return;
      }
      for (;;) {
        const header = await stream.input.read(5);
        const data = await stream.input.read(header.readUInt32LE(1));
        const id = header.readUInt8(0);
        if (id === SHELL_STDIN) await toStdin(data);
        else if (id === SHELL_CLOSE_STDIN) child.stdin.end();
        // window-size changes (5) mean nothing without a pty
      }
    } catch (err) {
      if (!(err instanceof EndOfStream)) host.log?.('shell input failed', { error: (err as Error).message });
    }
  })();
}
