// Minimal protobuf wire-format reader: tags, varints, fixed 32/64-bit values and
// length-delimited fields over a Buffer window. Every read is bounds-checked, so truncated
// or corrupt input throws a ProtoError (with `truncated` set when the data simply ran out)
// instead of reading past the end. Only what model inspection needs; no schema handling.

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export class ProtoError extends Error {
  constructor(message: string, readonly truncated = false) {
    super(message);
    this.name = 'ProtoError';
  }
}

export interface Tag { field: number; wire: number }

export class ProtoReader {
  pos: number;
  readonly end: number;

  constructor(readonly buf: Buffer, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) throw new RangeError('ProtoReader window out of range');
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): void {
    if (n > this.end - this.pos) {
      throw new ProtoError(`truncated protobuf: need ${n} byte(s) at offset ${this.pos}, only ${this.end - this.pos} left`, true);
    }
  }

  readByte(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  /** Unsigned 64-bit varint. */
  readVarintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      const b = this.readByte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw new ProtoError(`malformed varint at offset ${start} (longer than 10 bytes)`);
  }

  /** Varint as a JS number with int64 semantics (precision is lost beyond 2^53). */
  readVarint(): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.readByte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    this.pos = start;
    return Number(BigInt.asIntN(64, this.readVarintBig()));
  }

  readTag(): Tag {
    const at = this.pos;
    const tag = this.readVarint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field < 1 || field > 0x1fffffff) throw new ProtoError(`invalid field number ${field} at offset ${at}`);
    if (wire !== WIRE_VARINT && wire !== WIRE_I64 && wire !== WIRE_LEN && wire !== WIRE_I32) {
      throw new ProtoError(`unsupported wire type ${wire} (field ${field}) at offset ${at}`);
    }
    return { field, wire };
  }

  readFixed32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  readFloat(): number {
    this.need(4);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  readDouble(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Length prefix of a LEN field, checked against the remaining window. */
  private readLength(): number {
    const at = this.pos;
    const len = this.readVarint();
    if (len < 0) throw new ProtoError(`negative length at offset ${at}`);
    this.need(len);
    return len;
  }

  readBytes(): Buffer {
    const len = this.readLength();
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  readString(): string {
    return this.readBytes().toString('utf8');
  }

  /** Reader over the body of an embedded message (LEN field); advances past it. */
  readMessage(): ProtoReader {
    const len = this.readLength();
    const sub = new ProtoReader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return sub;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT: this.readVarintBig(); return;
      case WIRE_I64: this.need(8); this.pos += 8; return;
      case WIRE_I32: this.need(4); this.pos += 4; return;
      case WIRE_LEN: { const len = this.readLength(); this.pos += len; return; }
      default: throw new ProtoError(`cannot skip wire type ${wire} at offset ${this.pos}`);
    }
  }

  /** Repeated varint field, accepting both packed (LEN) and unpacked encodings. */
  forEachVarint(wire: number, fn: (v: number) => void): void {
    if (wire === WIRE_VARINT) {
      fn(this.readVarint());
      return;
    }
    if (wire !== WIRE_LEN) throw new ProtoError(`expected varint or packed varints, got wire type ${wire} at offset ${this.pos}`);
    const sub = this.readMessage();
    while (!sub.done) fn(sub.readVarint());
  }

  /** Repeated float (fixed32) field, packed or unpacked. */
  forEachFloat(wire: number, fn: (v: number) => void): void {
    this.forEachFixed(wire, WIRE_I32, 4, fn, (r) => r.readFloat());
  }

  /** Repeated double (fixed64) field, packed or unpacked. */
  forEachDouble(wire: number, fn: (v: number) => void): void {
    this.forEachFixed(wire, WIRE_I64, 8, fn, (r) => r.readDouble());
  }

  private forEachFixed(wire: number, scalarWire: number, size: number, fn: (v: number) => void, read: (r: ProtoReader) => number): void {
    if (wire === scalarWire) {
      fn(read(this));
      return;
    }
    if (wire !== WIRE_LEN) throw new ProtoError(`expected fixed${size * 8} or packed values, got wire type ${wire} at offset ${this.pos}`);
    const sub = this.readMessage();
    if ((sub.end - sub.pos) % size !== 0) throw new ProtoError(`packed fixed${size * 8} field length is not a multiple of ${size} at offset ${sub.pos}`);
    while (!sub.done) fn(read(sub));
  }
}
