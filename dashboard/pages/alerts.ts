// The Alerts page (#/alerts, #/alerts/<id>): regression alerts newest first, unresolved by
// default, with severity, series, change, kind (a change found in the series' history or confirmed
// by an A/B test, and how many steps it has taken since), commit, when it opened and last changed,
// and status; acknowledge, resolve and mute
// (7 days) buttons for tokens that may (submit or admin — the server decides and errors show here).
import type { LiveEvent } from '../../protocol/api.js';
import type { AlertView } from '../../protocol/alerts.js';
import { api, ApiError } from '../api.js';
import { badge, empty, errorBox, h, mono, replaceChildren, table } from '../dom.js';
import { ago, alertKind, change, dateTime, num, signedPct } from '../format.js';
import type { Page } from '../page.js';

const SEVERITY_TONE = { high: 'red', medium: 'amber', low: 'blue' } as const;
const STATUS_TONE = { open: 'red', acknowledged: 'amber', resolved: 'green' } as const;

export function alertsPage(focus: string | null): Page {
  const el = h('section', { 'data-page': 'alerts' }, h('div', { class: 'loading' }, 'loading…'));
  let status: 'unresolved' | 'all' = 'unresolved';
  let problem: HTMLElement | null = null;
  let reload: () => void = () => undefined;

  const act = (fn: () => Promise<unknown>) => async (ev: Event) => {
    ev.stopPropagation();
    (ev.target as HTMLButtonElement).disabled = true;
    try {
      await fn();
      problem = null;
    } catch (err) {
      problem = errorBox('That did not work:', err instanceof ApiError ? err.code : null, (err as Error).message);
    }
    reload();
  };

  function render(alerts: AlertView[]): void {
    const filter = h('div', { class: 'small' }, 'Show: ',
      ...(['unresolved', 'all'] as const).map((s) => h('button', {
        type: 'button', class: s === status ? 'link-button active' : 'link-button', 'data-filter': s,
        onclick: () => { status = s; reload(); },
      }, s)));
    replaceChildren(el,
      h('div', { class: 'page-head' }, h('h1', {}, 'Alerts'), h('span', { class: 'subtle' }, `${alerts.length} ${status === 'all' ? '' : 'unresolved '}alert${alerts.length === 1 ? '' : 's'}`)),
      filter, problem,
      alerts.length === 0 ? empty(status === 'all' ? 'No alerts yet.' : 'No unresolved alerts.', 'An alert opens when the detector finds a regression in a series on its baseline branch, in its history or confirmed by an A/B test; a further step updates it.') : table<AlertView>([
        { title: 'Severity', cell: (a) => badge(a.severity, SEVERITY_TONE[a.severity]) },
        { title: 'Series', cell: (a) => h('a', { href: `#/series/${a.series_key}/${encodeURIComponent(a.metric)}` }, `${a.family}:${a.variant}`) },
        { title: 'Device', cell: (a) => a.device_name },
        { title: 'Metric', cell: (a) => a.metric },
        { title: 'Change', numeric: true, cell: (a) => h('strong', { title: `${change(a)} against the baseline before the first step; positive = worse${a.evidence ? ` — ${a.evidence}` : ''}`, 'data-field': 'change' }, signedPct(a.effect)) },
        { title: '95% CI', numeric: true, cell: (a) => (a.ci_low === null || a.ci_high === null ? '—' : `${signedPct(a.ci_low)} … ${signedPct(a.ci_high)}`) },
        { title: 'Baseline → now', numeric: true, cell: (a) => `${num(a.baseline_median)} → ${num(a.current_median)}` },
        { title: 'Kind', cell: (a) => h('span', { 'data-kind': a.kind, 'data-steps': a.steps }, alertKind(a)) },
        { title: 'Commit', cell: (a) => (a.commit ? mono(a.commit.slice(0, 10), a.commit) : '—') },
        { title: 'Opened', cell: (a) => h('span', { title: dateTime(a.opened_at) }, ago(a.opened_at)) },
        { title: 'Updated', cell: (a) => h('span', { title: dateTime(a.updated_at), 'data-field': 'updated' }, ago(a.updated_at)) },
        { title: 'Status', cell: (a) => [badge(a.status, STATUS_TONE[a.status], a.resolved_reason ?? a.acknowledged_by ?? undefined), a.muted_until ? badge('muted', 'grey', `until ${dateTime(a.muted_until)}`) : null] },
        {
          title: '', cell: (a) => a.status === 'resolved' ? h('a', { href: `#/runs/${encodeURIComponent(a.run_id)}` }, 'run') : [
            a.status === 'open' ? h('button', { type: 'button', class: 'small-button', 'data-action': 'ack', onclick: act(() => api.acknowledgeAlert(a.id)) }, 'Acknowledge') : null,
            h('button', { type: 'button', class: 'small-button', 'data-action': 'resolve', onclick: act(() => api.resolveAlert(a.id)) }, 'Resolve'),
            a.muted_until ? null : h('button', { type: 'button', class: 'small-button', 'data-action': 'mute', onclick: act(() => api.muteSeries(a.series_key, a.metric, '7d')) }, 'Mute 7d'),
          ],
        },
      ], alerts, {
        id: 'alerts',
        rowAttrs: (a) => ({ 'data-alert-id': a.id, 'data-status': a.status, class: a.id === focus ? 'focused' : null }),
        onRow: (a) => { location.hash = `#/series/${a.series_key}/${encodeURIComponent(a.metric)}`; },
      }),
    );
    el.querySelector('tr.focused')?.scrollIntoView({ block: 'center' });
  }

  return {
    el,
    async refresh(signal) {
      reload = () => { void this.refresh(signal).catch(() => undefined); };
      const page = await api.alerts(status === 'all' ? undefined : 'unresolved', signal);
      let items = page.items;
      if (focus && !items.some((a) => a.id === focus)) items = [await api.alert(focus, signal), ...items];
      render(items);
    },
    wants: (e: LiveEvent) => e.type === 'run.changed',
    dispose: () => undefined,
  };
}
