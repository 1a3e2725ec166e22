// The Compare page (#/compare, #/compare/<family>): which variant should ship to which device.
// Per device a colour-coded matrix of the family's variants — latency, energy, peak memory,
// size, fidelity or accuracy, ratios against the parent — a Pareto chart of quality against the
// chosen cost, and the recommended variant with its reason.
import type { LiveEvent } from '../../protocol/api.js';
import type { CompareCell, CompareView } from '../../protocol/variants.js';
import { api } from '../api.js';
import { paretoChart, type ChartInstance } from '../charts.js';
import { badge, empty, h, replaceChildren, table, type Child } from '../dom.js';
import { bytes, num } from '../format.js';
import type { Page } from '../page.js';

const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(digits)}%`);

/** A ratio cell: green when the variant is better than its parent by > 5%, red when worse. */
function ratio(x: number | null | undefined, betterAbove: number, text: string): Child {
  if (x === null || x === undefined) return '—';
  const tone = x > betterAbove * 1.05 ? 'green' : x < betterAbove * 0.95 ? 'red' : 'grey';
  return badge(text, tone);
}

export function comparePage(initialFamily: string | null): Page {
  const el = h('section', { 'data-page': 'compare' }, h('div', { class: 'loading' }, 'loading…'));
  let charts: ChartInstance[] = [];
  let family = initialFamily;
  let objective = 'latency';
  let budget = 0.01;
  /** A settings key chosen by the user, or undefined: per device, the key most variants were measured under. */
  let settings: string | undefined;
  let reload: () => void = () => undefined;

  function controls(families: string[], view: CompareView | null): HTMLElement {
    const select = h('select', { id: 'compare-family', onchange: (e: Event) => { location.hash = `#/compare/${encodeURIComponent((e.target as HTMLSelectElement).value)}`; } },
      ...families.map((f) => { const o = h('option', { value: f }, f); if (f === family) o.selected = true; return o; }));
    const obj = h('select', { id: 'compare-objective', onchange: (e: Event) => { objective = (e.target as HTMLSelectElement).value; reload(); } },
      ...['latency', 'energy', 'memory'].map((o) => { const opt = h('option', { value: o }, o); if (o === objective) opt.selected = true; return opt; }));
    const bud = h('input', { id: 'compare-budget', type: 'number', min: 0, max: 100, step: 0.1, value: (budget * 100).toFixed(1), style: 'width: 5em',
      onchange: (e: Event) => { budget = Math.max(0, Number((e.target as HTMLInputElement).value) / 100); reload(); } });
    const options = view?.settings_options ?? [];
    const auto = h('option', { value: '' }, 'per device: the settings most variants ran with');
    const set = h('select', { id: 'compare-settings', onchange: (e: Event) => { settings = (e.target as HTMLSelectElement).value || undefined; reload(); } },
      auto, ...options.map((o) => { const opt = h('option', { value: o.key }, `${o.label} — ${o.results} result(s)`); if (o.key === settings) opt.selected = true; return opt; }));
    return h('div', { class: 'small compare-controls' }, 'Family ', select, '  minimise ', obj, '  quality budget ', bud, ' %  settings ', set);
  }

  function deviceBlock(view: CompareView, device: string): HTMLElement {
    const cells = view.cells.filter((c) => c.device === device);
    const variant = new Map(view.variants.map((v) => [v.variant, v]));
    const rec = view.recommendations.find((r) => r.device === device);
    const canvas = h('canvas', { 'data-chart': 'pareto', 'data-device': device });
    const costKey = view.objective === 'latency' ? 'latency_ms' : view.objective === 'energy' ? 'energy_mj' : 'peak_mem_mib';
    const settingsHere = view.device_settings[device];
    const block = h('div', { class: 'card', 'data-device': device },
      h('h2', {}, device),
      settingsHere ? h('p', { class: 'small subtle', 'data-field': 'settings', 'data-settings-key': settingsHere.key }, 'Settings: ', h('strong', {}, settingsHere.label), ` (key ${settingsHere.key})`) : null,
      rec ? h('p', { class: 'recommendation', 'data-recommended': rec.variant ?? '' }, h('strong', {}, 'Recommended: ', rec.variant ?? 'none'), ' — ', rec.reason) : null,
      table<CompareCell>([
        { title: 'Variant', cell: (c) => [h('strong', {}, c.variant), variant.get(c.variant)?.parent ? h('span', { class: 'subtle' }, ` ← ${variant.get(c.variant)!.parent}`) : null] },
        { title: 'Version', cell: (c) => [h('code', { title: c.sha256 }, c.sha256.slice(0, 12)), ' ',
          c.status === 'stale' ? badge('stale', 'amber', c.note ?? '') : c.status === 'settings_differ' ? badge('settings differ', 'grey', c.note ?? '') : null] },
        { title: 'n', numeric: true, cell: (c) => h('span', { title: `median of the newest ${c.results} result(s)` }, String(c.results)) },
        { title: 'Latency ms', numeric: true, cell: (c) => h('span', { title: c.latency_ci ? `95% interval ${num(c.latency_ci[0])} … ${num(c.latency_ci[1])} ms` : '' }, num(c.latency_ms)) },
        { title: 'Energy mJ', numeric: true, cell: (c) => num(c.energy_mj) },
        { title: 'Peak MiB', numeric: true, cell: (c) => num(c.peak_mem_mib) },
        { title: 'Size', numeric: true, cell: (c) => bytes(c.size_bytes) },
        { title: 'Quality', numeric: true, cell: (c) => (c.quality === null ? '—' : `${pct(c.quality)}${c.quality_kind === 'top1_agreement' ? ' agr.' : ''}`) },
        { title: 'Cosine', numeric: true, cell: (c) => (c.fidelity_cosine === null ? '—' : c.fidelity_cosine.toFixed(4)) },
        { title: 'Speed-up', numeric: true, cell: (c) => ratio(c.vs_parent?.speedup, 1, c.vs_parent?.speedup ? `${c.vs_parent.speedup.toFixed(2)}×` : '') },
        { title: 'Energy saving', numeric: true, cell: (c) => ratio(c.vs_parent?.energy_saving === null || c.vs_parent?.energy_saving === undefined ? null : 1 + c.vs_parent.energy_saving, 1, pct(c.vs_parent?.energy_saving)) },
        { title: 'Size ÷', numeric: true, cell: (c) => ratio(c.vs_parent?.size_reduction, 1, c.vs_parent?.size_reduction ? `${c.vs_parent.size_reduction.toFixed(2)}×` : '') },
        { title: 'Quality drop', numeric: true, cell: (c) => (c.vs_parent?.quality_drop === null || c.vs_parent?.quality_drop === undefined ? '—' : badge(pct(c.vs_parent.quality_drop), c.vs_parent.quality_drop > view.budget ? 'red' : 'green')) },
        { title: '', cell: (c) => [c.pareto ? badge('Pareto', 'green', 'not dominated on quality vs cost') : null, ...c.flags.map((f) => badge('flagged', 'red', f)),
          c.note ? h('div', { class: 'small subtle' }, c.note) : null] },
      ], cells, { rowAttrs: (c) => ({ 'data-variant': c.variant, 'data-status': c.status, 'data-flagged': c.flags.length > 0 ? 'yes' : 'no', 'data-pareto': c.pareto ? 'yes' : 'no' }) }),
      h('div', { class: 'chart-box' }, canvas));
    const chart = paretoChart(canvas, cells.filter((c) => c.status === 'current' && c[costKey] !== null && c.quality !== null)
      .map((c) => ({ label: c.variant, cost: c[costKey]!, quality: c.quality!, pareto: c.pareto, flagged: c.flags.length > 0 })),
    `${view.objective} (${view.objective === 'latency' ? 'ms' : view.objective === 'energy' ? 'mJ' : 'MiB'})`);
    if (chart) charts.push(chart);
    return block;
  }

  return {
    el,
    async refresh(signal) {
      reload = () => { void this.refresh(signal).catch(() => undefined); };
      const models = await api.models(signal);
      const families = [...new Set(models.items.map((m) => m.family))].sort();
      family ??= families[0] ?? null;
      for (const c of charts) c.destroy();
      charts = [];
      if (!family) {
        replaceChildren(el, h('div', { class: 'page-head' }, h('h1', {}, 'Compare')), empty('No models yet.', 'Push variants of a model family, then benchmark them on your devices.'));
        return;
      }
      const view = await api.compare(family, objective, budget, settings, signal);
      replaceChildren(el,
        h('div', { class: 'page-head' }, h('h1', {}, `Compare ${view.family}`), h('span', { class: 'subtle' }, `${view.variants.length} variants × ${view.devices.length} devices`)),
        controls(families, view),
        h('p', { class: 'small subtle' }, `Quality is the accuracy you attached, or else top-1 agreement with ${view.reference_variant ?? 'the reference variant'} on the device. ` +
          `Each cell is one model version under one settings key: the median of its newest ${view.selection.window} results (n), with a 95% interval on hover. ` +
          'Ratios are against each variant\'s parent on the same device and settings; stale versions and other settings are shown but never compared. Export: ',
        h('code', {}, `benchfleet compare --family ${view.family}${settings ? ` --settings ${settings}` : ''} --format md|csv|json`)),
        view.devices.length === 0 ? empty('No results yet for this family.') : null);
      for (const device of view.devices) el.appendChild(deviceBlock(view, device));
      el.dataset.family = view.family;
    },
    wants: (e: LiveEvent) => e.type === 'run.changed' && e.status !== 'running' && e.status !== 'queued',
    dispose: () => { for (const c of charts) c.destroy(); charts = []; },
  };
}
