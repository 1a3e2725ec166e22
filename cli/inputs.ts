// Input overrides given on the command line: `--input-shape name=1x3x224x224`,
// `--input-fill name=0.5|random` and `--input-file name=path.npy|path.json`. Files are read here
// (on the submitter's machine) and sent as literal tensor data with the run.
import fs from 'node:fs';
import { DTYPE_BYTES as BYTES, type InputSpec, type TensorData, type TensorDtype } from '../protocol/domain.js';

const NPY_DTYPES: Record<string, TensorDtype> = {
  '<f4': 'float32', '<f8': 'float64', '|i1': 'int8', '|u1': 'uint8', '<i2': 'int16', '<i4': 'int32', '<i8': 'int64', '|b1': 'bool',
};

export function parseNpy(buf: Buffer): TensorData {
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error('not a .npy file (bad magic)');
  const major = buf[6]!;
  if (major !== 1 && buf.length < 12) throw new Error('truncated .npy header');
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > buf.length) throw new Error('truncated .npy header');
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`unreadable .npy header: ${header.trim()}`);
  if (fortran === 'True') throw new Error('Fortran-ordered .npy arrays are not supported; save with C order');
  const dtype = Object.hasOwn(NPY_DTYPES, descr) ? NPY_DTYPES[descr] : undefined;
  if (!dtype) throw new Error(`unsupported .npy dtype ${descr} (supported: ${Object.keys(NPY_DTYPES).join(' ')})`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = buf.subarray(start + headerLen);
  if (data.length !== count * BYTES[dtype]) throw new Error(`.npy data has ${data.length} bytes, expected ${count * BYTES[dtype]}`);
  return { dtype, shape, base64: data.toString('base64') };
}

/** JSON input: `{ "dtype": "float32", "shape": [1, 4], "data": [..] }` or plain nested arrays (float32). */
export function parseJsonTensor(text: string): TensorData {
  const value = JSON.parse(text) as unknown;
  let dtype: TensorDtype = 'float32';
  let nested: unknown = value;
  let shape: number[] | null = null;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as { dtype?: string; shape?: number[]; data?: unknown };
    if (obj.dtype) {
      if (!Object.hasOwn(BYTES, obj.dtype)) throw new Error(`unsupported dtype ${obj.dtype}`);
      dtype = obj.dtype as TensorDtype;
    }
    nested = obj.data;
    shape = obj.shape ?? null;
  }
  const flat: number[] = [];
  const inferred: number[] = [];
  let leafDepth = -1;
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v)) {
      if (inferred[depth] === undefined) inferred[depth] = v.length;
      else if (inferred[depth] !== v.length) throw new Error('ragged nested arrays');
      for (const x of v) walk(x, depth + 1);
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      if (leafDepth === -1) leafDepth = depth;
      else if (leafDepth !== depth) throw new Error('ragged nested arrays: numbers at different depths');
      flat.push(Number(v));
    } else throw new Error('tensor data must be numbers');
  };
  walk(nested, 0);
  shape ??= inferred;
  if (shape.reduce((a, b) => a * b, 1) !== flat.length) throw new Error(`shape [${shape.join(', ')}] does not match ${flat.length} values`);
  const buf = Buffer.alloc(flat.length * BYTES[dtype]);
  flat.forEach((x, i) => {
    switch (dtype) {
      case 'float32': buf.writeFloatLE(x, i * 4); break;
      case 'float64': buf.writeDoubleLE(x, i * 8); break;
      case 'int8': buf.writeInt8(x, i); break;
      case 'uint8': case 'bool': buf.writeUInt8(x, i); break;
      case 'int16': buf.writeInt16LE(x, i * 2); break;
      case 'int32': buf.writeInt32LE(x, i * 4); break;
      case 'int64': buf.writeBigInt64LE(BigInt(Math.trunc(x)), i * 8); break;
    }
  });
  return { dtype, shape, base64: buf.toString('base64') };
}

function splitAssignment(text: string, flag: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`${flag} expects name=value, got "${text}"`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

export function buildInputSpecs(opts: { inputShape?: string[]; inputFill?: string[]; inputFile?: string[] }): Record<string, InputSpec> {
  const specs: Record<string, InputSpec> = {};
  const spec = (name: string): InputSpec => (specs[name] ??= {});
  for (const s of opts.inputShape ?? []) {
    const [name, value] = splitAssignment(s, '--input-shape');
    const dims = value.split(/[x,]/).map(Number);
    if (dims.some((d) => !Number.isInteger(d) || d <= 0)) throw new Error(`--input-shape ${s}: dimensions must be positive integers like 1x3x224x224`);
    spec(name).shape = dims;
  }
  for (const s of opts.inputFill ?? []) {
    const [name, value] = splitAssignment(s, '--input-fill');
    if (value !== 'random' && (value.trim() === '' || !Number.isFinite(Number(value)))) throw new Error(`--input-fill ${s}: use a number or "random"`);
    spec(name).fill = value === 'random' ? 'random' : Number(value);
  }
  for (const s of opts.inputFile ?? []) {
    const [name, file] = splitAssignment(s, '--input-file');
    if (!fs.existsSync(file)) throw new Error(`--input-file ${s}: no such file`);
    try {
      spec(name).data = file.endsWith('.npy') ? parseNpy(fs.readFileSync(file)) : parseJsonTensor(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`--input-file ${file}: ${(err as Error).message}`);
    }
  }
  return specs;
}
