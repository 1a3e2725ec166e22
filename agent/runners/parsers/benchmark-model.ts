// Parser for TensorFlow Lite / LiteRT `benchmark_model` output (stdout, or `adb logcat -s tflite`
// for the benchmark APK). benchmark_model prints aggregates only, so `latency_ms` holds one sample,
// the average of the timed runs; min/max/std/percentiles/count go to the environment (in ms).
// Reads: the `count=… avg=…` stats lines (keys in any order, optional p5/median/p95), the
// `Inference timings in us:` summary (and the old `Average inference timings in us:` one), memory
// lines, delegate status, the configuration echo and the op-profiling tables.
import { parseOpProfile, stripTfliteLog } from './benchmark-model-ops.js';
import { NUM, SampleSets, keyValues, splitLines, tidy, toNumber } from './text.js';
import { RunnerOutputError, type EnvValue, type ParsedRun } from './types.js';

interface StatLine { phase: number; kv: Map<string, number>; allSame: boolean }
interface DelegateNote { name: string; mode: 'full' | 'partial' | 'none'; kernels: number | null }

const STAT_LINE = /^(?:[A-Za-z0-9_]+=\S+\s*)+(?:\(all same\))?\s*$/;
const us = (v: number) => tidy(v / 1000);

export function parseBenchmarkModel(stdout: string): ParsedRun {
  const lines = splitLines(stdout);
  const profile = parseOpProfile(lines);
  const env: Record<string, EnvValue> = {};
  const sets = new SampleSets();
  const stats: StatLine[] = [];
  const summary = new Map<string, number>();
  const delegates: DelegateNote[] = [];
  const replaced = { nodes: 0, total: 0, partitions: 0, names: [] as string[] };
  let implicitDelegate: string | null = null;
  let headers = 0;
  let sessionMs: number | null = null;
  let failed = false;
  const errors: string[] = [];
  const unread: string[] = [];

  lines.forEach((raw, i) => {
    if (profile.consumed.has(i)) return;
    const { body: rawBody, error } = stripTfliteLog(raw);
    const body = rawBody.trim();
    if (body === '') return;
    let m: RegExpExecArray | null;
    if (/^Benchmarking failed\.?$/.test(body)) { failed = true; errors.push(raw.trim()); return; }
    if (error) { errors.push(raw.trim()); return; }
    if (STAT_LINE.test(body) && /(^|\s)count=/.test(body)) {
      stats.push({ phase: headers, kv: keyValues(body), allSame: body.includes('(all same)') });
    } else if (/^Running benchmark for /.test(body)) {
      headers++;
    } else if ((m = /^(Average )?[Ii]nference timings in us: (.*)$/.exec(body))) {
      for (const part of (m[2] ?? '').split(',')) {
        const kv = /^\s*(.+?):\s*(\S+)\s*$/.exec(part);
        const v = toNumber(kv?.[2]);
        if (kv?.[1] !== undefined && v !== null) summary.set(kv[1].toLowerCase(), v);
      }
    } else if ((m = /^Graph: \[(.*)\]$/.exec(body))) {
      env.graph = m[1] ?? '';
    } else if ((m = /^(?:Num threads|#threads used for CPU inference): \[(-?\d+)\]$/.exec(body))) {
      env.num_threads = Number(m[1]);
    } else if ((m = /^Use (xnnpack|gpu|nnapi|hexagon|coreml): \[(\d)\]$/i.exec(body))) {
      env[`use_${(m[1] ?? '').toLowerCase()}`] = m[2] === '1';
    } else if ((m = new RegExp(`^The input model file size \\(MB\\): (${NUM})`).exec(body))) {
      env.model_size_bytes = Math.round(Number(m[1]) * 1e6); // the tool prints bytes / 1e6
    } else if ((m = new RegExp(`^Initialized session in (${NUM})\\s*ms`).exec(body))) {
      sessionMs = Number(m[1]);
    } else if (/^(Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): /.test(body)) {
      const kv = keyValues(body);
      if (kv.has('init')) env.mem_delta_init_mib = kv.get('init') ?? null;
      if (kv.has('overall')) env.mem_delta_overall_mib = kv.get('overall') ?? null;
    } else if ((m = new RegExp(`^Overall peak memory footprint \\(MB\\) via periodic monitoring: (${NUM})`).exec(body))) {
      const peak = Number(m[1]);
      if (peak > 0) sets.add('peak_rss_mib', 'MiB', [peak]); // negative = not supported on this OS
    } else if ((m = new RegExp(`^[-+] (VmRSS|RssAnnon|RssAnon|RssFile \\+ RssShmem)\\s*: (${NUM}) MB`).exec(body))) {
      const key = { VmRSS: 'end_vm_rss_mib', RssAnnon: 'end_rss_anon_mib', RssAnon: 'end_rss_anon_mib' }[m[1] ?? ''] ?? 'end_rss_file_shmem_mib';
      env[key] = Number(m[2]);
    } else if ((m = /Explicitly applied (.+?) delegate, and the model graph will be (completely|partially) executed by the delegate(?: w\/ (\d+) delegate kernels)?/.exec(body))) {
      delegates.push({ name: delegateName(m[1] ?? ''), mode: m[2] === 'completely' ? 'full' : 'partial', kernels: m[3] === undefined ? null : Number(m[3]) });
    } else if ((m = /Though (.+?) delegate is explicitly applied, the model graph will not be executed by the delegate/.exec(body))) {
      delegates.push({ name: delegateName(m[1] ?? ''), mode: 'none', kernels: 0 });
    } else if ((m = /Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]+)\) node, yielding (\d+) partitions/.exec(body))) {
      replaced.nodes += Number(m[1]);
      replaced.total += Number(m[2]);
      replaced.partitions += Number(m[4]);
      replaced.names.push(delegateName(m[3] ?? ''));
    } else if ((m = /^Created TensorFlow Lite (\S+) delegate for/.exec(body))) {
      implicitDelegate = delegateName(m[1] ?? '');
    } else if (!isKnownChatter(body)) {
      unread.push(raw.trim());
    }
  });

  if (failed) throw new RunnerOutputError('benchmark_model reported "Benchmarking failed."', [...errors, ...unread]);

  // Which stats line is which: the k-th "Running benchmark for …" header opens phase k (1 = warm-up,
  // 2 = timed runs). Without headers (a filtered logcat), the last line is the timed one.
  const warm = headers > 0 ? stats.find((s) => s.phase === 1) : stats.length >= 2 ? stats[0] : undefined;
  const timed = headers > 0 ? stats.find((s) => s.phase >= 2) : stats.length >= 1 ? stats[stats.length - 1] : undefined;
  const timedAvg = timed ? statAvg(timed) : null;
  const summaryAvg = summary.get('inference (avg)') ?? summary.get('inference') ?? null;
  const latencyUs = timed ? timedAvg : summaryAvg; // a timed line with count=0 means no timed runs
  if (latencyUs === null) {
    throw new RunnerOutputError('benchmark_model output has no inference timings', [...errors, ...unread]);
  }
  const measurements = new SampleSets();
  measurements.add('latency_ms', 'ms', [us(latencyUs)]);
  for (const s of sets.toArray()) measurements.add(s.metric, s.unit, s.samples);

  if (timed) Object.assign(env, statEnv('latency', timed));
  if (warm) {
    const w = statEnv('warmup', warm);
    if (w.warmup_avg_ms !== undefined) env.warmup_avg_ms = w.warmup_avg_ms;
    if (w.warmup_count !== undefined) env.warmup_count = w.warmup_count;
    const first = warm.kv.get('first') ?? (warm.kv.get('count') === 1 || warm.allSame ? warm.kv.get('curr') : undefined);
    if (first !== undefined) env.first_inference_ms = us(first);
  }
  const fromSummary: [string, string][] = [['init', 'init_ms'], ['first inference', 'first_inference_ms'], ['warmup (avg)', 'warmup_avg_ms'], ['warmup', 'warmup_avg_ms']];
  for (const [label, key] of fromSummary) {
    const v = summary.get(label);
    if (v !== undefined) env[key] ??= us(v); // the stats lines have more digits; the summary fills gaps
  }
  if (env.init_ms === undefined && sessionMs !== null) env.init_ms = sessionMs;
  Object.assign(env, delegation(delegates, replaced, implicitDelegate));
  return { measurements: measurements.toArray(), environment: env, ...(profile.operators.length ? { operators: profile.operators } : {}) };
}

function statAvg(s: StatLine): number | null {
  const count = s.kv.get('count') ?? 0;
  if (count === 0) return null;
  return s.kv.get('avg') ?? (count === 1 || s.allSame ? s.kv.get('curr') ?? null : null);
}

/** count/avg/min/max/std/p5/median/p95 of a stats line as `<prefix>_…_ms` (all same: min = max = avg). */
function statEnv(prefix: string, s: StatLine): Record<string, number> {
  const out: Record<string, number> = {};
  const count = s.kv.get('count');
  if (count !== undefined) out[`${prefix}_count`] = count;
  const avg = statAvg(s);
  const same = avg !== null && (count === 1 || s.allSame);
  const pick: [string, string, number | undefined][] = [
    ['avg', 'avg', avg ?? undefined], ['min', 'min', same ? avg ?? undefined : undefined], ['max', 'max', same ? avg ?? undefined : undefined],
    ['std', 'std', same ? 0 : undefined], ['p5', 'p5', undefined], ['median', 'p50', undefined], ['p95', 'p95', undefined],
  ];
  for (const [key, name, fallback] of pick) {
    const v = s.kv.get(key) ?? fallback;
    if (v !== undefined && (prefix !== 'latency' || name !== 'avg')) out[`${prefix}_${name}_ms`] = us(v);
  }
  return out;
}

function delegation(notes: DelegateNote[], replaced: { nodes: number; total: number; partitions: number; names: string[] }, implicit: string | null): Record<string, EnvValue> {
  const out: Record<string, EnvValue> = {};
  if (replaced.total > 0) { out.delegated_nodes = replaced.nodes; out.total_nodes = replaced.total; }
  if (notes.length) {
    out.delegate = [...new Set(notes.map((n) => n.name))].join('+');
    out.delegation = notes.some((n) => n.mode === 'full') ? 'full' : notes.some((n) => n.mode === 'partial') ? 'partial' : 'none';
    const kernels = notes.map((n) => n.kernels ?? (n.mode === 'full' && replaced.partitions ? replaced.partitions : null));
    if (kernels.every((k) => k !== null)) out.delegate_kernels = kernels.reduce<number>((a, k) => a + (k ?? 0), 0);
  } else if (replaced.total > 0) {
    out.delegate = [...new Set(replaced.names)].join('+');
    out.delegation = replaced.nodes === 0 ? 'none' : replaced.nodes === replaced.total ? 'full' : 'partial';
    out.delegate_kernels = replaced.partitions;
  } else if (implicit) {
    out.delegate = implicit;
  }
  return out;
}

/** `XNNPACK`, `TfLiteXNNPackDelegate`, `GPU`, `TfLiteGpuDelegateV2`, `NNAPI` → xnnpack, gpu, nnapi. */
function delegateName(raw: string): string {
  const n = raw.replace(/^TfLite/, '').replace(/Delegate(V\d+)?$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '_');
  return n === '' ? raw.toLowerCase() : n;
}

/** Lines benchmark_model prints that carry nothing benchfleet keeps. */
function isKnownChatter(body: string): boolean {
  return /^(STARTING!|Loaded model |Initialized TensorFlow Lite runtime|Created TensorFlow Lite delegate for|GPU delegate created|Going to apply \d+ delegates|Note: as the benchmark tool itself|Memory status at the end of exe|.+: \[.*\]$|Inference timings in us|NNAPI delegate created|Replacing \d+ node\(s\)|Successfully applied|Applied \S+ delegate|The GPU delegate compile options)/.test(body);
}
