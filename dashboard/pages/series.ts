// The series pages. #/series lists every series (model family:variant × device × runtime
// settings) with its metrics and open alerts. #/series/<key>/<metric> shows one metric over time
// on the baseline branch: the median of each result with its 95% CI band, change points, the
// results that opened alerts, the commit under each point; clicking a point opens its run.
import type { LiveEvent } from '../../protocol/api.js';
import type { SeriesHistoryView, SeriesView } from '../../protocol/alerts.js';
import { api } from '../api.js';
import { seriesChart, type ChartInstance } from '../charts.js';
import { badge, empty, h, mono, replaceChildren, table } from '../dom.js';
import { ago, dateTime, num } from '../format.js';
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

export function seriesPage(key: string, metric: string): Page {
  const el = h('section', { 'data-page': 'series-detail' }, h('div', { class: 'loading' }, 'loading…'));
  let chart: ChartInstance | null = null;

  function render(v: SeriesHistoryView): void {
    chart?.destroy();
    chart = null;
    const alertJobs = new Set(v.alerts.map((a) => a.job_id));
    const cpIndex = new Map(v.change_points.map((c) => [c.job_id, c]));
    const canvas = h('canvas', { id: 'series-chart', 'aria-label': `${v.metric} over time` });
    const metrics = v.series.metrics.map((m) => (m === v.metric ? h('strong', {}, m) : h('a', { href: `#/series/${v.series.key}/${encodeURIComponent(m)}` }, m)));
    replaceChildren(el,
      h('div', { class: 'page-head' },
        h('h1', {}, `${v.series.family}:${v.series.variant} on ${v.series.device_name}`),
        h('span', { class: 'subtle' }, `${v.metric} (${v.unit ?? '?'}), ${v.direction.replaceAll('_', ' ')}, on ${v.branch}`)),
      h('p', { class: 'small' }, 'Metrics: ', ...metrics.flatMap((m, i) => (i ? [' · ', m] : [m])), ' · ', mono(v.series.key)),
      h('div', { class: 'card' }, h('div', { class: 'chart-box' }, canvas),
        h('p', { class: 'small subtle' }, `${v.points.length} results · ${v.change_points.length} change point${v.change_points.length === 1 ? '' : 's'} · ` +
          `${v.alerts.length} alert${v.alerts.length === 1 ? '' : 's'} · red triangles opened alerts, amber points are flagged (charging, throttled) · click a point to open its run`)),
      v.change_points.length === 0 ? null : h('div', { class: 'card' }, h('h2', {}, 'Change points'), table([
        { title: 'First result after', cell: (c) => h('a', { href: `#/runs/${encodeURIComponent(v.points.find((p) => p.job_id === c.job_id)?.run_id ?? '')}` }, mono(c.job_id)) },
        { title: 'Commit', cell: (c) => mono(v.points.find((p) => p.job_id === c.job_id)?.commit?.slice(0, 10) ?? '—') },
        { title: 'Before', numeric: true, cell: (c) => num(c.before_median) },
        { title: 'After', numeric: true, cell: (c) => num(c.after_median) },
        { title: 'Change', numeric: true, cell: (c) => badge(`${c.effect >= 0 ? '+' : ''}${(c.effect * 100).toFixed(1)}%`, c.effect > 0 ? 'red' : 'green', 'positive = worse') },
        { title: 'p', numeric: true, cell: (c) => c.p_value.toPrecision(2) },
      ], v.change_points, { id: 'change-points' })),
      v.alerts.length === 0 ? null : h('div', { class: 'card' }, h('h2', {}, 'Alerts'), table([
        { title: 'Alert', cell: (a) => h('a', { href: `#/alerts/${encodeURIComponent(a.id)}` }, mono(a.id)) },
        { title: 'Status', cell: (a) => badge(a.status, a.status === 'resolved' ? 'green' : a.status === 'open' ? 'red' : 'amber') },
        { title: 'Kind', cell: (a) => a.kind.replace('_', ' ') },
        { title: 'Change', numeric: true, cell: (a) => `${a.effect >= 0 ? '+' : ''}${(a.effect * 100).toFixed(1)}%` },
        { title: 'Opened', cell: (a) => h('span', { title: dateTime(a.opened_at) }, ago(a.opened_at)) },
      ], v.alerts, { id: 'series-alerts' })),
    );
    chart = seriesChart(canvas, v.points.map((p) => ({
      label: p.commit ? p.commit.slice(0, 8) : new Date(p.at).toLocaleDateString(), median: p.median, ciLow: p.ci_low, ciHigh: p.ci_high,
      flagged: p.flags.length > 0, alert: alertJobs.has(p.job_id),
    })), v.points.flatMap((p, i) => (cpIndex.has(p.job_id) ? [i] : [])), v.unit ?? '', (i) => {
      const p = v.points[i];
      if (p) location.hash = `#/runs/${encodeURIComponent(p.run_id)}`;
    });
    el.dataset.points = String(v.points.length);
    el.dataset.changePoints = String(v.change_points.length);
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
