// An awaitable reader over the bytes a host writes into one adb stream. The host may pack
// several sub-protocol messages into one WRTE or split one message over several, so services
// read exact byte counts from here instead of looking at WRTE boundaries. Each WRTE is
// acknowledged (its `ack` callback, which sends OKAY) once its bytes are consumed, or as soon
// as a read needs more bytes than are buffered (a message may span WRTEs, and the host sends
// the next WRTE only after the OKAY): per-stream flow control that keeps the host from
// outrunning the service without ever deadlocking on a message cut in two.

export class EndOfStream extends Error {
  constructor() {
    super('stream closed');
  }
}

interface Chunk { data: Buffer; ack: (() => void) | null }

export class ByteReader {
  private readonly chunks: Chunk[] = [];
  private offset = 0;
  private available = 0;
  private ended = false;
  private wake: (() => void) | null = null;

  push(data: Buffer, ack: () => void): void {
    if (this.ended) return;
    if (data.length === 0) {
      ack();
      return;
    }
    this.chunks.push({ data, ack });
    this.available += data.length;
    this.notify();
  }

  /** No more bytes will come; pending and later reads fail with EndOfStream. */
  end(): void {
    this.ended = true;
    this.notify();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Exactly n bytes (n may be 0), or EndOfStream if the stream closes first. */
  async read(n: number): Promise<Buffer> {
    while (this.available < n) {
      if (this.ended) throw new EndOfStream();
      this.ackBuffered();
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    return this.take(n);
  }

  /** Whatever is buffered (at least one byte), or null at the end of the stream. */
  async readSome(): Promise<Buffer | null> {
    while (this.available === 0) {
      if (this.ended) return null;
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    return this.take(this.available);
  }

  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.chunks[0];
      if (!head) break;
      const slice = head.data.subarray(this.offset, this.offset + need);
      parts.push(slice);
      need -= slice.length;
      this.offset += slice.length;
      if (this.offset >= head.data.length) {
        this.chunks.shift();
        this.offset = 0;
        this.ackChunk(head);
      }
    }
    this.available -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  private ackChunk(chunk: Chunk): void {
    const ack = chunk.ack;
    chunk.ack = null;
    ack?.();
  }

  /** Lets the host send more: everything buffered has been accepted. */
  private ackBuffered(): void {
    for (const chunk of this.chunks) this.ackChunk(chunk);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
