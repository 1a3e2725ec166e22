// End-to-end test of the dashboard in a real browser: a real farm (server + local agent) benchmarks
// the example keyword-spotting model, then headless Chromium (Debian's, driven by playwright-core)
// opens the dashboard with `#token=…` and checks the farm page (device, agent, live indicator), the
// runs list (including a run that appears through a live event), the run detail with both charts
// really drawn from the job's samples, the token form for a missing or wrong token, and saves
// full-page screenshots under test-results/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { AgentView, DeviceView, Page as ListPage, RunView, SamplesView } from '../protocol/api.js';
import { repoRoot, startFarm, type Farm } from './support/farm.js';
import type { AlertView } from '../protocol/alerts.js';
import { createAgent, syncInventory } from '../server/farm/registry.js';
import { completeJob } from '../server/queue/jobs.js';
import { analyzeSeries } from '../server/regression/analyzer.js';

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

test('dashboard shows the farm, runs and run charts in a real browser', { timeout: 120_000 }, async () => {
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

test('series page draws medians with CI band and change points; the alerts page acknowledges an alert', { timeout: 120_000 }, async () => {
  assert.ok(fs.existsSync(CHROMIUM), 'chromium not found: install it with `apt-get install -y chromium`');
  const f = farm ?? (await startFarm({ agent: true }));
  farm = f;
  // A series history with a step, stored through the same path agents' results take.
  const db = f.server.db;
  const { agentId } = createAgent(db, 'history-agent', Date.now());
  syncInventory(db, agentId, [{ serial: 'h1', name: 'history-board', driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true }], Date.now());
  const deviceId = (db.prepare(`SELECT id FROM devices WHERE name = 'history-board'`).get() as { id: string }).id;
  const sha = 'b'.repeat(64);
  db.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, created_at) VALUES (?, 'hist', 'int8', 'onnx', 1, ?)`).run(sha, Date.now());
  const t0 = Date.now() - 40 * 60_000;
  for (let i = 0; i < 24; i++) {
    const at = t0 + i * 60_000;
    db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, created_at) VALUES (?, ?, 'onnxruntime', 'history-board', ?, ?, ?)`)
      .run(`run_hist${i}`, sha, JSON.stringify({ threads: 1 }), JSON.stringify({ branch: 'main', commit: `${i.toString(16).padStart(2, '0')}cafe00` }), at);
    db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, attempt, lease_owner, lease_expires_at, timeout_ms, created_at) VALUES (?, ?, ?, 'assigned', 1, ?, ?, 60000, ?)`)
      .run(`job_hist${i}`, `run_hist${i}`, deviceId, agentId, at + 60_000, at);
    const median = (i < 14 ? 4 : 4.6) * (1 + ((i * 7) % 5 - 2) * 0.003);
    const samples = Array.from({ length: 21 }, (_, k) => median * (1 + 0.1 * (k / 20 - 0.5)));
    assert.equal(completeJob(db, { job_id: `job_hist${i}`, attempt: 1 }, agentId, at, [{ metric: 'latency_ms', unit: 'ms', samples }], {}), 'accepted');
  }
  const key = (db.prepare(`SELECT key FROM series WHERE family = 'hist'`).get() as { key: string }).key;
  analyzeSeries(db, key, Date.now());
  const alert = (await f.api<ListPage<AlertView>>('GET', '/alerts')).body.items.find((a) => a.family === 'hist');
  assert.ok(alert, 'the step opened an alert');

  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const { context, page, errors } = await newPage(browser);
  await page.goto(`${f.url}/#/series/${key}/latency_ms&token=${f.adminToken}`);
  await page.locator('[data-page="series-detail"][data-points="24"]').waitFor();
  const chart = await page.evaluate(() => {
    const g = globalThis as unknown as { document: { querySelector(s: string): unknown }; Chart: { getChart(c: unknown): { data: { labels: unknown[]; datasets: { data: number[] }[] }; width: number } | undefined } };
    const c = g.Chart.getChart(g.document.querySelector('#series-chart'));
    return c ? { labels: c.data.labels, medians: c.data.datasets[2]!.data, low: c.data.datasets[0]!.data, high: c.data.datasets[1]!.data, width: c.width } : null;
  });
  assert.ok(chart && chart.width > 300, 'the series chart is drawn');
  assert.equal(chart.medians.length, 24);
  assert.equal(chart.labels[0], '00cafe00', 'commits label the points');
  assert.ok(chart.low.every((lo, i) => lo <= chart.medians[i]! && chart.medians[i]! <= chart.high[i]!), 'the CI band surrounds the medians');
  assert.equal(await page.locator('#change-points tbody tr').count(), 1);
  assert.match(await page.locator('#change-points').innerText(), /0ecafe00/);
  await page.screenshot({ path: path.join(resultsDir, 'dashboard-series.png'), fullPage: true });

  await page.goto(`${f.url}/#/alerts`);
  const row = page.locator(`#alerts tr[data-alert-id="${alert.id}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /hist:int8[\s\S]*history-board[\s\S]*latency_ms[\s\S]*\+1\d\.\d%[\s\S]*change point/);
  await page.screenshot({ path: path.join(resultsDir, 'dashboard-alerts.png'), fullPage: true });
  await row.locator('[data-action="ack"]').click();
  await page.locator(`#alerts tr[data-alert-id="${alert.id}"][data-status="acknowledged"]`).waitFor();
  assert.equal((await f.api<AlertView>('GET', `/alerts/${alert.id}`)).body.status, 'acknowledged');
  assert.deepEqual(errors, [], 'no errors in the page');
  await context.close();
});
