// Messages between the agent and its ONNX worker child process (Node IPC).
import type { RunSettings } from '../../../protocol/domain.js';
import type { ReferenceSet } from '../../../protocol/variants.js';

export interface WorkerStart { type: 'start'; modelPath: string; settings: RunSettings; reference?: ReferenceSet | undefined }

/** Output fidelity on the family's reference set: one value per reference sample, or why it could not be measured. */
export type FidelityResult = { cosine: number[]; maxAbsError: number[]; top1: number[]; correct?: number[] } | { error: string };

export type WorkerMessage =
  | { type: 'loaded'; loadMs: number; inputs: { name: string; shape: number[]; dtype: string }[] }
  | { type: 'progress'; phase: 'warmup' | 'measuring'; done: number; total: number }
  | { type: 'window'; edge: 'start' | 'end'; iterations: number }
  | { type: 'done'; samplesMs: number[]; firstRunMs: number; peakRssKib: number | null; ortVersion: string; fidelity?: FidelityResult }
  | { type: 'error'; code: 'model_load_failed' | 'invalid_input_spec' | 'runner_failed'; message: string };
