// Parser for benchfleet's JSON-lines runner contract (agent/runners/jsonl-contract.ts,
// docs/runners.md). `sample`/`samples` records accumulate per metric in order, `env` records set
// environment keys, `meta` names the runner; `progress` and `window` are handled live by the driver.
// An `error` record throws RunnerReportedError; a missing `done`, a `{…}` line that is not a valid
// record, output without any record, or a run without samples throws RunnerOutputError (quoting the
// offending lines, or the log lines when there is nothing else). Other lines are logs and are ignored.
import { describeZodError } from '../../../protocol/errors.js';
import { jsonlRecordSchema } from '../jsonl-contract.js';
import { SampleSets, splitLines } from './text.js';
import { RunnerOutputError, RunnerReportedError, type EnvValue, type ParsedRun } from './types.js';

export const MISSING_DONE = 'runner output ended before its done record (device lost or runner killed?)';

export function parseJsonl(stdout: string): ParsedRun {
  const sets = new SampleSets();
  const env: Record<string, EnvValue> = {};
  const invalid: string[] = [];
  const logs: string[] = [];
  let reported: RunnerReportedError | null = null;
  let records = 0;
  let logsAfterLastRecord: string[] = [];
  let done = false;
  for (const raw of splitLines(stdout)) {
    const line = raw.trim();
    if (line === '' || done) continue; // anything after `done` is ignored
    if (!line.startsWith('{')) { logs.push(line); logsAfterLastRecord.push(line); continue; }
    let json: unknown;
    try { json = JSON.parse(line); } catch { invalid.push(line); continue; }
    const parsed = jsonlRecordSchema.safeParse(json);
    if (!parsed.success) { invalid.push(`${line}  (${describeZodError(parsed.error)})`); continue; }
    const rec = parsed.data;
    records++;
    logsAfterLastRecord = [];
    switch (rec.type) {
      case 'sample': sets.add(rec.metric, rec.unit, [rec.value]); break;
      case 'samples': sets.add(rec.metric, rec.unit, rec.values); break;
      case 'env': env[rec.key] = rec.value; break;
      case 'meta':
        env.runner = rec.runner;
        if (rec.version !== undefined) env.runner_version = rec.version;
        break;
      case 'error': reported ??= new RunnerReportedError(rec.code, rec.message); break;
      case 'done': done = true; break;
      case 'progress': case 'window': break;
    }
  }
  if (reported) throw reported;
  if (invalid.length) throw new RunnerOutputError(`runner output has ${invalid.length} line(s) that look like records but are not valid`, invalid);
  if (records === 0 && logs.length > 0) throw new RunnerOutputError('runner output has no JSON-lines records', logs);
  // Whatever the runner printed after its last record (`Killed`, `Segmentation fault`) is quoted.
  if (!done) throw new RunnerOutputError(MISSING_DONE, logsAfterLastRecord);
  if (sets.size === 0) throw new RunnerOutputError('the runner reported no samples', logs);
  return { measurements: sets.toArray(), environment: env };
}
