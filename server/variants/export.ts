// The comparison as CSV (one row per variant × device) and as a markdown table ready for a pull
// request or a paper (one table per device, ratios against the parent, the recommendation).
import type { CompareCell, CompareView } from '../../protocol/variants.js';

const f = (x: number | null | undefined, digits = 3) => (x === null || x === undefined || !Number.isFinite(x) ? '' : Number(x.toPrecision(digits)).toString());
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '' : `${(x * 100).toFixed(1)}%`);
const times = (x: number | null | undefined) => (x === null || x === undefined ? '' : `${x.toFixed(2)}×`);

function csvCell(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function compareCsv(view: CompareView): string {
  const header = ['family', 'variant', 'parent', 'device', 'status', 'note', 'model_sha256', 'size_bytes', 'settings_key', 'runtime', 'threads', 'inputs', 'runner',
    'results', 'latency_ms', 'latency_ci_low', 'latency_ci_high', 'energy_mj', 'peak_mem_mib',
    'fidelity_cosine', 'fidelity_top1', 'output_max_abs_error', 'quality', 'quality_kind', 'speedup_vs_parent', 'energy_saving_vs_parent',
    'size_reduction_vs_parent', 'quality_drop_vs_parent', 'parent_sha256', 'pareto', 'flags', 'job_id'];
  const variant = new Map(view.variants.map((v) => [v.variant, v]));
  const rows = view.cells.map((c) => {
    const v = variant.get(c.variant);
    return [view.family, c.variant, v?.parent ?? '', c.device, c.status, c.note ?? '', c.sha256, String(c.size_bytes), c.settings.key, c.settings.runtime,
      String(c.settings.threads), JSON.stringify(c.settings.inputs), c.settings.runner ?? '', String(c.results),
      f(c.latency_ms, 6), f(c.latency_ci?.[0], 6), f(c.latency_ci?.[1], 6), f(c.energy_mj, 6),
      f(c.peak_mem_mib, 6), f(c.fidelity_cosine, 6), f(c.fidelity_top1, 6), f(c.output_max_abs_error, 6), f(c.quality, 6),
      c.quality_kind ?? '', f(c.vs_parent?.speedup, 4), f(c.vs_parent?.energy_saving, 4), f(c.vs_parent?.size_reduction, 4), f(c.vs_parent?.quality_drop, 4),
      c.vs_parent?.parent_sha256 ?? '', c.pareto ? 'yes' : 'no', c.flags.join('; '), c.job_id];
  });
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

const STATUS_MARK: Record<CompareCell['status'], string> = { current: '', stale: ' ⏳ stale', settings_differ: ' ≠ settings differ' };

export function compareMarkdown(view: CompareView): string {
  const variant = new Map(view.variants.map((v) => [v.variant, v]));
  const out = [`## ${view.family}: variants × devices`, '',
    `Objective: ${view.objective}; quality budget ${pct(view.budget)}${view.reference_variant ? `; fidelity against ${view.reference_variant}` : ''}. ` +
    `Each cell pools its newest ${view.selection.window} results of one model version under one settings key (median of medians, n = results). ` +
    'Ratios are against each variant\'s parent on the same device under the same settings. ★ = Pareto-optimal (quality vs cost), ⚠ = flagged, ' +
    '⏳ = stale (an older version than the newest pushed), ≠ = measured under other settings (not compared).', ''];
  for (const device of view.devices) {
    const rec = view.recommendations.find((r) => r.device === device);
    const settings = view.device_settings[device];
    out.push(`### ${device}`, '');
    if (settings) out.push(`Settings: ${settings.label} (key \`${settings.key}\`)`, '');
    out.push('| Variant | Version | n | Latency (ms) | Energy (mJ/inf) | Peak mem (MiB) | Size | Quality | Speed-up | Energy saving | Size reduction | Quality drop | |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const c of view.cells.filter((x: CompareCell) => x.device === device)) {
      const v = variant.get(c.variant);
      const quality = c.quality === null ? '–' : `${pct(c.quality)}${c.quality_kind === 'top1_agreement' ? ' (top-1 agr.)' : ''}`;
      const latency = c.latency_ms === null ? '–' : `${f(c.latency_ms)}${c.latency_ci ? ` [${f(c.latency_ci[0])}, ${f(c.latency_ci[1])}]` : ''}`;
      out.push(`| ${c.variant}${v?.parent ? ` ← ${v.parent}` : ''} | \`${c.sha256.slice(0, 12)}\`${STATUS_MARK[c.status]} | ${c.results} | ${latency} | ${f(c.energy_mj) || '–'} | ${f(c.peak_mem_mib) || '–'} | ` +
        `${(c.size_bytes / 1024).toFixed(1)} KiB | ${quality} | ${times(c.vs_parent?.speedup) || '–'} | ${pct(c.vs_parent?.energy_saving) || '–'} | ` +
        `${times(c.vs_parent?.size_reduction) || '–'} | ${pct(c.vs_parent?.quality_drop) || '–'} | ${c.pareto ? '★' : ''}${c.flags.length ? ` ⚠ ${c.flags.join('; ')}` : ''}${c.note ? ` ${c.note}` : ''} |`);
    }
    if (rec) out.push('', `**Recommended:** ${rec.variant ?? 'none'} — ${rec.reason}`);
    out.push('');
  }
  return out.join('\n');
}
