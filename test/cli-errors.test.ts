// Issue 10 items 7 and 8 (CLI): real models' inputs and errors a user can act on. The real CLI
// against a real server and agent, on small ONNX models built here the way third-party models
// look: a dynamic batch [N, 3, H, W] input, and a voice-activity-like model with an int64 scalar
// sample-rate input that onnxruntime itself rejects when it is out of range. Also: every bad input
// is one `benchfleet: … (code)` line with a documented exit code and creates nothing; fidelity in
// `run submit --wait` and `run show`; series key prefixes; `model show` as a table; `up` on a port
// already in use.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { repoRoot, runCli, startFarm, tempDir, type CliResult, type Farm } from './support/farm.js';
import { attr, DataType, encodeModel, floatTensor, type NodeSpec, type TensorSpec } from '../examples/models/onnx-writer.js';

let farm: Farm;
let dir: string;
const F = DataType.FLOAT;
const PRODUCER = { producerName: 'benchfleet-test', producerVersion: '1', irVersion: 8, opsetVersion: 13 };

/** x [N, 3, H, W] → mean over H and W → [N, 3] × W[3, 4] → logits [N, 4]. */
function imageModel(sign = 1): Buffer {
  const w = Array.from({ length: 12 }, (_, i) => sign * Math.sin(i + 1));
  const nodes: NodeSpec[] = [
    { opType: 'ReduceMean', name: 'pool', inputs: ['x'], outputs: ['pooled'], attributes: { axes: attr.ints([2, 3]), keepdims: attr.int(0) } },
    { opType: 'MatMul', name: 'fc', inputs: ['pooled', 'w'], outputs: ['logits'] },
  ];
  return encodeModel({ ...PRODUCER, graph: {
    name: 'image', nodes, initializers: [floatTensor('w', [3, 4], w)],
    inputs: [{ name: 'x', elemType: F, shape: ['N', 3, 'H', 'W'] }], outputs: [{ name: 'logits', elemType: F, shape: ['N', 4] }],
  } });
}

/**
 * A voice-activity-like model: audio x [1, 16] and a scalar int64 sample rate `sr`. It gathers a
 * gain from a one-entry table at index sr − 16000, so onnxruntime fails ("out of bounds") for any
 * sample rate but 16000 — as real VAD models fail on a random 0–9 sample rate.
 */
function vadModel(): Buffer {
  const int64 = (name: string, value: number): TensorSpec => {
    const raw = Buffer.alloc(8);
    raw.writeBigInt64LE(BigInt(value));
    return { name, dataType: DataType.INT64, dims: [], raw };
  };
  const nodes: NodeSpec[] = [
    { opType: 'Sub', name: 'offset', inputs: ['sr', 'rate'], outputs: ['index'] },
    { opType: 'Gather', name: 'gain_of_rate', inputs: ['gains', 'index'], outputs: ['gain'], attributes: { axis: attr.int(0) } },
    { opType: 'Mul', name: 'scale', inputs: ['x', 'gain'], outputs: ['y'] },
  ];
  return encodeModel({ ...PRODUCER, graph: {
    name: 'vad', nodes, initializers: [int64('rate', 16000), floatTensor('gains', [1], [0.5])],
    inputs: [{ name: 'x', elemType: F, shape: [1, 16] }, { name: 'sr', elemType: DataType.INT64, shape: [] }],
    outputs: [{ name: 'y', elemType: F, shape: [1, 16] }],
  } });
}

/** A float32 .npy file of the given shape (values from a sine, so samples differ). */
function npyFile(name: string, shape: number[], header?: string): string {
  const count = shape.reduce((a, b) => a * b, 1);
  const data = Buffer.alloc(count * 4);
  for (let i = 0; i < count; i++) data.writeFloatLE(Math.sin(i * 0.37), i * 4);
  let dict = header ?? `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + dict.length + 1) % 64);
  dict = `${dict}${' '.repeat(pad % 64)}\n`;
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(dict, 'latin1'), data]));
  return file;
}

function assertOneLineError(r: CliResult, what: string, codes: number[] = [2, 3, 4, 5, 6, 7, 8]): void {
  assert.ok(codes.includes(r.code), `${what}: exit ${r.code} is not one of ${codes.join(', ')}\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: stderr is one line:\n${r.stderr}`);
  assert.match(lines[0]!, /^benchfleet: .+ \([a-z][a-z0-9_]*\)$/, `${what}: "benchfleet: … (code)"`);
  assert.doesNotMatch(r.stderr, /\n\s+at |unexpected error|internal error/, `${what}: no stack trace`);
}

before(async () => {
  farm = await startFarm({ agent: true });
  dir = tempDir('cli-errors');
  fs.writeFileSync(path.join(dir, 'image.onnx'), imageModel());
  fs.writeFileSync(path.join(dir, 'image-broken.onnx'), imageModel(-1));
  fs.writeFileSync(path.join(dir, 'vad.onnx'), vadModel());
  for (const [file, family, variant] of [['image.onnx', 'ocr', 'fp32'], ['image-broken.onnx', 'ocr', 'broken'], ['vad.onnx', 'vad', 'fp32']] as const) {
    const push = await farm.cli(['model', 'push', path.join(dir, file), '--family', family, '--variant', variant]);
    assert.equal(push.code, 0, push.stderr);
  }
});
after(async () => { await farm.stop(); });

test('family reference accepts batch-1 samples stacked as [count, 3, H, W] for an [N, 3, H, W] input; jobs then show fidelity', { timeout: 120_000 }, async () => {
  const stacked = npyFile('x.npy', [24, 3, 6, 10]);
  const ref = await farm.cli(['family', 'reference', 'ocr', '--from', 'fp32', '--inputs', stacked]);
  assert.equal(ref.code, 0, ref.stderr);
  assert.match(ref.stdout, /ocr: reference set of 24 samples from fp32/);
  // The explicit form, one whole model input per sample, still works.
  const explicit = await farm.cli(['family', 'reference', 'ocr', '--from', 'fp32', '--inputs', npyFile('x1.npy', [24, 1, 3, 6, 10])]);
  assert.equal(explicit.code, 0, explicit.stderr);

  const run = await farm.cli(['run', 'submit', '--model', 'ocr:fp32', '--device', 'testbox', '--input-shape', 'x=1x3x6x10', '--warmup', '2', '--iterations', '20', '--wait']);
  assert.equal(run.code, 0, run.stderr);
  const runId = /^run (run_\w+)/.exec(run.stdout)?.[1];
  assert.ok(runId, run.stdout);
  assert.ok(run.stderr.includes(`dashboard: ${farm.url}/#/runs/${runId}`), `submit prints the run's dashboard URL:\n${run.stderr}`);
  for (const [what, out] of [['submit --wait', run.stdout], ['run show', (await farm.cli(['run', 'show', runId])).stdout]] as const) {
    assert.match(out, /fidelity against ocr:fp32 \(24 reference samples; flag below cosine 0\.99 or top-1 agreement 90%\)/, what);
    assert.match(out, /DEVICE\s+COSINE \(median\)\s+TOP-1 AGREEMENT\s+MAX ABS ERROR\s+ACCURACY\s+SAMPLES\s+FIDELITY/, what);
    // The same model on the same CPU: the outputs agree with the reference.
    const row = out.split('\n').find((l) => /^testbox\s+1\.0000\s+100\.0%/.test(l));
    assert.ok(row, `${what}: fidelity row:\n${out}`);
    assert.match(row, /\s24\s+ok$/, what);
    assert.ok(out.includes(`${farm.url}/#/runs/${runId}`), `${what}: dashboard URL`);
  }
  // A variant whose outputs point the other way (negated weights) is flagged.
  const broken = await farm.cli(['run', 'submit', '--model', 'ocr:broken', '--device', 'testbox', '--input-shape', 'x=1x3x6x10', '--warmup', '1', '--iterations', '5', '--wait']);
  assert.equal(broken.code, 0, broken.stderr);
  assert.match(broken.stdout, /^testbox\s+-1\.0000\s+0\.0%\s+\S+\s+-\s+24\s+LOW: cosine -1\.0000 < 0\.99, top-1 agreement 0% < 90%$/m, broken.stdout);
  // A run of a family without a reference set says so instead of leaving fidelity out silently.
  const vad = await farm.cli(['run', 'submit', '--model', 'vad:fp32', '--device', 'testbox', '--input-fill', 'sr=16000', '--warmup', '1', '--iterations', '5', '--wait']);
  assert.equal(vad.code, 0, vad.stderr);
  assert.match(vad.stdout, /fidelity: none — family vad has no reference set/);
});

test('a run that fails inside onnxruntime names the input settings and suggests --input-fill / --input-file', { timeout: 120_000 }, async () => {
  const res = await farm.cli(['run', 'submit', '--model', 'vad:fp32', '--device', 'testbox', '--warmup', '1', '--iterations', '5', '--max-attempts', '1', '--wait']);
  assert.equal(res.code, 1, res.stdout + res.stderr);
  const last = res.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^benchfleet: run run_\w+ failed: testbox: failed \(runner_failed: onnxruntime failed running the model: .*(out of bounds|out of range|indices).*\)/i);
  assert.match(last, /inputs used: x float32 \[1, 16\] random \[-1, 1\) \(seed 42\); sr int64 \[\] random 0\.\.9 \(seed 42\)/);
  assert.match(last, /--input-fill name=VALUE or --input-file name=FILE\.npy/);
  // The JSON-lines runner (the one phones run) says the same in its error record.
  const runner = await new Promise<string>((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'dist/agent/runners/onnx/jsonl-runner.js'), '--model', path.join(dir, 'vad.onnx'), '--warmup', '1', '--iterations', '3'], (_err, stdout) => resolve(stdout));
  });
  const record = runner.trim().split('\n').map((l) => JSON.parse(l) as { type: string; code?: string; message?: string }).find((r) => r.type === 'error');
  assert.equal(record?.code, 'runner_failed', runner);
  assert.match(record.message ?? '', /^onnxruntime failed running the model: .*; inputs used: x float32 \[1, 16\] random \[-1, 1\) \(seed 42\); sr int64 \[\] random 0\.\.9 \(seed 42\); .*--input-fill name=VALUE/);
  // Following the hint makes it run.
  const ok = await farm.cli(['run', 'submit', '--model', 'vad:fp32', '--device', 'testbox', '--input-fill', 'sr=16000', '--warmup', '1', '--iterations', '5', '--wait']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('bad input across commands: one `benchfleet: … (code)` line, a documented exit code, no stack trace, nothing created', { timeout: 180_000 }, async () => {
  const count = async () => {
    const runs = (await farm.api<{ items: unknown[] }>('GET', '/runs?limit=200')).body.items.length;
    const models = (await farm.api<{ items: unknown[] }>('GET', '/models?limit=200')).body.items.length;
    const families = (await farm.api<{ items: { name: string; updated_at: string }[] }>('GET', '/families')).body.items;
    return JSON.stringify({ runs, models, families });
  };
  const before = await count();
  const bad = npyFile('bad-shape.npy', [24, 4, 6, 10]);
  const badRank = npyFile('bad-rank.npy', [24, 6, 10]);
  const garbage = path.join(dir, 'garbage.npy');
  fs.writeFileSync(garbage, 'not numpy at all');
  const truncated = path.join(dir, 'truncated.npy');
  fs.writeFileSync(truncated, fs.readFileSync(npyFile('t.npy', [2, 3, 6, 10])).subarray(0, 200));
  const jsonBad = path.join(dir, 'bad.json');
  fs.writeFileSync(jsonBad, '{ nope');
  const cases: [string, string[], number][] = [
    ['unknown option', ['run', 'list', '--frobnicate'], 2],
    ['unknown global option', ['--nope', 'device', 'list'], 2],
    ['unknown command', ['frobnicate'], 2],
    ['missing command', ['run'], 2],
    ['missing argument', ['run', 'show'], 2],
    ['missing required option', ['run', 'submit'], 2],
    ['option without its value', ['run', 'submit', '--model'], 2],
    ['too many arguments', ['model', 'show', 'a', 'b'], 2],
    ['bad number', ['run', 'submit', '--model', 'ocr:fp32', '--iterations', 'many'], 2],
    ['negative number', ['run', 'submit', '--model', 'ocr:fp32', '--threads', '-1'], 2],
    ['bad duration', ['run', 'submit', '--model', 'ocr:fp32', '--timeout', 'soon'], 2],
    ['bad wait timeout', ['run', 'wait', 'run_x', '--wait-timeout', 'later'], 2],
    ['bad input shape', ['run', 'submit', '--model', 'ocr:fp32', '--input-shape', 'x=1xAx2'], 2],
    ['bad input fill', ['run', 'submit', '--model', 'ocr:fp32', '--input-fill', 'x=lots'], 2],
    ['input file missing', ['run', 'submit', '--model', 'ocr:fp32', '--input-file', 'x=/nonexistent.npy'], 2],
    ['input file not npy', ['run', 'submit', '--model', 'ocr:fp32', '--input-file', `x=${garbage}`], 2],
    ['input file truncated', ['run', 'submit', '--model', 'ocr:fp32', '--input-file', `x=${truncated}`], 2],
    ['input file bad json', ['run', 'submit', '--model', 'ocr:fp32', '--input-file', `x=${jsonBad}`], 2],
    ['no such model', ['run', 'submit', '--model', 'nothing:here'], 6],
    ['no such run', ['run', 'show', 'run_doesnotexist'], 6],
    ['no such model ref', ['model', 'show', 'deadbeefdeadbeef'], 6],
    ['no such series', ['series', 'show', '0123456789abcdef0123456789abcdef'], 6],
    ['bad series key', ['series', 'show', 'xyz'], 3],
    ['bad fraction', ['compare', '--family', 'ocr', '--budget', 'lots'], 2],
    ['bad status', ['run', 'list', '--status', 'bogus'], 2],
    ['sparsity without pruning', ['model', 'edit', 'ocr:fp32', '--sparsity', '50%'], 2],
    ['bad format', ['results', 'export', 'run_x', '--format', 'xml'], 2],
    ['unwritable output', ['compare', '--family', 'ocr', '-o', '/nonexistent/dir/out.txt'], 2],
    ['push missing file', ['model', 'push', '/nonexistent.onnx', '--family', 'f', '--variant', 'v'], 2],
    ['reference inputs missing', ['family', 'reference', 'ocr', '--from', 'fp32', '--inputs', '/nonexistent.npy'], 2],
    ['reference inputs not npy', ['family', 'reference', 'ocr', '--from', 'fp32', '--inputs', garbage], 2],
    ['reference inputs wrong shape', ['family', 'reference', 'ocr', '--from', 'fp32', '--inputs', bad], 2],
    ['reference inputs wrong rank', ['family', 'reference', 'ocr', '--from', 'fp32', '--inputs', badRank], 2],
    ['reference bad count', ['family', 'reference', 'ocr', '--from', 'fp32', '--count', 'x'], 2],
    ['reference bad min-cosine', ['family', 'reference', 'ocr', '--from', 'fp32', '--min-cosine', '2'], 2],
    ['reference labels missing', ['family', 'reference', 'ocr', '--from', 'fp32', '--labels', '/nonexistent.npy'], 2],
    ['reference of a missing variant', ['family', 'reference', 'ocr', '--from', 'int4'], 6],
    ['bad port', ['up', '--port', 'http', '--data', path.join(dir, 'never')], 2],
    ['bad token', ['device', 'list', '--token', 'bfa_wrong'], 7],
    ['server down', ['device', 'list', '--server', 'http://127.0.0.1:9'], 4],
    ['agent config missing', ['agent', '--token', 'bfg_x', '--data', path.join(dir, 'agent-never'), '--config', '/nonexistent.json'], 2],
    ['broken credentials file', ['device', 'list', '--credentials', jsonBad], 2],
  ];
  for (const [what, args, code] of cases) {
    const env: Record<string, string> = args.includes('--credentials') ? { BENCHFLEET_TOKEN: '', BENCHFLEET_SERVER: '' } : {};
    const r = await farm.cli(args, env);
    assertOneLineError(r, what, [code]);
  }
  const wrongShape = await farm.cli(['family', 'reference', 'ocr', '--from', 'fp32', '--inputs', bad]);
  assert.match(wrongShape.stderr, /has shape \[24, 4, 6, 10\] but model input x is \[N, 3, H, W\]: stack samples as \[count, N, 3, H, W\] or \[count, 3, H, W\] \(batch-1 samples\) \(usage\)/);
  assert.equal(await count(), before, 'nothing was created or changed');
  assert.ok(!fs.existsSync(path.join(dir, 'never')), 'no data folder for a bad port');
  assert.ok(!fs.existsSync(path.join(dir, 'agent-never')), 'no agent data folder for a bad config');
});

test('up on a port already in use fails with one line before creating anything', { timeout: 30_000 }, async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    for (const command of ['up', 'server']) {
      const data = path.join(dir, `busy-${command}`);
      const r = await runCli([command, '--port', String(port), '--data', data], {}, dir);
      assertOneLineError(r, `${command} on a busy port`, [8]);
      assert.match(r.stderr, new RegExp(`^benchfleet: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use .*\\(cannot_listen\\)\\n$`));
      assert.ok(!fs.existsSync(data), `${command}: no data folder (no database) created`);
    }
  } finally {
    blocker.close();
  }
});

test('series keys accept unique prefixes; an ambiguous prefix lists the candidates; model show prints a table', { timeout: 60_000 }, async () => {
  const list = await farm.cli(['series', 'list', '--family', 'ocr', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const key = (JSON.parse(list.stdout) as { key: string; variant: string }[]).find((x) => x.variant === 'fp32')!.key;
  const byPrefix = await farm.cli(['series', 'show', key.slice(0, 8)]);
  assert.equal(byPrefix.code, 0, byPrefix.stderr);
  assert.match(byPrefix.stdout, /^ocr:fp32 on testbox, latency_ms/);
  // A second series whose key shares the first 8 digits (a copy of the row in the real database).
  const twin = `${key.slice(0, 8)}${'0'.repeat(24)}` === key ? `${key.slice(0, 8)}${'1'.repeat(24)}` : `${key.slice(0, 8)}${'0'.repeat(24)}`;
  farm.server.db.prepare(`INSERT INTO series (key, family, variant, device_id, runtime, settings, created_at, last_result_at)
    SELECT ?, family, 'twin', device_id, runtime, settings, created_at, last_result_at FROM series WHERE key = ?`).run(twin, key);
  const ambiguous = await farm.cli(['series', 'show', key.slice(0, 8)]);
  assertOneLineError(ambiguous, 'ambiguous prefix', [3]);
  assert.match(ambiguous.stderr, new RegExp(`series prefix ${key.slice(0, 8)} is ambiguous: .*${key} \\(ocr:fp32 on testbox.*${twin} \\(ocr:twin on testbox.*give more digits \\(bad_request\\)`));
  const longer = await farm.cli(['series', 'show', key.slice(0, 12)]);
  assert.equal(longer.code, 0, longer.stderr);

  const show = await farm.cli(['model', 'show', 'ocr:fp32']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^FIELD\s+VALUE\n-+\s+-+\n/);
  assert.match(show.stdout, /family:variant\s+ocr:fp32\n/);
  assert.match(show.stdout, /sha256\s+[0-9a-f]{64}\n/);
  assert.match(show.stdout, /x .*\[N, 3, H, W\]/, `the model's inputs:\n${show.stdout}`);
  const json = await farm.cli(['model', 'show', 'ocr:fp32', '--json']);
  assert.equal((JSON.parse(json.stdout) as { family: string }).family, 'ocr');
});
