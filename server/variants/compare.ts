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
interface JobResultRow {
  variant: string; sha256: string; device: string; job_id: string; run_id: string; finished_at: number; runtime: string; settings: string; runner: string | null;
}
interface MeasurementRow { job_id: string; metric: string; median: number; mean: number; max: number; ci_low: number; ci_high: number; flags: string }
type ResultRow = JobResultRow & Omit<MeasurementRow, 'job_id'>;

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

interface Group { variant: string; sha256: string; device: string; settings: CompareSettings; jobs: Map<string, ResultRow[]>; newest: number }

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

  // Every successful result of the family — the model version each job really ran (an A/B job's
  // arm overrides its run's model), its settings and runner — newest first, at most `window` jobs
  // per version, device and settings. The SQL partition holds every part of a settings key
  // (runtime, threads, inputs, runner; inputs as stored JSON text, so it may split one key in two,
  // never join two), hence each key's `window` newest jobs are among its partitions' `window` newest.
  // The candidates are found from the family's models (the runs of each, the jobs of those runs, and
  // the A/B jobs that ran one of them: indexes of migration 012), never by reading every job of the
  // farm. CROSS JOIN keeps that order and `+j.status` keeps the planner off the status indexes
  // (without ANALYZE it takes status = ? for selective; it matches nearly every job). The ranking
  // sorts only row ids and keys; the columns shown are read for the jobs kept.
  const jobRows = stmt(db,
    `WITH candidates AS (
       SELECT j.rowid AS jr FROM models fm CROSS JOIN runs r ON r.model_sha256 = fm.sha256 CROSS JOIN jobs j ON j.run_id = r.id
       WHERE fm.family = @family AND +j.status = 'succeeded'
       UNION
       SELECT j.rowid FROM models fm CROSS JOIN jobs j ON j.model_sha256 = fm.sha256
       WHERE fm.family = @family AND +j.status = 'succeeded'),
     ranked AS (
       SELECT j.rowid AS jr, COALESCE(j.model_sha256, r.model_sha256) AS sha,
              DENSE_RANK() OVER (PARTITION BY COALESCE(j.model_sha256, r.model_sha256), j.device_id, r.runtime, json_extract(r.settings, '$.threads'),
                                              json_extract(r.settings, '$.inputs'), json_extract(j.environment, '$.runner')
                                 ORDER BY j.finished_at DESC, j.id DESC) AS rn
       FROM candidates c CROSS JOIN jobs j ON j.rowid = c.jr JOIN runs r ON r.id = j.run_id)
     SELECT mo.variant, mo.sha256, d.name AS device, j.id AS job_id, j.run_id, j.finished_at, r.runtime, r.settings,
            json_extract(j.environment, '$.runner') AS runner
     FROM ranked k CROSS JOIN jobs j ON j.rowid = k.jr JOIN runs r ON r.id = j.run_id JOIN models mo ON mo.sha256 = k.sha
       JOIN devices d ON d.id = j.device_id
     WHERE k.rn <= @limit AND mo.family = @family
     ORDER BY j.finished_at DESC, j.id DESC`,
  ).all({ family: opts.family, limit: window }) as JobResultRow[];
  // Their measurements in a second query (the job's columns are not repeated for each metric).
  const measured = new Map<string, MeasurementRow[]>();
  for (const m of stmt(db,
    `SELECT me.job_id, me.metric, me.median, me.mean, me.max, me.ci_low, me.ci_high, me.flags
     FROM json_each(?) ids CROSS JOIN measurements me ON me.job_id = ids.value`,
  ).all(JSON.stringify(jobRows.map((j) => j.job_id))) as MeasurementRow[]) {
    const list = measured.get(m.job_id);
    if (list) list.push(m);
    else measured.set(m.job_id, [m]);
  }
  const rows: ResultRow[] = [];
  for (const j of jobRows) {
    for (const m of measured.get(j.job_id) ?? []) {
      rows.push({
        variant: j.variant, sha256: j.sha256, device: j.device, job_id: j.job_id, run_id: j.run_id, finished_at: j.finished_at, runtime: j.runtime, settings: j.settings,
        runner: j.runner, metric: m.metric, median: m.median, mean: m.mean, max: m.max, ci_low: m.ci_low, ci_high: m.ci_high, flags: m.flags,
      });
    }
  }
  const wanted = opts.devices && opts.devices.length > 0 ? new Set(opts.devices) : null;

  // Results grouped by (version, device, settings key).
  const groups = new Map<string, Group>();
  const settingsOf = new Map<string, CompareSettings>();
  // A family's thousands of rows share a few settings: each distinct one is parsed and hashed once.
  const settingsMemo = new Map<string, CompareSettings>();
  for (const r of rows) {
    if (wanted && !wanted.has(r.device)) continue;
    const memoKey = `${r.runtime}\u0000${typeof r.runner}:${String(r.runner)}\u0000${r.settings}`;
    let settings = settingsMemo.get(memoKey);
    if (!settings) {
      const st = JSON.parse(r.settings) as { threads?: number; inputs?: Record<string, unknown> };
      settings = compareSettings(r.runtime, st.threads ?? 1, st.inputs ?? {}, r.runner);
      settingsMemo.set(memoKey, settings);
    }
    settingsOf.set(settings.key, settings);
    const gk = `${r.sha256}\u0000${r.device}\u0000${settings.key}`;
    let g = groups.get(gk);
    if (!g) { g = { variant: r.variant, sha256: r.sha256, device: r.device, settings, jobs: new Map(), newest: r.finished_at }; groups.set(gk, g); }
    if (!g.jobs.has(r.job_id) && g.jobs.size >= window) continue;
    g.jobs.set(r.job_id, [...(g.jobs.get(r.job_id) ?? []), r]);
    g.newest = Math.max(g.newest, r.finished_at);
  }
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
  const newest = jobs[0]![0]!;
  // Flagged results (throttled, charging…) are left out when unflagged ones exist.
  const metric = (name: string): ResultRow[] => {
    const all = jobs.map((rs) => rs.find((r) => r.metric === name)).filter((r): r is ResultRow => r !== undefined);
    const clean = all.filter((r) => r.flags === '[]');
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
