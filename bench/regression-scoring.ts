// Scoring of change reports against a labelled corpus (bench/regression-corpus.ts), as the issue
// that asked for this measured it: a labelled step counts as found when a report in its direction
// comes at most DEADLINE results after it (0 = at the first changed result). Each report is matched
// to at most one step; a report that matches none is false — wrong direction, no step nearby, or a
// second report of a step already found. A report in the right direction that comes later than the
// deadline is counted apart as late (a miss for recall; `precisionStrict` counts it as false too).
// False alerts per 1,000 results are counted on series without change.
import type { CorpusSeries, NoiseClass } from './regression-corpus.js';

export const DEADLINE = 5;

export interface Report {
  /** Result index (in the series) at which the report was made. */
  at: number;
  direction: 'worse' | 'better';
  /** Which mechanism: 'history', 'ab', … (free text). */
  source?: string;
  /** Extra jobs the report cost (A/B rounds × 2, reruns). */
  cost?: number;
  /** Results in the window that carried the evidence. */
  window?: number;
}

export interface Tally {
  found: number; missed: number; falseReports: number; late: number; reports: number;
  delays: number[];
  /** found/total per size, per direction, per noise class. */
  bySize: Map<string, [number, number]>;
  noChange: Record<NoiseClass | 'drift', { reports: number; results: number }>;
}

export const newTally = (): Tally => ({
  found: 0, missed: 0, falseReports: 0, late: 0, reports: 0, delays: [], bySize: new Map(),
  noChange: { low: { reports: 0, results: 0 }, mid: { reports: 0, results: 0 }, high: { reports: 0, results: 0 }, drift: { reports: 0, results: 0 } },
});

const bump = (m: Map<string, [number, number]>, key: string, hit: boolean): void => {
  const b = m.get(key) ?? [0, 0];
  b[1]++;
  if (hit) b[0]++;
  m.set(key, b);
};

/** Scores one series' reports; `judgedFrom` is the first result index at which reports count. */
export function scoreSeries(t: Tally, s: CorpusSeries, reports: Report[], judgedFrom = 0): void {
  const events = s.events;
  const used = new Set<number>();
  const hitAt = new Map<number, number>();
  const sorted = [...reports].sort((a, b) => a.at - b.at);
  for (const r of sorted) {
    if (r.at < judgedFrom) continue;
    t.reports++;
    // The latest event at or before the report (reports between events belong to the earlier one).
    let idx = -1;
    for (let i = 0; i < events.length; i++) if (events[i]!.at <= r.at) idx = i;
    const e = idx >= 0 ? events[idx]! : null;
    if (e && e.direction === r.direction && !used.has(idx)) {
      if (r.at - e.at <= DEADLINE) { used.add(idx); hitAt.set(idx, r.at - e.at); continue; }
      t.late++;
      used.add(idx);
      continue;
    }
    t.falseReports++;
  }
  events.forEach((e, i) => {
    const delay = hitAt.get(i);
    const hit = delay !== undefined;
    if (hit) { t.found++; t.delays.push(delay); } else t.missed++;
    bump(t.bySize, `size:${e.size}`, hit);
    bump(t.bySize, `size:${e.size}:${e.direction}`, hit);
    bump(t.bySize, `noise:${s.noise}`, hit);
    bump(t.bySize, `size:${e.size}:noise:${s.noise}`, hit);
    bump(t.bySize, `kind:${e.kind}`, hit);
  });
  if (s.scenario === 'none' || s.scenario === 'drift') {
    const c = t.noChange[s.scenario === 'drift' ? 'drift' : s.noise];
    c.reports += reports.filter((r) => r.at >= judgedFrom).length;
    c.results += s.results.length - judgedFrom;
  }
}

export interface Figures {
  recall: number; precision: number; precisionStrict: number; f1: number; f1Strict: number;
  medianDelay: number; falsePer1000: number; falsePer1000ByNoise: Record<NoiseClass | 'drift', number>;
}

export function figures(t: Tally): Figures {
  const recall = t.found / Math.max(1, t.found + t.missed);
  const precision = t.found / Math.max(1, t.found + t.falseReports);
  const precisionStrict = t.found / Math.max(1, t.found + t.falseReports + t.late);
  const f1 = (2 * precision * recall) / Math.max(1e-9, precision + recall);
  const f1Strict = (2 * precisionStrict * recall) / Math.max(1e-9, precisionStrict + recall);
  const d = [...t.delays].sort((a, b) => a - b);
  const rate = (c: { reports: number; results: number }): number => (c.results > 0 ? (1000 * c.reports) / c.results : Number.NaN);
  const nc = t.noChange;
  const all = { reports: nc.low.reports + nc.mid.reports + nc.high.reports, results: nc.low.results + nc.mid.results + nc.high.results };
  return {
    recall, precision, precisionStrict, f1, f1Strict, medianDelay: d.length ? d[Math.floor((d.length - 1) / 2)]! : Number.NaN,
    falsePer1000: rate(all), falsePer1000ByNoise: { low: rate(nc.low), mid: rate(nc.mid), high: rate(nc.high), drift: rate(nc.drift) },
  };
}

export const ratio = (t: Tally, key: string): string => {
  const b = t.bySize.get(key);
  return b ? (b[0] / b[1]).toFixed(2) : '-';
};
