// Stacked tensor data (reference sets): splitting a tensor into its samples along the first axis
// (decoding the base64 once), reading values, stacking float32 samples. Node-only (Buffer); the
// dashboard never needs it.
import { DTYPE_BYTES, type TensorData, type TensorDtype } from './domain.js';

/** Every sample of a stacked tensor ([N, ...shape] → N tensors of `shape`), decoding it once. */
export function unstack(t: TensorData): TensorData[] {
  const n = t.shape[0] ?? 0;
  const bytes = Buffer.from(t.base64, 'base64');
  const per = n === 0 ? 0 : bytes.length / n;
  if (!Number.isInteger(per) || per % DTYPE_BYTES[t.dtype] !== 0) throw new Error('reference tensor size does not match its shape');
  return Array.from({ length: n }, (_, i) => ({ dtype: t.dtype, shape: t.shape.slice(1), base64: bytes.subarray(i * per, (i + 1) * per).toString('base64') }));
}

/** Tensor data as numbers (int64 through Number). */
export function tensorValues(t: TensorData): Float64Array {
  return bufferValues(t.dtype, Buffer.from(t.base64, 'base64'));
}

function bufferValues(dtype: TensorDtype, b: Buffer): Float64Array {
  const n = b.length / DTYPE_BYTES[dtype];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (dtype) {
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

/** The values of every sample of a stacked tensor, decoding it once. */
export function unstackValues(t: TensorData): Float64Array[] {
  const all = tensorValues(t);
  const n = t.shape[0] ?? 0;
  const per = n === 0 ? 0 : all.length / n;
  return Array.from({ length: n }, (_, i) => all.subarray(i * per, (i + 1) * per));
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
