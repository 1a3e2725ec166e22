// The run detail page (#/runs/<id>): the run header (model, settings, git, timing), its jobs with
// status, attempts, a progress bar while running and the error code of failed jobs, a results table
// per device (median, tail percentiles, mean ± CI half-width, bootstrap CI of the median, outliers,
// memory and energy) and, for each succeeded job, a latency histogram and per-iteration trace.
// Header and tables are re-rendered on every refresh; charts are created once per job (samples of a
// finished job never change) and destroyed when the page is left.
import type { JobView, LiveEvent, MeasurementSummary, RunView } from '../../protocol/api.js';
import { api, ApiError } from '../api.js';
import { chartsAvailable, latencyHistogram, latencyTrace, type ChartInstance } from '../charts.js';
import { badge, empty, errorBox, h, mono, replaceChildren, table, type Child } from '../dom.js';
import { bytes, dateTime, duration, label, num, shortId, tone } from '../format.js';
import type { Page } from '../page.js';
import { gitSummary } from './runs.js';

const LATENCY = 'latency_ms';

function metric(job: JobView, name: string): MeasurementSummary | undefined {
  return job.measurements.find((m) => m.metric === name);
}

function meta(rows: [string, Child][]): HTMLElement {
  const dl = h('dl', { class: 'meta' });
  for (const [k, v] of rows) dl.append(h('dt', {}, k), h('dd', {}, v));
  return dl;
}

function progressCell(job: JobView, minDurationMs: number): Child | Child[] {
  if (job.status !== 'running' && job.status !== 'assigned') return null;
  const p = job.progress;
  if (!p) return h('span', { class: 'subtle' }, job.status === 'assigned' ? 'starting…' : 'running…');
  // With a minimum duration the runner keeps measuring past `total` iterations until the time is up.
  const over = p.done > p.total;
  const pct = p.total > 0 ? Math.min(100, Math.round((100 * p.done) / p.total)) : 0;
  const bar = h('span', { class: `progress${over ? ' progress-over' : ''}`, role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100 }, h('span', {}));
  (bar.firstChild as HTMLElement).style.width = `${pct}%`;
  const text = over ? `${p.phase} ${p.done}${minDurationMs > 0 ? `, until ${duration(minDurationMs)} elapsed` : ''}` : `${p.phase} ${p.done}/${p.total}`;
  return [bar, h('span', { class: 'progress-label' }, text)];
}

function errorCell(job: JobView): Child | Child[] {
  if (!job.error) return null;
  return [h('span', { class: 'error-code' }, job.error.code), h('span', { class: 'error-message' }, job.error.message)];
}

function jobDuration(job: JobView): string {
  if (!job.started_at || !job.finished_at) return '—';
  return duration(new Date(job.finished_at).getTime() - new Date(job.started_at).getTime());
}

function withUnit(m: MeasurementSummary | undefined, value: (m: MeasurementSummary) => number): string {
  return m ? `${num(value(m))} ${m.unit}` : '—';
}

export function runDetailPage(runId: string): Page {
  const header = h('div', {}, h('div', { class: 'loading' }, 'loading…'));
  const jobsSection = h('div');
  const resultsSection = h('div');
  const chartsSection = h('div', { id: 'charts' });
  const el = h('section', { 'data-page': 'run', 'data-run-id': runId }, header, jobsSection, resultsSection, chartsSection);
  const charts = new Map<string, ChartInstance[]>();
  const chartGroups = new Map<string, HTMLElement>();

  function renderHeader(run: RunView): void {
    const s = run.settings;
    const total = Object.values(run.job_counts).reduce((a, b) => a + (b ?? 0), 0);
    const elapsed = run.finished_at ? duration(new Date(run.finished_at).getTime() - new Date(run.created_at).getTime()) : null;
    replaceChildren(header,
      h('div', { class: 'page-head' },
        h('h1', {}, `${run.model.family}:${run.model.variant}`),
        badge(label(run.status), tone(run.status)),
        h('span', { class: 'subtle mono', title: run.id }, run.id),
        h('a', { href: '#/runs', class: 'small' }, '← all runs')),
      h('div', { class: 'meta-grid' },
        h('div', { class: 'card' }, h('h3', {}, 'Model'), meta([
          ['model', `${run.model.family}:${run.model.variant}`],
          ['sha256', mono(run.model.sha256.slice(0, 16), run.model.sha256)],
          ['format', `${run.model.format} · ${bytes(run.model.size_bytes)}`],
          ['file', run.model.filename ?? '—'],
          ['runtime', run.runtime],
        ])),
        h('div', { class: 'card' }, h('h3', {}, 'Settings'), meta([
          ['warmup', `${s.warmup} iterations`],
          ['iterations', String(s.iterations)],
          ['min duration', s.min_duration_ms > 0 ? duration(s.min_duration_ms) : '—'],
          ['threads', String(s.threads)],
          ['seed · timeout', `${s.seed} · ${duration(s.timeout_ms)}`],
          ['devices', mono(run.device_selector)],
          ...(Object.keys(s.inputs).length ? [['inputs', Object.keys(s.inputs).join(', ')] as [string, Child]] : []),
        ])),
        h('div', { class: 'card' }, h('h3', {}, 'Submission'), meta([
          ['created', dateTime(run.created_at)],
          ['finished', run.finished_at ? `${dateTime(run.finished_at)}${elapsed ? ` (${elapsed})` : ''}` : '—'],
          ['jobs', `${total}`],
          ['git', gitSummary(run.git)],
          ...(run.git.repository ? [['repository', run.git.repository] as [string, Child]] : []),
          ...(run.git.pull_request ? [['pull request', run.git.pull_request] as [string, Child]] : []),
          ...(run.git.baseline_branch ? [['baseline', run.git.baseline_branch] as [string, Child]] : []),
        ])),
      ),
    );
  }

  function renderJobs(jobs: JobView[], minDurationMs: number): void {
    replaceChildren(jobsSection, h('h2', {}, 'Jobs'), jobs.length === 0
      ? empty('This run has no jobs.', 'No device matched the selector when it was submitted.')
      : table<JobView>([
        { title: 'Device', cell: (j) => h('strong', {}, j.device_name) },
        { title: 'Status', cell: (j) => badge(label(j.status), tone(j.status)) },
        { title: 'Attempt', cell: (j) => `${j.attempt}/${j.max_attempts}` },
        { title: 'Progress', cell: (j) => progressCell(j, minDurationMs) },
        { title: 'Started', cell: (j) => dateTime(j.started_at) },
        { title: 'Duration', cell: jobDuration },
        { title: 'Error', cell: errorCell },
      ], jobs, { id: 'jobs', rowAttrs: (j) => ({ 'data-job-id': j.id, 'data-status': j.status }) }));
  }

  function renderResults(jobs: JobView[]): void {
    const measured = jobs.filter((j) => metric(j, LATENCY));
    if (measured.length === 0) {
      replaceChildren(resultsSection);
      return;
    }
    const hasMem = measured.some((j) => metric(j, 'peak_rss_mib'));
    const hasEnergy = measured.some((j) => metric(j, 'energy_mj'));
    const hasFlags = measured.some((j) => j.measurements.some((m) => (m.flags ?? []).length > 0));
    const lat = (j: JobView): MeasurementSummary => metric(j, LATENCY)!;
    const results = table<JobView>([
      { title: 'Device', cell: (j) => h('strong', {}, j.device_name) },
      { title: 'Median', numeric: true, cell: (j) => h('strong', {}, withUnit(lat(j), (m) => m.median)) },
      { title: 'p90', numeric: true, cell: (j) => withUnit(lat(j), (m) => m.p90) },
      { title: 'p99', numeric: true, cell: (j) => withUnit(lat(j), (m) => m.p99) },
      { title: 'Mean ± CI', numeric: true, cell: (j) => `${num(lat(j).mean)} ± ${num(lat(j).mean_ci_half)} ${lat(j).unit}` },
      { title: 'Median 95% CI', numeric: true, cell: (j) => `[${num(lat(j).ci_low)}, ${num(lat(j).ci_high)}] ${lat(j).unit}` },
      { title: 'Min / max', numeric: true, cell: (j) => `${num(lat(j).min)} / ${num(lat(j).max)}` },
      { title: 'Outliers', numeric: true, cell: (j) => lat(j).outliers },
      { title: 'Samples', numeric: true, cell: (j) => lat(j).count },
      ...(hasMem ? [{ title: 'Peak memory', numeric: true, cell: (j: JobView) => withUnit(metric(j, 'peak_rss_mib'), (m) => m.max) }] : []),
      ...(hasEnergy ? [{ title: 'Energy / iter', numeric: true, cell: (j: JobView) => withUnit(metric(j, 'energy_mj'), (m) => m.median) }] : []),
      { title: 'vs baseline', cell: (j: JobView) => verdictCell(j) },
      ...(hasFlags ? [{ title: 'Flags', cell: (j: JobView) => h('span', {}, ...[...new Set(j.measurements.flatMap((m) => m.flags ?? []))].map((f) => badge(f, 'amber', `measured while ${f}: not comparable with unflagged results`))) }] : []),
    ], measured, { id: 'results', rowAttrs: (j) => ({ 'data-job-id': j.id }) });
    const envs = measured.filter((j) => j.environment && Object.keys(j.environment).length > 0).map((j) =>
      h('details', { class: 'small' }, h('summary', {}, `Environment — ${j.device_name}`),
        h('div', {}, ...Object.entries(j.environment ?? {}).map(([k, v]) => h('span', { class: 'chip' }, h('b', {}, k), ' ', typeof v === 'string' ? v : JSON.stringify(v))))));
    replaceChildren(resultsSection, h('h2', {}, 'Results'), results, ...envs);
  }

  async function addCharts(job: JobView, signal: AbortSignal): Promise<void> {
    const group = h('div', { class: 'chart-group', 'data-job-id': job.id }, h('h3', {}, `${job.device_name} `, h('span', { class: 'subtle mono small' }, shortId(job.id))));
    chartGroups.set(job.id, group);
    chartsSection.append(group);
    let samples: number[];
    let unit = 'ms';
    try {
      const view = await api.samples(job.id, LATENCY, signal);
      samples = view.samples;
      unit = view.unit;
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      chartGroups.delete(job.id); // try again on the next refresh
      group.remove();
      if (err instanceof ApiError && err.status === 404) return;
      throw err;
    }
    if (!chartsAvailable()) {
      group.append(errorBox('Charts unavailable:', null, 'chart.js did not load (/vendor/chart.umd.js).'));
      return;
    }
    const median = metric(job, LATENCY)?.median ?? NaN;
    const hist = h('canvas', { 'data-chart': 'histogram', 'data-job-id': job.id, 'aria-label': `latency histogram for ${job.device_name}`, role: 'img' });
    const trace = h('canvas', { 'data-chart': 'trace', 'data-job-id': job.id, 'aria-label': `latency per iteration for ${job.device_name}`, role: 'img' });
    group.append(h('div', { class: 'charts' },
      h('div', { class: 'card' }, h('h3', {}, `Latency distribution (${samples.length} samples)`), h('div', { class: 'chart-box' }, hist)),
      h('div', { class: 'card' }, h('h3', {}, 'Latency per iteration'), h('div', { class: 'chart-box' }, trace))));
    const made = [latencyHistogram(hist, samples, median, unit), latencyTrace(trace, samples, median, unit)].filter((c): c is ChartInstance => c !== null);
    charts.set(job.id, made);
  }

  return {
    el,
    async refresh(signal) {
      const run = await api.run(runId, signal);
      const jobs = run.jobs ?? [];
      renderHeader(run);
      renderJobs(jobs, run.settings.min_duration_ms);
      renderResults(jobs);
      const succeeded = jobs.filter((j) => j.status === 'succeeded' && metric(j, LATENCY));
      if (succeeded.length > 0 && !chartsSection.firstChild) chartsSection.append(h('h2', {}, 'Latency charts'));
      for (const job of succeeded) if (!chartGroups.has(job.id)) await addCharts(job, signal);
    },
    wants: (event: LiveEvent) => (event.type === 'job.changed' || event.type === 'run.changed') && event.run_id === runId,
    dispose() {
      for (const list of charts.values()) for (const c of list) c.destroy();
      charts.clear();
    },
  };
}

/** The latency verdict against the series' baseline: a coloured badge with effect and p-value. */
function verdictCell(j: JobView): Child {
  const v = j.verdicts.find((x) => x.metric === LATENCY);
  if (!v) return '—';
  if (v.verdict === 'insufficient_baseline') return h('span', { class: 'subtle', title: `needs 5 earlier results on ${v.baseline_branch}` }, `no baseline (${v.baseline_results})`);
  const pct = v.effect === null ? '' : ` ${v.effect >= 0 ? '+' : ''}${(v.effect * 100).toFixed(1)}%`;
  const tones = { regression: 'red', improvement: 'green', pass: 'grey' } as const;
  const confirmation = j.confirms_job_id ? ' (rerun)' : v.confirmation === 'confirmed' ? ' · confirmed' : v.confirmation === 'not_confirmed' ? ' · not confirmed' : v.confirmation === 'pending' ? ' · rerunning' : '';
  const b = badge(`${v.verdict}${pct}${confirmation}`, v.confirmation === 'not_confirmed' ? 'amber' : tones[v.verdict], `p=${v.p_value ?? '-'} vs ${v.baseline_results} results on ${v.baseline_branch}`);
  return j.series_key ? h('a', { href: `#/series/${j.series_key}/${LATENCY}`, title: 'the series over time' }, b) : b;
}
