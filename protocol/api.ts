// REST API under /api/v1: request schemas (validated by the server with zod) and response shapes
// (used by the CLI and the dashboard). Errors are always `{ error: { code, message } }`.
import { z } from 'zod';
import type { Compression } from './variants.js';
import {
  DEVICE_HEALTHS, RUNTIMES, TOKEN_ROLES, familySchema, gitMetaSchema, runSettingsSchema, variantSchema,
  type DeviceHealth, type DeviceState, type JobStatus, type ModelFormat, type RunSettings, type RunStatus, type TokenRole, type GitMeta,
} from './domain.js';
import type { JobError } from './errors.js';
import type { FidelitySummary } from './fidelity.js';

export const API_PREFIX = '/api/v1';

export const paginationQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(128).optional(),
});
export interface Page<T> { items: T[]; next_cursor: string | null }

export const listRunsQuerySchema = paginationQuerySchema.extend({
  status: z.string().max(32).optional(),
  family: familySchema.optional(),
});

export const modelUploadQuerySchema = z.strictObject({
  family: familySchema,
  variant: variantSchema,
  filename: z.string().max(256).optional(),
  /** JSON of protocol/variants.ts variantMetadataSchema (parent, compression, tags, accuracy). */
  metadata: z.string().max(20_000).optional(),
});

export const createRunSchema = z.strictObject({
  /** sha256 or `family:variant` (the newest model of that variant). */
  model: z.string().min(1).max(300),
  /** A device name, or a label selector `key=value,key2=value2` (`*` for every device). */
  device: z.string().min(1).max(512),
  runtime: z.enum(RUNTIMES).default('onnxruntime'),
  settings: runSettingsSchema.default(runSettingsSchema.parse({})),
  git: gitMetaSchema.default({}),
  max_attempts: z.number().int().min(1).max(10).default(3),
  /**
   * Paired A/B instead of plain jobs: on each device, rounds of the baseline model (a reference
   * like `model`) and this run's model back to back, until the change is known or the rounds are spent.
   */
  ab: z.strictObject({
    baseline: z.string().min(1).max(300),
    rounds: z.number().int().min(4).max(100).default(20),
    metric: z.string().min(1).max(64).default('latency_ms'),
    /** Minutes between rounds (default 0). */
    spacing_minutes: z.number().min(0).max(1440).default(0),
  }).optional(),
});
export type CreateRunBody = z.input<typeof createRunSchema>;

export const patchDeviceSchema = z.strictObject({
  health: z.enum(DEVICE_HEALTHS).optional(),
  name: z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/).optional(),
  labels: z.record(z.string().max(64), z.string().max(512)).optional(),
});

export const createTokenSchema = z.strictObject({
  role: z.enum(TOKEN_ROLES),
  name: z.string().min(1).max(128),
});
export const createAgentSchema = z.strictObject({ name: z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/) });
export const enrollAgentSchema = createAgentSchema;

export const idParamSchema = z.strictObject({ id: z.string().min(1).max(128) });

export interface DeviceView {
  id: string;
  name: string;
  agent_id: string;
  agent_name: string;
  driver: string;
  serial: string;
  labels: Record<string, string>;
  runtimes: string[];
  state: DeviceState;
  health: DeviceHealth;
  health_reason: string | null;
  consecutive_failures: number;
  current_job_id: string | null;
  last_seen_at: string | null;
}

export interface AgentView {
  id: string;
  name: string;
  hostname: string | null;
  version: string | null;
  online: boolean;
  revoked: boolean;
  last_seen_at: string | null;
  device_count: number;
}

export interface ModelView {
  sha256: string;
  family: string;
  variant: string;
  format: ModelFormat;
  size_bytes: number;
  filename: string | null;
  /** Lineage and compression metadata of the variant (see protocol/variants.ts). */
  parent: string | null;
  compression: Compression;
  tags: string[];
  accuracy: number | null;
  accuracy_note: string | null;
  created_at: string;
}

export interface MeasurementSummary {
  metric: string;
  unit: string;
  count: number;
  median: number;
  p90: number;
  p99: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  ci_low: number;
  ci_high: number;
  mean_ci_half: number;
  outliers: number;
  /** Conditions that make this measurement not comparable (charging, throttled…). */
  flags: string[];
}

export interface JobView {
  id: string;
  run_id: string;
  device_id: string;
  device_name: string;
  status: JobStatus;
  attempt: number;
  max_attempts: number;
  error: JobError | null;
  progress: { phase: string; done: number; total: number } | null;
  environment: Record<string, unknown> | null;
  operators: { type: string; name: string; avgMs: number; percent: number; timesCalled: number; memKb?: number }[] | null;
  /** Per-metric verdict against the series' baseline window on the baseline branch. */
  verdicts: VerdictView[];
  /** Set on a rerun queued to confirm a suspected regression of that job. */
  confirms_job_id: string | null;
  /** Set on a job of a paired A/B test: its round, its arm (A = baseline, B = candidate) and the model it ran. */
  ab: { test_id: string; round: number; arm: 'A' | 'B'; model_sha256: string } | null;
  /** The series this job's results belong to (null until it has results). */
  series_key: string | null;
  /** Output fidelity against the family's reference set, with its flag (null when none was measured). */
  fidelity: FidelitySummary | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  measurements: MeasurementSummary[];
}

export interface RunView {
  id: string;
  model: ModelView;
  runtime: string;
  device_selector: string;
  settings: RunSettings;
  git: GitMeta;
  status: RunStatus;
  created_at: string;
  finished_at: string | null;
  job_counts: Partial<Record<JobStatus, number>>;
  /** Per device, the headline: median latency and the verdict that matters most (a regression of any metric first), or the A/B gate's outcome. */
  headline: RunHeadline[];
  jobs?: JobView[];
  /** Paired A/B tests of this run (`run submit --ab`, or confirmations of a suspect). */
  ab_tests?: AbTestView[];
}

export interface RunHeadline {
  device_name: string;
  job_id: string | null;
  status: JobStatus;
  error_code: string | null;
  median: number | null;
  unit: string | null;
  /** The metric of the verdict shown (latency, unless another metric regressed). */
  metric: string | null;
  verdict: VerdictView['verdict'] | null;
  effect: number | null;
  confirmation: VerdictView['confirmation'] | null;
  /** For a gate A/B test (`run submit --ab`): its status and B-vs-A estimate. */
  ab_status: AbTestView['status'] | null;
  fidelity_flagged: boolean;
}

/** A paired A/B test on one device: the baseline artifact (A) against the candidate (B). */
export interface AbTestView {
  id: string;
  run_id: string;
  device_id: string;
  device_name: string;
  purpose: 'confirm' | 'gate';
  series_key: string | null;
  metric: string;
  trigger_job_id: string | null;
  baseline_sha256: string;
  candidate_sha256: string;
  /** The suspected direction (null: either). */
  direction: 'regression' | 'improvement' | null;
  status: 'running' | 'changed' | 'no_change' | 'inconclusive' | 'failed' | 'canceled';
  rounds: number;
  max_rounds: number;
  failed_rounds: number;
  /** candidate / baseline − 1 with its confidence interval (value units), and the same signed so that positive = worse. */
  estimate: number | null;
  ci_low: number | null;
  ci_high: number | null;
  effect: number | null;
  /** σ of the paired log ratio of one round. */
  noise: number | null;
  min_effect: number;
  reason: string | null;
  created_at: string;
  decided_at: string | null;
}

export interface VerdictView {
  metric: string;
  /** too_noisy: the result's own sampling error hides changes that matter (see hint). */
  verdict: 'pass' | 'regression' | 'improvement' | 'insufficient_baseline' | 'too_noisy';
  p_value: number | null;
  /**
   * The change reported, positive = worse, with its 95% interval (which always holds it): from
   * baseline_median (the series' level) to candidate_median (this result's median, or the pooled
   * level of the recent results that made it suspect); `evidence` says which.
   */
  effect: number | null;
  ci_low: number | null;
  ci_high: number | null;
  baseline_median: number | null;
  candidate_median: number | null;
  evidence: string | null;
  baseline_results: number;
  baseline_branch: string;
  /** For a regression or improvement: whether it is confirmed, by the history, an A/B test or reruns. */
  confirmation: 'confirmed' | 'not_confirmed' | 'pending' | 'none';
  confirmed_by: 'history' | 'ab' | 'rerun' | null;
  /** The detector's evidence (equivalent normal score, + = worse), the series' noise, and the smallest change one result could show. */
  z: number | null;
  noise: number | null;
  detectable: number | null;
  /** What would make the result judgeable, or how it was judged, in words. */
  hint: string | null;
}

export interface SamplesView { job_id: string; metric: string; unit: string; samples: number[] }

export interface TokenView { id: string; name: string; role: TokenRole; agent_id: string | null; created_at: string; revoked: boolean }

/** Live events pushed to dashboards over /ws/live. */
export type LiveEvent =
  | { type: 'device.changed'; device_id: string }
  | { type: 'agent.changed'; agent_id: string }
  | { type: 'job.changed'; job_id: string; run_id: string; status: JobStatus; progress?: { phase: string; done: number; total: number } }
  | { type: 'run.changed'; run_id: string; status: RunStatus };
