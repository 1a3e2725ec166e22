// Entry point of the runner output parsers: picks the parser for a runner profile's `parser` name
// (agent/drivers/adb/config.ts) and re-exports each parser and the shared types and errors.
import { parseBenchmarkModel } from './benchmark-model.js';
import { parseExecutorch } from './executorch.js';
import { parseJsonl } from './jsonl.js';
import { parseLlamaBench } from './llama-bench.js';
import { parseOnnxruntimePerfTest } from './onnxruntime-perf-test.js';
import type { ParsedRun } from './types.js';

export type RunnerParser = 'benchmark_model' | 'onnxruntime_perf_test' | 'llama-bench' | 'executorch' | 'jsonl';

const PARSERS: Record<RunnerParser, (stdout: string) => ParsedRun> = {
  benchmark_model: parseBenchmarkModel,
  onnxruntime_perf_test: parseOnnxruntimePerfTest,
  'llama-bench': parseLlamaBench,
  executorch: parseExecutorch,
  jsonl: parseJsonl,
};

/** Parses a runner's full output. Throws RunnerOutputError or RunnerReportedError. */
export function parseRunnerOutput(runner: RunnerParser, stdout: string): ParsedRun {
  return PARSERS[runner](stdout);
}

export { parseBenchmarkModel, parseExecutorch, parseJsonl, parseLlamaBench, parseOnnxruntimePerfTest };
export { parseOpProfile } from './benchmark-model-ops.js';
export { MISSING_DONE } from './jsonl.js';
export { RunnerOutputError, RunnerReportedError, type EnvValue, type ParsedRun } from './types.js';
