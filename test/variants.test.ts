// Compressed variants: fidelity arithmetic on known outputs; Pareto front and recommendation on
// fixed data; and end to end through a real server and agent — lineage metadata at push, a
// reference set computed from the fp32 parent, fidelity measured on the device for fp32, its int8
// variant and a deliberately broken variant (perturbed weights), which is flagged; the compare
// matrix with ratios, Pareto front, recommendation and its CSV / markdown exports.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { argmax, cosineSimilarity, maxAbsError, sampleFidelity } from '../protocol/fidelity.js';
import { paretoFront, pooledMedian, recommend } from '../server/variants/compare.js';
import { calibrate, kwsFp32, kwsInt8, kwsWeights, SEED } from '../examples/models/generate.js';
import { seededRng } from '../protocol/random.js';
import type { CompareView } from '../protocol/variants.js';
import { repoRoot, startFarm, tempDir, type Farm } from './support/farm.js';
import { chromium } from 'playwright-core';
import ort from 'onnxruntime-node';

/** A minimal .npy (version 1.0) writer for the test's reference inputs and labels. */
function npy(descr: string, shape: number[], data: Buffer): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

const CHROMIUM = '/usr/bin/chromium';

test('fidelity on known outputs', () => {
  assert.equal(cosineSimilarity([1, 0], [0, 1]), 0);
  assert.equal(cosineSimilarity([1, 2, 3], [2, 4, 6]), 1);
  assert.ok(Math.abs(cosineSimilarity([1, 0], [1, 1]) - Math.SQRT1_2) < 1e-12);
  assert.equal(cosineSimilarity([1, 2], [-1, -2]), -1);
  assert.equal(maxAbsError([1, 2, 3], [1.5, 2, 0]), 3);
  assert.equal(argmax([0.1, 0.7, 0.2]), 1);
  const f = sampleFidelity([[0.1, 0.9], [5]], [[0.2, 0.8], [5]]);
  assert.equal(f.top1, 1);
  assert.ok(Math.abs(f.maxAbsError - 0.1) < 1e-12);
  const g = sampleFidelity([[0.1, 0.9]], [[0.9, 0.1]]);
  assert.equal(g.top1, 0);
  const broken = sampleFidelity([[0.1, 0.9]], [[Number.NaN, 0.1]]);
  assert.equal(broken.cosine, 0, 'NaN outputs score as the worst cosine');
  assert.equal(broken.maxAbsError, 1e30);
  assert.throws(() => sampleFidelity([[1, 2]], [[1, 2], [3]]), /do not match/);
});

test('Pareto front and recommendation on fixed data', () => {
  // cost = latency (lower better), quality = accuracy (higher better)
  const pts = [
    { cost: 10, quality: 0.95 }, // fp32: best quality
    { cost: 4, quality: 0.945 }, // int8: on the front
    { cost: 5, quality: 0.93 }, // pruned: dominated by int8
    { cost: 2, quality: 0.80 }, // tiny: cheapest, on the front
    { cost: 10, quality: 0.95 }, // a duplicate of fp32: equal points do not dominate each other
  ];
  assert.deepEqual([...paretoFront(pts)].sort(), [0, 1, 3, 4]);
  const candidates = [
    { variant: 'fp32', cost: 10, quality: 0.95, peakMemMib: 80, flags: [] },
    { variant: 'int8', cost: 4, quality: 0.945, peakMemMib: 30, flags: [] },
    { variant: 'pruned', cost: 5, quality: 0.93, peakMemMib: 60, flags: [] },
    { variant: 'tiny', cost: 2, quality: 0.80, peakMemMib: 10, flags: [] },
    { variant: 'fp16', cost: 3, quality: 0.95, peakMemMib: 40, flags: ['fidelity: cosine 0.5 < 0.99'] },
  ];
  const r = recommend('pixel', candidates, 0.95, 0.01, null, 'latency', 'ms');
  assert.equal(r.variant, 'int8');
  assert.match(r.reason, /lowest latency within budget: 4\.00 ms; quality drop 0\.5% ≤ 1\.0%/);
  assert.match(r.reason, /fp16: fidelity: cosine 0\.5 < 0\.99/);
  assert.match(r.reason, /tiny: quality drop 15\.0% > budget 1\.0%/);
  assert.equal(recommend('pixel', candidates, 0.95, 0.2, null, 'latency', 'ms').variant, 'tiny', 'a looser budget picks the cheapest');
  assert.equal(recommend('mcu', candidates, 0.95, 0.01, 20, 'latency', 'ms').variant, null, 'int8 (30 MiB) does not fit 20 MiB; nothing else within budget fits');
  assert.match(recommend('mcu', candidates, 0.95, 0.01, 20, 'latency', 'ms').reason, /int8: peak memory 30\.0 MiB > 20 MiB/);
});

test('a compare cell pools results: median of medians with an order-statistic interval', () => {
  const r = (median: number, lo = median - 1, hi = median + 1) => ({ median, ci_low: lo, ci_high: hi });
  assert.deepEqual(pooledMedian([r(5, 4.5, 5.5)]), { value: 5, ci: [4.5, 5.5] }, 'one result: its own interval');
  assert.deepEqual(pooledMedian([r(5), r(7), r(6)]), { value: 6, ci: [4, 8] }, 'few results: the span of their own intervals');
  // Ten results: P(Binomial(10, ½) ≤ 1) = 1.1% ≤ 2.5% < P(≤ 2) = 5.5%, so the interval is [x(2), x(9)].
  const ten = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5].map((x) => r(x));
  assert.deepEqual(pooledMedian(ten), { value: 5.5, ci: [2, 9] });
  assert.deepEqual(pooledMedian([1, 2, 3, 4, 5, 6, 7].map((x) => r(x))), { value: 4, ci: [1, 7] }, 'seven results: [x(1), x(7)] (P(≤ 0) = 0.8%)');
  assert.equal(pooledMedian([]), null);
});

let farm: Farm | null = null;
after(async () => { await farm?.stop(); });

test('fidelity on the device flags a broken variant; compare shows ratios, Pareto front, recommendation and exports', { timeout: 180_000 }, async () => {
  const f = await startFarm({ agent: true });
  farm = f;
  const fp32 = path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx');
  const int8 = path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx');
  // A broken variant: the fp32 network with its last layer's weights perturbed.
  const wts = kwsWeights();
  const rng = seededRng(99);
  for (let i = 0; i < wts.w3.length; i++) wts.w3[i] = wts.w3[i]! + (rng() - 0.5) * 2;
  const brokenFile = path.join(tempDir('variants'), 'kws-broken.onnx');
  fs.writeFileSync(brokenFile, kwsFp32(wts));

  assert.equal((await f.cli(['model', 'push', fp32, '--family', 'kws', '--variant', 'fp32', '--accuracy', '92.0%'])).code, 0);
  const pushed = await f.cli(['model', 'push', int8, '--family', 'kws', '--variant', 'int8', '--parent', 'fp32', '--quant', 'ptq', '--activation-bits', '8', '--per-channel', '--tag', 'qdq']);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /from fp32, ptq int8\/a8 per-channel, tags qdq/);
  assert.equal((await f.cli(['model', 'push', brokenFile, '--family', 'kws', '--variant', 'broken', '--parent', 'fp32'])).code, 0);
  const bad = await f.cli(['model', 'push', brokenFile, '--family', 'kws', '--variant', 'broken', '--quant', 'fp4']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--quant must be ptq, qat or dynamic/);
  const edit = await f.cli(['model', 'edit', 'kws:int8', '--accuracy', '0.917']);
  assert.equal(edit.code, 0, edit.stderr);
  assert.match(edit.stdout, /accuracy 91\.7%/);

  // Labelled reference inputs: the labels are fp32's own predictions (computed here with
  // onnxruntime) with three of the twelve changed, so fp32's accuracy on the device must be 9/12.
  const dir = tempDir('reference');
  const inputRng = seededRng(5);
  const inputs = Float32Array.from({ length: 12 * 490 }, () => inputRng() * 2 - 1);
  const session = await ort.InferenceSession.create(fp32);
  const labels: number[] = [];
  for (let i = 0; i < 12; i++) {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', inputs.slice(i * 490, (i + 1) * 490), [1, 1, 49, 10]) });
    const logits = out[session.outputNames[0]!]!.data as Float32Array;
    const predicted = argmax(logits);
    labels.push(i < 3 ? (predicted + 1) % 12 : predicted);
  }
  await session.release();
  fs.writeFileSync(path.join(dir, 'inputs.npy'), npy('<f4', [12, 1, 1, 49, 10], Buffer.from(inputs.buffer)));
  fs.writeFileSync(path.join(dir, 'labels.npy'), npy('<i8', [12], Buffer.from(BigInt64Array.from(labels.map(BigInt)).buffer)));
  const ref = await f.cli(['family', 'reference', 'kws', '--from', 'fp32', '--inputs', path.join(dir, 'inputs.npy'), '--labels', path.join(dir, 'labels.npy')]);
  assert.equal(ref.code, 0, ref.stderr);
  assert.match(ref.stdout, /reference set of 12 samples from fp32/);

  const runIds = new Map<string, string>();
  for (const v of ['fp32', 'int8', 'broken']) {
    const r = await f.cli(['run', 'submit', '--model', `kws:${v}`, '--device', 'testbox', '--warmup', '3', '--iterations', '40', '--wait', '--json']);
    assert.equal(r.code, 0, r.stderr);
    runIds.set(v, (JSON.parse(r.stdout) as { id: string }).id);
  }
  // The API gives each job its fidelity with the family's flag.
  const brokenRun = (await f.api<{ jobs: { fidelity: { cosine: number; flags: string[]; reference_variant: string } | null }[] }>('GET', `/runs/${runIds.get('broken')}`)).body;
  assert.ok(brokenRun.jobs[0]?.fidelity && brokenRun.jobs[0].fidelity.flags.some((x) => /fidelity: cosine/.test(x)), JSON.stringify(brokenRun.jobs[0]?.fidelity));
  assert.equal(brokenRun.jobs[0].fidelity.reference_variant, 'fp32');
  const view = JSON.parse((await f.cli(['compare', '--family', 'kws', '--json'])).stdout) as CompareView;
  const cell = (v: string) => view.cells.find((c) => c.variant === v && c.device === 'testbox')!;
  // The reference variant agrees with its own reference outputs; int8 is close; broken is not.
  assert.ok(cell('fp32').fidelity_cosine! > 0.99999, `fp32 cosine ${cell('fp32').fidelity_cosine}`);
  assert.equal(cell('fp32').fidelity_top1, 1);
  assert.equal(cell('fp32').accuracy_measured, 9 / 12, 'accuracy on the labelled reference inputs, measured on the device');
  assert.ok(cell('int8').fidelity_cosine! > 0.99, `int8 cosine ${cell('int8').fidelity_cosine}`);
  assert.deepEqual(cell('int8').flags, []);
  assert.ok(cell('broken').flags.some((x) => /fidelity/.test(x)), `broken is flagged: ${JSON.stringify(cell('broken'))}`);
  assert.ok(cell('broken').fidelity_cosine! < 0.99);
  // Ratios against the parent, and the recommendation within a 1% accuracy budget.
  assert.ok(cell('int8').vs_parent!.speedup! > 1.5, `int8 speed-up ${cell('int8').vs_parent!.speedup}`);
  assert.ok(Math.abs(cell('int8').vs_parent!.size_reduction! - fs.statSync(fp32).size / fs.statSync(int8).size) < 1e-9);
  assert.ok(Math.abs(cell('int8').vs_parent!.quality_drop! - 0.003) < 1e-9);
  assert.equal(cell('int8').quality_kind, 'accuracy');
  assert.equal(cell('int8').pareto, true);
  const rec = view.recommendations.find((r) => r.device === 'testbox')!;
  assert.equal(rec.variant, 'int8', rec.reason);
  assert.match(rec.reason, /broken: fidelity/);

  const md = await f.cli(['compare', '--family', 'kws', '--format', 'md']);
  assert.match(md.stdout, /### testbox/);
  assert.match(md.stdout, /\| int8 ← fp32 \|/);
  assert.match(md.stdout, /\*\*Recommended:\*\* int8/);
  const csvFile = path.join(tempDir('compare'), 'matrix.csv');
  assert.equal((await f.cli(['compare', '--family', 'kws', '--format', 'csv', '-o', csvFile])).code, 0);
  const csv = fs.readFileSync(csvFile, 'utf8').trim().split('\n');
  assert.equal(csv.length, 4, 'a header and one row per variant on the device');
  assert.match(csv[0]!, /^family,variant,parent,device,status,/);
  assert.ok(csv.some((l) => l.startsWith('kws,broken,fp32,testbox,') && l.includes('fidelity: ')));
  const missing = await f.cli(['compare', '--family', 'nope']);
  assert.equal(missing.code, 6);

  // The Compare page in real headless Chromium.
  assert.ok(fs.existsSync(CHROMIUM), 'chromium not found: install it with `apt-get install -y chromium`');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${f.url}/#/compare/kws&token=${f.adminToken}`);
    const block = page.locator('[data-page="compare"] .card[data-device="testbox"]');
    await block.waitFor({ timeout: 15_000 });
    assert.equal(await block.locator('.recommendation').getAttribute('data-recommended'), 'int8');
    assert.equal(await block.locator('tr[data-variant="broken"]').getAttribute('data-flagged'), 'yes');
    assert.equal(await block.locator('tr[data-variant="int8"]').getAttribute('data-pareto'), 'yes');
    const points = await page.evaluate(() => {
      const g = globalThis as unknown as { document: { querySelector(s: string): unknown }; Chart: { getChart(c: unknown): { data: { datasets: { data: unknown[] }[] } } | undefined } };
      const c = g.Chart.getChart(g.document.querySelector('canvas[data-chart="pareto"][data-device="testbox"]'));
      return c ? c.data.datasets.map((d) => d.data.length) : null;
    });
    assert.ok(points && points.reduce((a, b) => a + b, 0) === 3, `three variants on the Pareto chart: ${JSON.stringify(points)}`);
    const yMax = await page.evaluate(() => {
      const g = globalThis as unknown as { document: { querySelector(s: string): unknown }; Chart: { getChart(c: unknown): { scales: { y: { max: number } } } | undefined } };
      return g.Chart.getChart(g.document.querySelector('canvas[data-chart="pareto"][data-device="testbox"]'))?.scales.y.max ?? null;
    });
    assert.equal(yMax, 100, 'the quality axis stops at 100%');
    // Fidelity where people look: the run detail of the broken variant shows its figures and the flag.
    await page.goto(`${f.url}/#/runs/${runIds.get('broken')}`);
    const fidelity = page.locator('#results [data-fidelity]');
    await fidelity.waitFor({ timeout: 15_000 });
    assert.equal(await fidelity.getAttribute('data-fidelity'), 'flagged');
    assert.match(await page.locator('#results [data-field="fidelity"]').innerText(), /^cos 0\.\d{4} · top-1 \d+\.\d% · max err [\d.e+-]+ · acc \d+\.\d%$/);
    await page.goto(`${f.url}/#/runs/${runIds.get('int8')}`);
    await page.locator('#results [data-fidelity="ok"]').waitFor({ timeout: 15_000 });
    await page.goto(`${f.url}/#/compare/kws`);
    await block.waitFor({ timeout: 15_000 });
    fs.mkdirSync(path.join(repoRoot, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(repoRoot, 'test-results', 'dashboard-compare.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('compare keys a cell like a series: one model version under one settings key, pooled; stale versions and other settings are never compared', { timeout: 240_000 }, async () => {
  const f = await startFarm({ agent: true });
  const box2Data = tempDir('box2');
  let box2: import('node:child_process').ChildProcess | null = null;
  try {
    // A second device: another agent on this host, named box2.
    const created = await f.api<{ token: string }>('POST', '/agents', { name: 'box2-agent' });
    assert.equal(created.status, 201);
    const { spawn } = await import('node:child_process');
    box2 = spawn(process.execPath, [path.join(repoRoot, 'bin', 'benchfleet.js'), 'agent', '--server', f.url, '--token', created.body.token, '--data', box2Data, '--name', 'box2'],
      { stdio: 'ignore' });
    const { waitFor } = await import('./support/farm.js');
    await waitFor('box2 online', async () => (await f.api<{ items: { name: string; state: string }[] }>('GET', '/devices')).body.items.some((d) => d.name === 'box2' && d.state !== 'offline'));

    const fp32 = path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx');
    const int8Old = path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx');
    assert.equal((await f.cli(['model', 'push', fp32, '--family', 'kws', '--variant', 'fp32'])).code, 0);
    assert.equal((await f.cli(['model', 'push', int8Old, '--family', 'kws', '--variant', 'int8', '--parent', 'fp32'])).code, 0);
    const run = async (variant: string, device: string, threads: number) => {
      const r = await f.cli(['run', 'submit', '--model', `kws:${variant}`, '--device', device, '--threads', String(threads), '--warmup', '2', '--iterations', '20', '--wait', '--json']);
      assert.equal(r.code, 0, r.stderr);
    };
    const compare = async (...extra: string[]) => {
      const r = await f.cli(['compare', '--family', 'kws', '--json', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as CompareView;
    };
    const cellIn = (view: CompareView, variant: string, device: string) => view.cells.find((c) => c.variant === variant && c.device === device)!;

    // Reproduction A: fp32 with 2 threads, int8 with 1 thread: no ratio across the two settings.
    await run('fp32', 'testbox', 2);
    await run('int8', 'testbox', 1);
    let view = await compare();
    for (const c of view.cells) {
      if (!c.vs_parent) continue;
      const parent = cellIn(view, view.variants.find((v) => v.variant === c.variant)!.parent!, c.device);
      assert.equal(parent.settings.key, c.settings.key, `a ratio only within one settings key: ${JSON.stringify(c)}`);
    }
    assert.equal(cellIn(view, 'int8', 'testbox').vs_parent, null, 'int8 (1 thread) is not compared with fp32 (2 threads)');
    assert.deepEqual(new Set([cellIn(view, 'fp32', 'testbox').status, cellIn(view, 'int8', 'testbox').status]), new Set(['current', 'settings_differ']));
    const differ = view.cells.find((c) => c.status === 'settings_differ')!;
    assert.match(differ.note ?? '', /settings differ: measured with onnxruntime · \d threads?/);
    // The user chooses the settings: with --threads 1, int8 is current and fp32 (2 threads) differs.
    view = await compare('--threads', '1');
    assert.equal(view.device_settings.testbox?.threads, 1);
    assert.equal(cellIn(view, 'int8', 'testbox').status, 'current');
    assert.equal(cellIn(view, 'fp32', 'testbox').status, 'settings_differ');
    assert.equal(view.recommendations.find((r) => r.device === 'testbox')!.variant === 'fp32', false, 'a variant measured under other settings is never recommended');
    // fp32 with 1 thread too: now both are compared under the 1-thread key, which the default picks.
    await run('fp32', 'testbox', 1);
    view = await compare();
    assert.equal(view.device_settings.testbox?.threads, 1, 'the key under which most variants were measured');
    assert.equal(cellIn(view, 'int8', 'testbox').status, 'current');
    assert.ok(cellIn(view, 'int8', 'testbox').vs_parent!.speedup! > 0);
    assert.equal(view.settings_options.length, 2, 'both settings keys are listed');

    // Reproduction B: box2 measured the old int8; a new int8 version is pushed and run on testbox only.
    await run('fp32', 'box2', 1);
    await run('int8', 'box2', 1);
    const int8NewFile = path.join(tempDir('int8-new'), 'kws-int8-v2.onnx');
    const w2 = kwsWeights(SEED + 5);
    fs.writeFileSync(int8NewFile, kwsInt8(w2, calibrate(w2)));
    assert.equal((await f.cli(['model', 'push', int8NewFile, '--family', 'kws', '--variant', 'int8', '--parent', 'fp32'])).code, 0);
    await run('int8', 'testbox', 1);
    view = await compare();
    const newest = view.variants.find((v) => v.variant === 'int8')!;
    const oldSha = (JSON.parse((await f.cli(['model', 'list', '--json'])).stdout) as { items?: { sha256: string; size_bytes: number; variant: string }[] } | { sha256: string; size_bytes: number; variant: string }[]);
    const models = Array.isArray(oldSha) ? oldSha : oldSha.items ?? [];
    const old = models.find((m) => m.variant === 'int8' && m.sha256 !== newest.sha256)!;
    assert.ok(old, 'the old int8 version is listed');
    const fresh = cellIn(view, 'int8', 'testbox');
    assert.equal(fresh.status, 'current');
    assert.equal(fresh.sha256, newest.sha256);
    assert.equal(fresh.results, 1, 'the new version has one result; the old version\'s results are not pooled with it');
    const stale = cellIn(view, 'int8', 'box2');
    assert.equal(stale.status, 'stale');
    assert.equal(stale.sha256, old.sha256, 'the latency shown is the old version\'s…');
    assert.equal(stale.size_bytes, old.size_bytes, '…and so is the size');
    assert.ok(Math.abs(stale.vs_parent!.size_reduction! - fs.statSync(fp32).size / old.size_bytes) < 1e-9);
    assert.equal(stale.pareto, false);
    const rec2 = view.recommendations.find((r) => r.device === 'box2')!;
    assert.notEqual(rec2.variant, 'int8', `a stale cell is never recommended: ${rec2.reason}`);
    assert.match(rec2.reason, /int8: stale/);

    // Pooling: a second 1-thread result of fp32 on testbox — the median of two results with an interval around it.
    await run('fp32', 'testbox', 1);
    view = await compare();
    const pooled = cellIn(view, 'fp32', 'testbox');
    assert.equal(pooled.results, 2);
    assert.ok(pooled.latency_ci![0] <= pooled.latency_ms! && pooled.latency_ms! <= pooled.latency_ci![1]);

    // Every export carries the settings and the status.
    const csv = (await f.cli(['compare', '--family', 'kws', '--format', 'csv'])).stdout.trim().split('\n');
    assert.match(csv[0]!, /,status,note,model_sha256,size_bytes,settings_key,runtime,threads,inputs,runner,results,/);
    assert.ok(csv.some((l) => l.startsWith('kws,int8,fp32,box2,stale,')), csv.join('\n'));
    const md = (await f.cli(['compare', '--family', 'kws', '--format', 'md'])).stdout;
    assert.match(md, /Settings: onnxruntime · 1 thread · default inputs/);
    assert.match(md, /⏳ stale/);
    const tableOut = (await f.cli(['compare', '--family', 'kws'])).stdout;
    assert.match(tableOut, /box2 — onnxruntime · 1 thread/);
    assert.match(tableOut, /settings with results \(choose with --settings/);
    const bad = await f.cli(['compare', '--family', 'kws', '--settings', 'ffffffff']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no results of family kws under settings ffffffff/);

    // The page: the settings of each device, the stale version marked.
    assert.ok(fs.existsSync(CHROMIUM), 'chromium not found: install it with `apt-get install -y chromium`');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
      await page.goto(`${f.url}/#/compare/kws&token=${f.adminToken}`);
      const block = page.locator('[data-page="compare"] .card[data-device="box2"]');
      await block.waitFor({ timeout: 15_000 });
      assert.match(await block.locator('[data-field="settings"]').innerText(), /onnxruntime · 1 thread/);
      assert.equal(await block.locator('tr[data-variant="int8"]').getAttribute('data-status'), 'stale');
      assert.equal(await block.locator('tr[data-variant="int8"] [data-badge="stale"]').count(), 1);
      assert.ok(await page.locator('#compare-settings option').count() >= 3, 'the settings selector lists both keys');
    } finally {
      await browser.close();
    }
  } finally {
    box2?.kill('SIGKILL');
    await f.stop();
  }
});
