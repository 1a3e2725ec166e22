// Board commands from the agent config (flash, power_on, power_off, reset): a template whose
// {placeholders} are filled in, run with `sh -c` so that pipelines and `&&` work (e.g. objcopy to
// a .bin before st-flash). Values are inserted as they are when they consist of safe characters
// (paths, numbers), and single-quoted otherwise, so a template may also put them inside its own
// quotes (openocd -c "program {image} verify reset exit"). The command runs in its own process
// group; a timeout or an abort kills the whole group. The values are also in the environment as
// BENCHFLEET_<NAME> (BENCHFLEET_IMAGE, BENCHFLEET_PORT, …).
import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last few KiB of stdout and stderr, interleaved. */
  output: string;
  ms: number;
  timedOut: boolean;
  aborted: boolean;
}

const SAFE = /^[A-Za-z0-9_./:@%+=,-]+$/;

export function shellQuote(value: string): string {
  return SAFE.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Fills {name} placeholders; unknown ones are left as they are. */
export function expandBoardCommand(template: string, values: Record<string, string | number | undefined>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = values[key];
    return v === undefined ? whole : shellQuote(String(v));
  });
}

const KEEP = 8 * 1024;

/** Runs an expanded command; never throws for a failing command (see code, timedOut, aborted). */
export function runBoardCommand(
  command: string,
  opts: { timeoutMs: number; signal?: AbortSignal; env?: Record<string, string> },
): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    let aborted = false;
    let settled = false;
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env },
    });
    const append = (d: Buffer) => {
      output += d.toString('utf8');
      if (output.length > 2 * KEEP) output = output.slice(-KEEP);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const killGroup = () => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    };
    const timer = setTimeout(() => { timedOut = true; killGroup(); }, opts.timeoutMs);
    const onAbort = () => { aborted = true; killGroup(); };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal, output: output.slice(-KEEP).trim(), ms: Math.round(performance.now() - started), timedOut, aborted });
    };
    child.on('error', (err) => { append(Buffer.from(`${err.message}\n`)); finish(127, null); });
    // A daemon left behind (e.g. an emulator the flash command starts) may keep the pipes open:
    // the exit status decides, the remaining output gets a short grace period.
    child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 100));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** One line for error messages: what failed and the tail of its output. */
export function describeFailure(what: string, r: CommandResult, timeoutMs: number): string {
  const why = r.timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : r.signal ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
  const tail = r.output.split('\n').slice(-6).join(' | ').slice(-600);
  return `${what} ${why}${tail ? `: ${tail}` : ''}`;
}
