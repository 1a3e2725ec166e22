// Types shared by the runner output parsers: the result every parser returns, and the two errors
// they throw (the output could not be read / the runner itself reported a failure).
import type { SampleSet, OperatorStat } from '../../../protocol/agent-messages.js';

export type EnvValue = number | string | boolean | null;

/** What a parser extracts from one run of a benchmark tool. */
export interface ParsedRun {
  /** Metric names: latency_ms, peak_rss_mib, prefill_tok_s, decode_tok_s, ttft_ms, … (docs/runners.md). */
  measurements: SampleSet[];
  environment: Record<string, EnvValue>;
  /** Per-operator breakdown, when the tool printed one (benchmark_model --enable_op_profiling). */
  operators?: OperatorStat[];
  /** Progress is handled live by the driver, never by a parser. */
  progress?: never;
}

/** How many unread lines an error message quotes, and how much of each. */
const QUOTED_LINES = 5;
const QUOTED_CHARS = 200;

function quote(line: string): string {
  return JSON.stringify(line.length > QUOTED_CHARS ? `${line.slice(0, QUOTED_CHARS)}…` : line);
}

/**
 * The output could not be read. `unreadLines` holds every line the parser did not understand (the
 * most telling first); the message quotes up to five of them after `message`.
 */
export class RunnerOutputError extends Error {
  constructor(message: string, readonly unreadLines: string[]) {
    const shown = unreadLines.slice(0, QUOTED_LINES).map(quote);
    const more = unreadLines.length > QUOTED_LINES ? ` (and ${unreadLines.length - QUOTED_LINES} more)` : '';
    super(shown.length ? `${message}; unread output: ${shown.join(', ')}${more}` : message);
    this.name = 'RunnerOutputError';
  }
}

/** The runner reported its own failure (a JSON-lines `error` record). `code` is the runner's code. */
export class RunnerReportedError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'RunnerReportedError';
  }
}
