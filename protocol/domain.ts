// Glossary and shared domain types.
//
//   device      — one piece of hardware that runs benchmarks (a phone, a board, an MCU, or the agent's own host)
//   agent       — a benchfleet process on a host, attached to devices
//   model       — an uploaded artifact identified by its sha256, in a family under a variant name
//   run         — one submission: model, settings, device selector, git metadata
//   job         — one run on one device, with attempts and a lease while assigned
//   measurement — one metric of one job: summary statistics + raw samples
//   series      — measurements sharing family, variant, device, runtime settings and metric
import { z } from 'zod';

export const JOB_STATUSES = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'canceled', 'timed_out'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled', 'timed_out'];
export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const DEVICE_STATES = ['idle', 'busy', 'offline'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];
export const DEVICE_HEALTHS = ['good', 'unknown', 'bad', 'maintenance', 'retired'] as const;
export type DeviceHealth = (typeof DEVICE_HEALTHS)[number];
export const SCHEDULABLE_HEALTHS: readonly DeviceHealth[] = ['good', 'unknown'];

export const TOKEN_ROLES = ['admin', 'submit', 'read', 'agent', 'enroll'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

export const MODEL_FORMATS = ['onnx', 'tflite', 'gguf', 'executorch', 'elf', 'unknown'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

/** Runtimes a device can offer; each runs models of the formats listed. */
export const RUNTIME_FORMATS = {
  onnxruntime: ['onnx'],
  tflite: ['tflite'],
  'llama.cpp': ['gguf'],
  executorch: ['executorch'],
  /** A firmware image with the model inside, run over the MLPerf Tiny serial protocol. */
  'mlperf-tiny': ['elf'],
} as const;
export const RUNTIMES = Object.keys(RUNTIME_FORMATS) as [keyof typeof RUNTIME_FORMATS, ...(keyof typeof RUNTIME_FORMATS)[]];
export type Runtime = (typeof RUNTIMES)[number];

export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lowercase hex sha256');
const nameSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'letters, digits, . _ + - only');
export const familySchema = nameSchema;
export const variantSchema = nameSchema;

export const TENSOR_DTYPES = ['float32', 'float64', 'int8', 'uint8', 'int16', 'int32', 'int64', 'bool'] as const;
export type TensorDtype = (typeof TENSOR_DTYPES)[number];
/** Bytes per element of each tensor dtype. */
export const DTYPE_BYTES: Readonly<Record<TensorDtype, number>> = { float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, int32: 4, int64: 8, bool: 1 };

/** Literal tensor data (from a .npy or JSON file read by the CLI): little-endian bytes in base64. */
export const tensorDataSchema = z.strictObject({
  dtype: z.enum(TENSOR_DTYPES),
  shape: z.array(z.number().int().min(0)).max(8),
  base64: z.string().max(16 * 1024 * 1024),
});
export type TensorData = z.infer<typeof tensorDataSchema>;

/** Per-input override: a shape (for dynamic dims), a constant fill, or literal data. */
export const inputSpecSchema = z.strictObject({
  shape: z.array(z.number().int().positive()).max(8).optional(),
  fill: z.union([z.number(), z.literal('random')]).optional(),
  data: tensorDataSchema.optional(),
});
export type InputSpec = z.infer<typeof inputSpecSchema>;

export const runSettingsSchema = z.strictObject({
  warmup: z.number().int().min(0).max(100_000).default(10),
  iterations: z.number().int().min(1).max(1_000_000).default(100),
  min_duration_ms: z.number().int().min(0).max(3_600_000).default(0),
  threads: z.number().int().min(1).max(256).default(1),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
  inputs: z.record(z.string(), inputSpecSchema).default({}),
  timeout_ms: z.number().int().min(1000).max(24 * 3_600_000).default(15 * 60_000),
});
export type RunSettings = z.infer<typeof runSettingsSchema>;

export const gitMetaSchema = z.strictObject({
  repository: z.string().max(512).optional(),
  branch: z.string().max(256).optional(),
  commit: z.string().max(64).optional(),
  pull_request: z.string().max(64).optional(),
  baseline_branch: z.string().max(256).optional(),
});
export type GitMeta = z.infer<typeof gitMetaSchema>;

/** Conditions that make a measurement not comparable with the others; shown wherever it is. */
export const MEASUREMENT_FLAGS = ['charging', 'throttled', 'hot_start'] as const;
