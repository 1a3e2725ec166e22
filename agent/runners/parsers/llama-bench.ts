// Parser for llama.cpp `llama-bench` output: `-o jsonl` (one object per test), `-o json` (an array,
// possibly with llama/ggml logs interleaved when stderr is merged) or the default markdown table.
// Prompt tests (pp) give `prefill_tok_s`, generation tests (tg) `decode_tok_s`, combined pp+tg tests
// `pg_tok_s`. Samples are the per-repetition `samples_ts` when printed, else the mean `avg_ts`.
// A second test of the same kind (another size, depth or thread count) gets its own metric, suffixed
// with its test name and, if it differs, its thread count (`prefill_tok_s.pp1024`,
// `prefill_tok_s.pp512_t8`), so different configurations are never pooled.
import { SampleSets, numbersIn, splitLines, tidy, toNumber } from './text.js';
import { RunnerOutputError, type EnvValue, type ParsedRun } from './types.js';

/** One benchmark test, whatever the output format. */
interface Test {
  nPrompt: number;
  nGen: number;
  nDepth: number;
  samples: number[];
  stddev: number | null;
  env: Record<string, EnvValue>;
}

export function parseLlamaBench(stdout: string): ParsedRun {
  const lines = splitLines(stdout);
  const json = jsonTests(lines);
  const { tests, unread } = json.tests.length || json.invalid.length ? json : markdownTests(lines);
  if (json.invalid.length) throw new RunnerOutputError('llama-bench printed JSON that could not be read', json.invalid);
  if (tests.length === 0) throw new RunnerOutputError('llama-bench output has no test results', unread);

  const sets = new SampleSets();
  const env: Record<string, EnvValue> = {};
  const used = new Set<string>();
  const firstThreads = new Map<string, EnvValue | undefined>();
  for (const t of tests) {
    const kind = t.nGen === 0 ? 'prefill' : t.nPrompt === 0 ? 'decode' : 'pg';
    const label = testLabel(t);
    let metric = `${kind}_tok_s`;
    if (used.has(metric)) {
      const threads = t.env.threads !== firstThreads.get(kind) && typeof t.env.threads === 'number' ? `_t${t.env.threads}` : '';
      metric = `${kind}_tok_s.${label}${threads}`;
      for (let k = 2; used.has(metric); k++) metric = `${kind}_tok_s.${label}${threads}_${k}`;
    } else {
      firstThreads.set(kind, t.env.threads);
    }
    used.add(metric);
    sets.add(metric, 'tok/s', t.samples);
    if (t.stddev !== null) env[`${metric}_stddev`] = t.stddev;
    env[`${metric}_test`] = label;
    for (const [k, v] of Object.entries(t.env)) env[k] ??= v;
  }
  return { measurements: sets.toArray(), environment: env };
}

function testLabel(t: Test): string {
  const parts = [t.nPrompt > 0 ? `pp${t.nPrompt}` : '', t.nGen > 0 ? `tg${t.nGen}` : ''].filter(Boolean);
  return parts.join('_') + (t.nDepth > 0 ? `_d${t.nDepth}` : '');
}

// ---- JSON / JSONL -------------------------------------------------------------------------------

function jsonTests(lines: string[]): { tests: Test[]; invalid: string[]; unread: string[] } {
  const objects: unknown[] = [];
  const invalid: string[] = [];
  const start = lines.findIndex((l) => l.trim() === '[');
  if (start >= 0) {
    // -o json: keep only the lines that belong to the pretty-printed array (logs start otherwise).
    const body = lines.slice(start).filter((l) => /^\s*([[\]{}]|"[^"]*"\s*:|,)/.test(l)).join('\n');
    try {
      const parsed: unknown = JSON.parse(body);
      if (Array.isArray(parsed)) objects.push(...(parsed as unknown[]));
    } catch {
      invalid.push(...lines.slice(start).filter((l) => l.trim() !== '').slice(0, 20));
    }
  } else {
    for (const raw of lines) {
      const line = raw.trim();
      if (!line.startsWith('{')) continue;
      try { objects.push(JSON.parse(line)); } catch { invalid.push(line); }
    }
  }
  const tests: Test[] = [];
  for (const o of objects) {
    const t = o && typeof o === 'object' ? jsonTest(o as Record<string, unknown>) : null;
    if (t) tests.push(t);
    else invalid.push(JSON.stringify(o).slice(0, 300));
  }
  return { tests, invalid, unread: [] };
}

function jsonTest(o: Record<string, unknown>): Test | null {
  const int = (k: string) => (typeof o[k] === 'number' ? (o[k] as number) : typeof o[k] === 'string' ? toNumber(o[k] as string) : null);
  const nPrompt = int('n_prompt');
  const nGen = int('n_gen');
  const avg = int('avg_ts');
  if (nPrompt === null || nGen === null || avg === null || (nPrompt === 0 && nGen === 0)) return null;
  const samplesTs = Array.isArray(o.samples_ts) ? (o.samples_ts as unknown[]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)) : [];
  const env: Record<string, EnvValue> = {};
  const copy: [string, string][] = [
    ['model_size', 'model_size_bytes'], ['model_n_params', 'model_params'], ['model_type', 'model_type'], ['model_filename', 'model_filename'],
    ['backends', 'backend'], ['n_threads', 'threads'], ['n_gpu_layers', 'n_gpu_layers'], ['n_batch', 'n_batch'], ['n_ubatch', 'n_ubatch'],
    ['type_k', 'type_k'], ['type_v', 'type_v'], ['flash_attn', 'flash_attn'], ['build_commit', 'build_commit'], ['build_number', 'build_number'],
    ['cpu_info', 'cpu_info'], ['gpu_info', 'gpu_info'],
  ];
  for (const [from, to] of copy) {
    const v = o[from];
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') env[to] = v;
  }
  return { nPrompt, nGen, nDepth: int('n_depth') ?? 0, samples: samplesTs.length ? samplesTs : [avg], stddev: int('stddev_ts'), env };
}

// ---- markdown ---------------------------------------------------------------------------------

const SIZE_UNITS: Record<string, number> = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
const COUNT_UNITS: Record<string, number> = { K: 1e3, M: 1e6, B: 1e9, T: 1e12 };

function markdownTests(lines: string[]): { tests: Test[]; invalid: string[]; unread: string[] } {
  const tests: Test[] = [];
  const unread: string[] = [];
  let columns: string[] | null = null;
  let build: Record<string, EnvValue> = {};
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    const footer = /^build: (\w+) \((\d+)\)$/.exec(line);
    if (footer) { build = { build_commit: footer[1] ?? '', build_number: Number(footer[2]) }; continue; }
    if (!line.startsWith('|')) { unread.push(line); continue; }
    const cells = line.replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    if (cells.includes('test') && cells.includes('t/s')) { columns = cells; continue; }
    const t = columns ? markdownRow(columns, cells) : null;
    if (t) tests.push(t);
    else unread.push(line);
  }
  for (const t of tests) Object.assign(t.env, build);
  return { tests, invalid: [], unread };
}

function markdownRow(columns: string[], cells: string[]): Test | null {
  const cell = (name: string) => cells[columns.indexOf(name)];
  const kind = /^(?:pp\s*(\d+))?\s*\+?\s*(?:tg\s*(\d+))?(?:\s*@\s*d\s*(\d+))?$/.exec(cell('test') ?? '');
  const rate = numbersIn(cell('t/s') ?? '');
  if (!kind || (kind[1] === undefined && kind[2] === undefined) || rate[0] === undefined) return null;
  const env: Record<string, EnvValue> = {};
  const size = /^([\d.]+)\s*([KMGT]iB)$/.exec(cell('size') ?? '');
  if (size) env.model_size_bytes = Math.round(Number(size[1]) * (SIZE_UNITS[size[2] ?? ''] ?? 1)); // printed to 2 decimals
  const params = /^([\d.]+)\s*([KMBT])$/.exec(cell('params') ?? '');
  if (params) env.model_params = Math.round(Number(params[1]) * (COUNT_UNITS[params[2] ?? ''] ?? 1)); // printed to 2 decimals
  if (cell('model') !== undefined) env.model_type = cell('model') ?? '';
  if (cell('backend') !== undefined) env.backend = cell('backend') ?? '';
  const threads = toNumber(cell('threads'));
  if (threads !== null) env.threads = threads;
  const ngl = toNumber(cell('ngl') ?? cell('n_gpu_layers'));
  if (ngl !== null) env.n_gpu_layers = ngl;
  return {
    nPrompt: Number(kind[1] ?? 0), nGen: Number(kind[2] ?? 0), nDepth: Number(kind[3] ?? 0),
    samples: [rate[0]], stddev: rate[1] === undefined ? null : tidy(rate[1]), env,
  };
}
