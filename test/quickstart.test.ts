// The quick start as a newcomer runs it: `benchfleet up` on an empty data folder prints the
// dashboard URL and an admin token once, registers this machine as a linux device, and a second
// start reuses the same database and device without printing a token again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cliBin, runCli, tempDir, waitFor } from './support/farm.js';

interface Started { child: ChildProcess; stdout: () => string }

function up(dataDir: string): Started {
  const child = spawn(process.execPath, [cliBin, 'up', '--port', '0', '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.resume();
  return { child, stdout: () => out };
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null) return;
  await new Promise<void>((resolve) => { s.child.once('exit', () => resolve()); s.child.kill('SIGTERM'); });
}

test('benchfleet up: first start prints a token once; a second start reuses database and device', { timeout: 60_000 }, async () => {
  const dataDir = tempDir('up');
  const first = up(dataDir);
  try {
    await waitFor('the local agent to connect', () => first.stdout().includes('local agent connected'), 30_000);
    const url = /listening on (http:\/\/[^\s]+)/.exec(first.stdout())?.[1];
    const token = /admin token \(shown once[^\n]*\n\s+(\S+)/.exec(first.stdout())?.[1];
    assert.ok(url && token, first.stdout());
    assert.match(first.stdout(), new RegExp(`dashboard: ${url.replace(/[.]/g, '\\.')}/`));
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8')) as { token: string };
    assert.equal(creds.token, token);
    assert.equal(fs.statSync(path.join(dataDir, 'credentials.json')).mode & 0o077, 0, 'credentials are private to the user');
    const db = fs.readFileSync(path.join(dataDir, 'benchfleet.db'));
    assert.equal(db.includes(Buffer.from(token)), false, 'the database does not contain the token');
    const list = await runCli(['device', 'list', '--json'], { BENCHFLEET_DATA: dataDir });
    assert.equal(list.code, 0, list.stderr);
    const devices = JSON.parse(list.stdout) as { id: string; driver: string; state: string }[];
    assert.equal(devices.length, 1);
    assert.equal(devices[0]!.driver, 'linux');
    await stop(first);

    const second = up(dataDir);
    try {
      await waitFor('the local agent to reconnect', () => second.stdout().includes('local agent connected'), 30_000);
      assert.doesNotMatch(second.stdout(), /shown once/);
      assert.match(second.stdout(), /admin token: see /);
      const again = JSON.parse((await runCli(['device', 'list', '--json'], { BENCHFLEET_DATA: dataDir })).stdout) as { id: string; state: string }[];
      assert.deepEqual(again.map((d) => d.id), devices.map((d) => d.id), 'the same device');
      assert.equal(again[0]!.state, 'idle');
    } finally {
      await stop(second);
    }
  } finally {
    await stop(first);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('benchfleet up --demo-phone adds an emulated phone that runs models', { timeout: 90_000 }, async () => {
  const dataDir = tempDir('demo');
  const child = spawn(process.execPath, [cliBin, 'up', '--port', '0', '--data', dataDir, '--demo-phone'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.resume();
  const s: Started = { child, stdout: () => out };
  try {
    await waitFor('the demo phone in the farm', async () => {
      if (!out.includes('local agent connected')) return false;
      const list = await runCli(['device', 'list', '--json'], { BENCHFLEET_DATA: dataDir });
      return list.code === 0 && (JSON.parse(list.stdout) as { driver: string; state: string }[]).some((d) => d.driver === 'adb' && d.state === 'idle');
    }, 40_000, 500);
    const model = path.join(path.dirname(cliBin), '..', 'examples/models/kws-cnn-int8.onnx');
    assert.equal((await runCli(['model', 'push', model, '--family', 'kws', '--variant', 'int8'], { BENCHFLEET_DATA: dataDir })).code, 0);
    const run = await runCli(['run', 'submit', '--model', 'kws:int8', '--device', 'os=android', '--iterations', '50', '--min-duration', '2s', '--wait'], { BENCHFLEET_DATA: dataDir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Demo-Phone-\S+\s+succeeded/);
    assert.match(run.stdout, /mJ/, 'battery energy per inference');
  } finally {
    await stop(s);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the README quick start, command by command (shorter timings): push both variants, reference set, two runs, compare', { timeout: 120_000 }, async () => {
  const dataDir = tempDir('readme');
  const started = up(dataDir);
  const cli = (args: string[]) => runCli(args, { BENCHFLEET_DATA: dataDir });
  try {
    await waitFor('the local agent to connect', () => started.stdout().includes('local agent connected'), 30_000);
    const readme = fs.readFileSync(path.join(path.dirname(cliBin), '..', 'README.md'), 'utf8');
    const block = /```sh\n(npx benchfleet model push[\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'the README has the quick-start block');
    // Each command as the README gives it (continuation lines joined, comments dropped), with the
    // timed window shortened so the test stays quick.
    const commands = block.replace(/\\\n\s*/g, '').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
    assert.ok(commands.length >= 5, block);
    for (const line of commands) {
      const args = line.split(/\s+/).slice(2).map((a) => a.replace(/^'(.*)'$/, '$1'))
        .map((a, i, all) => (all[i - 1] === '--min-duration' ? '0s' : all[i - 1] === '--iterations' ? '50' : a));
      const r = await cli(args);
      assert.equal(r.code, 0, `${line}\n${r.stderr}`);
    }
    const cmp = await cli(['compare', '--family', 'kws-cnn', '--json']);
    assert.equal(cmp.code, 0, cmp.stderr);
    const view = JSON.parse(cmp.stdout) as { cells: { variant: string; fidelity_cosine: number | null; vs_parent: { speedup: number | null } | null }[]; recommendations: { variant: string | null }[] };
    const int8 = view.cells.find((c) => c.variant === 'int8')!;
    assert.ok(int8.fidelity_cosine! > 0.99, 'int8 follows fp32 on the reference set');
    assert.ok(int8.vs_parent!.speedup! > 1, `int8 is faster than its parent: ${int8.vs_parent!.speedup}`);
    assert.equal(view.recommendations.length, 1);
  } finally {
    await stop(started);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
