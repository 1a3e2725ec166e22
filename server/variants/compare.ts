// The variant × device comparison of a family: for every variant (its newest model) and device,
// the newest successful result — latency, energy per inference, peak memory, output fidelity —
// with ratios against the parent variant, fidelity flags, the Pareto front per device (quality
// against cost) and a recommendation per device: the cheapest variant within the quality-drop
// budget and the device's memory, with the reason.
import type { Db } from '../db/open.js';
import type { CompareCell, CompareObjective, CompareVariant, CompareView, Compression, Recommendation } from '../../protocol/variants.js';
import { BenchfleetError } from '../../protocol/errors.js';
import { FIDELITY_METRICS } from '../../protocol/fidelity.js';
import { getFamily } from './families.js';

export interface CompareOptions { family: string; devices?: string[] | undefined; budget: number; objective: CompareObjective }

const COST_OF: Record<CompareObjective, keyof Pick<CompareCell, 'latency_ms' | 'energy_mj' | 'peak_mem_mib'>> = {
  latency: 'latency_ms', energy: 'energy_mj', memory: 'peak_mem_mib',
};

/** Indexes of the points not dominated by another (lower cost and higher quality, one strictly). */
export function paretoFront(points: { cost: number; quality: number }[]): Set<number> {
  const front = new Set<number>();
  points.forEach((p, i) => {
    const dominated = points.some((q, j) => j !== i && q.cost <= p.cost && q.quality >= p.quality && (q.cost < p.cost || q.quality > p.quality));
    if (!dominated) front.add(i);
  });
  return front;
}

export interface Candidate { variant: string; cost: number | null; quality: number | null; peakMemMib: number | null; flags: string[] }

/**
 * The cheapest candidate whose quality is within `budget` of the reference quality, that is not
 * flagged and fits the memory limit; with a reason that names what was excluded and why.
 */
export function recommend(device: string, candidates: Candidate[], referenceQuality: number | null, budget: number, memoryLimitMib: number | null, objective: CompareObjective, costUnit: string): Recommendation {
  const excluded: string[] = [];
  const ok = candidates.filter((c) => {
    if (c.cost === null) { excluded.push(`${c.variant}: no ${objective} measured`); return false; }
    if (c.flags.length > 0) { excluded.push(`${c.variant}: ${c.flags.join(', ')}`); return false; }
    if (memoryLimitMib !== null && c.peakMemMib !== null && c.peakMemMib > memoryLimitMib) {
      excluded.push(`${c.variant}: peak memory ${c.peakMemMib.toFixed(1)} MiB > ${memoryLimitMib.toFixed(0)} MiB`);
      return false;
    }
    if (referenceQuality !== null && c.quality !== null && referenceQuality - c.quality > budget + 1e-12) {
      excluded.push(`${c.variant}: quality drop ${((referenceQuality - c.quality) * 100).toFixed(1)}% > budget ${(budget * 100).toFixed(1)}%`);
      return false;
    }
    if (referenceQuality !== null && c.quality === null) { excluded.push(`${c.variant}: no quality figure (attach an accuracy or a reference set)`); return false; }
    return true;
  });
  if (ok.length === 0) return { device, variant: null, reason: `no variant qualifies${excluded.length ? ` — ${excluded.join('; ')}` : ''}` };
  ok.sort((a, b) => a.cost! - b.cost! || (b.quality ?? 0) - (a.quality ?? 0));
  const best = ok[0]!;
  const runnerUp = ok[1];
  const parts = [`lowest ${objective} within budget: ${best.cost!.toPrecision(3)} ${costUnit}`];
  if (referenceQuality !== null && best.quality !== null) parts.push(`quality drop ${(Math.max(0, referenceQuality - best.quality) * 100).toFixed(1)}% ≤ ${(budget * 100).toFixed(1)}%`);
  if (runnerUp) parts.push(`${(runnerUp.cost! / best.cost!).toFixed(2)}× cheaper than ${runnerUp.variant}`);
  if (excluded.length) parts.push(`excluded ${excluded.join('; ')}`);
  return { device, variant: best.variant, reason: parts.join('; ') };
}

interface ModelRow { variant: string; sha256: string; parent_variant: string | null; compression: string; tags: string; format: string; size_bytes: number; facts: string; accuracy: number | null }
interface ResultRow { variant: string; device: string; job_id: string; run_id: string; finished_at: number; metric: string; median: number; mean: number; max: number; ci_low: number; ci_high: number }

export function compareFamily(db: Db, opts: CompareOptions): CompareView {
  const models = db.prepare(
    `SELECT m.* FROM models m WHERE m.family = ? AND m.rowid = (
       SELECT m2.rowid FROM models m2 WHERE m2.family = m.family AND m2.variant = m.variant ORDER BY m2.created_at DESC, m2.rowid DESC LIMIT 1)
     ORDER BY m.variant`,
  ).all(opts.family) as ModelRow[];
  if (models.length === 0) throw new BenchfleetError('not_found', `no models in family ${opts.family}`);
  const family = getFamily(db, opts.family);

  const variants: CompareVariant[] = models.map((m) => {
    const facts = JSON.parse(m.facts) as { parameterCount?: number; hasQuantOps?: boolean; int8InitializerCount?: number; weightSparsity?: number };
    const compression = JSON.parse(m.compression) as Compression;
    return {
      variant: m.variant, sha256: m.sha256, parent: m.parent_variant, compression, tags: JSON.parse(m.tags) as string[], format: m.format,
      size_bytes: m.size_bytes, parameter_count: facts.parameterCount ?? null,
      quantized: Boolean(compression.quantization) || Boolean(facts.hasQuantOps) || (facts.int8InitializerCount ?? 0) > 0,
      weight_sparsity: facts.weightSparsity ?? null, accuracy: m.accuracy,
    };
  });

  // The newest successful job per variant and device (any model version of the variant; reruns included).
  const rows = db.prepare(
    `WITH latest AS (
       SELECT mo.variant, d.name AS device, j.id AS job_id, j.run_id, j.finished_at,
              ROW_NUMBER() OVER (PARTITION BY mo.variant, j.device_id ORDER BY j.finished_at DESC, j.rowid DESC) AS rn
       FROM jobs j JOIN runs r ON r.id = j.run_id JOIN models mo ON mo.sha256 = r.model_sha256 JOIN devices d ON d.id = j.device_id
       WHERE mo.family = ? AND j.status = 'succeeded')
     SELECT l.variant, l.device, l.job_id, l.run_id, l.finished_at, me.metric, me.median, me.mean, me.max, me.ci_low, me.ci_high
     FROM latest l JOIN measurements me ON me.job_id = l.job_id WHERE l.rn = 1`,
  ).all(opts.family) as ResultRow[];
  const wanted = opts.devices && opts.devices.length > 0 ? new Set(opts.devices) : null;
  const byCell = new Map<string, ResultRow[]>();
  for (const r of rows) {
    if (wanted && !wanted.has(r.device)) continue;
    const k = `${r.variant}\u0000${r.device}`;
    byCell.set(k, [...(byCell.get(k) ?? []), r]);
  }
  const devices = [...new Set([...byCell.keys()].map((k) => k.split('\u0000')[1]!))].sort();
  const variantOf = new Map(variants.map((v) => [v.variant, v]));
  const thresholds = family ? { cosine: family.min_cosine, top1: family.min_top1 } : null;

  const cells: CompareCell[] = [];
  for (const [k, rs] of byCell) {
    const [variant, device] = k.split('\u0000') as [string, string];
    const metric = (name: string) => rs.find((r) => r.metric === name);
    const lat = metric('latency_ms');
    const cos = metric(FIDELITY_METRICS.cosine);
    const top1 = metric(FIDELITY_METRICS.top1);
    const err = metric(FIDELITY_METRICS.maxAbsError);
    const acc = metric(FIDELITY_METRICS.accuracy);
    const v = variantOf.get(variant);
    const flags: string[] = [];
    if (thresholds && cos && cos.median < thresholds.cosine) flags.push(`fidelity: cosine ${cos.median.toFixed(4)} < ${thresholds.cosine}`);
    if (thresholds && top1 && top1.mean < thresholds.top1) flags.push(`fidelity: top-1 agreement ${(top1.mean * 100).toFixed(0)}% < ${(thresholds.top1 * 100).toFixed(0)}%`);
    const quality = v?.accuracy ?? acc?.mean ?? top1?.mean ?? null;
    cells.push({
      variant, device, job_id: rs[0]!.job_id, run_id: rs[0]!.run_id, measured_at: new Date(rs[0]!.finished_at).toISOString(),
      latency_ms: lat?.median ?? null, latency_ci: lat ? [lat.ci_low, lat.ci_high] : null,
      energy_mj: metric('energy_mj')?.median ?? null, peak_mem_mib: metric('peak_rss_mib')?.median ?? null,
      fidelity_cosine: cos?.median ?? null, fidelity_top1: top1?.mean ?? null, output_max_abs_error: err?.max ?? null, accuracy_measured: acc?.mean ?? null,
      quality, quality_kind: v?.accuracy !== null && v?.accuracy !== undefined ? 'accuracy' : acc ? 'measured_accuracy' : top1 ? 'top1_agreement' : null,
      flags, vs_parent: null, pareto: false,
    });
  }
  // Ratios against the parent variant on the same device.
  const cellOf = (variant: string, device: string) => cells.find((c) => c.variant === variant && c.device === device);
  for (const c of cells) {
    const parent = variantOf.get(c.variant)?.parent;
    if (!parent) continue;
    const p = cellOf(parent, c.device);
    const pv = variantOf.get(parent);
    const v = variantOf.get(c.variant)!;
    const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? a / b : null);
    c.vs_parent = {
      speedup: ratio(p?.latency_ms, c.latency_ms),
      energy_saving: p?.energy_mj && c.energy_mj ? 1 - c.energy_mj / p.energy_mj : null,
      size_reduction: pv ? pv.size_bytes / v.size_bytes : null,
      quality_drop: p?.quality !== null && p?.quality !== undefined && c.quality !== null ? p.quality - c.quality : null,
    };
  }
  // Pareto front and recommendation per device. The reference quality is the family's reference
  // variant (or else the best quality measured on the device).
  const costKey = COST_OF[opts.objective];
  const recommendations: Recommendation[] = [];
  const memLimit = (device: string): number | null => {
    const row = db.prepare('SELECT labels FROM devices WHERE name = ?').get(device) as { labels: string } | undefined;
    const labels = row ? (JSON.parse(row.labels) as Record<string, string>) : {};
    const mib = Number(labels.mem_total_mib ?? labels.ram_mib ?? NaN);
    return Number.isFinite(mib) && mib > 0 ? mib : null;
  };
  for (const device of devices) {
    const here = cells.filter((c) => c.device === device);
    const scored = here.filter((c) => c[costKey] !== null && c.quality !== null);
    const front = paretoFront(scored.map((c) => ({ cost: c[costKey]!, quality: c.quality! })));
    scored.forEach((c, i) => { c.pareto = front.has(i); });
    const refCell = family ? here.find((c) => c.variant === family.reference_variant) : undefined;
    const qualities = here.map((c) => c.quality).filter((q): q is number => q !== null);
    const refQuality = refCell?.quality ?? (qualities.length ? Math.max(...qualities) : null);
    recommendations.push(recommend(device, here.map((c) => ({ variant: c.variant, cost: c[costKey], quality: c.quality, peakMemMib: c.peak_mem_mib, flags: c.flags })),
      refQuality, opts.budget, memLimit(device), opts.objective, opts.objective === 'latency' ? 'ms' : opts.objective === 'energy' ? 'mJ' : 'MiB'));
  }
  cells.sort((a, b) => a.device.localeCompare(b.device) || a.variant.localeCompare(b.variant));
  return { family: opts.family, objective: opts.objective, budget: opts.budget, reference_variant: family?.reference_variant ?? null, variants, devices, cells, recommendations };
}
