// Builds the input tensors of an ONNX model: from its declared shapes and element types with a
// fixed seed, with per-input overrides (shape, constant fill, literal data from .npy / JSON).
import type { InputSpec, TensorDtype } from '../../../protocol/domain.js';
import { seededRng } from '../../../protocol/random.js';

export interface InputMeta { name: string; type: string; shape: readonly (number | string | null)[] }
export interface BuiltInput { name: string; dtype: TensorDtype; shape: number[]; data: TypedData }
export type TypedData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array;

export class InputSpecError extends Error {}

const SUPPORTED: Record<string, TensorDtype> = {
  float32: 'float32', float: 'float32', float64: 'float64', double: 'float64', int8: 'int8', uint8: 'uint8',
  int16: 'int16', int32: 'int32', int64: 'int64', bool: 'bool',
};

function allocate(dtype: TensorDtype, n: number): TypedData {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8': case 'bool': return new Uint8Array(n);
    case 'int16': return new Int16Array(n);
    case 'int32': return new Int32Array(n);
    case 'int64': return new BigInt64Array(n);
  }
}

function fromBase64(dtype: TensorDtype, base64: string, count: number): TypedData {
  const bytes = Buffer.from(base64, 'base64');
  const out = allocate(dtype, count);
  const view = new Uint8Array(out.buffer);
  if (bytes.length !== view.length) throw new InputSpecError(`data has ${bytes.length} bytes, expected ${view.length} for ${count} ${dtype} values`);
  view.set(bytes);
  return out;
}

/** Value range of seeded random fill per element type (floats uniform in [-1, 1)). */
function randomValue(dtype: TensorDtype, r: number): number {
  switch (dtype) {
    case 'int8': return Math.floor(r * 256) - 128;
    case 'uint8': return Math.floor(r * 256);
    case 'bool': return r < 0.5 ? 0 : 1;
    case 'int16': case 'int32': case 'int64': return Math.floor(r * 10);
    default: {
      // r * 2 - 1 can round up to exactly 1 in float32; keep the promise of [-1, 1).
      const v = r * 2 - 1;
      return Math.fround(v) >= 1 ? -1 : v;
    }
  }
}

export function buildInputs(metas: readonly InputMeta[], specs: Record<string, InputSpec>, seed: number): BuiltInput[] {
  const unknown = Object.keys(specs).filter((name) => !metas.some((m) => m.name === name));
  if (unknown.length) throw new InputSpecError(`no model input named ${unknown.join(', ')}; inputs are ${metas.map((m) => m.name).join(', ')}`);
  const rng = seededRng(seed);
  return metas.map((meta) => {
    const dtype = SUPPORTED[meta.type];
    if (!dtype) throw new InputSpecError(`input "${meta.name}" has element type ${meta.type}, which benchfleet cannot generate`);
    const spec = specs[meta.name] ?? {};
    if (spec.data) {
      if (spec.data.dtype !== dtype) throw new InputSpecError(`input "${meta.name}" is ${dtype} but the given data is ${spec.data.dtype}`);
      checkShape(meta, spec.data.shape);
      const count = spec.data.shape.reduce((a, b) => a * b, 1);
      return { name: meta.name, dtype, shape: spec.data.shape, data: fromBase64(dtype, spec.data.base64, count) };
    }
    const shape = spec.shape ?? meta.shape.map((d, i) => {
      if (typeof d === 'number' && d > 0) return d;
      throw new InputSpecError(`input "${meta.name}" has a dynamic dimension ${i} (${d ?? '?'}); give its shape`);
    });
    checkShape(meta, shape);
    const count = shape.reduce((a, b) => a * b, 1);
    const data = allocate(dtype, count);
    const fill = spec.fill ?? 'random';
    for (let i = 0; i < count; i++) {
      const v = fill === 'random' ? randomValue(dtype, rng()) : fill;
      if (data instanceof BigInt64Array) data[i] = BigInt(Math.trunc(v));
      else data[i] = v;
    }
    return { name: meta.name, dtype, shape, data };
  });
}

function checkShape(meta: InputMeta, shape: number[]): void {
  if (shape.length !== meta.shape.length) {
    throw new InputSpecError(`input "${meta.name}" has rank ${meta.shape.length} but the given shape [${shape.join(', ')}] has rank ${shape.length}`);
  }
  meta.shape.forEach((d, i) => {
    if (typeof d === 'number' && d > 0 && shape[i] !== d) {
      throw new InputSpecError(`input "${meta.name}" dimension ${i} is fixed at ${d}, not ${shape[i]}`);
    }
  });
}
