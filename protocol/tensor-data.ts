// Stacked tensor data (reference sets): slicing one sample off the first axis, reading values,
// stacking float32 samples. Node-only (Buffer); the dashboard never needs it.
import type { TensorData, TensorDtype } from './domain.js';

const BYTES: Record<TensorDtype, number> = { float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, int32: 4, int64: 8, bool: 1 };

/** Sample `i` of a stacked tensor: the first axis removed. */
export function sliceSample(t: TensorData, i: number): TensorData {
  const n = t.shape[0] ?? 0;
  if (i < 0 || i >= n) throw new Error(`sample ${i} out of range (${n})`);
  const bytes = Buffer.from(t.base64, 'base64');
  const per = bytes.length / n;
  if (!Number.isInteger(per) || per % BYTES[t.dtype] !== 0) throw new Error('reference tensor size does not match its shape');
  return { dtype: t.dtype, shape: t.shape.slice(1), base64: bytes.subarray(i * per, (i + 1) * per).toString('base64') };
}

/** Tensor data as numbers (int64 through Number). */
export function tensorValues(t: TensorData): Float64Array {
  const b = Buffer.from(t.base64, 'base64');
  const n = b.length / BYTES[t.dtype];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'float32': out[i] = b.readFloatLE(i * 4); break;
      case 'float64': out[i] = b.readDoubleLE(i * 8); break;
      case 'int8': out[i] = b.readInt8(i); break;
      case 'uint8': case 'bool': out[i] = b.readUInt8(i); break;
      case 'int16': out[i] = b.readInt16LE(i * 2); break;
      case 'int32': out[i] = b.readInt32LE(i * 4); break;
      case 'int64': out[i] = Number(b.readBigInt64LE(i * 8)); break;
    }
  }
  return out;
}

/** Stacks per-sample float32 arrays into one tensor of shape [N, ...shape]. */
export function stackFloat32(samples: ArrayLike<number>[], shape: number[]): TensorData {
  const per = shape.reduce((a, b) => a * b, 1);
  const buf = Buffer.alloc(samples.length * per * 4);
  samples.forEach((s, i) => {
    if (s.length !== per) throw new Error(`sample ${i} has ${s.length} values, expected ${per}`);
    for (let k = 0; k < per; k++) buf.writeFloatLE(s[k]!, (i * per + k) * 4);
  });
  return { dtype: 'float32', shape: [samples.length, ...shape], base64: buf.toString('base64') };
}
