// Parser for ExecuTorch runner output. Two kinds of result line are understood:
//  - executor_runner: `Model executed successfully N time(s) in X ms.` (X is the total over the N
//    executions) → `latency_ms` = [X / N], environment `iterations` = `latency_count` = N;
//  - LLM runners: `PyTorchObserver {json}` (extension/llm/runner/stats.h), one per generation →
//    `prefill_tok_s`, `decode_tok_s` and `ttft_ms` samples, `model_load_ms` and token counts in env.
// Both may carry an ET_LOG prefix (`I 00:00:01.234567 executorch:file.cpp:512] `); ET_LOG lines of
// level E or F are quoted first when the output holds no result.
import { NUM, SampleSets, splitLines, tidy } from './text.js';
import { RunnerOutputError, type EnvValue, type ParsedRun } from './types.js';

const ET_LOG = /^([DIEFW]) \d\d:\d\d:\d\d\.\d+ executorch:[^\]]*\] ?/;
const EXECUTED = new RegExp(`Model executed successfully (\\d+) time\\(s\\) in (${NUM}) ms\\.?`);
const OBSERVER = /PyTorchObserver\s+(\{.*\})\s*$/;

export function parseExecutorch(stdout: string): ParsedRun {
  const sets = new SampleSets();
  const env: Record<string, EnvValue> = {};
  const errors: string[] = [];
  const unread: string[] = [];
  const prefillMs: number[] = [];
  let iterations = 0;
  let totalMs = 0;
  for (const raw of splitLines(stdout)) {
    const line = raw.trim();
    if (line === '') continue;
    const level = ET_LOG.exec(line)?.[1];
    const body = line.replace(ET_LOG, '');
    let m: RegExpExecArray | null;
    if ((m = EXECUTED.exec(body))) {
      const n = Number(m[1]);
      const ms = Number(m[2]);
      if (n > 0) { sets.add('latency_ms', 'ms', [tidy(ms / n)]); iterations += n; totalMs += ms; }
    } else if ((m = OBSERVER.exec(body))) {
      const report = observerReport(m[1] ?? '');
      if (!report) { unread.unshift(line); continue; }
      for (const [metric, unit, value] of report.samples) sets.add(metric, unit, [value]);
      if (report.prefillMs !== null) prefillMs.push(report.prefillMs);
      for (const [k, v] of Object.entries(report.env)) env[k] ??= v;
    } else if (level === 'E' || level === 'F') {
      errors.push(line);
    } else if (level === undefined) {
      unread.push(line);
    }
  }
  if (sets.size === 0) throw new RunnerOutputError('ExecuTorch output has no "Model executed successfully" or PyTorchObserver line', [...errors, ...unread]);
  if (iterations > 0) { env.iterations = iterations; env.latency_count = iterations; env.latency_total_ms = tidy(totalMs); }
  if (prefillMs.length) env.prefill_ms = tidy(prefillMs.reduce((a, b) => a + b, 0) / prefillMs.length);
  if (prefillMs.length > 1) env.llm_generations = prefillMs.length;
  return { measurements: sets.toArray(), environment: env };
}

interface ObserverReport { samples: [string, string, number][]; prefillMs: number | null; env: Record<string, EnvValue> }

/** Derives the LLM metrics from one PyTorchObserver JSON object (timestamps in 1/SCALING s). */
function observerReport(json: string): ObserverReport | null {
  let o: Record<string, unknown>;
  try { o = JSON.parse(json) as Record<string, unknown>; } catch { return null; }
  if (!o || typeof o !== 'object') return null;
  const n = (k: string) => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : null);
  const scale = n('SCALING_FACTOR_UNITS_PER_SECOND') ?? 1000;
  const ms = (a: number | null, b: number | null) => (a === null || b === null || scale <= 0 ? null : tidy(((b - a) * 1000) / scale));
  const start = n('inference_start_ms');
  const promptEnd = n('prompt_eval_end_ms');
  const end = n('inference_end_ms');
  const prompt = n('prompt_tokens');
  const generated = n('generated_tokens');
  if (start === null || end === null) return null;
  const prefill = ms(start, promptEnd);
  const decode = ms(promptEnd, end);
  const ttft = ms(start, n('first_token_ms'));
  const load = ms(n('model_load_start_ms'), n('model_load_end_ms'));
  const samples: [string, string, number][] = [];
  if (prefill !== null && prefill > 0 && prompt !== null && prompt > 0) samples.push(['prefill_tok_s', 'tok/s', tidy((prompt / prefill) * 1000)]);
  if (decode !== null && decode > 0 && generated !== null && generated > 0) samples.push(['decode_tok_s', 'tok/s', tidy((generated / decode) * 1000)]);
  if (ttft !== null && ttft >= 0) samples.push(['ttft_ms', 'ms', ttft]);
  const env: Record<string, EnvValue> = {};
  if (load !== null && load > 0) env.model_load_ms = load;
  if (prompt !== null) env.prompt_tokens = prompt;
  if (generated !== null) env.generated_tokens = generated;
  return { samples, prefillMs: prefill, env };
}
