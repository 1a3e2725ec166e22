// benchmark_model's op-profiling tables (--enable_op_profiling=true): reads the `Run Order` table(s)
// printed under "Operator-wise Profiling Info for Regular Benchmark Runs:" into per-operator rows.
// Columns come from the table header, so both the older layout (with `[start]`) and the newer one
// (without it) work, tab- or space-separated. Initialization tables and delegate-internal tables are
// skipped (their percentages are relative to another total); "Top by Computation Time" repeats the
// Run Order rows, and the summary by node type aggregates them, so both are skipped too.
import type { OperatorStat } from '../../../protocol/agent-messages.js';
import { NUM, toNumber } from './text.js';

/** Strips the TFLITE_LOG level prefix and a logcat `… tflite  : ` prefix (the Android APK). */
export function stripTfliteLog(line: string): { body: string; error: boolean; level: string | null } {
  let body = line.replace(/^\s*\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+([VDIWEF])\s+tflite\s*:\s?/, (_, lvl: string) => (lvl === 'E' || lvl === 'F' ? 'ERROR: ' : ''));
  body = body.replace(/^\s*tflite\s*:\s?/, '');
  const level = /^\s*(INFO|WARN|WARNING|VERBOSE|ERROR|FATAL): ?/.exec(body);
  if (!level?.[1]) return { body, error: false, level: null };
  return { body: body.slice(level[0].length), error: level[1] === 'ERROR' || level[1] === 'FATAL', level: level[1] };
}

type Section = 'none' | 'init' | 'regular' | 'delegate';
const NUMERIC_CELL = new RegExp(`^${NUM}%?$`);

export interface OpProfile {
  operators: OperatorStat[];
  /** Indexes of the lines that belong to profiling output (so they are not reported as unread). */
  consumed: Set<number>;
}

export function parseOpProfile(lines: readonly string[]): OpProfile {
  const operators: OperatorStat[] = [];
  const consumed = new Set<number>();
  let section: Section = 'none';
  let seenProfile = false;
  let table: { title: string; columns: string[] | null } | null = null;

  lines.forEach((raw, i) => {
    const { body, level } = stripTfliteLog(raw);
    const prefixed = level !== null;
    const text = body.trim();
    const mark = () => consumed.add(i);
    if (/Profiling Info for Benchmark Initialization:/.test(text)) { section = 'init'; seenProfile = true; table = null; return mark(); }
    if (/Operator-wise Profiling Info for Regular Benchmark Runs:/.test(text)) { section = 'regular'; seenProfile = true; table = null; return mark(); }
    if (/^(Primary graph profile:|Subgraph \(index: \d+\) profile:)/.test(text)) {
      if (section === 'delegate') section = 'regular';
      table = null;
      return mark();
    }
    if (/^Delegate internal:/.test(text)) { if (section !== 'init') section = 'delegate'; table = null; return mark(); }
    const title = /^=+ (.+?) =+$/.exec(text);
    if (title?.[1] !== undefined) { table = { title: title[1], columns: null }; seenProfile = true; return mark(); }
    if (!seenProfile) return;
    // A table is one log message: only its first line carries a prefix, so a prefixed line ends it.
    if (text === '' || prefixed) { table = null; return; }
    if (/^(Number of nodes executed: \d+|Timings \(microseconds\):|Memory \(bytes\):|\d+ nodes observed)/.test(text)) { table = null; return mark(); }
    if (!table) return;
    mark();
    if (table.columns === null && text.startsWith('[')) {
      table.columns = [...text.matchAll(/\[([^\]]+)\]/g)].map((m) => (m[1] ?? '').trim().toLowerCase());
      return;
    }
    if (table.title !== 'Run Order' || section === 'init' || section === 'delegate') return;
    const op = parseRow(body, table.columns);
    if (op) operators.push(op);
  });
  return { operators, consumed };
}

/** Default columns when a table has no header line: the newer layout (no `[start]`). */
const NEWER_COLUMNS = ['node type', 'first', 'avg ms', '%', 'cdf%', 'mem kb', 'times called', 'name'];
const OLDER_COLUMNS = ['node type', 'start', 'first', 'avg ms', '%', 'cdf%', 'mem kb', 'times called', 'name'];

function parseRow(body: string, header: string[] | null): OperatorStat | null {
  const cells = splitRow(body, header);
  if (!cells) return null;
  const value = (column: string) => toNumber(cells.get(column)?.replace(/%$/, ''));
  const avgMs = value('avg ms');
  const percent = value('%');
  const timesCalled = value('times called');
  const memKb = value('mem kb');
  const type = cells.get('node type');
  const name = cells.get('name');
  if (avgMs === null || percent === null || timesCalled === null || type === undefined || name === undefined) return null;
  return { type, name: unbracket(name), avgMs, percent, timesCalled: Math.max(0, Math.round(timesCalled)), ...(memKb === null ? {} : { memKb }) };
}

/** Maps a row's cells to column names: by tab (or 2+ spaces) when the count fits, else by token run. */
function splitRow(body: string, header: string[] | null): Map<string, string> | null {
  const bySeparator = body.split(body.includes('\t') ? /\t+/ : /\s{2,}/).map((c) => c.trim()).filter((c) => c !== '');
  const candidates = header ? [header] : [NEWER_COLUMNS, OLDER_COLUMNS];
  for (const columns of candidates) {
    if (bySeparator.length === columns.length && columns.slice(1, -1).every((_, k) => NUMERIC_CELL.test(bySeparator[k + 1] ?? ''))) {
      return new Map(columns.map((c, k) => [c, bySeparator[k] ?? '']));
    }
  }
  // Fallback: whitespace tokens; the node type and the name may contain spaces, the numbers do not.
  const tokens = body.trim().split(/\s+/);
  for (const columns of candidates) {
    const n = columns.length - 2;
    for (let start = 1; start + n < tokens.length; start++) {
      const run = tokens.slice(start, start + n);
      if (!run.every((t) => NUMERIC_CELL.test(t))) continue;
      const cells = new Map<string, string>([['node type', tokens.slice(0, start).join(' ')], ['name', tokens.slice(start + n).join(' ')]]);
      columns.slice(1, -1).forEach((c, k) => cells.set(c, run[k] ?? ''));
      return cells;
    }
  }
  return null;
}

function unbracket(name: string): string {
  return /^\[[^\]]*\]$/.test(name) ? name.slice(1, -1) : name;
}
