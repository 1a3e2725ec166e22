// Shared by every driver that runs an external runner (a command on the host, a command in a
// phone's shell): expanding the command template, following JSON-lines progress and window
// records as lines arrive, and turning the finished output into measurements or a job error.
import { JOB_ERROR_CODES, type JobErrorCode } from '../../protocol/errors.js';
import type { RunSettings } from '../../protocol/domain.js';
import { JobFailure, type JobProgress } from '../drivers/driver.js';
import { jsonlRecordSchema } from './jsonl-contract.js';
import { parseRunnerOutput, RunnerOutputError, RunnerReportedError, type ParsedRun, type RunnerParser } from './parsers/index.js';

/**
 * Replaces {model} {dir} {runner} {inputs} {reference} {warmup} {iterations} {min_duration_ms}
 * {threads} {seed}; unknown ones stay. {reference} is the family's reference set file, or `-`
 * when the job has none.
 */
export function expandCommand(template: string, settings: RunSettings, paths: { model: string; dir: string; runner?: string | null; inputs?: string; reference?: string | null }): string {
  const values: Record<string, string | number | null | undefined> = {
    model: paths.model, dir: paths.dir, runner: paths.runner, inputs: paths.inputs, reference: paths.reference ?? '-', warmup: settings.warmup, iterations: settings.iterations,
    min_duration_ms: settings.min_duration_ms, threads: settings.threads, seed: settings.seed,
  };
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = values[key];
    return v === undefined || v === null ? whole : String(v);
  });
}

/** Watches a runner's output line by line: progress goes to the job, window edges are timed. */
export class RunnerWatcher {
  readonly lines: string[] = [];
  windowStart: number | null = null;
  windowEnd: number | null = null;

  constructor(private readonly progress: (p: JobProgress) => void, private readonly onWindow?: (edge: 'start' | 'end', iterations: number) => void) {}

  line(text: string): void {
    this.lines.push(text);
    if (!text.startsWith('{')) return;
    let value: unknown;
    try { value = JSON.parse(text); } catch { return; }
    const rec = jsonlRecordSchema.safeParse(value);
    if (!rec.success) return;
    if (rec.data.type === 'window') {
      if (rec.data.edge === 'start') this.windowStart = performance.now();
      else this.windowEnd = performance.now();
      this.onWindow?.(rec.data.edge, rec.data.iterations);
    } else if (rec.data.type === 'progress') {
      this.progress({ phase: rec.data.phase, done: rec.data.done, total: rec.data.total });
    }
  }

  get window(): [number, number] | null {
    return this.windowStart !== null && this.windowEnd !== null ? [this.windowStart, this.windowEnd] : null;
  }

  /** Parses the whole output; maps failures to job errors (runner-reported code, non-zero exit, unreadable output). */
  finish(parser: RunnerParser, exitCode: number): ParsedRun {
    const output = this.lines.join('\n');
    const tail = output.trim().split('\n').slice(-5).join(' | ').slice(-800);
    let parsed: ParsedRun;
    try {
      parsed = parseRunnerOutput(parser, output);
    } catch (err) {
      if (err instanceof RunnerReportedError) {
        const code = (Object.hasOwn(JOB_ERROR_CODES, err.code) ? err.code : 'runner_failed') as JobErrorCode;
        throw new JobFailure(code, err.message);
      }
      if (exitCode !== 0) throw new JobFailure('runner_failed', `the runner exited ${exitCode}: ${tail}`);
      if (err instanceof RunnerOutputError) throw new JobFailure('output_unparseable', err.message);
      throw err;
    }
    if (exitCode !== 0) throw new JobFailure('runner_failed', `the runner exited ${exitCode}: ${tail}`);
    return parsed;
  }
}
