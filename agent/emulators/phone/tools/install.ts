// Writes the emulated phone's runner tools as files on the host, the way a user has a downloaded
// Android build of benchmark_model or onnxruntime_perf_test: small executables (a shell script
// that runs the tool with this Node.js) to push onto the phone — through `binary` in the agent's
// runner config, or by hand with `adb push`. Nothing of this is preinstalled on the phone.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The runner tools the emulated phone can run once pushed, and the program behind each. */
export const RUNNER_TOOLS = {
  benchmark_model: path.join(here, 'benchmark-model.js'),
  onnxruntime_perf_test: path.join(here, 'onnxruntime-perf-test.js'),
  'llama-bench': path.join(here, 'llama-bench.js'),
  /** benchfleet's own ONNX runner speaking the JSON-lines contract (docs/runners.md). */
  'benchfleet-onnx-runner': path.resolve(here, '../../../runners/onnx/jsonl-runner.js'),
} as const;
export type RunnerTool = keyof typeof RUNNER_TOOLS;

/** Writes `tool` as an executable file at `file` (its folder is created) and returns the path. */
export function writeRunnerBinary(tool: RunnerTool, file: string): string {
  const program = RUNNER_TOOLS[tool];
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\n# ${tool} for benchfleet's emulated phone (push it to the phone to use it)\nexec ${q(process.execPath)} ${q(program)} "$@"\n`, { mode: 0o755 });
  return file;
}
