// Tests for agent/runners/onnx/inputs.ts (buildInputs, InputSpecError) and cli/inputs.ts
// (parseNpy, parseJsonTensor, buildInputSpecs): seeded random fill and its value ranges per
// element type, dynamic dimensions and shape overrides, constant fill, literal data, and the
// .npy / JSON readers on files built byte by byte here from the NPY format specification.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildInputs, InputSpecError, type InputMeta } from '../agent/runners/onnx/inputs.js';
import { buildInputSpecs, parseJsonTensor, parseNpy } from '../cli/inputs.js';
import type { InputSpec, TensorData } from '../protocol/domain.js';

// ---- helpers -----------------------------------------------------------------------------------

const meta = (name: string, type: string, shape: (number | string | null)[]): InputMeta => ({ name, type, shape });

const only = <T>(items: T[]): T => {
  assert.equal(items.length, 1);
  return items[0]!;
};

function f32Bytes(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}

function i64Bytes(values: bigint[]): Buffer {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeBigInt64LE(v, i * 8));
  return b;
}

function f64Bytes(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
  return b;
}

/**
 * A .npy file per the NPY format spec: magic "\x93NUMPY", major/minor version, header length
 * (uint16 LE in 1.0, uint32 LE in 2.0), an ASCII dict padded with spaces and terminated by "\n"
 * so that magic + version + length + header is a multiple of 64, then the raw data.
 */
function npy(dict: string, data: Buffer, major = 1): Buffer {
  const prefixLen = major === 1 ? 10 : 12;
  const pad = (64 - ((prefixLen + dict.length + 1) % 64)) % 64;
  const header = dict + ' '.repeat(pad) + '\n';
  assert.equal((prefixLen + header.length) % 64, 0);
  const prefix = Buffer.alloc(prefixLen);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = major;
  prefix[7] = 0;
  if (major === 1) prefix.writeUInt16LE(header.length, 8);
  else prefix.writeUInt32LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

const dictOf = (descr: string, shape: string, fortran = 'False'): string => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

const decodeF32 = (t: TensorData): number[] => {
  const b = Buffer.from(t.base64, 'base64');
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
};

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-inputs-'));
  tempDirs.push(dir);
  return dir;
}

// ---- buildInputs: random fill ----------------------------------------------------------------

test('seeded random fill is deterministic and depends on the seed', () => {
  const metas = [meta('x', 'float32', [1, 3, 8, 8]), meta('ids', 'int64', [2, 5])];
  const a = buildInputs(metas, {}, 7);
  const b = buildInputs(metas, {}, 7);
  const c = buildInputs(metas, {}, 8);
  assert.deepEqual(a, b);
  assert.equal(a.length, 2);
  assert.notDeepEqual(a[0]!.data, c[0]!.data);
  assert.deepEqual(a.map((i) => [i.name, i.dtype, i.shape]), [['x', 'float32', [1, 3, 8, 8]], ['ids', 'int64', [2, 5]]]);
});

test('random float values lie in [-1, 1) and spread over it', () => {
  for (const type of ['float32', 'float', 'float64', 'double']) {
    const input = only(buildInputs([meta('x', type, [4, 1024])], {}, 123));
    const expectedDtype = type === 'float' || type === 'float32' ? 'float32' : 'float64';
    assert.equal(input.dtype, expectedDtype);
    assert.ok(expectedDtype === 'float32' ? input.data instanceof Float32Array : input.data instanceof Float64Array);
    const values = Array.from(input.data as Float32Array | Float64Array);
    assert.equal(values.length, 4096);
    assert.ok(values.every((v) => v >= -1 && v < 1), `${type}: out of [-1, 1)`);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    assert.ok(Math.abs(mean) < 0.05, `${type}: mean ${mean}`);
    assert.ok(Math.min(...values) < -0.99 && Math.max(...values) > 0.99, `${type}: does not cover the range`);
    assert.ok(values.some((v) => v < 0) && values.some((v) => v > 0));
  }
});

test('random float32 values stay below 1 even for a draw just under 1', () => {
  const input = only(buildInputs([meta('x', 'float32', [1])], {}, 52078625));
  assert.ok((input.data[0] as number) < 1, `got ${input.data[0]}`);
});

test('random integer values stay in their type range', () => {
  const i8 = only(buildInputs([meta('q', 'int8', [4096])], {}, 1));
  assert.ok(i8.data instanceof Int8Array);
  const i8v = Array.from(i8.data);
  assert.ok(Math.min(...i8v) >= -128 && Math.max(...i8v) <= 127);
  assert.ok(Math.min(...i8v) <= -120 && Math.max(...i8v) >= 120, 'int8 fill spans the signed range');

  const u8 = only(buildInputs([meta('q', 'uint8', [4096])], {}, 1));
  assert.ok(u8.data instanceof Uint8Array);
  const u8v = Array.from(u8.data);
  assert.ok(Math.min(...u8v) <= 5 && Math.max(...u8v) >= 250);

  const bool = only(buildInputs([meta('mask', 'bool', [256])], {}, 1));
  assert.equal(bool.dtype, 'bool');
  assert.deepEqual([...new Set(bool.data as Uint8Array)].sort(), [0, 1]);

  for (const type of ['int16', 'int32']) {
    const input = only(buildInputs([meta('i', type, [1000])], {}, 3));
    const v = Array.from(input.data as Int16Array | Int32Array);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= 0 && x <= 9), `${type} in 0..9`);
    assert.ok(new Set(v).size > 5);
  }
});

test('int64 inputs are BigInt64Arrays', () => {
  const input = only(buildInputs([meta('ids', 'int64', [3, 100])], {}, 5));
  assert.equal(input.dtype, 'int64');
  assert.ok(input.data instanceof BigInt64Array);
  assert.equal(input.data.length, 300);
  for (const v of input.data) assert.ok(typeof v === 'bigint' && v >= 0n && v <= 9n);
});

test('an element type benchfleet cannot generate is an InputSpecError', () => {
  assert.throws(() => buildInputs([meta('s', 'string', [1])], {}, 0), (err: unknown) => err instanceof InputSpecError && /"s"/.test(err.message) && /string/.test(err.message));
});

// ---- buildInputs: shapes -----------------------------------------------------------------------

test('a dynamic dimension without a given shape is an InputSpecError naming the input', () => {
  for (const dim of ['batch', null, -1, 0]) {
    assert.throws(
      () => buildInputs([meta('pixel_values', 'float32', [dim, 3, 8, 8])], {}, 0),
      (err: unknown) => err instanceof InputSpecError && err.message.includes('pixel_values') && /dimension 0/.test(err.message),
      `dim ${String(dim)}`,
    );
  }
});

test('a given shape fills dynamic dimensions', () => {
  const input = only(buildInputs([meta('x', 'float32', ['batch', 3, 'h', 'w'])], { x: { shape: [2, 3, 4, 5] } }, 0));
  assert.deepEqual(input.shape, [2, 3, 4, 5]);
  assert.equal(input.data.length, 2 * 3 * 4 * 5);
});

test('a given shape may not change a fixed dimension', () => {
  assert.throws(
    () => buildInputs([meta('x', 'float32', ['batch', 3, 8, 8])], { x: { shape: [1, 4, 8, 8] } }, 0),
    (err: unknown) => err instanceof InputSpecError && err.message.includes('"x"') && /dimension 1/.test(err.message) && /fixed at 3/.test(err.message),
  );
  // the same dims as the model declares are fine
  assert.deepEqual(only(buildInputs([meta('x', 'float32', [1, 3])], { x: { shape: [1, 3] } }, 0)).shape, [1, 3]);
});

test('a given shape of the wrong rank is an error', () => {
  assert.throws(
    () => buildInputs([meta('x', 'float32', ['batch', 3])], { x: { shape: [1, 3, 1] } }, 0),
    (err: unknown) => err instanceof InputSpecError && /rank 2/.test(err.message) && /rank 3/.test(err.message),
  );
  assert.throws(() => buildInputs([meta('x', 'float32', [1, 3])], { x: { shape: [3] } }, 0), InputSpecError);
});

test('a spec for an input the model does not have is an error', () => {
  assert.throws(
    () => buildInputs([meta('x', 'float32', [1])], { y: { fill: 1 } }, 0),
    (err: unknown) => err instanceof InputSpecError && err.message.includes('y') && err.message.includes('x'),
  );
});

// ---- buildInputs: constant fill and literal data ---------------------------------------------

test('a constant fill sets every element', () => {
  const [x, ids, q] = buildInputs(
    [meta('x', 'float32', ['n', 4]), meta('ids', 'int64', [3]), meta('q', 'int8', [5])],
    { x: { shape: [2, 4], fill: 0.5 }, ids: { fill: 7 }, q: { fill: -3 } },
    0,
  );
  assert.deepEqual(x?.data, new Float32Array(8).fill(0.5));
  assert.deepEqual(ids?.data, BigInt64Array.from([7n, 7n, 7n]));
  assert.deepEqual(q?.data, Int8Array.from([-3, -3, -3, -3, -3]));
  // an explicit 'random' fill is the default random fill
  assert.deepEqual(buildInputs([meta('x', 'float32', [16])], { x: { fill: 'random' } }, 9), buildInputs([meta('x', 'float32', [16])], {}, 9));
});

test('literal data round-trips from base64 little-endian bytes', () => {
  const values = [1.5, -2, 0.25, 3, -0.125, 100];
  const x = only(buildInputs([meta('x', 'float32', ['batch', 3])], { x: { data: { dtype: 'float32', shape: [2, 3], base64: f32Bytes(values).toString('base64') } } }, 0));
  assert.equal(x.dtype, 'float32');
  assert.deepEqual(x.shape, [2, 3]);
  assert.ok(x.data instanceof Float32Array);
  assert.deepEqual(Array.from(x.data), values);

  const ids = only(buildInputs([meta('ids', 'int64', [4])], { ids: { data: { dtype: 'int64', shape: [4], base64: i64Bytes([-1n, 0n, 2n ** 40n, -(2n ** 62n)]).toString('base64') } } }, 0));
  assert.ok(ids.data instanceof BigInt64Array);
  assert.deepEqual(Array.from(ids.data), [-1n, 0n, 2n ** 40n, -(2n ** 62n)]);
});

test('literal data with the wrong byte length is an error', () => {
  const spec = { x: { data: { dtype: 'float32' as const, shape: [2, 3], base64: f32Bytes([1, 2, 3, 4, 5]).toString('base64') } } };
  assert.throws(() => buildInputs([meta('x', 'float32', [2, 3])], spec, 0), (err: unknown) => err instanceof InputSpecError && /20 bytes/.test(err.message) && /24/.test(err.message));
});

test('literal data of another dtype, or a fixed-dimension mismatch, is an error', () => {
  const ints = { dtype: 'int32' as const, shape: [2, 3], base64: Buffer.alloc(24).toString('base64') };
  assert.throws(
    () => buildInputs([meta('x', 'float32', [2, 3])], { x: { data: ints } }, 0),
    (err: unknown) => err instanceof InputSpecError && /float32/.test(err.message) && /int32/.test(err.message),
  );
  const wrongShape = { dtype: 'float32' as const, shape: [3, 2], base64: Buffer.alloc(24).toString('base64') };
  assert.throws(() => buildInputs([meta('x', 'float32', [2, 3])], { x: { data: wrongShape } }, 0), InputSpecError);
});

// ---- parseNpy ----------------------------------------------------------------------------------

test('parseNpy reads a float32 [2, 3] array (version 1.0)', () => {
  const data = f32Bytes([1.5, -2, 0.25, 3, -0.125, 100]);
  const file = npy(dictOf('<f4', '(2, 3)'), data);
  assert.equal(file.length, 128 + 24); // header padded to 128 bytes
  const t = parseNpy(file);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.shape, [2, 3]);
  assert.deepEqual(Buffer.from(t.base64, 'base64'), data);
  assert.deepEqual(decodeF32(t), [1.5, -2, 0.25, 3, -0.125, 100]);
});

test('parseNpy reads an int64 [4] array with a one-element shape tuple', () => {
  const data = i64Bytes([1n, -2n, 3n ** 30n, -(2n ** 63n)]);
  const t = parseNpy(npy(dictOf('<i8', '(4,)'), data));
  assert.equal(t.dtype, 'int64');
  assert.deepEqual(t.shape, [4]);
  assert.deepEqual(Buffer.from(t.base64, 'base64'), data);
});

test('parseNpy reads other dtypes and a scalar', () => {
  const cases: [string, string, Buffer][] = [
    ['|i1', 'int8', Buffer.from([0x80, 0x7f, 0x00])],
    ['|u1', 'uint8', Buffer.from([255, 0, 1])],
    ['<i2', 'int16', Buffer.from([1, 0, 0xff, 0xff, 0, 0x80])],
    ['<i4', 'int32', Buffer.alloc(12, 7)],
    ['|b1', 'bool', Buffer.from([1, 0, 1])],
  ];
  for (const [descr, dtype, data] of cases) {
    const t = parseNpy(npy(dictOf(descr, '(3,)'), data));
    assert.equal(t.dtype, dtype, descr);
    assert.deepEqual(t.shape, [3]);
    assert.deepEqual(Buffer.from(t.base64, 'base64'), data);
  }
  const scalar = parseNpy(npy(dictOf('<f8', '()'), f64Bytes([Math.PI])));
  assert.equal(scalar.dtype, 'float64');
  assert.deepEqual(scalar.shape, []);
  assert.equal(Buffer.from(scalar.base64, 'base64').readDoubleLE(0), Math.PI);
});

test('parseNpy reads a version 2.0 file (4-byte header length)', () => {
  const data = f64Bytes([0.5, -1e300, 5e-324]);
  const file = npy(dictOf('<f8', '(1, 3)'), data, 2);
  assert.equal(file[6], 2);
  const t = parseNpy(file);
  assert.equal(t.dtype, 'float64');
  assert.deepEqual(t.shape, [1, 3]);
  assert.deepEqual(Buffer.from(t.base64, 'base64'), data);
});

test('parseNpy rejects Fortran order, truncated or extra data, bad magic and unsupported dtypes', () => {
  const data = f32Bytes([1, 2, 3, 4, 5, 6]);
  assert.throws(() => parseNpy(npy(dictOf('<f4', '(2, 3)', 'True'), data)), /Fortran/);
  assert.throws(() => parseNpy(npy(dictOf('<f4', '(2, 3)'), data.subarray(0, 20))), /20 bytes, expected 24/);
  assert.throws(() => parseNpy(npy(dictOf('<f4', '(2, 3)'), Buffer.concat([data, Buffer.alloc(4)]))), /28 bytes, expected 24/);
  const good = npy(dictOf('<f4', '(2, 3)'), data);
  const badMagic = Buffer.from(good);
  badMagic[0] = 0x92;
  assert.throws(() => parseNpy(badMagic), /magic/);
  assert.throws(() => parseNpy(Buffer.from('PK\x03\x04 not numpy at all', 'latin1')), /magic/);
  assert.throws(() => parseNpy(Buffer.from('\x93NUM', 'latin1')), /magic/);
  // header length pointing past the end of the file
  assert.throws(() => parseNpy(good.subarray(0, 60)), /truncated/);
  assert.throws(() => parseNpy(npy(dictOf('>f4', '(2, 3)'), data)), /unsupported .npy dtype >f4/);
  assert.throws(() => parseNpy(npy(dictOf('<c8', '(3,)'), data)), /unsupported/);
  assert.throws(() => parseNpy(npy("{'shape': (6,), }", data)), /unreadable/);
});

// ---- parseJsonTensor ---------------------------------------------------------------------------

test('parseJsonTensor: nested arrays are float32 with the inferred shape', () => {
  const t = parseJsonTensor('[[1, 2, 3], [4, 5, 0.1]]');
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.shape, [2, 3]);
  assert.deepEqual(decodeF32(t), [1, 2, 3, 4, 5, Math.fround(0.1)]);
  const deep = parseJsonTensor('[[[1], [2]], [[3], [4]], [[5], [6]]]');
  assert.deepEqual(deep.shape, [3, 2, 1]);
  assert.deepEqual(decodeF32(deep), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(parseJsonTensor('[true, false]').shape, [2]);
  assert.deepEqual(decodeF32(parseJsonTensor('[true, false]')), [1, 0]);
});

test('parseJsonTensor: an explicit dtype, shape and data', () => {
  const t = parseJsonTensor(JSON.stringify({ dtype: 'int32', shape: [2, 2], data: [1, -2, 3, 2147483647] }));
  assert.equal(t.dtype, 'int32');
  assert.deepEqual(t.shape, [2, 2]);
  const b = Buffer.from(t.base64, 'base64');
  assert.equal(b.length, 16);
  assert.deepEqual([0, 1, 2, 3].map((i) => b.readInt32LE(i * 4)), [1, -2, 3, 2147483647]);

  const inferred = parseJsonTensor(JSON.stringify({ dtype: 'int64', data: [[1, -2]] }));
  assert.deepEqual(inferred.shape, [1, 2]);
  const ib = Buffer.from(inferred.base64, 'base64');
  assert.deepEqual([ib.readBigInt64LE(0), ib.readBigInt64LE(8)], [1n, -2n]);

  const u8 = parseJsonTensor(JSON.stringify({ dtype: 'uint8', shape: [3], data: [0, 128, 255] }));
  assert.deepEqual([...Buffer.from(u8.base64, 'base64')], [0, 128, 255]);

  const noDtype = parseJsonTensor(JSON.stringify({ shape: [2], data: [0.5, 2] }));
  assert.equal(noDtype.dtype, 'float32');
  assert.deepEqual(decodeF32(noDtype), [0.5, 2]);
});

test('parseJsonTensor rejects ragged arrays, shape/count mismatches, non-numbers and unknown dtypes', () => {
  assert.throws(() => parseJsonTensor('[[1, 2], [3]]'), /ragged/);
  assert.throws(() => parseJsonTensor('[[[1, 2]], [[3, 4], [5, 6]]]'), /ragged/);
  assert.throws(() => parseJsonTensor(JSON.stringify({ dtype: 'float32', shape: [3], data: [1, 2] })), /does not match 2 values/);
  assert.throws(() => parseJsonTensor(JSON.stringify({ dtype: 'int32', shape: [2, 2], data: [1, 2, 3, 4, 5] })), /does not match 5 values/);
  assert.throws(() => parseJsonTensor('[1, "2"]'), /numbers/);
  assert.throws(() => parseJsonTensor('[1, null]'), /numbers/);
  assert.throws(() => parseJsonTensor(JSON.stringify({ dtype: 'float32', shape: [1] })), /numbers/);
  assert.throws(() => parseJsonTensor(JSON.stringify({ dtype: 'complex64', data: [1] })), /unsupported dtype complex64/);
  assert.throws(() => parseJsonTensor('[1, 2'), SyntaxError);
});

test('parseJsonTensor rejects arrays that mix scalars and sub-arrays at one depth', () => {
  assert.throws(() => parseJsonTensor('[[1], 2]'), /ragged/);
});

test('parseJsonTensor names an inherited property used as a dtype as unsupported', () => {
  assert.throws(() => parseJsonTensor(JSON.stringify({ dtype: 'toString', data: [1] })), /unsupported dtype toString/);
});

// ---- buildInputSpecs ---------------------------------------------------------------------------

test('buildInputSpecs parses --input-shape', () => {
  assert.deepEqual(buildInputSpecs({ inputShape: ['x=1x3x8x8'] }), { x: { shape: [1, 3, 8, 8] } });
  assert.deepEqual(buildInputSpecs({ inputShape: ['x=1,3', 'input_ids=1x128'] }), { x: { shape: [1, 3] }, input_ids: { shape: [1, 128] } });
  assert.deepEqual(buildInputSpecs({}), {});
});

test('buildInputSpecs rejects bad dimensions and malformed assignments', () => {
  for (const bad of ['x=1x0x8', 'x=1xax8', 'x=1x-3', 'x=1x2.5', 'x=', 'x=1xx3']) {
    assert.throws(() => buildInputSpecs({ inputShape: [bad] }), /positive integers/, bad);
  }
  for (const bad of ['x', '=1x3']) assert.throws(() => buildInputSpecs({ inputShape: [bad] }), /expects name=value/, bad);
});

test('buildInputSpecs parses --input-fill numbers and random, merged with shapes', () => {
  assert.deepEqual(
    buildInputSpecs({ inputShape: ['x=2x4'], inputFill: ['x=0.5', 'y=random', 'z=-3'] }),
    { x: { shape: [2, 4], fill: 0.5 }, y: { fill: 'random' }, z: { fill: -3 } },
  );
  for (const bad of ['x=abc', 'x=NaN', 'x=Infinity', 'x=0.5.1']) {
    assert.throws(() => buildInputSpecs({ inputFill: [bad] }), /number or "random"/, bad);
  }
});

test('buildInputSpecs rejects an empty --input-fill value', () => {
  assert.throws(() => buildInputSpecs({ inputFill: ['x='] }), /number or "random"/);
});

test('buildInputSpecs reads .npy and .json input files as literal data', () => {
  const dir = tempDir();
  const npyFile = path.join(dir, 'x.npy');
  const data = f32Bytes([1, 2, 3, 4]);
  fs.writeFileSync(npyFile, npy(dictOf('<f4', '(1, 4)'), data));
  const jsonFile = path.join(dir, 'mask.json');
  fs.writeFileSync(jsonFile, JSON.stringify({ dtype: 'int64', shape: [1, 2], data: [1, 0] }));
  const specs = buildInputSpecs({ inputFile: [`x=${npyFile}`, `mask=${jsonFile}`], inputShape: ['y=1x2'] });
  const expected: Record<string, InputSpec> = {
    y: { shape: [1, 2] },
    x: { data: { dtype: 'float32', shape: [1, 4], base64: data.toString('base64') } },
    mask: { data: { dtype: 'int64', shape: [1, 2], base64: i64Bytes([1n, 0n]).toString('base64') } },
  };
  assert.deepEqual(specs, expected);
  // the result feeds buildInputs end to end
  const built = buildInputs([meta('x', 'float32', ['batch', 4])], { x: specs.x! }, 0);
  assert.deepEqual(Array.from(only(built).data as Float32Array), [1, 2, 3, 4]);
});

test('buildInputSpecs rejects a missing file and reports unreadable ones with their path', () => {
  const dir = tempDir();
  const missing = path.join(dir, 'nope.npy');
  assert.throws(() => buildInputSpecs({ inputFile: [`x=${missing}`] }), /no such file/);
  const broken = path.join(dir, 'broken.npy');
  fs.writeFileSync(broken, 'not numpy');
  assert.throws(() => buildInputSpecs({ inputFile: [`x=${broken}`] }), (err: unknown) => err instanceof Error && err.message.includes(broken) && /magic/.test(err.message));
  const ragged = path.join(dir, 'ragged.json');
  fs.writeFileSync(ragged, '[[1, 2], [3]]');
  assert.throws(() => buildInputSpecs({ inputFile: [`x=${ragged}`] }), (err: unknown) => err instanceof Error && err.message.includes(ragged) && /ragged/.test(err.message));
});
