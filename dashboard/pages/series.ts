// The series pages. #/series lists every series (model family:variant × device × runtime
// settings) with its metrics and open alerts. #/series/<key>/<metric> shows one metric over time
// on the baseline branch: the median of each result with its 95% CI band, the detector's level,
// every change it found (regressions red, improvements green) with a table of them, the results
// that opened alerts, the commit under each point (clicking a point opens its run), and what the
// detector can see in this series now: its level, noise, outlier rate, the smallest change one or
// a few results or an A/B confirmation would find, and whether a result is suspect.
import type { LiveEvent } from '../../protocol/api.js';
import type { AlertView, SeriesChangeView, SeriesHistoryView, SeriesView, SeriesWatchView } from '../../protocol/alerts.js';
import { api } from '../api.js';
import { seriesChart, type ChartInstance, type SeriesChartChange } from '../charts.js';
import { badge, empty, h, meta, mono, replaceChildren, table, type Child } from '../dom.js';
import { ago, alertKind, dateTime, num, pct, shortId, signedPct } from '../format.js';
import type { Page } from '../page.js';

export function seriesListPage(): Page {
  const el = h('section', { 'data-page': 'series' }, h('div', { class: 'loading' }, 'loading…'));
  return {
    el,
    async refresh(signal) {
      const page = await api.series({}, signal);
      replaceChildren(el,
        h('div', { class: 'page-head' }, h('h1', {}, 'Series'), h('span', { class: 'subtle' }, `${page.items.length} series`)),
        page.items.length === 0 ? empty('No series yet: each finished job starts or extends one.') : table<SeriesView>([
          { title: 'Model', cell: (s) => h('strong', {}, `${s.family}:${s.variant}`) },
          { title: 'Device', cell: (s) => s.device_name },
          { title: 'Runtime', cell: (s) => `${s.runtime}, ${String(s.settings.threads ?? '?')} thread(s)` },
          { title: 'Metrics', cell: (s) => s.metrics.flatMap((m, i) => [i ? ' ' : '', h('a', { href: `#/series/${s.key}/${encodeURIComponent(m)}` }, m)]) },
          { title: 'Open alerts', cell: (s) => (s.open_alerts > 0 ? badge(String(s.open_alerts), 'red') : '—') },
          { title: 'Last result', cell: (s) => h('span', { title: dateTime(s.last_result_at) }, ago(s.last_result_at)) },
        ], page.items, { id: 'series', rowAttrs: (s) => ({ 'data-series': s.key }), onRow: (s) => { location.hash = `#/series/${s.key}/${encodeURIComponent(s.metrics.includes('latency_ms') ? 'latency_ms' : s.metrics[0] ?? 'latency_ms')}`; } }),
      );
    },
    wants: (e: LiveEvent) => e.type === 'run.changed',
    dispose: () => undefined,
  };
}

/** A change as the value moved (after / before − 1), whatever the metric's direction; `effect` is signed + = worse. */
function valueChange(direction: SeriesHistoryView['direction'], effect: number): number {
  return direction === 'lower_is_better' ? effect : 1 / (1 + effect) - 1;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The detector's view of the series now: level, noise, what it can detect, and its summary sentence. */
function watchCard(v: SeriesHistoryView, w: SeriesWatchView | null, suspectLink: Child): HTMLElement {
  const unit = v.unit ?? '';
  if (!w) return h('div', { class: 'card', id: 'watch' }, h('h2', {}, 'What can be seen'), empty('The detector has not judged this series on this branch yet.'));
  const drift = w.noise !== null && w.noise_long !== null && w.noise_long > w.noise * 1.1 ? ` (${pct(w.noise_long)} with slow drift)` : '';
  const seen = w.detectable.filter((d) => d.effect !== null);
  const ab = w.ab_detectable;
  return h('div', { class: 'card', id: 'watch', 'data-suspect': w.suspect_job_id ?? '' },
    h('h2', {}, 'What can be seen'),
    meta([
      ['current level', w.level === null ? '—' : [h('strong', { 'data-field': 'level' }, `${num(w.level)} ${unit}`), ` over the last ${plural(w.level_results, 'result')}`]],
      ['noise', [h('span', { 'data-field': 'noise' }, pct(w.noise)), w.noise === null ? ' (too few results to know)' : ` job-to-job σ${drift}`]],
      ['outliers', w.outlier_rate === null ? '—' : h('span', { 'data-field': 'outliers' }, `${pct(w.outlier_rate)} of results`)],
      ['detectable', seen.length === 0 ? '—' : h('span', { 'data-field': 'detectable' }, seen.map((d) => `${pct(d.effect)} within ${plural(d.results, 'result')}`).join(' · '))],
      ['with an A/B test', ab.length === 0 ? '—' : [
        h('span', { 'data-field': 'ab-detectable' }, ab.map((d) => `${pct(d.effect)} in ${plural(d.rounds, 'round')}`).join(' · ')),
        h('span', { class: 'subtle' }, w.ab_noise === null ? '' : w.ab_noise_measured ? ` (paired noise ${pct(w.ab_noise)}, measured on this device)` : ` (paired noise ${pct(w.ab_noise)} assumed: no A/B test has measured it on this device yet)`),
      ]],
      ['alarm', `evidence z ≥ ${w.alarm_z.toFixed(1)} over ${plural(w.results, 'result')} judged`],
      ...(w.suspect_job_id ? [['suspect', suspectLink] as [string, Child]] : []),
    ]),
    h('p', { class: 'small watch-summary', 'data-field': 'summary' }, w.summary));
}

/** A point's x label: its commit and when it was measured (to the minute, or the second when minutes repeat), so labels tell results apart. */
function pointLabel(p: SeriesHistoryView['points'][number], all: SeriesHistoryView['points']): string {
  const d = new Date(p.at);
  const pad = (n: number) => String(n).padStart(2, '0');
  const minute = `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const sameMinute = all.filter((q) => Math.floor(Date.parse(q.at) / 60_000) === Math.floor(d.getTime() / 60_000)).length > 1;
  const when = sameMinute ? `${minute}:${pad(d.getSeconds())}` : minute;
  return p.commit ? `${p.commit.slice(0, 7)} · ${when}` : when;
}

export function seriesPage(key: string, metric: string): Page {
  const el = h('section', { 'data-page': 'series-detail' }, h('div', { class: 'loading' }, 'loading…'));
  let chart: ChartInstance | null = null;

  function render(v: SeriesHistoryView): void {
    chart?.destroy();
    chart = null;
    const unit = v.unit ?? '';
    const alertJobs = new Set(v.alerts.map((a) => a.job_id));
    const indexOf = new Map(v.points.map((p, i) => [p.job_id, i]));
    const pointOf = (jobId: string) => v.points[indexOf.get(jobId) ?? -1];
    const jobLink = (jobId: string): Child => {
      const p = pointOf(jobId);
      const text = p?.commit ? p.commit.slice(0, 10) : shortId(jobId, 12);
      return p ? h('a', { href: `#/runs/${encodeURIComponent(p.run_id)}`, title: jobId }, mono(text)) : mono(text, `${jobId} (not among the charted results)`);
    };
    const raw = (c: SeriesChangeView): number => valueChange(v.direction, c.effect);
    const interval = (c: SeriesChangeView): string => {
      if (c.ci_low === null || c.ci_high === null) return '—';
      const [a, b] = [valueChange(v.direction, c.ci_low), valueChange(v.direction, c.ci_high)].sort((x, y) => x - y);
      return `${signedPct(a)} … ${signedPct(b)}`;
    };
    const suspect = v.watch?.suspect_job_id ?? null;
    const suspectLink: Child = suspect ? h('span', {}, jobLink(suspect), ' is being confirmed (an A/B test or reruns) before it counts as a change') : null;

    // The detector's level: from the changes among the charted results (the last level is the current one).
    const charted = v.changes.map((c) => ({ c, i: indexOf.get(c.job_id) })).filter((x): x is { c: SeriesChangeView; i: number } => x.i !== undefined).sort((a, b) => a.i - b.i);
    const current = v.watch?.level ?? null;
    let levels: (number | null)[] | null = null;
    if (charted.length > 0) {
      levels = v.points.map((_, i) => {
        let at: number | null = charted[0]!.c.before;
        charted.forEach((x, n) => { if (x.i <= i) at = n === charted.length - 1 && current !== null ? current : x.c.after; });
        return at;
      });
    } else if (current !== null && v.watch) {
      const from = Math.max(0, v.points.length - v.watch.level_results);
      levels = v.points.map((_, i) => (i >= from ? current : null));
    }
    const markers: SeriesChartChange[] = charted.map(({ c, i }) => ({ index: i, direction: c.direction, text: `${c.direction} ${signedPct(raw(c))}` }));

    const canvas = h('canvas', { id: 'series-chart', 'aria-label': `${v.metric} over time` });
    const metrics = v.series.metrics.map((m) => (m === v.metric ? h('strong', {}, m) : h('a', { href: `#/series/${v.series.key}/${encodeURIComponent(m)}` }, m)));
    const regressions = v.changes.filter((c) => c.direction === 'regression').length;
    const newestFirst = [...v.changes].reverse();
    replaceChildren(el,
      h('div', { class: 'page-head' },
        h('h1', {}, `${v.series.family}:${v.series.variant} on ${v.series.device_name}`),
        h('span', { class: 'subtle' }, `${v.metric} (${v.unit ?? '?'}), ${v.direction.replaceAll('_', ' ')}, on ${v.branch}`),
        suspect ? badge('suspect', 'amber', `result ${suspect} looks like a change and is being confirmed`) : null),
      h('p', { class: 'small' }, 'Metrics: ', ...metrics.flatMap((m, i) => (i ? [' · ', m] : [m])), ' · ', mono(v.series.key)),
      h('div', { class: 'card' }, h('div', { class: 'chart-box' }, canvas),
        h('p', { class: 'small subtle' }, `${plural(v.points.length, 'result')} · ${plural(regressions, 'regression')}, ${plural(v.changes.length - regressions, 'improvement')} · ` +
          `${plural(v.alerts.length, 'alert')} · dashed lines mark changes (red: regression, green: improvement), the grey steps the detector's level · ` +
          'red triangles opened alerts, the amber diamond is a suspect result, amber points are flagged (charging, throttled), purple crosses are confirmation reruns, ' +
          'dotted purple lines mark a new model version, the grey band is the level ± 1.96 σ of the job-to-job noise · click a point to open its run')),
      watchCard(v, v.watch, suspectLink),
      h('div', { class: 'card' }, h('h2', {}, 'Changes'), v.changes.length === 0
        ? empty('No change found in this series on this branch.', v.watch?.summary)
        : table<SeriesChangeView>([
          { title: 'First result at the new level', cell: (c) => jobLink(c.job_id) },
          { title: 'Found', cell: (c) => [h('span', { title: dateTime(c.detected_at) }, ago(c.detected_at)), c.detected_job_id !== c.job_id ? h('span', { class: 'subtle' }, ' at ', jobLink(c.detected_job_id)) : null] },
          { title: 'Direction', cell: (c) => badge(c.direction, c.direction === 'regression' ? 'red' : 'green') },
          { title: 'Before → after', numeric: true, cell: (c) => `${num(c.before)} → ${num(c.after)} ${unit}` },
          { title: 'Change', numeric: true, cell: (c) => h('strong', {}, signedPct(raw(c))) },
          { title: '95% interval', numeric: true, cell: interval },
          { title: 'Evidence', numeric: true, cell: (c) => `z ${c.z.toFixed(1)} over ${plural(c.results, c.source === 'ab' ? 'round' : 'result')}` },
          { title: 'Source', cell: (c) => (c.source === 'ab' ? badge('A/B test', 'purple', 'confirmed by a paired A/B test') : badge('history', 'blue', "found in the series' history")) },
          { title: 'Alert', cell: (c) => (c.alert_id ? h('a', { href: `#/alerts/${encodeURIComponent(c.alert_id)}` }, mono(shortId(c.alert_id, 10))) : '—') },
        ], newestFirst, { id: 'changes', rowAttrs: (c) => ({ 'data-change-id': c.id, 'data-direction': c.direction, 'data-job-id': c.job_id, 'data-source': c.source }) })),
      v.alerts.length === 0 ? null : h('div', { class: 'card' }, h('h2', {}, 'Alerts'), table<AlertView>([
        { title: 'Alert', cell: (a) => h('a', { href: `#/alerts/${encodeURIComponent(a.id)}` }, mono(a.id)) },
        { title: 'Status', cell: (a) => badge(a.status, a.status === 'resolved' ? 'green' : a.status === 'open' ? 'red' : 'amber', a.resolved_reason ?? undefined) },
        { title: 'Kind', cell: (a) => alertKind(a) },
        { title: 'Change', numeric: true, cell: (a) => signedPct(a.effect) },
        { title: 'Steps', numeric: true, cell: (a) => a.steps },
        { title: 'Opened', cell: (a) => h('span', { title: dateTime(a.opened_at) }, ago(a.opened_at)) },
        { title: 'Updated', cell: (a) => h('span', { title: dateTime(a.updated_at) }, ago(a.updated_at)) },
      ], v.alerts, { id: 'series-alerts' })),
    );
    // Where the model version changed, and the baseline band around the detector's level.
    const versions = v.points.flatMap((p, i) => (i > 0 && p.model_sha256 !== v.points[i - 1]!.model_sha256 ? [{ index: i, text: `model ${p.model_sha256.slice(0, 8)}` }] : []));
    const noise = v.watch?.noise ?? null;
    const band = levels && noise !== null ? {
      low: levels.map((l) => (l === null ? null : l * Math.exp(-1.96 * noise))), high: levels.map((l) => (l === null ? null : l * Math.exp(1.96 * noise))),
    } : null;
    chart = seriesChart(canvas, v.points.map((p) => ({
      label: pointLabel(p, v.points), median: p.median, ciLow: p.ci_low, ciHigh: p.ci_high,
      flagged: p.flags.length > 0, alert: alertJobs.has(p.job_id), suspect: p.job_id === suspect, rerun: p.confirms_job_id !== null,
    })), markers, levels, unit, (i) => {
      const p = v.points[i];
      if (p) location.hash = `#/runs/${encodeURIComponent(p.run_id)}`;
    }, versions, band);
    el.dataset.versions = versions.map((x) => x.index).join(' ');
    el.dataset.reruns = String(v.points.filter((p) => p.confirms_job_id !== null).length);
    el.dataset.points = String(v.points.length);
    el.dataset.changes = String(v.changes.length);
    el.dataset.markers = markers.map((m) => `${m.index}:${m.direction}`).join(' ');
  }

  return {
    el,
    async refresh(signal) {
      render(await api.seriesHistory(key, metric, undefined, signal));
    },
    wants: (e: LiveEvent) => e.type === 'run.changed' && e.status !== 'running' && e.status !== 'queued',
    dispose: () => { chart?.destroy(); chart = null; },
  };
}

