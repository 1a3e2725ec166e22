// The run detail page (#/runs/<id>): the run header (model, settings, git, timing), its jobs with
// status, attempts, a progress bar while running and the error code of failed jobs, a results table
// per device (median, tail percentiles, mean ± CI half-width, distribution-free CI of the median, outliers,
// memory and energy) with each result's verdict (its confirmation and the detector's hint), the
// run's paired A/B tests (status, rounds, estimate and interval, noise) with their round jobs listed
// by round and arm apart from the ordinary jobs, and, for each succeeded ordinary job, a latency
// histogram and per-iteration trace.
// Header and tables are re-rendered on every refresh; charts are created once per job (samples of a
// finished job never change) and destroyed when the page is left.
import type { AbTestView, JobView, LiveEvent, MeasurementSummary, RunView, VerdictView } from '../../protocol/api.js';
import { api, ApiError } from '../api.js';
import { chartsAvailable, latencyHistogram, latencyTrace, type ChartInstance } from '../charts.js';
import { badge, empty, errorBox, h, meta, mono, replaceChildren, table, type Child, type Tone } from '../dom.js';
import { bytes, change, dateTime, duration, label, num, pct, shortId, signedPct, tone } from '../format.js';
import type { Page } from '../page.js';
import { gitSummary } from './runs.js';

const LATENCY = 'latency_ms';

function metric(job: JobView, name: string): MeasurementSummary | undefined {
  return job.measurements.find((m) => m.metric === name);
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
  const abSection = h('div', { id: 'ab-section' });
  const resultsSection = h('div');
  const chartsSection = h('div', { id: 'charts' });
  const el = h('section', { 'data-page': 'run', 'data-run-id': runId }, header, jobsSection, abSection, resultsSection, chartsSection);
  /** Whether the A/B rounds list is unfolded (kept across refreshes once the user toggled it). */
  let roundsOpen: boolean | null = null;
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

  function renderJobs(jobs: JobView[], abJobs: number, minDurationMs: number): void {
    replaceChildren(jobsSection, h('h2', {}, 'Jobs'), jobs.length === 0
      ? (abJobs > 0 ? empty('This run is a paired A/B test: its jobs are the rounds listed under A/B tests.') : empty('This run has no jobs.', 'No device matched the selector when it was submitted.'))
      : table<JobView>([
        { title: 'Device', cell: (j) => [h('strong', {}, j.device_name), j.confirms_job_id ? [' ', badge('rerun', 'purple', `reruns ${j.confirms_job_id} to confirm its verdict`)] : null].flat() },
        { title: 'Status', cell: (j) => badge(label(j.status), tone(j.status)) },
        { title: 'Attempt', cell: (j) => `${j.attempt}/${j.max_attempts}` },
        { title: 'Progress', cell: (j) => progressCell(j, minDurationMs) },
        { title: 'Started', cell: (j) => dateTime(j.started_at) },
        { title: 'Duration', cell: jobDuration },
        { title: 'Error', cell: errorCell },
      ], jobs, { id: 'jobs', rowAttrs: (j) => ({ 'data-job-id': j.id, 'data-status': j.status }) }));
  }

  function renderAb(tests: AbTestView[], rounds: JobView[]): void {
    if (tests.length === 0 && rounds.length === 0) {
      replaceChildren(abSection);
      return;
    }
    const byTest = new Map(tests.map((t) => [t.id, t]));
    const sorted = [...rounds].sort((a, b) => (a.ab!.test_id.localeCompare(b.ab!.test_id)) || a.ab!.round - b.ab!.round || a.ab!.arm.localeCompare(b.ab!.arm));
    const open = roundsOpen ?? (sorted.length <= 24 || tests.some((t) => t.status === 'running'));
    // A click on the summary toggles the list after this handler runs: remember the state it is going to.
    const summary = h('summary', { onclick: () => { roundsOpen = !details.open; } },
      `Rounds: ${sorted.length} job${sorted.length === 1 ? '' : 's'} (A = baseline, B = candidate, run back to back on one device)`);
    const details: HTMLDetailsElement = h('details', { open, class: 'ab-rounds' }, summary,
      table<JobView>([
        { title: 'Round', cell: (j) => h('strong', {}, `A/B round ${j.ab!.round}, arm ${j.ab!.arm}`) },
        { title: 'Device', cell: (j) => j.device_name },
        { title: 'Model', cell: (j) => [j.ab!.arm === 'A' ? 'baseline ' : 'candidate ', mono(j.ab!.model_sha256.slice(0, 12), j.ab!.model_sha256)] },
        { title: 'Status', cell: (j) => badge(label(j.status), tone(j.status)) },
        { title: 'Median', numeric: true, cell: (j) => withUnit(metric(j, byTest.get(j.ab!.test_id)?.metric ?? LATENCY), (m) => m.median) },
        { title: 'Duration', cell: jobDuration },
        { title: 'Error', cell: errorCell },
      ], sorted, {
        id: 'ab-jobs',
        rowAttrs: (j) => ({ 'data-job-id': j.id, 'data-status': j.status, 'data-ab-test': j.ab!.test_id, 'data-ab-round': j.ab!.round, 'data-ab-arm': j.ab!.arm }),
      }));
    replaceChildren(abSection, h('h2', {}, 'A/B tests'),
      tests.length === 0 ? null : table<AbTestView>([
        { title: 'Device', cell: (t) => h('strong', {}, t.device_name) },
        { title: 'Metric', cell: (t) => t.metric },
        { title: 'Purpose', cell: abPurpose },
        { title: 'A → B', cell: (t) => [mono(t.baseline_sha256.slice(0, 12), `A (baseline) ${t.baseline_sha256}`), ' → ', mono(t.candidate_sha256.slice(0, 12), `B (candidate) ${t.candidate_sha256}`)] },
        { title: 'Status', cell: (t) => badge(label(t.status), abTone(t), t.decided_at ? `decided ${dateTime(t.decided_at)}` : `started ${dateTime(t.created_at)}`) },
        { title: 'Rounds', numeric: true, cell: (t) => `${t.rounds}/${t.max_rounds}${t.failed_rounds > 0 ? ` (${t.failed_rounds} failed)` : ''}` },
        { title: 'B vs A', numeric: true, cell: (t) => h('strong', {}, signedPct(t.estimate)) },
        { title: '95% interval', numeric: true, cell: (t) => (t.ci_low === null || t.ci_high === null ? '—' : `${signedPct(t.ci_low)} … ${signedPct(t.ci_high)}`) },
        { title: 'Noise', numeric: true, cell: (t) => h('span', { title: 'σ of the paired log ratio of one round' }, pct(t.noise)) },
        { title: 'Reason', cell: (t) => h('span', { class: 'reason' }, t.reason ?? (t.status === 'running' ? `running: changes of ${pct(t.min_effect)} or more matter` : '—')) },
      ], tests, { id: 'ab-tests', rowAttrs: (t) => ({ 'data-ab-test': t.id, 'data-status': t.status }) }),
      sorted.length === 0 ? null : details);
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
    const hasFidelity = measured.some((j) => j.fidelity);
    const results = table<JobView>([
      { title: 'Device', cell: (j) => [h('strong', {}, j.device_name), j.confirms_job_id ? ' ' : null,
        j.confirms_job_id ? badge('confirmation rerun', 'purple', `reruns ${j.confirms_job_id} to confirm its verdict; never part of the baseline on its own`) : null] },
      {
        title: 'Median', numeric: true, cell: (j) => h('strong', {
          title: `mean ${num(lat(j).mean)} ± ${num(lat(j).mean_ci_half)} · min ${num(lat(j).min)} · max ${num(lat(j).max)} · ${lat(j).outliers} outliers`,
        }, withUnit(lat(j), (m) => m.median)),
      },
      { title: 'p90', numeric: true, cell: (j) => withUnit(lat(j), (m) => m.p90) },
      { title: 'p99', numeric: true, cell: (j) => withUnit(lat(j), (m) => m.p99) },
      { title: 'Median 95% CI', numeric: true, cell: (j) => `[${num(lat(j).ci_low)}, ${num(lat(j).ci_high)}]` },
      { title: 'Samples', numeric: true, cell: (j) => h('span', { title: `${lat(j).outliers} outliers` }, String(lat(j).count)) },
      ...(hasMem ? [{ title: 'Peak memory', numeric: true, cell: (j: JobView) => withUnit(metric(j, 'peak_rss_mib'), (m) => m.max) }] : []),
      ...(hasEnergy ? [{ title: 'Energy / iter', numeric: true, cell: (j: JobView) => withUnit(metric(j, 'energy_mj'), (m) => m.median) }] : []),
      ...(hasFidelity ? [{ title: 'Fidelity', cell: (j: JobView) => fidelityCell(j) }] : []),
      { title: 'vs baseline', cell: (j: JobView) => h('div', { class: 'verdict-cell' }, ...verdictCell(j)) },
      ...(hasFlags ? [{ title: 'Flags', cell: (j: JobView) => h('span', {}, ...[...new Set(j.measurements.flatMap((m) => m.flags ?? []))].map((f) => badge(f, 'amber', `measured while ${f}: not comparable with unflagged results`))) }] : []),
    ], measured, { id: 'results', rowAttrs: (j) => ({ 'data-job-id': j.id, 'data-rerun': j.confirms_job_id ? 'yes' : 'no' }) });
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
      // Rounds of A/B tests are paired measurements of two models, listed with their test, not as results of the run.
      const jobs = (run.jobs ?? []).filter((j) => !j.ab);
      const rounds = (run.jobs ?? []).filter((j) => j.ab);
      renderHeader(run);
      renderJobs(jobs, rounds.length, run.settings.min_duration_ms);
      renderAb(run.ab_tests ?? [], rounds);
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

/** Output fidelity against the family's reference: cosine, top-1 agreement, largest error and the flag. */
function fidelityCell(j: JobView): Child[] {
  const f = j.fidelity;
  if (!f) return ['—'];
  const b = f.flags.length > 0 ? badge('flagged', 'red', f.flags.join('; '))
    : badge('ok', 'green', `within cosine ≥ ${f.min_cosine ?? '?'} and top-1 ≥ ${pct(f.min_top1)} of ${f.reference_variant ?? 'the reference'}`);
  b.dataset.fidelity = f.flags.length > 0 ? 'flagged' : 'ok';
  const figures = [f.cosine === null ? null : `cos ${f.cosine.toFixed(4)}`, f.top1 === null ? null : `top-1 ${pct(f.top1)}`,
    f.max_abs_error === null ? null : `max err ${num(f.max_abs_error)}`, f.accuracy === null ? null : `acc ${pct(f.accuracy)}`].filter(Boolean).join(' · ');
  return [b, h('span', { class: 'reason', 'data-field': 'fidelity' }, figures), f.flags.length > 0 ? h('span', { class: 'reason' }, f.flags.join('; ')) : null];
}

const CONFIRMED_BY = { history: 'by the history', ab: 'by an A/B test', rerun: 'by reruns' } as const;
const VERDICT_TONE = { regression: 'red', improvement: 'green', pass: 'grey', too_noisy: 'amber', insufficient_baseline: 'grey' } as const;

/** Why a verdict is what it is, for its tooltip: the detector's evidence, the series' noise and what one result can show. */
function verdictTitle(v: VerdictView): string {
  return [
    v.effect === null ? null : `change ${change(v)} (${num(v.baseline_median)} → ${num(v.candidate_median)})`,
    v.evidence,
    v.z === null ? null : `z ${v.z.toFixed(1)}`,
    v.noise === null ? null : `series noise ${pct(v.noise)}`,
    v.detectable === null ? null : `one result shows changes beyond ${pct(v.detectable)}`,
    `vs ${v.baseline_results} results on ${v.baseline_branch}`,
  ].filter((x) => x !== null).join(' · ');
}

/** The latency verdict against the series: a coloured badge with the change and its confirmation, and the detector's hint. */
function verdictCell(j: JobView): Child[] {
  const v = j.verdicts.find((x) => x.metric === LATENCY);
  if (!v) return ['—'];
  const hint = v.hint ? h('span', { class: 'reason', 'data-field': 'hint' }, v.hint) : null;
  const changed = v.verdict === 'regression' || v.verdict === 'improvement';
  const interval = changed && v.ci_low !== null && v.ci_high !== null
    ? h('span', { class: 'reason', 'data-field': 'interval' }, `95% CI ${signedPct(v.ci_low)} … ${signedPct(v.ci_high)}${v.evidence ? ` — ${v.evidence}` : ''}`) : null;
  let b: HTMLElement;
  if (v.verdict === 'insufficient_baseline') b = h('span', { class: 'subtle', title: verdictTitle(v), 'data-verdict': v.verdict }, `no baseline (${v.baseline_results})`);
  else {
    const shown = v.verdict === 'too_noisy' || v.effect === null ? '' : ` ${signedPct(v.effect)}`;
    const confirmation = j.confirms_job_id ? ' (rerun)'
      : !changed ? ''
        : v.confirmation === 'confirmed' ? ` · confirmed${v.confirmed_by ? ` ${CONFIRMED_BY[v.confirmed_by]}` : ''}`
          : v.confirmation === 'not_confirmed' ? ` · not confirmed${v.confirmed_by ? ` ${CONFIRMED_BY[v.confirmed_by]}` : ''}`
            : v.confirmation === 'pending' ? ' · confirming' : '';
    b = badge(`${label(v.verdict)}${shown}${confirmation}`, v.confirmation === 'not_confirmed' && changed ? 'amber' : VERDICT_TONE[v.verdict], verdictTitle(v));
    b.dataset.verdict = v.verdict;
  }
  const linked = j.series_key ? h('a', { href: `#/series/${j.series_key}/${LATENCY}`, title: 'the series over time' }, b) : b;
  return [linked, interval, hint];
}

function abPurpose(t: AbTestView): Child | Child[] {
  if (t.purpose === 'gate') return 'comparison (run --ab)';
  const what = t.direction ? `a suspected ${t.direction}` : 'a suspect result';
  return t.trigger_job_id ? [`confirms ${what} of `, mono(shortId(t.trigger_job_id, 12), t.trigger_job_id)] : `confirms ${what}`;
}

function abTone(t: AbTestView): Tone {
  if (t.status === 'changed') return (t.effect ?? 0) > 0 ? 'red' : 'green';
  const tones: Record<AbTestView['status'], Tone> = { running: 'blue', changed: 'red', no_change: 'green', inconclusive: 'amber', failed: 'red', canceled: 'grey' };
  return tones[t.status];
}
