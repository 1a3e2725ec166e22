// The input tensor a job loads into the DUT (`db load N` + hex chunks). An MCU firmware takes one
// tensor of raw bytes; from the run's input overrides (at most one input):
//   data  — its bytes as given (little-endian, any dtype), the same for every window;
//   fill  — a constant byte (an integer -128..255, stored as its low 8 bits);
//   shape — the size in bytes (product of the dims) of generated data;
// otherwise the bytes are seeded random, a different input per window (seed + window), as the
// MLPerf Tiny runner loads one file per window. The size, when the job does not fix it, is the
// board's `input_bytes`, else the reference size of the DUT's model id (kws01 490, ic01 3072,
// vww01 27648, ad01 2560), else 490 (the smallest reference buffer, keyword spotting).
import { seededRng } from '../../../protocol/random.js';
import type { RunSettings } from '../../../protocol/domain.js';
import { JobFailure } from '../driver.js';

/** Input bytes of the MLPerf Tiny reference benchmarks, by the model id of `profile%`. */
export const MODEL_INPUT_BYTES: Record<string, number> = { kws01: 490, ic01: 3072, vww01: 27648, ad01: 2560 };
export const DEFAULT_INPUT_BYTES = 490;

export interface JobInputs {
  /** One input per window (index modulo length). */
  perWindow: Uint8Array[];
  bytes: number;
  source: 'data' | 'fill' | 'random';
}

export function jobInputs(settings: RunSettings, windows: number, sizeHint: { boardBytes?: number | undefined; modelId?: string | null }): JobInputs {
  const entries = Object.entries(settings.inputs);
  if (entries.length > 1) {
    throw new JobFailure('invalid_input_spec', `an MCU firmware takes one input tensor; the run gives ${entries.length} (${entries.map(([n]) => n).join(', ')})`);
  }
  const spec = entries[0]?.[1];
  if (spec?.data) {
    const bytes = new Uint8Array(Buffer.from(spec.data.base64, 'base64'));
    if (bytes.length === 0) throw new JobFailure('invalid_input_spec', 'the input data is empty');
    return { perWindow: [bytes], bytes: bytes.length, source: 'data' };
  }
  let size = sizeHint.boardBytes ?? (sizeHint.modelId ? MODEL_INPUT_BYTES[sizeHint.modelId] : undefined) ?? DEFAULT_INPUT_BYTES;
  if (spec?.shape) size = spec.shape.reduce((a, b) => a * b, 1);
  if (typeof spec?.fill === 'number') {
    const v = spec.fill;
    if (!Number.isInteger(v) || v < -128 || v > 255) throw new JobFailure('invalid_input_spec', `an MCU input fill must be a byte value (-128..255), got ${v}`);
    return { perWindow: [new Uint8Array(size).fill(v & 0xff)], bytes: size, source: 'fill' };
  }
  const perWindow: Uint8Array[] = [];
  for (let w = 0; w < windows; w++) {
    const rng = seededRng(settings.seed + w);
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = Math.floor(rng() * 256);
    perWindow.push(bytes);
  }
  return { perWindow, bytes: size, source: 'random' };
}
