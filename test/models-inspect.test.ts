// Tests for server/models/inspect.ts: format detection from leading bytes (minimal TFLite,
// GGUF, ExecuTorch and ELF headers built inline, the generated ONNX examples, and look-alikes
// that must stay 'unknown'), and inspectOnnx facts on the committed example models plus a
// hand-built model exercising unpacked dims, float_data, subgraphs and initializer inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { detectFormat, inspectOnnx } from '../server/models/inspect.js';
import { ProtoReader } from '../server/models/protobuf.js';
import { KWS, MLP } from '../examples/models/generate.js';
import { DataType, ProtoWriter, encodeVarint, floatTensor, int8Tensor, nodeProto, tensorProto, valueInfoProto } from '../examples/models/onnx-writer.js';

const root = new URL('../../', import.meta.url);
const example = (name: string): Buffer => fs.readFileSync(new URL(`examples/models/${name}`, root));
const pad64 = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(Math.max(0, 64 - b.length))]);

test('detectFormat recognises container headers', () => {
  const tflite = pad64(Buffer.concat([Buffer.from([0x1c, 0, 0, 0]), Buffer.from('TFL3')]));
  const gguf = pad64(Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0])]));
  const pte = pad64(Buffer.concat([Buffer.from([0x18, 0, 0, 0]), Buffer.from('ET12')]));
  const elf = pad64(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
  assert.equal(detectFormat(tflite), 'tflite');
  assert.equal(detectFormat(gguf), 'gguf');
  assert.equal(detectFormat(pte), 'executorch');
  assert.equal(detectFormat(elf), 'elf');
});

test('detectFormat recognises the generated ONNX models from their first 64 bytes and in full', () => {
  for (const name of ['kws-cnn-fp32.onnx', 'kws-cnn-int8.onnx', 'mlp-dynamic.onnx']) {
    const bytes = example(name);
    assert.equal(detectFormat(bytes.subarray(0, 64)), 'onnx', name);
    assert.equal(detectFormat(bytes), 'onnx', name);
  }
});

test('detectFormat says unknown for look-alikes', () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['text', Buffer.from('hello world')],
    ['json', Buffer.from('{"model": "kws", "layers": [1, 2, 3], "quantized": true}')],
    ['png', pad64(png)],
    ['ir_version only', Buffer.from([0x08, 0x08])],
    ['ir_version 0', pad64(Buffer.from([0x08, 0x00, 0x12, 0x01, 0x61]))],
    ['ir_version 99', pad64(Buffer.from([0x08, 0x63, 0x12, 0x01, 0x61]))],
    ['producer_name as varint', pad64(Buffer.from([0x08, 0x05, 0x10, 0x01]))],
    ['0x08 then text', Buffer.from('\x08\x05hello world, this is plain text')],
    ['ET without digits', pad64(Buffer.from('\0\0\0\0ETab'))],
    ['short TFL3', Buffer.from('\0\0\0\0TFL')],
  ];
  for (const [label, bytes] of cases) assert.equal(detectFormat(bytes), 'unknown', label);
});

test('inspectOnnx rejects truncated and non-ONNX bytes with a clear message', () => {
  const fp32 = example('kws-cnn-fp32.onnx');
  assert.throws(() => inspectOnnx(fp32.subarray(0, Math.floor(fp32.length / 2))), /not a valid ONNX model: truncated protobuf/);
  assert.throws(() => inspectOnnx(fp32.subarray(0, 64)), /not a valid ONNX model: truncated/);
  assert.throws(() => inspectOnnx(Buffer.alloc(0)), /not a valid ONNX model: ModelProto has no ir_version/);
  assert.throws(() => inspectOnnx(Buffer.from('hello world')), /not a valid ONNX model/);
  assert.throws(() => inspectOnnx(Buffer.from([0x08, 0x08])), /has no graph/);
});

const kwsFp32Params = (): number => {
  const { c1, c2, classes } = KWS;
  return c1 * 1 * 3 * 3 + c1 + c2 * c1 * 3 * 3 + c2 + classes * c2 + classes;
};

test('inspectOnnx facts: fp32 keyword-spotting CNN', () => {
  const f = inspectOnnx(example('kws-cnn-fp32.onnx'));
  assert.equal(f.irVersion, 8);
  assert.equal(f.opsetVersion, 13);
  assert.equal(f.producer, 'benchfleet-examples');
  assert.deepEqual(f.inputs, [{ name: 'input', elemType: 'float32', shape: [1, 1, 49, 10] }]);
  assert.deepEqual(f.outputs, [{ name: 'logits', elemType: 'float32', shape: [1, 12] }]);
  assert.deepEqual(f.opTypes, ['Conv', 'Flatten', 'Gemm', 'GlobalAveragePool', 'Relu']);
  assert.equal(f.nodeCount, 7);
  assert.equal(f.parameterCount, kwsFp32Params());
  assert.equal(f.hasQuantOps, false);
  assert.equal(f.int8InitializerCount, 0);
  assert.equal(f.weightSparsity, 0);
});

test('inspectOnnx facts: int8 QDQ keyword-spotting CNN', () => {
  const f = inspectOnnx(example('kws-cnn-int8.onnx'));
  const { c1, c2, classes } = KWS;
  const perChannel = c1 + c2 + classes;
  const activations = 5; // input, relu1, relu2, pool, fc output: one scale + one zero point each
  assert.deepEqual(f.inputs, [{ name: 'input', elemType: 'float32', shape: [1, 1, 49, 10] }]);
  assert.deepEqual(f.outputs, [{ name: 'logits', elemType: 'float32', shape: [1, 12] }]);
  assert.equal(f.hasQuantOps, true);
  assert.ok(f.opTypes.includes('QuantizeLinear') && f.opTypes.includes('DequantizeLinear'));
  // weights + biases, plus per-channel scale and zero point for each weight and bias tensor, plus activations
  assert.equal(f.parameterCount, kwsFp32Params() + 2 * 2 * perChannel + 2 * activations);
  // 3 int8 weight tensors, their 3 int8 zero-point vectors, and one int8 zero point per activation
  assert.equal(f.int8InitializerCount, 3 + 3 + activations);
  assert.ok(f.weightSparsity > 0 && f.weightSparsity < 0.1, `sparsity ${f.weightSparsity}`);
});

test('inspectOnnx facts: MLP with a dynamic batch dimension', () => {
  const f = inspectOnnx(example('mlp-dynamic.onnx'));
  assert.deepEqual(f.inputs, [{ name: 'input', elemType: 'float32', shape: ['batch', 64] }]);
  assert.deepEqual(f.outputs, [{ name: 'output', elemType: 'float32', shape: ['batch', 10] }]);
  assert.equal(f.parameterCount, MLP.hidden * MLP.features + MLP.hidden + MLP.classes * MLP.hidden + MLP.classes);
  assert.deepEqual(f.opTypes, ['Gemm', 'Relu']);
});

test('inspectOnnx on a hand-built model: unpacked dims, float_data, subgraphs, initializer inputs', () => {
  // 'w': float raw [0, 1, -0, 2] with dims written as two unpacked varints.
  const w = new ProtoWriter().varint(1, 2).varint(1, 2).varint(2, DataType.FLOAT).string(8, 'w')
    .bytes(9, floatTensor('w', [4], [0, 1, -0, 2]).raw);
  // 'k': float_data (packed) [0, 0, 3]; 'q': int8 raw [0, 5, 0, 0]; 'shape': int64 (not counted for sparsity).
  const k = new ProtoWriter().packedVarints(1, [3]).varint(2, DataType.FLOAT).packedFloats(4, [0, 0, 3]).string(8, 'k');
  const q = tensorProto(int8Tensor('q', [4], [0, 5, 0, 0]));
  const shape = new ProtoWriter().packedVarints(1, [2]).varint(2, DataType.INT64).string(8, 'shape').bytes(9, Buffer.alloc(16, 1));
  const body = new ProtoWriter().message(1, nodeProto({ opType: 'QLinearMatMul', inputs: ['a'], outputs: ['b'] }));
  const ifAttr = new ProtoWriter().string(1, 'then_branch').message(6, body).varint(20, 5);
  const ifNode = new ProtoWriter().string(1, 'cond').string(2, 'y').string(4, 'If').message(5, ifAttr);
  const dims = new ProtoWriter().message(1, new ProtoWriter().varint(1, 2)).message(1, new ProtoWriter()).message(1, new ProtoWriter().string(2, 'n'));
  const xType = new ProtoWriter().message(1, new ProtoWriter().varint(1, DataType.FLOAT).message(2, dims));
  const graph = new ProtoWriter()
    .message(1, nodeProto({ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['m'] }))
    .message(1, ifNode)
    .string(2, 'g')
    .message(5, w).message(5, k).message(5, q).message(5, shape)
    .message(11, new ProtoWriter().string(1, 'x').message(2, xType))
    .message(11, valueInfoProto({ name: 'w', elemType: DataType.FLOAT, shape: [2, 2] }))
    .message(12, valueInfoProto({ name: 'y', elemType: DataType.INT8, shape: [] }));
  const model = new ProtoWriter().varint(1, 9).string(2, 'hand')
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, 'com.microsoft').varint(2, 1))
    .message(8, new ProtoWriter().string(1, '').varint(2, 17))
    .finish();
  assert.equal(detectFormat(model), 'onnx');
  const f = inspectOnnx(model);
  assert.equal(f.irVersion, 9);
  assert.equal(f.opsetVersion, 17);
  assert.equal(f.producer, 'hand');
  assert.deepEqual(f.inputs, [{ name: 'x', elemType: 'float32', shape: [2, null, 'n'] }]);
  assert.deepEqual(f.outputs, [{ name: 'y', elemType: 'int8', shape: [] }]);
  assert.deepEqual(f.opTypes, ['If', 'MatMul', 'QLinearMatMul']);
  assert.equal(f.nodeCount, 3);
  assert.equal(f.parameterCount, 4 + 3 + 4 + 2);
  assert.equal(f.hasQuantOps, true);
  assert.equal(f.int8InitializerCount, 1);
  assert.equal(f.weightSparsity, (2 + 2 + 3) / (4 + 3 + 4));
  // An initializer whose raw_data length does not match its dims is rejected.
  const bad = new ProtoWriter().varint(1, 9).message(7, new ProtoWriter().message(5, tensorProto(floatTensor('z', [3], [1, 2])))).finish();
  assert.throws(() => inspectOnnx(bad), /initializer 'z': raw_data has 8 bytes, expected 12/);
});

test('protobuf varints round-trip, including negative int64 and values beyond 32 bits', () => {
  assert.deepEqual([...encodeVarint(-1)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  for (const v of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 40 + 5, -1, -300]) {
    assert.equal(new ProtoReader(encodeVarint(v)).readVarint(), v);
  }
  assert.throws(() => new ProtoReader(Buffer.from([0x80, 0x80])).readVarint(), /truncated protobuf/);
  assert.throws(() => new ProtoReader(Buffer.alloc(11, 0xff)).readVarint(), /longer than 10 bytes/);
});
