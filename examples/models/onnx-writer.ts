// Minimal protobuf writer plus ONNX message builders (TensorProto, NodeProto, ValueInfoProto,
// GraphProto, ModelProto) used to generate the example models without any ONNX tooling.
// Fields are emitted in a fixed order and numbers are encoded explicitly little-endian, so
// the same inputs always serialise to the same bytes.

const WIRE_VARINT = 0;
const WIRE_I32 = 5;
const WIRE_LEN = 2;

/** Accumulates one protobuf message; nested messages are written as LEN fields. */
export class ProtoWriter {
  private readonly chunks: Buffer[] = [];

  private raw(bytes: Uint8Array): this {
    this.chunks.push(Buffer.from(bytes));
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.raw(encodeVarint(field * 8 + wire));
  }

  varint(field: number, value: number | bigint): this {
    return this.tag(field, WIRE_VARINT).raw(encodeVarint(value));
  }

  float(field: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    return this.tag(field, WIRE_I32).raw(b);
  }

  bytes(field: number, value: Uint8Array): this {
    return this.tag(field, WIRE_LEN).raw(encodeVarint(value.length)).raw(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    return this.bytes(field, Buffer.concat(values.map((v) => encodeVarint(v))));
  }

  packedFloats(field: number, values: readonly number[]): this {
    const b = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => b.writeFloatLE(v, i * 4));
    return this.bytes(field, b);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Base-128 varint; negative values use 64-bit two's complement (10 bytes), as protobuf int64 does. */
export function encodeVarint(value: number | bigint): Buffer {
  let v = typeof value === 'bigint' ? value : BigInt(value);
  if (v < 0n) v = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Buffer.from(out);
}

export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11 } as const;

export interface TensorSpec { name: string; dataType: number; dims: readonly number[]; raw: Buffer }

export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorSpec {
  const raw = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) raw.writeFloatLE(values[i] as number, i * 4);
  return { name, dataType: DataType.FLOAT, dims, raw };
}

export function int8Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorSpec {
  const raw = Buffer.alloc(values.length);
  for (let i = 0; i < values.length; i++) raw.writeInt8(values[i] as number, i);
  return { name, dataType: DataType.INT8, dims, raw };
}

export function int32Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorSpec {
  const raw = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) raw.writeInt32LE(values[i] as number, i * 4);
  return { name, dataType: DataType.INT32, dims, raw };
}

/** TensorProto{dims=1 (packed), data_type=2, name=8, raw_data=9}. */
export function tensorProto(t: TensorSpec): ProtoWriter {
  const w = new ProtoWriter();
  if (t.dims.length > 0) w.packedVarints(1, t.dims);
  return w.varint(2, t.dataType).string(8, t.name).bytes(9, t.raw);
}

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: 'ints', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
};

// AttributeProto{name=1, f=2, i=3, s=4, ints=8, type=20}; AttributeType FLOAT=1 INT=2 STRING=3 INTS=7.
function attributeProto(name: string, a: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.kind) {
    case 'float': return w.float(2, a.value).varint(20, 1);
    case 'int': return w.varint(3, a.value).varint(20, 2);
    case 'string': return w.string(4, a.value).varint(20, 3);
    case 'ints': return w.packedVarints(8, a.value).varint(20, 7);
  }
}

export interface NodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Readonly<Record<string, AttrValue>>;
}

/** NodeProto{input=1, output=2, name=3, op_type=4, attribute=5, domain=7}. */
export function nodeProto(n: NodeSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name !== undefined) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes ?? {})) w.message(5, attributeProto(name, a));
  if (n.domain !== undefined) w.string(7, n.domain);
  return w;
}

export interface ValueInfoSpec { name: string; elemType: number; shape: readonly (number | string)[] }

/** ValueInfoProto{name=1, type=2{tensor_type=1{elem_type=1, shape=2{dim=1{dim_value=1 | dim_param=2}}}}}. */
export function valueInfoProto(v: ValueInfoSpec): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    shape.message(1, typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
  }
  const tensorType = new ProtoWriter().varint(1, v.elemType).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

export interface GraphSpec {
  name: string;
  nodes: readonly NodeSpec[];
  initializers: readonly TensorSpec[];
  inputs: readonly ValueInfoSpec[];
  outputs: readonly ValueInfoSpec[];
}

/** GraphProto{node=1, name=2, initializer=5, input=11, output=12}. */
export function graphProto(g: GraphSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, nodeProto(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensorProto(t));
  for (const i of g.inputs) w.message(11, valueInfoProto(i));
  for (const o of g.outputs) w.message(12, valueInfoProto(o));
  return w;
}

export interface ModelSpec { irVersion: number; opsetVersion: number; producerName: string; producerVersion: string; graph: GraphSpec }

/** ModelProto{ir_version=1, producer_name=2, producer_version=3, graph=7, opset_import=8{domain=1, version=2}}. */
export function encodeModel(m: ModelSpec): Buffer {
  return new ProtoWriter()
    .varint(1, m.irVersion)
    .string(2, m.producerName)
    .string(3, m.producerVersion)
    .message(7, graphProto(m.graph))
    .message(8, new ProtoWriter().string(1, '').varint(2, m.opsetVersion))
    .finish();
}
