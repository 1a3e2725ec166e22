// Does every change a server reported agree with itself? For every verdict, series change, alert
// and A/B test stored in a database: the effect is the change from its own before to its own
// after (effect = after/before − 1, signed so that + = worse), the interval holds the effect —
// also once printed — and the change says what evidence it rests on. Works on the database of
// another build too (columns it lacks count as missing).
import { formatChange, worseEffect, type Direction } from '../protocol/change.js';

type Db = { prepare(sql: string): { all(...a: unknown[]): unknown[]; get(...a: unknown[]): unknown } };

export interface Consistency { checked: number; violations: number; byKind: Map<string, number>; examples: string[] }

const direction = (metric: string): Direction =>
  /(_tok_s|_per_s|throughput|accuracy|fidelity|cosine|top1)/.test(metric) && !/error/.test(metric) ? 'higher_is_better' : 'lower_is_better';

/** The numbers of a printed change, "+12.3% (95% CI +10.1% … +14.6%)", in order. */
export function printedNumbers(text: string): number[] {
  return [...text.matchAll(/([+-]\d+(?:\.\d+)?)%/g)].map((m) => Number(m[1]));
}

export function changeConsistency(db: Db): Consistency {
  const out: Consistency = { checked: 0, violations: 0, byKind: new Map(), examples: [] };
  const has = (table: string, column: string): boolean =>
    (db.prepare(`SELECT COUNT(*) AS n FROM pragma_table_info('${table}') WHERE name = ?`).get(column) as { n: number }).n > 0;
  let flawed = false;
  const bad = (kind: string, what: string): void => {
    if (!flawed) out.violations++;
    flawed = true;
    out.byKind.set(kind, (out.byKind.get(kind) ?? 0) + 1);
    if (out.examples.length < 20) out.examples.push(`${kind}: ${what}`);
  };
  const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * (1 + Math.abs(a) + Math.abs(b));
  const check = (kind: string, id: string, metric: string, before: number | null, after: number | null, effect: number, lo: number | null, hi: number | null,
    evidence: string | null | undefined, needInterval: boolean): void => {
    out.checked++;
    flawed = false;
    const tag = `${id} ${metric} ${formatChange({ effect, ci_low: lo, ci_high: hi })}`;
    if (before === null || after === null) bad(`${kind}: no before/after`, tag);
    else if (!near(worseEffect(before, after, direction(metric)), effect)) {
      bad(`${kind}: effect is not before → after`, `${tag} but ${before.toPrecision(4)} → ${after.toPrecision(4)} is ${formatChange({ effect: worseEffect(before, after, direction(metric)), ci_low: null, ci_high: null })}`);
    }
    if (lo === null || hi === null) { if (needInterval) bad(`${kind}: no interval`, tag); } else if (!(lo <= effect && effect <= hi)) {
      bad(`${kind}: effect outside its interval`, tag);
    } else {
      const [p, a, b] = printedNumbers(formatChange({ effect, ci_low: lo, ci_high: hi }));
      if (!(a! <= p! && p! <= b!)) bad(`${kind}: printed effect outside its printed interval`, tag);
    }
    if (evidence === undefined || evidence === null || evidence === '') bad(`${kind}: no evidence`, tag);
  };

  const ev = (table: string) => (has(table, 'evidence') ? 'evidence' : 'NULL AS evidence');
  for (const v of db.prepare(`SELECT job_id, metric, verdict, effect, ci_low, ci_high, baseline_median, candidate_median, ${ev('verdicts')} FROM verdicts WHERE effect IS NOT NULL`)
    .all() as { job_id: string; metric: string; verdict: string; effect: number; ci_low: number | null; ci_high: number | null; baseline_median: number | null; candidate_median: number | null; evidence: string | null }[]) {
    const reported = v.verdict === 'regression' || v.verdict === 'improvement';
    check(`verdict ${reported ? v.verdict : 'pass'}`, v.job_id, v.metric, v.baseline_median, v.candidate_median, v.effect, v.ci_low, v.ci_high, reported ? v.evidence : 'n/a', reported);
  }
  if (has('series_changes', 'id')) {
    for (const c of db.prepare(`SELECT id, metric, before_value, after_value, effect, ci_low, ci_high, ${ev('series_changes')} FROM series_changes`)
      .all() as { id: string; metric: string; before_value: number; after_value: number; effect: number; ci_low: number | null; ci_high: number | null; evidence: string | null }[]) {
      check('series change', c.id, c.metric, c.before_value, c.after_value, c.effect, c.ci_low, c.ci_high, c.evidence, true);
    }
  }
  const alertCi = has('alerts', 'ci_low') ? 'ci_low, ci_high' : 'NULL AS ci_low, NULL AS ci_high';
  for (const a of db.prepare(`SELECT id, metric, effect, baseline_median, current_median, ${alertCi}, ${ev('alerts')} FROM alerts WHERE kind IN ('change', 'ab', 'gate')`)
    .all() as { id: string; metric: string; effect: number; baseline_median: number; current_median: number; ci_low: number | null; ci_high: number | null; evidence: string | null }[]) {
    check('alert', a.id, a.metric, a.baseline_median, a.current_median, a.effect, a.ci_low, a.ci_high, a.evidence, true);
  }
  if (has('ab_tests', 'estimate')) {
    for (const t of db.prepare(`SELECT id, metric, estimate, ci_low, ci_high FROM ab_tests WHERE estimate IS NOT NULL`)
      .all() as { id: string; metric: string; estimate: number; ci_low: number | null; ci_high: number | null }[]) {
      out.checked++;
      flawed = false;
      if (t.ci_low !== null && t.ci_high !== null && !(t.ci_low <= t.estimate && t.estimate <= t.ci_high)) bad('A/B test: estimate outside its interval', `${t.id} ${t.metric}`);
    }
  }
  return out;
}
