// Wire types for compressed variants: lineage and compression metadata, per-family reference
// sets for output fidelity, and the variant × device comparison.
import { z } from 'zod';
import { tensorDataSchema, variantSchema } from './domain.js';

export const compressionSchema = z.strictObject({
  quantization: z.strictObject({
    method: z.enum(['ptq', 'qat', 'dynamic']),
    weight_bits: z.number().int().min(1).max(32),
    activation_bits: z.number().int().min(1).max(32).optional(),
    per_channel: z.boolean().optional(),
  }).optional(),
  pruning: z.strictObject({ kind: z.enum(['structured', 'unstructured']), sparsity: z.number().min(0).max(1) }).optional(),
  distillation: z.strictObject({ teacher: z.string().min(1).max(256) }).optional(),
  low_rank: z.strictObject({ rank: z.number().int().min(1).optional(), ratio: z.number().min(0).max(1).optional() }).optional(),
  nas: z.strictObject({ search_space: z.string().max(256).optional() }).optional(),
});
export type Compression = z.infer<typeof compressionSchema>;

export const variantMetadataSchema = z.strictObject({
  /** The variant this one was derived from, in the same family. */
  parent: variantSchema.nullable().optional(),
  compression: compressionSchema.optional(),
  tags: z.array(z.string().min(1).max(64)).max(32).optional(),
  /** Accuracy measured by the user (0..1), e.g. top-1 on a validation set. */
  accuracy: z.number().min(0).max(1).nullable().optional(),
  accuracy_note: z.string().max(500).nullable().optional(),
});
export type VariantMetadata = z.infer<typeof variantMetadataSchema>;

/** A reference set: N samples stacked along the first axis of every input and output tensor. */
export const referenceSetSchema = z.strictObject({
  samples: z.number().int().min(1).max(1000),
  inputs: z.record(z.string(), tensorDataSchema),
  outputs: z.record(z.string(), tensorDataSchema),
  /** Optional true class per sample: the agent then also measures accuracy on the device. */
  labels: z.array(z.number().int().min(0)).max(1000).optional(),
});
export type ReferenceSet = z.infer<typeof referenceSetSchema>;

export const putReferenceSchema = z.strictObject({
  variant: variantSchema,
  reference: referenceSetSchema,
  min_cosine: z.number().min(0).max(1).default(0.99),
  min_top1: z.number().min(0).max(1).default(0.9),
});

export const compareQuerySchema = z.strictObject({
  family: z.string().min(1).max(128),
  devices: z.string().max(2000).optional(),
  budget: z.coerce.number().min(0).max(1).default(0.01),
  objective: z.enum(['latency', 'energy', 'memory']).default('latency'),
  format: z.enum(['json', 'csv', 'md']).default('json'),
  /** Narrow the settings compared: only results with this many threads / this runtime / this settings key. */
  threads: z.coerce.number().int().min(1).max(256).optional(),
  runtime: z.string().min(1).max(64).optional(),
  settings: z.string().regex(/^[0-9a-f]{4,32}$/, 'a settings key (hex, or a unique prefix of one)').optional(),
  /** How many of the newest results of a cell are pooled (median of their medians). */
  window: z.coerce.number().int().min(1).max(100).default(10),
});
export type CompareObjective = 'latency' | 'energy' | 'memory';

export interface FamilyView {
  name: string;
  reference_variant: string;
  reference_sha256: string;
  samples: number;
  min_cosine: number;
  min_top1: number;
  updated_at: string;
}

export interface CompareVariant {
  variant: string;
  sha256: string;
  parent: string | null;
  compression: Compression;
  tags: string[];
  format: string;
  size_bytes: number;
  parameter_count: number | null;
  quantized: boolean;
  weight_sparsity: number | null;
  accuracy: number | null;
}

/**
 * What a compare cell was measured under — the settings part of a series' identity: the runtime,
 * the thread count, the input settings and the runner the device used. Results are only ever
 * compared (ratios, Pareto front, recommendation) under one settings key per device.
 */
export interface CompareSettings {
  /** A short hash of the settings below. */
  key: string;
  runtime: string;
  threads: number;
  inputs: Record<string, unknown>;
  runner: string | null;
  /** One line for people: "onnxruntime · 2 threads · inputs x: shape 1×3×224×224 · runner onnxruntime-node". */
  label: string;
}

/** A settings key with results in the family, and where. */
export interface CompareSettingsOption extends CompareSettings { devices: string[]; results: number }

/**
 * current: the newest version of the variant under the device's settings key; stale: only an
 * older version of the variant has results under that key (the newest is not measured there);
 * settings_differ: the variant has results on the device only under other settings — shown for
 * information, never in a ratio, the Pareto front or the recommendation.
 */
export type CompareCellStatus = 'current' | 'stale' | 'settings_differ';

export interface CompareCell {
  variant: string;
  device: string;
  status: CompareCellStatus;
  /** Why the cell is stale or its settings differ, in one line (null when current). */
  note: string | null;
  /** The model version measured (for a stale cell, an older version than the variant's newest). */
  sha256: string;
  size_bytes: number;
  settings: CompareSettings;
  /** How many results were pooled (the newest `window` of this version, settings and device). */
  results: number;
  /** The newest of them. */
  job_id: string;
  run_id: string;
  measured_at: string;
  /** Median of the pooled results' latency medians, with its 95% interval. */
  latency_ms: number | null;
  latency_ci: [number, number] | null;
  energy_mj: number | null;
  peak_mem_mib: number | null;
  fidelity_cosine: number | null;
  fidelity_top1: number | null;
  output_max_abs_error: number | null;
  /** Top-1 accuracy on the family's labelled reference inputs, measured on the device. */
  accuracy_measured: number | null;
  /** Quality used for Pareto and budgets: user accuracy when the variant has one, else top-1 agreement with the reference. */
  quality: number | null;
  quality_kind: 'accuracy' | 'measured_accuracy' | 'top1_agreement' | null;
  /** Why this variant should not ship to this device (fidelity below the family's thresholds). */
  flags: string[];
  /** Ratios against the parent variant's cell on the same device under the same settings key (null when there is none). */
  vs_parent: { parent_sha256: string; speedup: number | null; energy_saving: number | null; size_reduction: number | null; quality_drop: number | null } | null;
  pareto: boolean;
}

export interface Recommendation { device: string; variant: string | null; reason: string }

export interface CompareView {
  family: string;
  objective: CompareObjective;
  budget: number;
  reference_variant: string | null;
  /** The selection asked for (null = chosen per device: the key under which most variants' newest versions have results). */
  selection: { threads: number | null; runtime: string | null; settings: string | null; window: number };
  /** Every settings key with results in the family. */
  settings_options: CompareSettingsOption[];
  /** The settings key compared on each device. */
  device_settings: Record<string, CompareSettings>;
  variants: CompareVariant[];
  devices: string[];
  cells: CompareCell[];
  recommendations: Recommendation[];
}
