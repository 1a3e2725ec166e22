// Model file inspection: detectFormat() recognises a model container from its first bytes
// (TFLite, GGUF, ExecuTorch .pte, ELF, ONNX — never from a file name), and inspectOnnx()
// decodes an ONNX ModelProto with the minimal protobuf reader to report the facts the server
// stores about an upload: IR/opset versions, graph inputs/outputs with their shapes, operator
// types, parameter count, quantization markers and weight sparsity. Invalid or truncated
// bytes make inspectOnnx throw an Error whose message says what is wrong.
import { ProtoError, ProtoReader, WIRE_LEN, WIRE_VARINT, type Tag } from './protobuf.js';

export type ModelFormat = 'onnx' | 'tflite' | 'gguf' | 'executorch' | 'elf' | 'unknown';

export interface OnnxTensorInfo { name: string; elemType: string; shape: (number | string | null)[] }

export interface OnnxFacts {
  irVersion: number;
  opsetVersion: number | null;
  producer: string | null;
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  opTypes: string[];
  nodeCount: number;
  parameterCount: number;
  hasQuantOps: boolean;
  int8InitializerCount: number;
  weightSparsity: number;
}

const MAX_IR_VERSION = 20;

export function detectFormat(head: Buffer): ModelFormat {
  if (head.length >= 4 && head.toString('latin1', 0, 4) === 'GGUF') return 'gguf';
  if (head.length >= 4 && head[0] === 0x7f && head.toString('latin1', 1, 4) === 'ELF') return 'elf';
  if (head.length >= 8 && head.toString('latin1', 4, 8) === 'TFL3') return 'tflite';
  if (head.length >= 8 && /^ET\d\d$/.test(head.toString('latin1', 4, 8))) return 'executorch';
  if (looksLikeOnnx(head)) return 'onnx';
  return 'unknown';
}

// Wire type of each ModelProto field (ONNX onnx.proto); used to reject look-alikes.
const MODEL_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, WIRE_VARINT], [2, WIRE_LEN], [3, WIRE_LEN], [4, WIRE_LEN], [5, WIRE_VARINT], [6, WIRE_LEN],
  [7, WIRE_LEN], [8, WIRE_LEN], [14, WIRE_LEN], [20, WIRE_LEN], [25, WIRE_LEN], [26, WIRE_LEN],
]);

/** Walks the ModelProto fields present in the head; running out of bytes is fine, nonsense is not. */
function looksLikeOnnx(head: Buffer): boolean {
  if (head.length < 3 || head[0] !== 0x08) return false;
  const r = new ProtoReader(head);
  let fieldsAfterIr = 0;
  try {
    r.readTag();
    const ir = r.readVarint();
    if (ir < 1 || ir > MAX_IR_VERSION) return false;
    while (!r.done) {
      const { field, wire } = r.readTag();
      const expected = MODEL_FIELDS.get(field);
      if (expected === undefined ? field <= 8 : expected !== wire) return false;
      if (field === 1) return false; // ir_version twice
      fieldsAfterIr++;
      r.skip(wire);
    }
  } catch (err) {
    if (!(err instanceof ProtoError && err.truncated)) return false;
  }
  return fieldsAfterIr > 0;
}

const ELEM_TYPES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128',
  16: 'bfloat16', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz',
  21: 'uint4', 22: 'int4',
};
const elemTypeName = (t: number): string => ELEM_TYPES[t] ?? `unknown(${t})`;

const QUANT_OPS = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger',
  'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'QGemm', 'QAttention', 'MatMulNBits',
]);
const isQuantOp = (op: string): boolean => QUANT_OPS.has(op) || op.startsWith('QLinear');

// TensorProto data types whose zeros count towards weight sparsity, with their raw element size.
const FLOAT32 = 1, INT8 = 3, FLOAT16 = 10, DOUBLE = 11, BFLOAT16 = 16;
const SPARSITY_TYPES: ReadonlyMap<number, number> = new Map([[FLOAT32, 4], [INT8, 1], [FLOAT16, 2], [DOUBLE, 8], [BFLOAT16, 2]]);

const MAX_GRAPH_DEPTH = 32;

interface Initializer { name: string; dataType: number; elements: number; inspected: number; zeros: number }

interface GraphAcc {
  opTypes: Set<string>;
  nodeCount: number;
  initializers: Initializer[];
}

function expectWire(tag: Tag, wire: number, what: string): void {
  if (tag.wire !== wire) throw new ProtoError(`${what}: field ${tag.field} has wire type ${tag.wire}, expected ${wire}`);
}

export function inspectOnnx(bytes: Buffer): OnnxFacts {
  try {
    return parseModel(new ProtoReader(bytes));
  } catch (err) {
    if (err instanceof ProtoError) throw new Error(`not a valid ONNX model: ${err.message}`, { cause: err });
    throw err;
  }
}

function parseModel(r: ProtoReader): OnnxFacts {
  let irVersion: number | null = null;
  let producer: string | null = null;
  let opsetVersion: number | null = null;
  let graph: ProtoReader | null = null;
  while (!r.done) {
    const tag = r.readTag();
    const expected = MODEL_FIELDS.get(tag.field);
    if (expected !== undefined) expectWire(tag, expected, 'ModelProto');
    if (tag.field === 1) irVersion = r.readVarint();
    else if (tag.field === 2) producer = r.readString();
    else if (tag.field === 7) graph = r.readMessage();
    else if (tag.field === 8) {
      const { domain, version } = parseOpset(r.readMessage());
      if (domain === '' || domain === 'ai.onnx') opsetVersion = version;
    } else r.skip(tag.wire);
  }
  if (irVersion === null) throw new ProtoError('ModelProto has no ir_version');
  if (irVersion < 1 || irVersion > MAX_IR_VERSION) throw new ProtoError(`implausible ir_version ${irVersion}`);
  if (graph === null) throw new ProtoError('ModelProto has no graph');

  const acc: GraphAcc = { opTypes: new Set(), nodeCount: 0, initializers: [] };
  const { inputs, outputs } = parseGraph(graph, acc, 0);
  const initNames = new Set(acc.initializers.map((i) => i.name));
  let parameterCount = 0, inspected = 0, zeros = 0;
  for (const init of acc.initializers) {
    parameterCount += init.elements;
    inspected += init.inspected;
    zeros += init.zeros;
  }
  const opTypes = [...acc.opTypes].sort();
  return {
    irVersion,
    opsetVersion,
    producer,
    inputs: inputs.filter((i) => !initNames.has(i.name)),
    outputs,
    opTypes,
    nodeCount: acc.nodeCount,
    parameterCount,
    hasQuantOps: opTypes.some(isQuantOp),
    int8InitializerCount: acc.initializers.filter((i) => i.dataType === INT8).length,
    weightSparsity: inspected === 0 ? 0 : zeros / inspected,
  };
}

function parseOpset(r: ProtoReader): { domain: string; version: number } {
  let domain = '';
  let version = 0;
  while (!r.done) {
    const tag = r.readTag();
    if (tag.field === 1) { expectWire(tag, WIRE_LEN, 'OperatorSetIdProto'); domain = r.readString(); }
    else if (tag.field === 2) { expectWire(tag, WIRE_VARINT, 'OperatorSetIdProto'); version = r.readVarint(); }
    else r.skip(tag.wire);
  }
  return { domain, version };
}

/** Parses a GraphProto, adding nodes/initializers (including subgraphs') to acc. */
function parseGraph(r: ProtoReader, acc: GraphAcc, depth: number): { inputs: OnnxTensorInfo[]; outputs: OnnxTensorInfo[] } {
  if (depth > MAX_GRAPH_DEPTH) throw new ProtoError(`subgraphs nested deeper than ${MAX_GRAPH_DEPTH}`);
  const inputs: OnnxTensorInfo[] = [];
  const outputs: OnnxTensorInfo[] = [];
  while (!r.done) {
    const tag = r.readTag();
    switch (tag.field) {
      case 1: expectWire(tag, WIRE_LEN, 'GraphProto.node'); parseNode(r.readMessage(), acc, depth); break;
      case 5: expectWire(tag, WIRE_LEN, 'GraphProto.initializer'); acc.initializers.push(parseTensor(r.readMessage())); break;
      case 11: expectWire(tag, WIRE_LEN, 'GraphProto.input'); inputs.push(parseValueInfo(r.readMessage())); break;
      case 12: expectWire(tag, WIRE_LEN, 'GraphProto.output'); outputs.push(parseValueInfo(r.readMessage())); break;
      default: r.skip(tag.wire);
    }
  }
  return { inputs, outputs };
}

function parseNode(r: ProtoReader, acc: GraphAcc, depth: number): void {
  let opType = '';
  while (!r.done) {
    const tag = r.readTag();
    if (tag.field === 4) { expectWire(tag, WIRE_LEN, 'NodeProto.op_type'); opType = r.readString(); }
    else if (tag.field === 5) { expectWire(tag, WIRE_LEN, 'NodeProto.attribute'); parseAttribute(r.readMessage(), acc, depth); }
    else r.skip(tag.wire);
  }
  if (opType === '') throw new ProtoError('NodeProto without op_type');
  acc.opTypes.add(opType);
  acc.nodeCount++;
}

/** Only graph-valued attributes matter here (If/Loop/Scan bodies): AttributeProto g=6, graphs=11. */
function parseAttribute(r: ProtoReader, acc: GraphAcc, depth: number): void {
  while (!r.done) {
    const tag = r.readTag();
    if (tag.field === 6 || tag.field === 11) {
      expectWire(tag, WIRE_LEN, 'AttributeProto graph');
      parseGraph(r.readMessage(), acc, depth + 1);
    } else r.skip(tag.wire);
  }
}

function parseTensor(r: ProtoReader): Initializer {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: Buffer | null = null;
  let external = false;
  // Typed-field values are counted as they stream past; which count applies depends on data_type.
  let floatCount = 0, floatZeros = 0, int32Count = 0, int32Zeros = 0, int32HalfZeros = 0;
  while (!r.done) {
    const tag = r.readTag();
    switch (tag.field) {
      case 1: r.forEachVarint(tag.wire, (d) => dims.push(d)); break;
      case 2: expectWire(tag, WIRE_VARINT, 'TensorProto.data_type'); dataType = r.readVarint(); break;
      case 4: r.forEachFloat(tag.wire, (v) => { floatCount++; if (v === 0) floatZeros++; }); break;
      case 5: r.forEachVarint(tag.wire, (v) => {
        int32Count++;
        if (v === 0) int32Zeros++;
        if ((v & 0x7fff) === 0) int32HalfZeros++;
      }); break;
      case 8: expectWire(tag, WIRE_LEN, 'TensorProto.name'); name = r.readString(); break;
      case 9: expectWire(tag, WIRE_LEN, 'TensorProto.raw_data'); raw = r.readBytes(); break;
      case 10: r.forEachDouble(tag.wire, (v) => { floatCount++; if (v === 0) floatZeros++; }); break;
      case 14: expectWire(tag, WIRE_VARINT, 'TensorProto.data_location'); external = r.readVarint() === 1; break;
      default: r.skip(tag.wire);
    }
  }
  if (dims.some((d) => d < 0)) throw new ProtoError(`initializer '${name}' has a negative dimension`);
  const elements = dims.reduce((a, d) => a * d, 1);
  const init: Initializer = { name, dataType, elements, inspected: 0, zeros: 0 };
  const size = SPARSITY_TYPES.get(dataType);
  if (size === undefined || external) return init;
  if (raw !== null) {
    if (raw.length !== elements * size) {
      throw new ProtoError(`initializer '${name}': raw_data has ${raw.length} bytes, expected ${elements * size} for dims [${dims.join(',')}]`);
    }
    init.inspected = elements;
    init.zeros = countRawZeros(raw, size);
  } else if (dataType === FLOAT32 || dataType === DOUBLE) {
    init.inspected = floatCount;
    init.zeros = floatZeros;
  } else {
    init.inspected = int32Count;
    init.zeros = dataType === INT8 ? int32Zeros : int32HalfZeros;
  }
  return init;
}

/** Counts elements that are exactly zero (either sign for floats) in little-endian raw data. */
function countRawZeros(raw: Buffer, size: number): number {
  let zeros = 0;
  for (let off = 0; off < raw.length; off += size) {
    if (size === 1) { if (raw[off] === 0) zeros++; }
    else if (size === 2) { if ((raw.readUInt16LE(off) & 0x7fff) === 0) zeros++; }
    else if (size === 4) { if ((raw.readUInt32LE(off) & 0x7fffffff) === 0) zeros++; }
    else if (raw.readUInt32LE(off) === 0 && (raw.readUInt32LE(off + 4) & 0x7fffffff) === 0) zeros++;
  }
  return zeros;
}

function parseValueInfo(r: ProtoReader): OnnxTensorInfo {
  let name = '';
  let type: ProtoReader | null = null;
  while (!r.done) {
    const tag = r.readTag();
    if (tag.field === 1) { expectWire(tag, WIRE_LEN, 'ValueInfoProto.name'); name = r.readString(); }
    else if (tag.field === 2) { expectWire(tag, WIRE_LEN, 'ValueInfoProto.type'); type = r.readMessage(); }
    else r.skip(tag.wire);
  }
  return { name, ...(type === null ? { elemType: 'unknown', shape: [] } : parseType(type)) };
}

// TypeProto oneof: tensor_type=1, sequence_type=4, map_type=5, sparse_tensor_type=8, optional_type=9.
const NON_TENSOR_KINDS: Record<number, string> = { 4: 'sequence', 5: 'map', 9: 'optional' };

/** Element type and shape of a TypeProto. A tensor without a shape (unknown rank) reports []. */
function parseType(r: ProtoReader): { elemType: string; shape: (number | string | null)[] } {
  let result: { elemType: string; shape: (number | string | null)[] } = { elemType: 'unknown', shape: [] };
  while (!r.done) {
    const tag = r.readTag();
    if (tag.field === 1 || tag.field === 8) {
      expectWire(tag, WIRE_LEN, 'TypeProto.tensor_type');
      result = parseTensorType(r.readMessage());
    } else {
      const kind = NON_TENSOR_KINDS[tag.field];
      if (kind !== undefined) result = { elemType: kind, shape: [] };
      r.skip(tag.wire);
    }
  }
  return result;
}

function parseTensorType(r: ProtoReader): { elemType: string; shape: (number | string | null)[] } {
  let elemType = 'unknown';
  const shape: (number | string | null)[] = [];
  while (!r.done) {
    const tag = r.readTag();
    if (tag.field === 1) { expectWire(tag, WIRE_VARINT, 'TypeProto.Tensor.elem_type'); elemType = elemTypeName(r.readVarint()); }
    else if (tag.field === 2) {
      expectWire(tag, WIRE_LEN, 'TypeProto.Tensor.shape');
      const s = r.readMessage();
      while (!s.done) {
        const dimTag = s.readTag();
        if (dimTag.field === 1) { expectWire(dimTag, WIRE_LEN, 'TensorShapeProto.dim'); shape.push(parseDimension(s.readMessage())); }
        else s.skip(dimTag.wire);
      }
    } else r.skip(tag.wire);
  }
  return { elemType, shape };
}

function parseDimension(r: ProtoReader): number | string | null {
  let dim: number | string | null = null;
  while (!r.done) {
    const tag = r.readTag();
    if (tag.field === 1) { expectWire(tag, WIRE_VARINT, 'Dimension.dim_value'); dim = r.readVarint(); }
    else if (tag.field === 2) { expectWire(tag, WIRE_LEN, 'Dimension.dim_param'); dim = r.readString(); }
    else r.skip(tag.wire);
  }
  return dim;
}
