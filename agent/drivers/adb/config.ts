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
  /**
   * A runner binary on the agent's host, pushed to the phone (cached by hash) and named by
   * {runner}. Without it, {runner} is the parser's usual program name, looked up on the phone's
   * PATH (`onnxruntime_perf_test`, `benchmark_model`, `llama-bench`, `executor_runner`).
   */
  binary: z.string().max(4096).optional(),
});
export type RunnerProfile = z.infer<typeof runnerProfileSchema>;

/** What {runner} names when a profile has no `binary`: the tool each parser reads. */
export const DEFAULT_PROGRAMS: Record<RunnerProfile['parser'], string | null> = {
  benchmark_model: 'benchmark_model',
  onnxruntime_perf_test: 'onnxruntime_perf_test',
  'llama-bench': 'llama-bench',
  executorch: 'executor_runner',
  jsonl: null,
};

/**
 * The default phone runner: ONNX Runtime's own perf tool, which a real phone does not have until
 * its Android build is pushed (`adb.runners.onnxruntime.binary`). One warm-up run (the tool's own),
 * then {iterations} timed runs; it reports aggregates (docs/runners.md).
 */
export const DEFAULT_PHONE_RUNNERS = {
  onnxruntime: {
    parser: 'onnxruntime_perf_test',
    command: '{runner} -e cpu -m times -r {iterations} -x {threads} -y 1 -I {model}',
  },
} satisfies Partial<Record<string, RunnerProfile>>;

export const adbConfigSchema = z.strictObject({
  /** The adb server; without these, $ADB_SERVER_SOCKET, $ANDROID_ADB_SERVER_ADDRESS / $ANDROID_ADB_SERVER_PORT, then 127.0.0.1:5037 (as adb itself). */
  host: z.string().optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** Phones reachable over TCP to `adb connect` at start (emulated phones, phones on Wi-Fi debugging). */
  connect: z.array(z.string().regex(/^[^:\s]+:\d+$/)).default([]),
  runners: z.partialRecord(z.enum(RUNTIMES), runnerProfileSchema).default(DEFAULT_PHONE_RUNNERS),
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

/**
 * Where the agent finds the adb server: the config's host/port when given, else the variables
 * adb itself reads — ADB_SERVER_SOCKET (`tcp:host:port` or `tcp:port`), then
 * ANDROID_ADB_SERVER_ADDRESS and ANDROID_ADB_SERVER_PORT — else 127.0.0.1:5037.
 */
export function adbServerAddress(config: Pick<AdbConfig, 'host' | 'port'>, env: NodeJS.ProcessEnv = process.env): { host: string; port: number; source: string } {
  if (config.host !== undefined && config.port !== undefined) return { host: config.host, port: config.port, source: 'config' };
  let host = '127.0.0.1';
  let port = 5037;
  let source = 'default';
  const socket = env.ADB_SERVER_SOCKET?.trim();
  if (socket) {
    const m = /^tcp:(?:(.+):)?(\d+)$/.exec(socket);
    if (!m) throw new Error(`ADB_SERVER_SOCKET must be tcp:<host>:<port> or tcp:<port>, got "${socket}"`);
    host = m[1] ?? host;
    port = Number(m[2]);
    source = 'ADB_SERVER_SOCKET';
  } else {
    if (env.ANDROID_ADB_SERVER_ADDRESS?.trim()) { host = env.ANDROID_ADB_SERVER_ADDRESS.trim(); source = 'ANDROID_ADB_SERVER_ADDRESS'; }
    const p = env.ANDROID_ADB_SERVER_PORT?.trim();
    if (p) {
      if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new Error(`ANDROID_ADB_SERVER_PORT must be a port number, got "${p}"`);
      port = Number(p);
      source = 'ANDROID_ADB_SERVER_PORT';
    }
  }
  if (config.host !== undefined || config.port !== undefined) source = 'config';
  return { host: config.host ?? host, port: config.port ?? port, source };
}
