// End-to-end test of the dashboard in a real browser: a real farm (server + local agent) benchmarks
// the example keyword-spotting model, then headless Chromium (Debian's, driven by playwright-core)
// opens the dashboard with `#token=…` and checks the farm page (device, agent, live indicator), the
// runs list (including a run that appears through a live event), the run detail with both charts
// really drawn from the job's samples, a paired A/B run (its test and its jobs listed by round and
// arm), the token form for a missing or wrong token; then a series whose results step down and up
// twice, judged as they are completed: its chart (medians, CI band, the detector's level, change
// markers really painted red and green), the changes table, the "what can be seen" card with a
// suspect result, the run of that suspect with its A/B confirmation queued, a too-noisy result
// with its hint, and the alerts page (kind, steps, acknowledge). Full-page screenshots go to
// test-results/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { AgentView, DeviceView, Page as ListPage, RunView, SamplesView } from '../protocol/api.js';
import { runSettingsSchema } from '../protocol/domain.js';
import { repoRoot, startFarm, waitFor, type Farm } from './support/farm.js';
import type { AlertView, SeriesHistoryView } from '../protocol/alerts.js';
import { createAgent, syncInventory } from '../server/farm/registry.js';
import { completeJob } from '../server/queue/jobs.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const resultsDir = path.join(repoRoot, 'test-results');

let farm: Farm | null = null;
let browser: Browser | null = null;

after(async () => {
  await browser?.close().catch(() => undefined);
  await farm?.stop();
});

/** Collects uncaught page errors and console errors so the test can assert there were none. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // A rejected /ws/live upgrade or a 401 fetch is expected in the wrong-token case; callers decide.
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return errors;
}

async function newPage(b: Browser): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await b.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page, errors: watchErrors(page) };
}

interface ChartData { labels: unknown[]; data: number[]; width: number; height: number }

/** Reads the chart.js chart drawn on a canvas, in the page (the test's tsconfig has no DOM types). */
function chartData(page: Page, kind: string, jobId: string): Promise<ChartData | null> {
  return page.evaluate(([k, id]) => {
    const g = globalThis as unknown as {
      document: { querySelector(s: string): unknown };
      Chart: { getChart(c: unknown): { width: number; height: number; data: { labels?: unknown[]; datasets: { data: number[] }[] } } | undefined };
    };
    const canvas = g.document.querySelector(`canvas[data-chart="${k}"][data-job-id="${id}"]`);
    const chart = canvas ? g.Chart.getChart(canvas) : undefined;
    if (!chart) return null;
    return { labels: chart.data.labels ?? [], data: chart.data.datasets[0]?.data ?? [], width: chart.width, height: chart.height };
  }, [kind, jobId] as const);
}

/** As the dashboard formats relative changes and shares. */
const signedPct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

interface MarkerPixels { red: number; green: number; height: number }

/**
 * Counts the red and green pixels painted in the series chart on the vertical line halfway
 * between results `index − 1` and `index` (where a change starting at `index` is marked), taking
 * the best of three neighbouring pixel columns (the dashed line is anti-aliased).
 */
function markerPixels(page: Page, index: number): Promise<MarkerPixels | null> {
  return page.evaluate((i) => {
    interface Ctx { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } }
    interface Canvas { getContext(kind: '2d'): Ctx | null }
    interface ChartJs { currentDevicePixelRatio: number; chartArea: { top: number; bottom: number }; scales: { x: { getPixelForValue(v: number): number } } }
    const g = globalThis as unknown as { document: { querySelector(s: string): unknown }; Chart: { getChart(c: unknown): ChartJs | undefined } };
    const canvas = g.document.querySelector('#series-chart') as Canvas | null;
    const chart = canvas ? g.Chart.getChart(canvas) : undefined;
    const ctx = canvas?.getContext('2d');
    if (!chart || !ctx) return null;
    const ratio = chart.currentDevicePixelRatio;
    const x = (chart.scales.x.getPixelForValue(i - 1) + chart.scales.x.getPixelForValue(i)) / 2;
    const top = Math.round(chart.chartArea.top * ratio);
    const height = Math.round((chart.chartArea.bottom - chart.chartArea.top) * ratio);
    let red = 0;
    let green = 0;
    for (const dx of [-1, 0, 1]) {
      const px = ctx.getImageData(Math.round(x * ratio) + dx, top, 1, height).data;
      let r = 0;
      let gr = 0;
      for (let k = 0; k < px.length; k += 4) {
        const [cr, cg, cb] = [px[k]!, px[k + 1]!, px[k + 2]!];
        if (cr > 150 && cr - cg > 60 && cr - cb > 60) r++;
        if (cg > 90 && cg - cr > 40 && cg - cb > 20) gr++;
      }
      red = Math.max(red, r);
      green = Math.max(green, gr);
    }
    return { red, green, height };
  }, index);
}

test('dashboard shows the farm, runs and run charts in a real browser', { timeout: 180_000 }, async () => {
  assert.ok(fs.existsSync(CHROMIUM), 'chromium not found: install it with `apt-get install -y chromium`');
  fs.mkdirSync(resultsDir, { recursive: true });

  const f = await startFarm({ agent: true });
  farm = f;
  const model = path.join(repoRoot, 'examples', 'models', 'kws-cnn-fp32.onnx');
  const push = await f.cli(['model', 'push', model, '--family', 'kws-cnn', '--variant', 'fp32']);
  assert.equal(push.code, 0, `model push failed: ${push.stderr}`);
  const submit = await f.cli(['run', 'submit', '--model', 'kws-cnn:fp32', '--device', '*', '--warmup', '5', '--iterations', '60', '--branch', 'main', '--commit', '0123456789abcdef', '--wait']);
  assert.equal(submit.code, 0, `run submit failed (${submit.code}): ${submit.stderr}\n${submit.stdout}`);

  // What the API says, to compare the dashboard against.
  const runs = (await f.api<ListPage<RunView>>('GET', '/runs')).body.items;
  const runId = runs[0]?.id;
  assert.ok(runId, 'the run is listed');
  const run = (await f.api<RunView>('GET', `/runs/${runId}`)).body;
  const job = run.jobs?.[0];
  assert.ok(job, 'the run has a job');
  assert.equal(job.status, 'succeeded');
  const samples = (await f.api<SamplesView>('GET', `/jobs/${job.id}/samples?metric=latency_ms`)).body.samples;
  assert.ok(samples.length >= 60, `at least 60 samples, got ${samples.length}`);
  const device = (await f.api<ListPage<DeviceView>>('GET', '/devices')).body.items[0];
  const agent = (await f.api<ListPage<AgentView>>('GET', '/agents')).body.items[0];
  assert.ok(device && agent);

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });

  // --- Farm page, token from the URL fragment ---
  const { page, errors } = await newPage(browser);
  await page.goto(`${f.url}/#token=${f.adminToken}`);
  const deviceRow = page.locator(`#devices tr[data-device-name="${device.name}"]`);
  await deviceRow.waitFor();
  assert.equal(await deviceRow.getAttribute('data-state'), device.state);
  assert.match(await deviceRow.innerText(), new RegExp(`${device.state}[\\s\\S]*${device.health}`));
  assert.ok(['idle', 'busy'].includes(device.state), `device state ${device.state}`);
  assert.match(await deviceRow.innerText(), /linux/);
  const agentRow = page.locator(`#agents tr[data-agent-name="${agent.name}"]`);
  await agentRow.waitFor();
  assert.equal(await agentRow.getAttribute('data-online'), 'true');
  assert.match(await agentRow.locator('[data-badge]').innerText(), /^online$/);
  await page.locator('#live[data-state="live"]').waitFor();

  const url = new URL(page.url());
  assert.equal(url.hash, '#/farm', 'the token is stripped from the URL');
  assert.ok(!page.url().includes(f.adminToken), 'the token is not in the URL');
  assert.equal(await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('benchfleet.token')), f.adminToken);
  await page.screenshot({ path: path.join(resultsDir, 'dashboard-farm.png'), fullPage: true });

  // --- Runs page; a new run shows up through a live event without reloading ---
  await page.click('nav a[data-nav="runs"]');
  const runRow = page.locator(`#runs tr[data-run-id="${runId}"]`);
  await runRow.waitFor();
  const runText = await runRow.innerText();
  assert.match(runText, /kws-cnn:fp32/);
  assert.match(runText, /succeeded/);
  assert.match(runText, /main @ 0123456789/);
  const second = await f.api<RunView>('POST', '/runs', { model: 'kws-cnn:fp32', device: '*', settings: { warmup: 1, iterations: 5 } });
  assert.equal(second.status, 201);
  await page.locator(`#runs tr[data-run-id="${second.body.id}"]`).waitFor({ timeout: 5_000 });

  // --- Run detail with charts ---
  await runRow.click();
  await page.waitForURL((u) => u.hash === `#/runs/${runId}`);
  await page.locator(`#jobs tr[data-job-id="${job.id}"][data-status="succeeded"]`).waitFor();
  assert.match(await page.locator(`#results tr[data-job-id="${job.id}"]`).innerText(), /ms/);
  await page.locator(`canvas[data-chart="histogram"][data-job-id="${job.id}"]`).waitFor();
  await page.locator(`canvas[data-chart="trace"][data-job-id="${job.id}"]`).waitFor();
  const trace = await chartData(page, 'trace', job.id);
  const hist = await chartData(page, 'histogram', job.id);
  assert.ok(trace, 'the trace chart is rendered');
  assert.ok(hist, 'the histogram chart is rendered');
  assert.equal(trace.data.length, samples.length, 'one trace point per sample');
  assert.deepEqual(trace.data, samples);
  assert.equal(hist.data.reduce((a, b) => a + b, 0), samples.length, 'histogram counts add up to the sample count');
  assert.ok(hist.data.length > 1 && hist.data.length <= 60, `histogram has ${hist.data.length} bins`);
  assert.ok(trace.width > 0 && trace.height > 0 && hist.width > 0 && hist.height > 0, 'charts have a size');
  assert.ok(!page.url().includes(f.adminToken), 'the token stays out of the URL');
  await page.screenshot({ path: path.join(resultsDir, 'dashboard-run.png'), fullPage: true });

  // --- A paired A/B run: one test on the device, its jobs listed by round and arm, not as jobs or results ---
  const pushInt8 = await f.cli(['model', 'push', path.join(repoRoot, 'examples', 'models', 'kws-cnn-int8.onnx'), '--family', 'kws-cnn', '--variant', 'int8']);
  assert.equal(pushInt8.code, 0, `model push failed: ${pushInt8.stderr}`);
  const abSubmit = await f.api<RunView>('POST', '/runs', { model: 'kws-cnn:int8', device: '*', settings: { warmup: 2, iterations: 20 }, ab: { baseline: 'kws-cnn:fp32', rounds: 4 } });
  assert.equal(abSubmit.status, 201, JSON.stringify(abSubmit.body));
  const abRunId = abSubmit.body.id;
  await page.goto(`${f.url}/#/runs/${abRunId}`);
  await page.locator('#ab-tests tr[data-ab-test]').waitFor();
  // The page follows the test through live events until it is decided.
  await page.locator('#ab-tests tr[data-ab-test]:not([data-status="running"])').waitFor({ timeout: 90_000 });
  const abRun = (await f.api<RunView>('GET', `/runs/${abRunId}`)).body;
  const abTest = abRun.ab_tests?.[0];
  assert.ok(abTest, 'the A/B run has a test');
  assert.equal(abRun.ab_tests?.length, 1, 'one test: one device');
  assert.notEqual(abTest.status, 'running');
  assert.ok(['changed', 'no_change', 'inconclusive'].includes(abTest.status), `the test was decided: ${abTest.status} (${abTest.reason})`);
  assert.ok(abTest.estimate !== null && abTest.ci_low !== null && abTest.ci_high !== null && abTest.noise !== null, 'the test has an estimate, interval and noise');
  await page.locator(`#ab-tests tr[data-ab-test="${abTest.id}"][data-status="${abTest.status}"]`).waitFor();
  const abText = await page.locator(`#ab-tests tr[data-ab-test="${abTest.id}"]`).innerText();
  for (const part of [device.name, 'latency_ms', 'comparison', abTest.status.replace('_', ' '), `${abTest.rounds}/4`, signedPct(abTest.estimate),
    `${signedPct(abTest.ci_low)} … ${signedPct(abTest.ci_high)}`, pct(abTest.noise), abTest.reason ?? '', abTest.baseline_sha256.slice(0, 12), abTest.candidate_sha256.slice(0, 12)]) {
    assert.ok(abText.includes(part), `the A/B test row shows "${part}": ${abText}`);
  }
  const roundJobs = (abRun.jobs ?? []).filter((j) => j.ab);
  assert.equal(roundJobs.length, (abRun.jobs ?? []).length, 'every job of an A/B run is a round job');
  assert.ok(roundJobs.length >= 2 * abTest.rounds, `two jobs per round (${roundJobs.length} jobs, ${abTest.rounds} rounds)`);
  assert.equal(await page.locator('#ab-jobs tbody tr').count(), roundJobs.length, 'every round job is listed under the test');
  for (const j of roundJobs) {
    const row = page.locator(`#ab-jobs tr[data-job-id="${j.id}"]`);
    assert.equal(await row.getAttribute('data-ab-round'), String(j.ab!.round));
    assert.equal(await row.getAttribute('data-ab-arm'), j.ab!.arm);
    assert.match(await row.innerText(), new RegExp(`^A/B round ${j.ab!.round}, arm ${j.ab!.arm}\\s[\\s\\S]*${j.ab!.arm === 'A' ? 'baseline' : 'candidate'} ${j.ab!.model_sha256.slice(0, 12)}`));
  }
  assert.equal(await page.locator('#jobs').count(), 0, 'no ordinary jobs table');
  assert.match(await page.locator('[data-page="run"]').innerText(), /This run is a paired A\/B test/);
  assert.equal(await page.locator('#results').count(), 0, 'round results are not listed as results of the run');
  assert.equal(await page.locator('canvas[data-chart]').count(), 0, 'no latency charts for round jobs');
  await page.screenshot({ path: path.join(resultsDir, 'dashboard-ab.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no errors in the page');

  // --- No token: the form asks for one, and submitting it opens the dashboard ---
  const fresh = await newPage(browser);
  await fresh.page.goto(`${f.url}/#/runs`);
  await fresh.page.locator('#token-form').waitFor();
  assert.match(await fresh.page.locator('#token-form').innerText(), /benchfleet token create --role read/);
  await fresh.page.fill('#token-input', f.adminToken);
  await fresh.page.click('#token-form button[type="submit"]');
  await fresh.page.locator(`#runs tr[data-run-id="${runId}"]`).waitFor();
  await fresh.context.close();

  // --- Wrong token: rejected, forgotten, and the form appears ---
  const wrong = await newPage(browser);
  await wrong.page.goto(`${f.url}/#token=not-a-real-token`);
  await wrong.page.locator('#token-form').waitFor();
  await wrong.page.locator('#token-problem').waitFor();
  assert.ok(!wrong.page.url().includes('not-a-real-token'), 'the wrong token is stripped from the URL too');
  assert.equal(await wrong.page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('benchfleet.token')), null);
  await wrong.context.close();
});

test('series page shows changes both ways, the detector\'s view and a suspect; run pages show verdicts and the A/B confirmation; alerts show kind and steps', { timeout: 120_000 }, async () => {
  assert.ok(fs.existsSync(CHROMIUM), 'chromium not found: install it with `apt-get install -y chromium`');
  const f = farm ?? (await startFarm({ agent: true }));
  farm = f;
  // A series judged result by result as agents' results are (completeJob → the detector): 4.6 ms,
  // an improvement to 4.0, a regression back to 4.6 (an alert), a further step to 5.3 (the alert's
  // second step), then two results of a new model at 6.1: suspect, so an A/B confirmation is queued.
  const db = f.server.db;
  const { agentId } = createAgent(db, 'history-agent', Date.now());
  syncInventory(db, agentId, [{ serial: 'h1', name: 'history-board', driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true }], Date.now());
  const deviceId = (db.prepare(`SELECT id FROM devices WHERE name = 'history-board'`).get() as { id: string }).id;
  const [shaB, shaC] = ['b'.repeat(64), 'c'.repeat(64)];
  for (const sha of [shaB, shaC]) db.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, created_at) VALUES (?, 'hist', 'int8', 'onnx', 1, ?)`).run(sha, Date.now());
  const plan: [level: number, results: number, sha: string][] = [[4.6, 12, shaB], [4.0, 14, shaB], [4.6, 12, shaB], [5.3, 12, shaB], [6.1, 2, shaC]];
  // Job-to-job noise of about 0.6% (a fixed pattern, so the test is deterministic), samples within ±1% of their median.
  const jitter = [0.4, -0.7, 0.9, -0.2, 0.1, -0.9, 0.6, -0.4, 0.2, 0.8, -0.6, -0.1, 0.5, -0.8, 0.3, 0.7, -0.3, -0.5, 0, 0.9, -0.6, 0.4, -0.9, 0.2];
  const t0 = Date.now() - 90 * 60_000;
  const addResult = (i: number, id: string, sha: string, git: Record<string, string>, median: number, spread: number): void => {
    const at = t0 + i * 60_000;
    db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, created_at) VALUES (?, ?, 'onnxruntime', 'history-board', ?, ?, ?)`)
      .run(`run_${id}`, sha, JSON.stringify(runSettingsSchema.parse({ threads: 1, iterations: 31 })), JSON.stringify(git), at);
    db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, attempt, lease_owner, lease_expires_at, timeout_ms, created_at) VALUES (?, ?, ?, 'assigned', 1, ?, ?, 60000, ?)`)
      .run(`job_${id}`, `run_${id}`, deviceId, agentId, at + 60_000, at);
    const samples = Array.from({ length: 31 }, (_, k) => median * (1 + spread * (k / 30 - 0.5)));
    assert.equal(completeJob(db, { job_id: `job_${id}`, attempt: 1 }, agentId, at, [{ metric: 'latency_ms', unit: 'ms', samples }], {}), 'accepted');
  };
  let n = 0;
  for (const [level, count, sha] of plan) {
    for (let c = 0; c < count; c++, n++) addResult(n, `hist${n}`, sha, { branch: 'main', commit: `${n.toString(16).padStart(2, '0')}cafe00` }, level * (1 + jitter[n % jitter.length]! * 0.01), 0.02);
  }
  // A pull-request result whose own samples scatter ±30%: too noisy to judge against a 0.7%-noise series.
  addResult(n, 'pr', shaC, { branch: 'feature', commit: 'feedface00' }, 5.3, 0.6);

  const key = (db.prepare(`SELECT key FROM series WHERE family = 'hist'`).get() as { key: string }).key;
  const history = (await f.api<SeriesHistoryView>('GET', `/series/${key}/latency_ms`)).body;
  assert.equal(history.points.length, n, 'the pull-request result is not part of the baseline branch');
  assert.deepEqual(history.changes.map((c) => [c.job_id, c.direction]), [['job_hist12', 'improvement'], ['job_hist26', 'regression'], ['job_hist38', 'regression']],
    'the detector found the three steps where they start');
  const watch = history.watch;
  assert.ok(watch && watch.noise !== null && watch.level !== null && watch.outlier_rate !== null, 'the series has a watch with noise and level');
  const suspect = watch.suspect_job_id;
  assert.ok(suspect === 'job_hist50' || suspect === 'job_hist51', `one of the two new-model results is suspect (${suspect})`);
  const alert = (await f.api<ListPage<AlertView>>('GET', '/alerts')).body.items.find((a) => a.family === 'hist');
  assert.ok(alert, 'the regression opened an alert');
  assert.equal(alert.kind, 'change');
  assert.equal(alert.steps, 2, 'the further step updated the alert');
  assert.equal(alert.job_id, 'job_hist26');
  assert.equal(history.changes[0]!.alert_id, null, 'an improvement opens no alert');
  assert.deepEqual(history.changes.slice(1).map((c) => c.alert_id), [alert.id, alert.id]);

  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const { context, page, errors } = await newPage(browser);
  await page.goto(`${f.url}/#/series/${key}/latency_ms&token=${f.adminToken}`);
  const section = page.locator(`[data-page="series-detail"][data-points="${n}"]`);
  await section.waitFor();
  assert.equal(await section.getAttribute('data-markers'), '12:improvement 26:regression 38:regression', 'every change is marked at its first result');

  // --- The chart: medians with their CI band, and the detector's level stepping at each change ---
  const chart = await page.evaluate(() => {
    const g = globalThis as unknown as { document: { querySelector(s: string): unknown }; Chart: { getChart(c: unknown): { data: { labels: unknown[]; datasets: { label: string; data: (number | null)[] }[] }; width: number } | undefined } };
    const c = g.Chart.getChart(g.document.querySelector('#series-chart'));
    return c ? { labels: c.data.labels, datasets: c.data.datasets.map((d) => ({ label: d.label, data: d.data })), width: c.width } : null;
  });
  assert.ok(chart && chart.width > 300, 'the series chart is drawn');
  const series = (label: string): (number | null)[] => chart.datasets.find((d) => d.label === label)?.data ?? [];
  const medians = series('median');
  const [low, high, levels] = [series('CI low'), series('95% CI of the median'), series('level (detector)')];
  assert.deepEqual(medians, history.points.map((p) => p.median));
  assert.match(String(chart.labels[0]), /^00cafe0 · \w+ \d+ \d\d:\d\d$/, 'commits and times label the points');
  assert.equal(new Set(chart.labels).size, n, 'every point has its own label (not the same date for all)');
  assert.equal(await section.getAttribute('data-versions'), '50', 'the new model version is marked where it starts');
  const [bandLow, bandHigh] = [series('band low'), series('baseline band (level ± 1.96 σ of the job-to-job noise)')];
  assert.equal(bandHigh.length, n, 'the baseline band is drawn');
  assert.ok(bandLow.every((b, i) => b === null || (b < levels[i]! && levels[i]! < bandHigh[i]!)), 'the band surrounds the level');
  assert.ok(low.every((lo, i) => lo! <= medians[i]! && medians[i]! <= high[i]!), 'the CI band surrounds the medians');
  assert.equal(levels.length, n);
  const near = (x: number | null, y: number): boolean => x !== null && Math.abs(x / y - 1) < 0.02;
  assert.ok(levels.every((l, i) => near(l, i < 12 ? 4.6 : i < 26 ? 4.0 : i < 38 ? 4.6 : 5.3)), `the level steps with the changes: ${levels.map((l) => l?.toFixed(2)).join(' ')}`);
  // The markers are really painted: a red line before each regression, a green one before the improvement, nothing between.
  const painted = await waitFor('the change markers painted', async () => {
    const [imp, reg, none] = [await markerPixels(page, 12), await markerPixels(page, 26), await markerPixels(page, 6)];
    return imp && reg && none && imp.green > 0 && reg.red > 0 ? { imp, reg, none, reg2: await markerPixels(page, 38) } : null;
  }, 5_000);
  assert.ok(painted.imp.green > painted.imp.height * 0.3 && painted.imp.red === 0, `a green dashed line at the improvement: ${JSON.stringify(painted.imp)}`);
  assert.ok(painted.reg.red > painted.reg.height * 0.3 && painted.reg.green === 0, `a red dashed line at the regression: ${JSON.stringify(painted.reg)}`);
  assert.ok(painted.reg2 && painted.reg2.red > painted.reg2.height * 0.3, `a red dashed line at the second regression: ${JSON.stringify(painted.reg2)}`);
  assert.ok(painted.none.red + painted.none.green < 5, `no marker where nothing changed: ${JSON.stringify(painted.none)}`);

  // --- The changes table, newest first ---
  const rows = page.locator('#changes tbody tr');
  assert.equal(await rows.count(), 3);
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => (tr as unknown as { getAttribute(k: string): string | null }).getAttribute('data-job-id'))), ['job_hist38', 'job_hist26', 'job_hist12']);
  for (const c of history.changes) {
    const text = await page.locator(`#changes tr[data-change-id="${c.id}"]`).innerText();
    const commit = `${Number(c.job_id.slice('job_hist'.length)).toString(16).padStart(2, '0')}cafe00`;
    for (const part of [commit, c.direction, `z ${c.z.toFixed(1)} over ${c.results} result${c.results === 1 ? '' : 's'}`, signedPct(c.after / c.before - 1), 'history']) {
      assert.ok(text.includes(part), `the ${c.direction} row shows "${part}": ${text}`);
    }
    assert.ok(text.includes(`${c.before.toFixed(3)} → ${c.after.toFixed(3)} ms`), `before → after in ms: ${text}`);
    assert.equal(await page.locator(`#changes tr[data-change-id="${c.id}"] a[href="#/alerts/${c.alert_id ?? 'none'}"]`).count(), c.alert_id ? 1 : 0, 'regressions link their alert');
  }
  assert.equal(await page.locator(`#changes tr[data-direction="regression"] [data-badge="regression"].badge-red`).count(), 2);
  assert.equal(await page.locator(`#changes tr[data-direction="improvement"] [data-badge="improvement"].badge-green`).count(), 1);

  // --- What can be seen: level, noise, outliers, detectable changes, A/B, the summary, and the suspect ---
  const card = page.locator('#watch');
  assert.equal(await card.getAttribute('data-suspect'), suspect);
  assert.equal(await card.locator('[data-field="summary"]').innerText(), watch.summary);
  assert.equal(await card.locator('[data-field="noise"]').innerText(), pct(watch.noise));
  assert.equal(await card.locator('[data-field="outliers"]').innerText(), `${pct(watch.outlier_rate)} of results`);
  assert.match(await card.locator('[data-field="level"]').innerText(), /^5\.\d+ ms$/);
  assert.equal(await card.locator('[data-field="detectable"]').innerText(),
    watch.detectable.filter((d) => d.effect !== null).map((d) => `${pct(d.effect!)} within ${d.results} result${d.results === 1 ? '' : 's'}`).join(' · '));
  assert.ok(watch.ab_detectable.length > 0, 'an A/B test could see more than the history');
  assert.equal(await card.locator('[data-field="ab-detectable"]').innerText(), watch.ab_detectable.map((d) => `${pct(d.effect)} in ${d.rounds} rounds`).join(' · '));
  assert.match(await card.innerText(), /assumed: no A\/B test has measured it on this device yet/);
  assert.equal(await page.locator('.page-head [data-badge="suspect"]').count(), 1, 'the suspect badge is shown');
  assert.match(await page.locator('#series-alerts').innerText(), /change, 2 steps/);
  await page.screenshot({ path: path.join(resultsDir, 'dashboard-series.png'), fullPage: true });

  // --- The suspect's run: its verdict is being confirmed by an A/B test whose first round is queued ---
  const suspectRun = `run_${suspect.slice('job_'.length)}`;
  await card.locator(`a[href="#/runs/${suspectRun}"]`).click();
  await page.waitForURL((u) => u.hash === `#/runs/${suspectRun}`);
  const run = (await f.api<RunView>('GET', `/runs/${suspectRun}`)).body;
  const confirm = run.ab_tests?.[0];
  assert.ok(confirm, 'the suspect started an A/B confirmation');
  assert.equal(confirm.purpose, 'confirm');
  assert.equal(confirm.trigger_job_id, suspect);
  assert.deepEqual([confirm.baseline_sha256, confirm.candidate_sha256, confirm.status, confirm.rounds], [shaB, shaC, 'running', 0]);
  const abRow = page.locator(`#ab-tests tr[data-ab-test="${confirm.id}"][data-status="running"]`);
  await abRow.waitFor();
  assert.match(await abRow.innerText(), new RegExp(`history-board[\\s\\S]*latency_ms[\\s\\S]*confirms a suspected regression of[\\s\\S]*running[\\s\\S]*0/${confirm.max_rounds}`));
  const rounds = (run.jobs ?? []).filter((j) => j.ab);
  assert.deepEqual(rounds.map((j) => [j.ab!.round, j.ab!.arm, j.status]).sort(), [[1, 'A', 'queued'], [1, 'B', 'queued']]);
  assert.deepEqual(await page.locator('#ab-jobs tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as unknown as { innerText: string }).innerText.split('\t')[0])),
    ['A/B round 1, arm A', 'A/B round 1, arm B']);
  for (const j of rounds) assert.equal(await page.locator(`#jobs tr[data-job-id="${j.id}"]`).count(), 0, 'round jobs are not listed as ordinary jobs');
  const verdict = (run.jobs ?? []).find((j) => j.id === suspect)?.verdicts.find((v) => v.metric === 'latency_ms');
  assert.ok(verdict && verdict.verdict === 'regression' && verdict.confirmation === 'pending' && verdict.hint, 'the suspect is a pending regression with a hint');
  const result = page.locator(`#results tr[data-job-id="${suspect}"]`);
  assert.match(await result.locator('[data-verdict="regression"].badge-red').innerText(), /^regression \+\d+\.\d% · confirming$/);
  assert.equal(await result.locator('[data-field="hint"]').innerText(), verdict.hint);
  assert.match(verdict.hint, new RegExp(`A/B test ${confirm.id}`));
  // The change's interval and what it rests on, computed by the protocol's one function (loaded by the page).
  const shownInterval = await result.locator('[data-field="interval"]').innerText();
  assert.ok(verdict.ci_low !== null && verdict.ci_high !== null && verdict.evidence, 'the verdict has an interval and evidence');
  assert.equal(shownInterval, `95% CI ${signedPct(verdict.ci_low)} … ${signedPct(verdict.ci_high)} — ${verdict.evidence}`);
  await page.screenshot({ path: path.join(resultsDir, 'dashboard-suspect-run.png'), fullPage: true });

  // --- A result of the first regression: confirmed by the history ---
  await page.goto(`${f.url}/#/runs/run_hist27`);
  await page.locator('#results tr[data-job-id="job_hist27"]').waitFor();
  assert.match(await page.locator('#results tr[data-job-id="job_hist27"] [data-verdict="regression"]').innerText(), /confirmed by the history/);

  // --- The too-noisy pull-request result: amber, with what would make it judgeable ---
  await page.goto(`${f.url}/#/runs/run_pr`);
  const noisy = page.locator('#results tr[data-job-id="job_pr"]');
  await noisy.waitFor();
  const prVerdict = (await f.api<RunView>('GET', '/runs/run_pr')).body.jobs?.[0]?.verdicts[0];
  assert.ok(prVerdict && prVerdict.verdict === 'too_noisy' && prVerdict.hint, `the pull-request result is too noisy: ${JSON.stringify(prVerdict)}`);
  assert.equal(await noisy.locator('[data-verdict="too_noisy"].badge-amber').innerText(), 'too noisy');
  assert.equal(await noisy.locator('[data-field="hint"]').innerText(), prVerdict.hint);
  assert.match(prVerdict.hint, /--iterations \d+/);

  // --- The runs list: per device the headline median and verdict; a confirmed regression is red although the run succeeded ---
  await page.goto(`${f.url}/#/runs`);
  const listed = page.locator('#runs tr[data-run-id="run_hist27"]');
  await listed.waitFor();
  const headline = listed.locator('.headline[data-device="history-board"]');
  assert.match(await headline.innerText(), /^history-board [\d.]+ ms\s+regression \+\d+\.\d% · confirmed$/);
  assert.equal(await headline.locator('.badge-red[data-verdict="regression"]').count(), 1);

  // --- A wide verdict (interval, evidence, hint) stays on the page at 1440 px: the results table does not overflow ---
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${f.url}/#/runs/${suspect.replace('job_', 'run_')}`);
  const suspectRow = page.locator(`#results tr[data-job-id="${suspect}"]`);
  await suspectRow.waitFor();
  const fit = await page.locator('#results').evaluate((t) => {
    const wrap = (t as unknown as { parentElement: { scrollWidth: number; clientWidth: number } }).parentElement;
    return { scroll: wrap.scrollWidth, client: wrap.clientWidth };
  });
  assert.ok(fit.scroll <= fit.client + 1, `the results table fits its box: ${fit.scroll} > ${fit.client}`);
  const right = await suspectRow.locator('.verdict-cell').evaluate((c) => (c as unknown as { getBoundingClientRect(): { right: number } }).getBoundingClientRect().right);
  assert.ok(right <= 1440, `the vs-baseline cell ends inside the viewport (${right} px)`);

  // --- A confirmation rerun is marked as such in the run's results ---
  db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, attempt, lease_owner, lease_expires_at, timeout_ms, created_at, confirms_job_id)
              VALUES ('job_rerun40', 'run_hist40', ?, 'assigned', 1, ?, ?, 60000, ?, 'job_hist40')`).run(deviceId, agentId, Date.now() + 60_000, Date.now());
  assert.equal(completeJob(db, { job_id: 'job_rerun40', attempt: 1 }, agentId, Date.now(), [{ metric: 'latency_ms', unit: 'ms', samples: Array.from({ length: 31 }, (_, k) => 5.3 + k * 0.001) }], {}), 'accepted');
  await page.goto(`${f.url}/#/runs/run_hist40`);
  const rerunRow = page.locator('#results tr[data-job-id="job_rerun40"]');
  await rerunRow.waitFor();
  assert.equal(await rerunRow.getAttribute('data-rerun'), 'yes');
  assert.equal(await rerunRow.locator('[data-badge="confirmation rerun"]').count(), 1);
  assert.equal(await page.locator('#results tr[data-job-id="job_hist40"]').getAttribute('data-rerun'), 'no');
  await page.goto(`${f.url}/#/series/${key}/latency_ms`);
  await page.locator(`[data-page="series-detail"][data-reruns="1"]`).waitFor();

  // --- The alerts page: kind and steps; acknowledging works ---
  await page.goto(`${f.url}/#/alerts`);
  const row = page.locator(`#alerts tr[data-alert-id="${alert.id}"]`);
  await row.waitFor();
  const escaped = signedPct(alert.effect).replace('+', '\\+').replace('.', '\\.');
  assert.match(await row.innerText(), new RegExp(`hist:int8[\\s\\S]*history-board[\\s\\S]*latency_ms[\\s\\S]*${escaped}[\\s\\S]*change, 2 steps[\\s\\S]*1acafe00`));
  assert.equal(await row.locator('[data-kind="change"]').getAttribute('data-steps'), '2');
  assert.match(await row.locator('[data-field="change"]').getAttribute('title') ?? '', /\(95% CI [+-]\d+\.\d% … [+-]\d+\.\d%\) against the baseline[\s\S]*— against the alert's baseline/);
  assert.match(await row.locator('[data-field="updated"]').innerText(), /ago|just now/, 'when the alert last changed');
  await page.screenshot({ path: path.join(resultsDir, 'dashboard-alerts.png'), fullPage: true });
  await row.locator('[data-action="ack"]').click();
  await page.locator(`#alerts tr[data-alert-id="${alert.id}"][data-status="acknowledged"]`).waitFor();
  assert.equal((await f.api<AlertView>('GET', `/alerts/${alert.id}`)).body.status, 'acknowledged');
  assert.deepEqual(errors, [], 'no errors in the page');
  await context.close();
});
