// The agent <-> server WebSocket protocol. Every message is JSON `{ type, ... }`, validated on
// receipt by both sides. Results carry job id + attempt so a resend after a reconnect is stored once.
//
// agent -> server: hello, heartbeat, job.started, job.progress, job.result (or its parts), job.failed, inventory
// server -> agent: welcome, job.assign, job.cancel, ack, error
import { z } from 'zod';
import { referenceSetSchema } from './variants.js';
import { jobErrorSchema } from './errors.js';
import { MEASUREMENT_FLAGS, inputSpecSchema, runSettingsSchema, sha256Schema } from './domain.js';

export const PROTOCOL_VERSION = 1;

/**
 * Bounds on what an agent may send. One WebSocket frame carries at most MAX_FRAME_BYTES (the
 * server closes the socket with 1009 otherwise); a result larger than RESULT_PART_BYTES of JSON is
 * sent as `job.result.part` messages, each carrying up to RESULT_PART_BYTES of the result's UTF-8
 * JSON in base64, and a whole result is at most MAX_RESULT_BYTES (about 450,000 samples). Parts
 * are small so that the server handles each in a few milliseconds and answers others between them.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;
export const RESULT_PART_BYTES = 64 * 1024;
export const MAX_RESULT_BYTES = 8 * 1024 * 1024;
export const MAX_RESULT_PARTS = Math.ceil(MAX_RESULT_BYTES / RESULT_PART_BYTES);

export const deviceDescriptorSchema = z.strictObject({
  /**
   * Stable identity of the device under its agent (hostname for the local machine, serial for a phone).
   * Well-formed Unicode only: a lone surrogate is stored as invalid UTF-8 and read back as U+FFFD, so
   * the device would not be found under its own serial again (the next inventory failed to insert it twice).
   */
  serial: z.string().min(1).max(256).refine((s) => !/\p{Cs}/u.test(s), 'must be well-formed Unicode (a lone surrogate is not)'),
  name: z.string().min(1).max(128),
  driver: z.enum(['linux', 'adb', 'serial']),
  labels: z.record(z.string(), z.string().max(512)),
  runtimes: z.array(z.string().max(64)).max(32),
  online: z.boolean(),
});
export type DeviceDescriptor = z.infer<typeof deviceDescriptorSchema>;

const jobRef = { job_id: z.string().min(1).max(64), attempt: z.number().int().min(1) };

export const sampleSetSchema = z.strictObject({
  metric: z.string().min(1).max(64).regex(/^[a-z0-9_.]+$/),
  unit: z.string().min(1).max(16),
  samples: z.array(z.number().refine(Number.isFinite, 'samples must be finite numbers')).min(1).max(2_000_000),
  flags: z.array(z.enum(MEASUREMENT_FLAGS)).max(8).optional(),
});
export type SampleSet = z.infer<typeof sampleSetSchema>;

/** One row of a runner's per-operator profile (e.g. benchmark_model --enable_op_profiling). */
export const operatorStatSchema = z.strictObject({
  type: z.string().max(128),
  name: z.string().max(512),
  avgMs: z.number(),
  percent: z.number(),
  timesCalled: z.number().int().min(0),
  memKb: z.number().optional(),
});
export type OperatorStat = z.infer<typeof operatorStatSchema>;

/** Facts about the environment a job ran in (frequencies, temperatures, flags). */
export const jobEnvironmentSchema = z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]));

export const agentMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    protocol: z.number().int(),
    agent_version: z.string().max(64),
    hostname: z.string().max(256),
    devices: z.array(deviceDescriptorSchema).max(1024),
    /** Jobs this agent is still executing (after a reconnect). */
    running: z.array(z.strictObject(jobRef)).max(1024),
  }),
  z.strictObject({ type: z.literal('inventory'), devices: z.array(deviceDescriptorSchema).max(1024) }),
  z.strictObject({ type: z.literal('heartbeat'), running: z.array(z.strictObject(jobRef)).max(1024) }),
  z.strictObject({ type: z.literal('job.started'), ...jobRef }),
  z.strictObject({
    type: z.literal('job.progress'),
    ...jobRef,
    phase: z.enum(['fetching', 'preparing', 'warmup', 'measuring', 'collecting']),
    done: z.number().int().min(0),
    total: z.number().int().min(0),
  }),
  z.strictObject({
    type: z.literal('job.result'),
    ...jobRef,
    measurements: z.array(sampleSetSchema).min(1).max(64),
    environment: jobEnvironmentSchema,
    operators: z.array(operatorStatSchema).max(10_000).optional(),
  }),
  z.strictObject({ type: z.literal('job.failed'), ...jobRef, error: jobErrorSchema }),
  /** One slice of a large job.result (see RESULT_PART_BYTES); the server acknowledges the whole result once all parts arrived. */
  z.strictObject({
    type: z.literal('job.result.part'),
    ...jobRef,
    index: z.number().int().min(0).max(MAX_RESULT_PARTS - 1),
    count: z.number().int().min(2).max(MAX_RESULT_PARTS),
    data: z.string().max(Math.ceil(RESULT_PART_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'data must be base64'),
  }),
]);
export type AgentMessage = z.infer<typeof agentMessageSchema>;
export type JobResultMessage = Extract<AgentMessage, { type: 'job.result' }>;
export const jobResultSchema = agentMessageSchema.options.find((o) => o.shape.type.value === 'job.result')!;

/** The frames a job.result is sent as: itself when small, else `job.result.part` messages. */
export function resultFrames(msg: JobResultMessage): string[] {
  const text = JSON.stringify(msg);
  if (Buffer.byteLength(text) <= RESULT_PART_BYTES) return [text];
  const bytes = Buffer.from(text);
  const count = Math.ceil(bytes.length / RESULT_PART_BYTES);
  return Array.from({ length: count }, (_, index) => JSON.stringify({
    type: 'job.result.part', job_id: msg.job_id, attempt: msg.attempt, index, count,
    data: bytes.subarray(index * RESULT_PART_BYTES, (index + 1) * RESULT_PART_BYTES).toString('base64'),
  }));
}

export const jobAssignmentSchema = z.strictObject({
  job_id: z.string(),
  attempt: z.number().int().min(1),
  run_id: z.string(),
  device_serial: z.string(),
  runtime: z.string(),
  model: z.strictObject({ sha256: sha256Schema, format: z.string(), size_bytes: z.number().int() }),
  settings: runSettingsSchema,
  /** The family's reference set: run it after timing and report output fidelity (ONNX runners). */
  reference: z.strictObject({ sha256: sha256Schema, variant: z.string(), set: referenceSetSchema }).optional(),
});
export type JobAssignment = z.infer<typeof jobAssignmentSchema>;

export const serverMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'), agent_id: z.string(),
    /** Beat this often while holding a job (its lease is renewed by the beat). */
    heartbeat_ms: z.number().int(),
    /** Beat this often while holding none (a connected, idle agent needs no lease renewed); absent from older servers. */
    idle_heartbeat_ms: z.number().int().optional(),
    lease_ms: z.number().int(),
  }),
  z.strictObject({ type: z.literal('job.assign'), job: jobAssignmentSchema }),
  z.strictObject({ type: z.literal('job.cancel'), ...jobRef, reason: z.string() }),
  z.strictObject({
    type: z.literal('ack'),
    ref: z.enum(['job.started', 'job.result', 'job.failed']),
    ...jobRef,
    /** accepted: stored now; duplicate: stored earlier; stale: the lease is no longer held. */
    outcome: z.enum(['accepted', 'duplicate', 'stale']),
  }),
  z.strictObject({ type: z.literal('error'), code: z.string(), message: z.string() }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

export { inputSpecSchema };
