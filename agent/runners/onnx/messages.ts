// Messages between the agent and its ONNX worker child process (Node IPC).
import type { RunSettings } from '../../../protocol/domain.js';

export interface WorkerStart { type: 'start'; modelPath: string; settings: RunSettings }

export type WorkerMessage =
  | { type: 'loaded'; loadMs: number; inputs: { name: string; shape: number[]; dtype: string }[] }
  | { type: 'progress'; phase: 'warmup' | 'measuring'; done: number; total: number }
  | { type: 'window'; edge: 'start' | 'end'; iterations: number }
  | { type: 'done'; samplesMs: number[]; firstRunMs: number; peakRssKib: number | null; ortVersion: string }
  | { type: 'error'; code: 'model_load_failed' | 'invalid_input_spec' | 'runner_failed'; message: string };
