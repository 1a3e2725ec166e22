// A private adb server for tests (its own port, emulator scanning off) so tests never touch a
// developer's default server on 5037; fails with install instructions when adb is missing.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ADB = '/usr/bin/adb';

export async function freePort(avoid: (p: number) => boolean = (p) => p >= 5554 && p <= 5586): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (!avoid(port)) return port;
  }
}

export interface AdbServer {
  port: number;
  adb(args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  stop(): Promise<void>;
}

export async function startAdbServer(): Promise<AdbServer> {
  if (!fs.existsSync(ADB)) throw new Error('adb not found: install it with `apt-get install -y adb`');
  const port = await freePort();
  const env = { ...process.env, ADB_EMU: '0' };
  const adb = async (args: string[]) => {
    try {
      const r = await run(ADB, ['-P', String(port), ...args], { env, timeout: 60_000 });
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number };
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
    }
  };
  const started = await adb(['start-server']);
  if (started.code !== 0) throw new Error(`adb start-server failed: ${started.stderr}`);
  return { port, adb, stop: async () => { await adb(['kill-server']); } };
}
