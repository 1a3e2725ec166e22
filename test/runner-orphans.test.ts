// Runners die with their agent (issue 10, item 5), checked on real processes: a real agent
// process is SIGKILLed mid-job and /proc is scanned for the runners it started (every runner
// carries BENCHFLEET_RUNNER=<agent data folder>#<uuid> in its environment, inherited by whatever
// it starts). The ONNX worker exits when its IPC channel closes, a runner command's process group
// is killed by its watcher, and leftovers recorded in the data folder are reaped at the next start
// — but only processes that still carry the recorded marker, never a reused pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { markedProcesses, RUNNER_MARKER } from '../agent/runners/registry.js';
import type { RunView } from '../protocol/api.js';
import { repoRoot, startFarm, waitFor } from './support/farm.js';

const fp32 = path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx');

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** The live processes started as runners by the agent whose data folder is `agentData`. */
function runnersOf(agentData: string): { pid: number; cmd: string }[] {
  return markedProcesses((v) => v.startsWith(`${agentData}#`)).map(({ pid }) => ({ pid, cmd: cmdline(pid) })).filter((p) => p.cmd !== '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\S+\s+\S+\s+Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/\(.*\)/, 'x')); // a zombie is dead
  } catch {
    return false;
  }
}

test('an agent SIGKILLed mid-job leaves no ONNX worker behind; the retry runs alone', { timeout: 120_000 }, async () => {
  const farm = await startFarm({ agent: true, policy: { leaseMs: 1500, backoffBaseMs: 100 } });
  const agentData = path.join(farm.dataDir, 'agent');
  try {
    assert.equal((await farm.cli(['model', 'push', fp32, '--family', 'kws-cnn', '--variant', 'fp32'])).code, 0);
    const run = (await farm.api<RunView>('POST', '/runs', { model: 'kws-cnn:fp32', device: '*', settings: { warmup: 1, iterations: 10, min_duration_ms: 6000 } })).body;
    const jobId = run.jobs![0]!.id;
    await waitFor('the measuring phase', async () => (await farm.api<{ progress: { phase: string } | null }>('GET', `/jobs/${jobId}`)).body.progress?.phase === 'measuring', 30_000);
    const before = runnersOf(agentData);
    assert.equal(before.length, 1, `one runner: ${JSON.stringify(before)}`);
    const ghost = before[0]!;
    assert.match(ghost.cmd, /runners\/onnx\/worker\.js/);
    assert.ok(fs.readdirSync(path.join(agentData, 'runners')).some((f) => f.endsWith('.json')), 'the agent recorded the runner it started');

    const killedAt = Date.now();
    await farm.stopAgent('SIGKILL');
    // The worker must not keep measuring (and burning the CPU) for the rest of its 6 s window.
    await waitFor('the orphaned worker to exit', () => !alive(ghost.pid), 2000, 20);
    const ghostLivedMs = Date.now() - killedAt;

    // Restart and watch every runner of this agent until the retry is done.
    await farm.startAgent();
    const seen = new Map<number, string>();
    let most = 0;
    const final = await waitFor('the retried job to finish', async () => {
      const now = runnersOf(agentData);
      for (const p of now) seen.set(p.pid, p.cmd);
      most = Math.max(most, now.length);
      if (alive(ghost.pid)) throw new Error(`the first attempt's worker ${ghost.pid} is still running`);
      const job = (await farm.api<{ status: string; attempt: number; environment: Record<string, unknown> | null }>('GET', `/jobs/${jobId}`)).body;
      return ['succeeded', 'failed'].includes(job.status) ? job : null;
    }, 40_000, 50);
    assert.equal(final.status, 'succeeded');
    assert.equal(final.attempt, 2);
    assert.equal(most, 1, `the retry ran alone: ${JSON.stringify([...seen])}`);
    assert.ok(![...seen.keys()].includes(ghost.pid));
    assert.deepEqual(runnersOf(agentData), [], 'nothing left after the job');
    assert.deepEqual(fs.readdirSync(path.join(agentData, 'runners')).filter((f) => f.endsWith('.json')), [], 'records removed');
    console.log(`# orphaned ONNX worker exited ${ghostLivedMs} ms after the agent was SIGKILLed (its window had ~6 s left)`);
  } finally {
    await farm.stop();
  }
});

test('a runner command and what it started die with a SIGKILLed agent', { timeout: 60_000 }, async () => {
  const farm = await startFarm({ policy: { leaseMs: 1500, backoffBaseMs: 100 } });
  const agentData = path.join(farm.dataDir, 'agent');
  try {
    const config = path.join(farm.dataDir, 'agent.json');
    // A runner that starts a grandchild in the background and waits: both are in its process group.
    fs.writeFileSync(config, JSON.stringify({ linux: { runners: { tflite: { parser: 'benchmark_model', command: 'test -s {model} && { sleep 171 & sleep 172; }' } } } }));
    await farm.startAgent({ config });
    const model = path.join(farm.dataDir, 'm.tflite');
    fs.writeFileSync(model, Buffer.concat([Buffer.from([0x1c, 0, 0, 0]), Buffer.from('TFL3'), Buffer.alloc(64)]));
    assert.equal((await farm.cli(['model', 'push', model, '--family', 'tfl', '--variant', 'v1'])).code, 0);
    const run = (await farm.api<RunView>('POST', '/runs', { model: 'tfl:v1', device: '*', runtime: 'tflite', max_attempts: 1 })).body;
    assert.ok(run.jobs?.[0], JSON.stringify(run));
    const procs = await waitFor('both sleeps', () => {
      const p = runnersOf(agentData).filter((x) => /^sleep 17[12]$/.test(x.cmd));
      return p.length === 2 ? p : null;
    }, 30_000);
    await farm.stopAgent('SIGKILL');
    await waitFor('the runner\'s process group to be gone', () => procs.every((p) => !alive(p.pid)), 3000, 20);
    assert.deepEqual(runnersOf(agentData), []);
  } finally {
    await farm.stop();
  }
});

test('at start the agent reaps recorded runners that survived it, and only those (pid reuse)', { timeout: 60_000 }, async () => {
  const farm = await startFarm();
  const agentData = path.join(farm.dataDir, 'agent');
  const started: ChildProcess[] = [];
  try {
    const dir = path.join(agentData, 'runners');
    fs.mkdirSync(dir, { recursive: true });
    const record = (marker: string, pid: number) => fs.writeFileSync(path.join(dir, `${marker.split('#')[1]}.json`), JSON.stringify({
      marker, pid, pgid: pid, kind: 'command', jobId: 'job_x', attempt: 1, agentPid: 999_999, startedAt: new Date().toISOString(),
    }));
    // A leftover runner (with a grandchild in its group), as a killed agent leaves it when the watcher could not run.
    const marker = `${agentData}#00000000-0000-4000-8000-000000000001`;
    const leftover = spawn('/bin/sh', ['-c', 'sleep 181 & sleep 182'], { detached: true, stdio: 'ignore', env: { ...process.env, [RUNNER_MARKER]: marker } });
    started.push(leftover);
    record(marker, leftover.pid!);
    // A record whose pid now belongs to an unrelated process (no marker): it must survive.
    const unrelated = spawn('sleep', ['183'], { detached: true, stdio: 'ignore' });
    started.push(unrelated);
    record(`${agentData}#00000000-0000-4000-8000-000000000002`, unrelated.pid!);
    // Same pid, someone else's marker (another agent on this host): also not ours to kill.
    const other = spawn('sleep', ['184'], { detached: true, stdio: 'ignore', env: { ...process.env, [RUNNER_MARKER]: '/elsewhere#00000000-0000-4000-8000-000000000003' } });
    started.push(other);
    record(`${agentData}#00000000-0000-4000-8000-000000000003`, other.pid!);
    const grandchild = await waitFor('the leftover\'s grandchild', () => runnersOf(agentData).find((p) => p.cmd === 'sleep 181'), 5000);

    await farm.startAgent();
    await waitFor('the leftovers to be killed', () => !alive(leftover.pid!) && !alive(grandchild.pid), 5000, 20);
    assert.ok(alive(unrelated.pid!), 'a reused pid is left alone');
    assert.ok(alive(other.pid!), 'another agent\'s runner is left alone');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.json')), [], 'the records are cleared');
    assert.match(fs.readFileSync(path.join(farm.dataDir, 'agent.log'), 'utf8'), /killed runner processes left by a previous agent/);
  } finally {
    for (const c of started) { try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ } }
    await farm.stop();
  }
});
