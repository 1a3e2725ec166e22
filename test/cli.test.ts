// CLI tests: the real `benchfleet` binary against a real server and agent — help, the quick-start
// path (push, submit --wait with its table), JSON output, export, and one-line errors with exit codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, runCli, startFarm, tempDir, waitFor, type Farm } from './support/farm.js';

let farm: Farm;
const fp32 = path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx');

before(async () => { farm = await startFarm({ agent: true }); });
after(async () => { await farm.stop(); });

test('--help lists the commands and exit codes; unknown commands exit 2', async () => {
  const help = await runCli(['--help'], {});
  assert.equal(help.code, 0);
  for (const cmd of ['up', 'server', 'agent', 'device', 'model', 'run', 'results', 'token']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
  assert.match(help.stdout, /Exit codes/);
  const submitHelp = await runCli(['run', 'submit', '--help'], {});
  assert.match(submitHelp.stdout, /--min-duration/);
  const bad = await runCli(['frobnicate'], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command/);
});

test('the quick-start path: push, submit --wait, results table, export', { timeout: 120_000 }, async () => {
  const push = await farm.cli(['model', 'push', fp32, '--family', 'kws-cnn', '--variant', 'fp32']);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /stored: kws-cnn:fp32 onnx/);
  const again = await farm.cli(['model', 'push', fp32, '--family', 'kws-cnn', '--variant', 'fp32']);
  assert.match(again.stdout, /already stored/);

  const run = await farm.cli(['run', 'submit', '--model', 'kws-cnn:fp32', '--device', 'testbox', '--runtime', 'onnxruntime',
    '--warmup', '5', '--iterations', '100', '--min-duration', '1s', '--threads', '1', '--wait']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /testbox: (assigned|running)/, 'progress while waiting');
  const lines = run.stdout.trim().split('\n');
  assert.match(lines[1] ?? '', /^DEVICE\s+STATUS\s+MEDIAN ms\s+P90 ms\s+P99 ms\s+MEAN ± 95% CI/);
  const row = lines.find((l) => l.startsWith('testbox'));
  assert.ok(row, run.stdout);
  const cells = row.split(/\s{2,}/);
  assert.equal(cells[1], 'succeeded');
  const median = Number(cells[2]);
  assert.ok(median > 0 && median < 1000, `median ${cells[2]}`);
  assert.match(row, /MiB/, 'peak memory');

  const runId = /^run (run_\w+)/.exec(run.stdout)?.[1];
  assert.ok(runId);
  const json = await farm.cli(['run', 'show', runId, '--json']);
  const view = JSON.parse(json.stdout) as { jobs: { measurements: { metric: string; median: number }[] }[] };
  const lat = view.jobs[0]!.measurements.find((m) => m.metric === 'latency_ms')!;
  assert.equal(Number(lat.median.toPrecision(3)), median, 'the table shows the stored median');

  const out = path.join(tempDir('cli'), 'results.csv');
  const exp = await farm.cli(['results', 'export', runId, '--format', 'csv', '--output', out]);
  assert.equal(exp.code, 0, exp.stderr);
  const csv = fs.readFileSync(out, 'utf8').trim().split('\n');
  assert.match(csv[0]!, /^run_id,job_id,device,status,family,variant/);
  assert.equal(csv.length, 3, 'header + latency + memory');
  const list = await farm.cli(['run', 'list', '--json']);
  assert.equal((JSON.parse(list.stdout) as unknown[]).length, 1);
  const devices = await farm.cli(['device', 'list']);
  assert.match(devices.stdout, /testbox\s+linux\s+test-agent\s+idle\s+good/);
});

test('errors are one line with a documented exit code', async () => {
  const noDevice = await farm.cli(['run', 'submit', '--model', 'kws-cnn:fp32', '--device', 'soc=snapdragon']);
  assert.equal(noDevice.code, 3);
  assert.equal(noDevice.stderr.trim().split('\n').length, 1);
  assert.match(noDevice.stderr, /^benchfleet: .*no_matching_device/);
  const missing = await farm.cli(['model', 'push', '/nonexistent.onnx', '--family', 'f', '--variant', 'v']);
  assert.equal(missing.code, 2);
  const fake = path.join(tempDir('cli'), 'fake.onnx');
  fs.writeFileSync(fake, 'definitely not onnx');
  const notOnnx = await farm.cli(['model', 'push', fake, '--family', 'f', '--variant', 'v']);
  assert.equal(notOnnx.code, 3);
  assert.match(notOnnx.stderr, /unsupported_format/);
  const badToken = await farm.cli(['device', 'list'], { BENCHFLEET_TOKEN: 'bfa_wrong' });
  assert.equal(badToken.code, 7);
  const down = await runCli(['device', 'list'], { BENCHFLEET_SERVER: 'http://127.0.0.1:9', BENCHFLEET_TOKEN: 'x' });
  assert.equal(down.code, 4);
  assert.match(down.stderr, /cannot reach the server/);
  const badDuration = await farm.cli(['run', 'submit', '--model', 'kws-cnn:fp32', '--min-duration', 'soon']);
  assert.equal(badDuration.code, 2);
});

test('a failing job makes submit --wait exit 1 with the reason', { timeout: 120_000 }, async () => {
  const push = await farm.cli(['model', 'push', path.join(repoRoot, 'examples/models/mlp-dynamic.onnx'), '--family', 'mlp', '--variant', 'dyn']);
  assert.equal(push.code, 0, push.stderr);
  // A fixed dimension given the wrong size passes the server's check but the runner refuses it.
  const res = await farm.cli(['run', 'submit', '--model', 'mlp:dyn', '--input-shape', 'input=2x63', '--iterations', '5', '--max-attempts', '1', '--wait']);
  assert.equal(res.code, 1, res.stdout + res.stderr);
  assert.match(res.stderr, /failed.*invalid_input_spec/);
  const ok = await farm.cli(['run', 'submit', '--model', 'mlp:dyn', '--input-shape', 'input=4x64', '--iterations', '5', '--wait']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('an agent enrolls itself with an enroll token and keeps its own token', { timeout: 60_000 }, async () => {
  const created = await farm.cli(['token', 'create', '--role', 'enroll', '--name', 'lab', '--json']);
  assert.equal(created.code, 0, created.stderr);
  const enrollToken = (JSON.parse(created.stdout) as { token: string }).token;
  const denied = await farm.cli(['device', 'list'], { BENCHFLEET_TOKEN: enrollToken });
  assert.equal(denied.code, 7, 'an enroll token can do nothing but enroll');
  const dataDir = tempDir('enroll');
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/benchfleet.js'), 'agent', '--server', farm.url, '--enroll', enrollToken, '--name', 'enrolled-host', '--data', dataDir], { stdio: 'ignore' });
  try {
    await waitFor('the enrolled agent online', async () => {
      const agents = (await farm.api<{ items: { name: string; online: boolean }[] }>('GET', '/agents')).body.items;
      return agents.some((a) => a.name === 'enrolled-host' && a.online);
    }, 30_000);
    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, 'agent-token.json'), 'utf8')) as { token: string };
    assert.notEqual(saved.token, enrollToken);
    assert.equal(fs.statSync(path.join(dataDir, 'agent-token.json')).mode & 0o077, 0);
  } finally {
    child.kill('SIGKILL');
  }
});

test('--fail-on-regression exits 10 when a new model version is slower than its baseline', { timeout: 180_000 }, async () => {
  const int8 = path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx');
  assert.equal((await farm.cli(['model', 'push', int8, '--family', 'gate', '--variant', 'candidate'])).code, 0);
  const base = ['run', 'submit', '--model', 'gate:candidate', '--device', 'testbox', '--warmup', '5', '--iterations', '150', '--wait', '--fail-on-regression'];
  const submit = [...base, '--branch', 'main'];
  // The detector judges once it knows the series' noise (7 results) and has a level to compare with.
  for (let i = 0; i < 9; i++) {
    const r = await farm.cli(submit);
    assert.equal(r.code, 0, `baseline run ${i}: ${r.stderr}`);
    if (i === 0) assert.match(r.stdout, /no baseline yet \(0 results\)/);
  }
  // A new version of the same variant: the fp32 network's bytes, about three times slower.
  // Appending a doc_string field (protobuf field 6) gives the same network new bytes, since these
  // bytes are already stored as kws-cnn:fp32 and one artifact belongs to one family:variant.
  const note = Buffer.from('gate test copy');
  const bytes = Buffer.concat([fs.readFileSync(fp32), Buffer.from([0x32, note.length]), note]);
  const slower = path.join(tempDir('gate'), 'candidate.onnx');
  fs.writeFileSync(slower, bytes);
  assert.equal((await farm.cli(['model', 'push', slower, '--family', 'gate', '--variant', 'candidate'])).code, 0);
  const res = await farm.cli([...base, '--branch', 'feature']);
  assert.equal(res.code, 10, res.stdout + res.stderr);
  // The suspect ran a new artifact: a paired A/B test of the baseline model against it confirmed it.
  assert.match(res.stdout, /regression \+\d+\.\d% confirmed by A\/B/);
  assert.match(res.stderr, /confirmed regression against the main baseline: testbox latency_ms \+\d/);
  const runId = /^run (run_\w+)/.exec(res.stdout)?.[1];
  const job = (JSON.parse((await farm.cli(['run', 'show', runId!, '--json'])).stdout) as { jobs: { confirms_job_id: string | null; verdicts: { metric: string; verdict: string; baseline_results: number; effect: number; confirmation: string }[] }[] }).jobs.find((j) => !j.confirms_job_id)!;
  const latency = job.verdicts.find((v) => v.metric === 'latency_ms')!;
  assert.equal(latency.verdict, 'regression');
  assert.equal(latency.confirmation, 'confirmed');
  // The nine main-branch results (and any reruns a noisy one among them triggered) form the level.
  assert.ok(latency.baseline_results >= 5 && latency.baseline_results <= 9 + 2 * 5, `baseline of ${latency.baseline_results} results`);
  assert.ok(latency.effect > 0.5, `fp32 is much slower than int8: ${latency.effect}`);
});
