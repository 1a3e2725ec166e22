// Configuration of the ADB driver (part of the agent's config file): where the adb server is,
// which runner each runtime uses on phones, and the energy / thermal policy.
import { z } from 'zod';
import { RUNTIMES } from '../../../protocol/domain.js';
import { DEFAULT_WARM_CELSIUS } from '../throttling.js';

export const runnerProfileSchema = z.strictObject({
  /** Which output parser reads the runner's stdout. */
  parser: z.enum(['jsonl', 'benchmark_model', 'onnxruntime_perf_test', 'llama-bench', 'executorch']),
  /**
   * Command run through the phone's shell. Placeholders: {model} {dir} {warmup} {iterations}
   * {min_duration_ms} {threads} {seed} {runner} {inputs} (a JSON file of the run's input overrides;
   * a command without {inputs} cannot take overrides, and a run that has some fails).
   */
  command: z.string().min(1).max(2000),
  /** A runner binary on the agent's host, pushed to the phone (cached by hash) and named by {runner}. */
  binary: z.string().max(4096).optional(),
});
export type RunnerProfile = z.infer<typeof runnerProfileSchema>;

export const adbConfigSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(5037),
  /** Phones reachable over TCP to `adb connect` at start (emulated phones, phones on Wi-Fi debugging). */
  connect: z.array(z.string().regex(/^[^:\s]+:\d+$/)).default([]),
  runners: z.partialRecord(z.enum(RUNTIMES), runnerProfileSchema).default({
    onnxruntime: {
      parser: 'jsonl',
      command: 'benchfleet-onnx-runner --model {model} --warmup {warmup} --iterations {iterations} --min-duration-ms {min_duration_ms} --threads {threads} --seed {seed} --inputs {inputs} --reference {reference}',
    },
  }),
  energy: z.strictObject({
    /** Battery samples per second, through the baseline and the run. */
    sampleHz: z.number().min(1).max(200).default(20),
    /** Resting baseline taken before the runner starts, ms. */
    baselineMs: z.number().int().min(200).max(60_000).default(1000),
    /** Least rest before the baseline, the sampler running; longer while the current still falls (up to 10 s), ms. */
    settleMs: z.number().int().min(0).max(60_000).default(500),
  }).default({ sampleHz: 20, baselineMs: 1000, settleMs: 500 }),
  thermal: z.strictObject({
    /** A job starts only when the hottest zone is below this (the cooldown gate). */
    maxStartCelsius: z.number().default(45),
    /** A run whose hottest zone was at or above this at the start is `started_warm` (not throttled). */
    warmCelsius: z.number().default(DEFAULT_WARM_CELSIUS),
    maxWaitMs: z.number().int().min(0).default(120_000),
    pollMs: z.number().int().min(50).default(2000),
  }).default({ maxStartCelsius: 45, warmCelsius: DEFAULT_WARM_CELSIUS, maxWaitMs: 120_000, pollMs: 2000 }),
  /** Remote working folder. */
  remoteRoot: z.string().default('/data/local/tmp/benchfleet'),
});
export type AdbConfig = z.infer<typeof adbConfigSchema>;
