// What the multi-process benchmarks (bench/scale.ts, bench/large-result.ts) share: a clock that
// agrees across processes, nearest-rank quantiles, waiting for a child's IPC message, and the
// server under test in its own process (bench/scale/server.ts) with its API and its own figures.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** Milliseconds since the epoch with sub-millisecond resolution, comparable between processes. */
export const now = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank quantile (NaN for no values). */
export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
}

/** The next IPC message of `type` from a child; a `fatal` message or the child's exit rejects. */
export function once<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited with ${code} before ${type}`));
    const onMsg = (m: { type: string; message?: string }) => {
      if (m.type !== type && m.type !== 'fatal') return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      if (m.type === type) resolve(m as T);
      else reject(new Error(m.message ?? JSON.stringify(m)));
    };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** The first admin token. */
  token: string;
  /** The server's own figures (CPU, RSS, result times, event-loop delay) since the previous call. */
  stats<T>(): Promise<T>;
  api<T>(method: string, route: string, body?: unknown, raw?: Buffer): Promise<T>;
  stop(): void;
}

/** Starts bench/scale/server.js on `dataDir` (another build's server with `serverDist`). */
export async function startServerProcess(dataDir: string, opts: { serverDist?: string | undefined; profileDir?: string | undefined } = {}): Promise<ServerProcess> {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const child = fork(path.join(here, 'server.js'), [dataDir, ...(opts.serverDist ? [opts.serverDist] : [])], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [],
  });
  const { url, token } = await once<{ url: string; token: string }>(child, 'ready');
  let statsId = 0;
  return {
    child, url, token,
    stats<T>() {
      const id = ++statsId;
      const answer = new Promise<T>((resolve) => {
        const onMsg = (m: { type: string; id: number }) => { if (m.type === 'stats' && m.id === id) { child.off('message', onMsg); resolve(m as T); } };
        child.on('message', onMsg);
      });
      child.send({ type: 'stats', id });
      return answer;
    },
    async api<T>(method: string, route: string, body?: unknown, raw?: Buffer): Promise<T> {
      const res = await fetch(`${url}/api/v1${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': raw ? 'application/octet-stream' : 'application/json' },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await res.text();
      if (res.status >= 400) throw new Error(`${method} ${route}: ${res.status} ${text}`);
      return (text ? JSON.parse(text) : null) as T;
    },
    stop() { child.send({ type: 'stop' }); },
  };
}
