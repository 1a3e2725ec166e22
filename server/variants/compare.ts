// The variant × device comparison of a family. A cell is keyed like a series: one model version
// (sha256), one device and one settings key (runtime, threads, inputs, runner). Per device one
// settings key is compared — chosen by the user, or the key under which most variants' newest
// versions have results — and a cell pools that key's newest results of the version (median of
// medians with its interval, how many results). A cell is marked stale when only an older version
// of the variant was measured there, and settings_differ when the variant was measured only under
// other settings; ratios against the parent variant, the Pareto front (quality against cost) and
// the recommendation (the cheapest variant within the quality-drop budget and the device's memory,
// with the reason) only ever use current cells under one settings key.
import type { Db } from '../db/open.js';
import crypto from 'node:crypto';
import type { CompareCell, CompareCellStatus, CompareObjective, CompareSettings, CompareSettingsOption, CompareVariant, CompareView, Compression, Recommendation } from '../../protocol/variants.js';
import { BenchfleetError } from '../../protocol/errors.js';
import { FIDELITY_METRICS, fidelityFlags } from '../../protocol/fidelity.js';
import { getFamily } from './families.js';
import { stmt } from '../db/statements.js';
import { syncCompareIndex } from './compare-index.js';

export interface CompareOptions {
  family: string; devices?: string[] | undefined; budget: number; objective: CompareObjective;
  threads?: number | undefined; runtime?: string | undefined; settings?: string | undefined; window?: number | undefined;
}

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

interface ModelRow { variant: string; sha256: string; parent_variant: string | null; compression: string; tags: string; format: string; size_bytes: number; facts: string; accuracy: number | null; created_at: number }
/** A measurement summary as compare_results stores it: [metric, median, mean, max, ci_low, ci_high, flags]. */
type MetricTuple = [string, number, number, number, number, number, string[]];
/** One job's results in a compare cell. */
interface JobResult { job_id: string; run_id: string; finished_at: number; metrics: MetricTuple[] }
/** One measurement of one job, as the cell pools it. */
interface MetricResult { median: number; mean: number; max: number; ci_low: number; ci_high: number; flags: string[] }

/** The settings part of a series' identity, as a compare key (see CompareSettings). */
export function compareSettings(runtime: string, threads: number, inputs: Record<string, unknown>, runner: string | null): CompareSettings {
  const canonical = JSON.stringify([runtime, threads, canonicalJson(inputs), runner]);
  const key = crypto.createHash('sha256').update(canonical).digest('hex').slice(0, 12);
  return { key, runtime, threads, inputs, runner, label: settingsLabel(runtime, threads, inputs, runner) };
}

function canonicalJson(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(canonicalJson);
  if (x && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, canonicalJson((x as Record<string, unknown>)[k])]));
  return x;
}

function settingsLabel(runtime: string, threads: number, inputs: Record<string, unknown>, runner: string | null): string {
  const parts = [runtime, `${threads} thread${threads === 1 ? '' : 's'}`];
  const names = Object.keys(inputs).sort();
  if (names.length === 0) parts.push('default inputs');
  for (const name of names) {
    const spec = inputs[name] as { shape?: number[]; fill?: number | string; data?: { dtype?: string; shape?: number[] } };
    const bits: string[] = [];
    if (spec.shape) bits.push(`shape ${spec.shape.join('×')}`);
    if (spec.fill !== undefined) bits.push(`fill ${spec.fill}`);
    if (spec.data) bits.push(`data ${spec.data.dtype ?? ''}${spec.data.shape ? ` ${spec.data.shape.join('×')}` : ''}`.trim());
    parts.push(`input ${name}: ${bits.join(', ') || 'default'}`);
  }
  if (runner) parts.push(`runner ${runner}`);
  return parts.join(' · ');
}

/**
 * The median of job medians with a 95% interval. With six or more results, the distribution-free
 * interval of order statistics (binomial, coverage ≥ 95%); with fewer, no order-statistic interval
 * reaches 95%, so the interval spans every result's own interval (a single result: its own).
 */
export function pooledMedian(results: { median: number; ci_low: number; ci_high: number }[]): { value: number; ci: [number, number] } | null {
  const xs = results.map((r) => r.median).filter(Number.isFinite).sort((a, b) => a - b);
  const n = xs.length;
  if (n === 0) return null;
  const value = n % 2 === 1 ? xs[(n - 1) / 2]! : (xs[n / 2 - 1]! + xs[n / 2]!) / 2;
  if (n < 6) {
    const lo = Math.min(value, ...results.map((r) => r.ci_low).filter(Number.isFinite));
    const hi = Math.max(value, ...results.map((r) => r.ci_high).filter(Number.isFinite));
    return { value, ci: [lo, hi] };
  }
  // The largest k with P(Binomial(n, ½) < k) ≤ 2.5%: [x_(k), x_(n−k+1)] covers the median with ≥ 95%.
  let k = 0;
  let cdf = 0;
  let pmf = Math.pow(0.5, n);
  for (let i = 0; i <= n; i++) {
    if (cdf + pmf > 0.025) break;
    cdf += pmf;
    k = i + 1;
    pmf = (pmf * (n - i)) / (i + 1);
  }
  k = Math.max(1, k);
  return { value, ci: [xs[k - 1]!, xs[n - k]!] };
}

interface Group { variant: string; sha256: string; device: string; settings: CompareSettings; jobs: Map<string, JobResult>; newest: number }

export function compareFamily(db: Db, opts: CompareOptions): CompareView {
  const models = stmt(db,
    `SELECT m.* FROM models m WHERE m.family = ? AND m.rowid = (
       SELECT m2.rowid FROM models m2 WHERE m2.family = m.family AND m2.variant = m.variant ORDER BY m2.created_at DESC, m2.rowid DESC LIMIT 1)
     ORDER BY m.variant`,
  ).all(opts.family) as ModelRow[];
  if (models.length === 0) throw new BenchfleetError('not_found', `no models in family ${opts.family}`);
  const family = getFamily(db, opts.family);
  const window = opts.window ?? 10;

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
  const sizeOf = new Map((stmt(db, 'SELECT sha256, size_bytes FROM models WHERE family = ?').all(opts.family) as { sha256: string; size_bytes: number }[])
    .map((r) => [r.sha256, r.size_bytes]));

  // The newest `window` results of every compare key of the family — the model version each job
  // really ran (an A/B job's arm overrides its run's model), the device, and the settings part of
  // a series' identity (runtime, threads, inputs, runner) — from compare_keys and compare_results
  // (migration 013, kept by compare-index.ts): each key's results are stored newest first, with
  // the job's measurement summaries on the same row, so a family of thousands of jobs costs one
  // short range of the table per key.
  // Jobs whose rows changed since the server's last tick are indexed first (compare-index.ts).
  syncCompareIndex(db);
  const wanted = opts.devices && opts.devices.length > 0 ? new Set(opts.devices) : null;
  const keyRows = stmt(db,
    `SELECT k.id, k.sha256, k.settings, d.name AS device, mo.variant FROM compare_keys k JOIN devices d ON d.id = k.device_id JOIN models mo ON mo.sha256 = k.sha256
     WHERE k.family = ?`,
  ).all(opts.family) as { id: number; sha256: string; settings: string; device: string; variant: string }[];
  const resultRows = stmt(db,
    // Per key: its results from the window-th newest on (a tie on that time may add one; the
    // grouping below keeps exactly `window`).
    `SELECT c.key_id, c.job_id, c.run_id, c.finished_at, c.metrics FROM compare_keys k CROSS JOIN compare_results c ON c.key_id = k.id
       AND c.finished_at >= IFNULL((SELECT c2.finished_at FROM compare_results c2 WHERE c2.key_id = k.id ORDER BY c2.finished_at DESC, c2.job_id DESC LIMIT 1 OFFSET @limit - 1), -9e18)
     WHERE k.family = @family`,
  ).raw(true).all({ family: opts.family, limit: window }) as [number, string, string, number, string][];

  // Results grouped by (version, device, settings key). Keys whose stored settings differ only in
  // the JSON text of their inputs are one settings key: their results are pooled, newest first.
  const groups = new Map<string, Group>();
  const settingsOf = new Map<string, CompareSettings>();
  const groupOfKey = new Map<number, Group>();
  for (const k of keyRows) {
    if (wanted && !wanted.has(k.device)) continue;
    const [runtime, threads, inputs, runner] = JSON.parse(k.settings) as [string, number | null, Record<string, unknown> | null, string | null];
    const settings = compareSettings(runtime, threads ?? 1, inputs ?? {}, runner);
    settingsOf.set(settings.key, settings);
    const gk = `${k.sha256}\u0000${k.device}\u0000${settings.key}`;
    let g = groups.get(gk);
    if (!g) { g = { variant: k.variant, sha256: k.sha256, device: k.device, settings, jobs: new Map(), newest: -Infinity }; groups.set(gk, g); }
    groupOfKey.set(k.id, g);
  }
  const byGroup = new Map<Group, JobResult[]>();
  for (const [keyId, jobId, runId, finishedAt, metrics] of resultRows) {
    const g = groupOfKey.get(keyId);
    if (!g || metrics === '[]') continue; // a job without measurements has nothing to pool
    const job: JobResult = { job_id: jobId, run_id: runId, finished_at: finishedAt, metrics: JSON.parse(metrics) as MetricTuple[] };
    const list = byGroup.get(g);
    if (list) list.push(job);
    else byGroup.set(g, [job]);
  }
  for (const [g, jobs] of byGroup) {
    jobs.sort((a, b) => b.finished_at - a.finished_at || (a.job_id < b.job_id ? 1 : -1));
    for (const job of jobs.slice(0, window)) g.jobs.set(job.job_id, job);
    g.newest = jobs[0]!.finished_at;
  }
  for (const [gk, g] of groups) if (g.jobs.size === 0) groups.delete(gk);
  for (const key of [...settingsOf.keys()]) if (![...groups.values()].some((g) => g.settings.key === key)) settingsOf.delete(key);
  const allGroups = [...groups.values()];
  const options: CompareSettingsOption[] = [...settingsOf.values()].map((s) => {
    const here = allGroups.filter((g) => g.settings.key === s.key);
    return { ...s, devices: [...new Set(here.map((g) => g.device))].sort(), results: here.reduce((a, g) => a + g.jobs.size, 0) };
  }).sort((a, b) => b.results - a.results || a.key.localeCompare(b.key));

  // The settings a user asked for narrow the keys; a key prefix must name one key.
  let explicitKey: string | null = null;
  if (opts.settings) {
    const matches = options.filter((o) => o.key.startsWith(opts.settings!));
    if (matches.length === 0) throw new BenchfleetError('not_found', `no results of family ${opts.family} under settings ${opts.settings}${options.length ? ` (there are: ${options.map((o) => `${o.key} = ${o.label}`).join('; ')})` : ''}`);
    if (matches.length > 1) throw new BenchfleetError('validation_failed', `settings ${opts.settings} is ambiguous: ${matches.map((o) => o.key).join(', ')}`);
    explicitKey = matches[0]!.key;
  }
  const selectable = (s: CompareSettings) => (explicitKey === null || s.key === explicitKey)
    && (opts.threads === undefined || s.threads === opts.threads) && (opts.runtime === undefined || s.runtime === opts.runtime);

  const newestSha = new Map(variants.map((v) => [v.variant, v.sha256]));
  const devices = [...new Set(allGroups.map((g) => g.device))].sort();
  const deviceSettings: Record<string, CompareSettings> = {};
  for (const device of devices) {
    // The key under which most variants' newest versions have results; then most variants at all; then the most recent.
    const keys = [...new Set(allGroups.filter((g) => g.device === device && selectable(g.settings)).map((g) => g.settings.key))];
    const score = (key: string) => {
      const gs = allGroups.filter((g) => g.device === device && g.settings.key === key);
      return [new Set(gs.filter((g) => newestSha.get(g.variant) === g.sha256).map((g) => g.variant)).size, new Set(gs.map((g) => g.variant)).size, Math.max(...gs.map((g) => g.newest))];
    };
    keys.sort((a, b) => {
      const [sa, sb] = [score(a), score(b)];
      return sb[0]! - sa[0]! || sb[1]! - sa[1]! || sb[2]! - sa[2]! || a.localeCompare(b);
    });
    if (keys[0]) deviceSettings[device] = settingsOf.get(keys[0])!;
  }

  const variantOf = new Map(variants.map((v) => [v.variant, v]));
  const thresholds = family ? { cosine: family.min_cosine, top1: family.min_top1 } : null;
  const cells: CompareCell[] = [];
  for (const device of devices) {
    const chosen = deviceSettings[device];
    for (const v of variants) {
      const mine = allGroups.filter((g) => g.device === device && g.variant === v.variant);
      if (mine.length === 0) continue;
      const byRecency = (a: Group, b: Group) => b.newest - a.newest;
      let status: CompareCellStatus;
      let note: string | null = null;
      let g = chosen ? mine.find((x) => x.settings.key === chosen.key && x.sha256 === v.sha256) : undefined;
      if (g) status = 'current';
      else if (chosen && (g = mine.filter((x) => x.settings.key === chosen.key).sort(byRecency)[0])) {
        status = 'stale';
        note = `measured on an older version (${g.sha256.slice(0, 12)}) — the newest, ${v.sha256.slice(0, 12)}, has no results here under these settings`;
      } else {
        g = [...mine].sort((a, b) => Number(b.sha256 === v.sha256) - Number(a.sha256 === v.sha256) || byRecency(a, b))[0]!;
        status = 'settings_differ';
        note = chosen ? `settings differ: measured with ${g.settings.label}, not ${chosen.label}` : `settings differ: measured with ${g.settings.label}`;
        if (g.sha256 !== v.sha256) note += `, on an older version (${g.sha256.slice(0, 12)})`;
      }
      cells.push(cellOf(g, status, note, sizeOf.get(g.sha256) ?? v.size_bytes, v, thresholds));
    }
  }

  // Ratios against the parent variant on the same device under the same settings; never across settings.
  const cellFor = (variant: string, device: string) => cells.find((c) => c.variant === variant && c.device === device);
  for (const c of cells) {
    const parent = variantOf.get(c.variant)?.parent;
    if (!parent || c.status === 'settings_differ') continue;
    const p = cellFor(parent, c.device);
    if (!p || p.status === 'settings_differ' || p.settings.key !== c.settings.key) continue;
    const ratio = (a: number | null, b: number | null) => (a && b ? a / b : null);
    c.vs_parent = {
      parent_sha256: p.sha256,
      speedup: ratio(p.latency_ms, c.latency_ms),
      energy_saving: p.energy_mj && c.energy_mj ? 1 - c.energy_mj / p.energy_mj : null,
      size_reduction: p.size_bytes / c.size_bytes,
      quality_drop: p.quality !== null && c.quality !== null ? p.quality - c.quality : null,
    };
  }
  // Pareto front and recommendation per device, under the device's settings key, on current
  // versions only. The reference quality is the family's reference variant (or else the best
  // quality measured on the device).
  const costKey = COST_OF[opts.objective];
  const recommendations: Recommendation[] = [];
  const memLimit = (device: string): number | null => {
    const row = stmt(db, 'SELECT labels FROM devices WHERE name = ?').get(device) as { labels: string } | undefined;
    const labels = row ? (JSON.parse(row.labels) as Record<string, string>) : {};
    const mib = Number(labels.mem_total_mib ?? labels.ram_mib ?? NaN);
    return Number.isFinite(mib) && mib > 0 ? mib : null;
  };
  for (const device of devices) {
    const here = cells.filter((c) => c.device === device);
    const comparable = here.filter((c) => c.status === 'current');
    const scored = comparable.filter((c) => c[costKey] !== null && c.quality !== null);
    const front = paretoFront(scored.map((c) => ({ cost: c[costKey]!, quality: c.quality! })));
    scored.forEach((c, i) => { c.pareto = front.has(i); });
    const refCell = family ? comparable.find((c) => c.variant === family.reference_variant) : undefined;
    const qualities = comparable.map((c) => c.quality).filter((q): q is number => q !== null);
    const refQuality = refCell?.quality ?? (qualities.length ? Math.max(...qualities) : null);
    const rec = recommend(device, comparable.map((c) => ({ variant: c.variant, cost: c[costKey], quality: c.quality, peakMemMib: c.peak_mem_mib, flags: c.flags })),
      refQuality, opts.budget, memLimit(device), opts.objective, opts.objective === 'latency' ? 'ms' : opts.objective === 'energy' ? 'mJ' : 'MiB');
    const left = here.filter((c) => c.status !== 'current').map((c) => `${c.variant}: ${c.status === 'stale' ? 'stale (older version measured)' : 'settings differ'}`);
    if (left.length) rec.reason += `; not compared: ${left.join('; ')}`;
    recommendations.push(rec);
  }
  cells.sort((a, b) => a.device.localeCompare(b.device) || a.variant.localeCompare(b.variant));
  return {
    family: opts.family, objective: opts.objective, budget: opts.budget, reference_variant: family?.reference_variant ?? null,
    selection: { threads: opts.threads ?? null, runtime: opts.runtime ?? null, settings: explicitKey, window },
    settings_options: options, device_settings: deviceSettings, variants, devices, cells, recommendations,
  };
}

/** One cell: the pooled results of one version, device and settings key. */
function cellOf(g: Group, status: CompareCellStatus, note: string | null, sizeBytes: number, v: CompareVariant, thresholds: { cosine: number; top1: number } | null): CompareCell {
  const jobs = [...g.jobs.values()];
  const newest = jobs[0]!;
  // Flagged results (throttled, charging…) are left out when unflagged ones exist.
  const metric = (name: string): MetricResult[] => {
    const all: MetricResult[] = [];
    for (const job of jobs) {
      const m = job.metrics.find((t) => t[0] === name);
      if (m) all.push({ median: m[1], mean: m[2], max: m[3], ci_low: m[4], ci_high: m[5], flags: m[6] });
    }
    const clean = all.filter((r) => r.flags.length === 0);
    return clean.length > 0 ? clean : all;
  };
  const pooled = (name: string) => pooledMedian(metric(name));
  const mean = (name: string): number | null => {
    const rs = metric(name);
    return rs.length ? rs.reduce((a, r) => a + r.mean, 0) / rs.length : null;
  };
  const lat = pooled('latency_ms');
  const cos = pooled(FIDELITY_METRICS.cosine);
  const top1 = mean(FIDELITY_METRICS.top1);
  const errs = metric(FIDELITY_METRICS.maxAbsError);
  const acc = mean(FIDELITY_METRICS.accuracy);
  const flags = thresholds ? fidelityFlags(cos?.value ?? null, top1, { min_cosine: thresholds.cosine, min_top1: thresholds.top1 }) : [];
  const userAccuracy = g.sha256 === v.sha256 ? v.accuracy : null;
  const quality = userAccuracy ?? acc ?? top1;
  return {
    variant: g.variant, device: g.device, status, note, sha256: g.sha256, size_bytes: sizeBytes, settings: g.settings, results: metric('latency_ms').length || jobs.length,
    job_id: newest.job_id, run_id: newest.run_id, measured_at: new Date(newest.finished_at).toISOString(),
    latency_ms: lat?.value ?? null, latency_ci: lat?.ci ?? null,
    energy_mj: pooled('energy_mj')?.value ?? null, peak_mem_mib: pooled('peak_rss_mib')?.value ?? null,
    fidelity_cosine: cos?.value ?? null, fidelity_top1: top1, output_max_abs_error: errs.length ? Math.max(...errs.map((r) => r.max)) : null, accuracy_measured: acc,
    quality, quality_kind: userAccuracy !== null ? 'accuracy' : acc !== null ? 'measured_accuracy' : top1 !== null ? 'top1_agreement' : null,
    flags, vs_parent: null, pareto: false,
  };
}
