// Runs a configured runner command on the local host (benchmark_model, llama-bench, a custom
// JSON-lines runner on a Raspberry Pi…): its own process group in a temporary job folder, output
// followed line by line, the whole group killed on cancel or timeout, the folder removed after.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunnerProfile } from '../adb/config.js';
import { expandCommand, RunnerWatcher } from '../../runners/command.js';
import type { ParsedRun } from '../../runners/parsers/index.js';
import { JobFailure, type JobContext } from '../driver.js';

/**
 * Runs `$1` with stdin from /dev/null, beside a watcher holding the agent's stdin pipe (fd 3, as an
 * asynchronous list's own stdin is /dev/null): at end of file it kills the process group (`kill 0`).
 */
const GROUP_WATCHER = 'exec 3<&0; ( cat <&3 >/dev/null 2>&1; kill -KILL 0 ) >/dev/null 2>&1 </dev/null & exec 3<&-; exec /bin/sh -c "$1" </dev/null';

export async function runLocalCommand(
  ctx: JobContext, profile: RunnerProfile, onWindow?: (edge: 'start' | 'end', iterations: number) => void,
): Promise<ParsedRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `benchfleet-job-${ctx.job.job_id}-`));
  try {
    const inputs = path.join(dir, 'inputs.json');
    fs.writeFileSync(inputs, JSON.stringify(ctx.job.settings.inputs));
    if (Object.keys(ctx.job.settings.inputs).length > 0 && !profile.command.includes('{inputs}')) {
      throw new JobFailure('invalid_input_spec', `the ${ctx.job.runtime} runner command takes no input overrides (no {inputs} placeholder)`);
    }
    let reference: string | null = null;
    if (ctx.job.reference && profile.command.includes('{reference}')) {
      reference = path.join(dir, 'reference.json');
      fs.writeFileSync(reference, JSON.stringify(ctx.job.reference.set));
    }
    const command = expandCommand(profile.command, ctx.job.settings, { model: ctx.modelPath, dir, runner: profile.binary ?? null, inputs, reference });
    const watcher = new RunnerWatcher(ctx.progress, onWindow);
    const tracked = ctx.runners?.prepare();
    // Its own process group, with a watcher in it that kills the whole group when the agent's end
    // of the stdin pipe closes — the agent died — so no runner outlives its agent.
    const child = spawn('/bin/sh', ['-c', GROUP_WATCHER, 'benchfleet-runner', command], {
      cwd: dir, detached: true, stdio: ['pipe', 'pipe', 'pipe'], ...(tracked ? { env: tracked.env } : {}),
    });
    if (tracked && child.pid !== undefined) ctx.runners!.started(tracked.marker, child.pid, { kind: 'command', jobId: ctx.job.job_id, attempt: ctx.job.attempt });
    child.stdin.on('error', () => {}); // the group may be gone before the agent lets go of the pipe
    let pending = '';
    const onData = (d: Buffer) => {
      pending += d.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) watcher.line(l.replace(/\r$/, ''));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    ctx.signal.addEventListener('abort', kill, { once: true });
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', (err) => reject(new JobFailure('runner_failed', `could not start the runner: ${err.message}`)));
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
    ctx.signal.removeEventListener('abort', kill);
    kill(); // nothing the runner started may outlive the job
    child.stdin.destroy();
    if (tracked) ctx.runners!.finished(tracked.marker);
    if (pending) watcher.line(pending.replace(/\r$/, ''));
    if (ctx.signal.aborted) throw new JobFailure(ctx.signal.reason === 'timeout' ? 'timed_out' : 'canceled', String(ctx.signal.reason));
    return watcher.finish(profile.parser, exitCode);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
