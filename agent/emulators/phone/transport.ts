// One adb host connection as adbd sees it: the CNXN handshake (or an AUTH challenge that is
// never satisfied, for an "unauthorized" phone), then OPEN/OKAY/WRTE/CLSE streams. Each
// stream is an AdbStream: outgoing data goes out one WRTE at a time, each waiting for the
// host's OKAY; incoming WRTEs are acknowledged once the service has consumed their bytes.
import crypto from 'node:crypto';
import type net from 'node:net';
import { ByteReader } from './byte-reader.js';
import {
  A_AUTH, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_VERSION, A_VERSION_MIN, A_VERSION_SKIP_CHECKSUM, A_WRTE,
  AUTH_SIGNATURE, AUTH_TOKEN, MAX_PAYLOAD, MAX_PAYLOAD_V1, PacketReader, commandName, encodePacket, type Packet,
} from './packets.js';

export type CloseReason = 'host' | 'local' | 'connection';

/** What a stream needs from its connection. */
interface StreamSink {
  readonly maxPayload: number;
  send(command: number, arg0: number, arg1: number, data?: Buffer): void;
  forget(localId: number): void;
}

export class AdbStream {
  /** Bytes the host writes into this stream. */
  readonly input = new ByteReader();
  private state: 'open' | 'closing' | 'closed' = 'open';
  private okayWaiter: (() => void) | null = null;
  private writeChain: Promise<unknown> = Promise.resolve();
  private readonly closeListeners: ((reason: CloseReason) => void)[] = [];

  constructor(private readonly sink: StreamSink, readonly localId: number, readonly remoteId: number, readonly service: string) {}

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Queues data for the host, split into WRTEs no larger than the negotiated payload size.
   * Resolves true once the host has acknowledged all of it, false if the stream closed first.
   */
  write(data: Buffer): Promise<boolean> {
    if (this.state !== 'open') return Promise.resolve(false);
    const job = this.writeChain.then(() => this.send(data));
    this.writeChain = job.catch(() => false);
    return job;
  }

  private async send(data: Buffer): Promise<boolean> {
    for (let offset = 0; offset < data.length;) {
      if (this.state === 'closed') return false;
      const chunk = data.subarray(offset, offset + this.sink.maxPayload);
      offset += chunk.length;
      const acked = new Promise<void>((resolve) => { this.okayWaiter = resolve; });
      this.sink.send(A_WRTE, this.localId, this.remoteId, chunk);
      await acked;
    }
    return this.state !== 'closed';
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Called by the connection when the host sends OKAY for this stream. */
  handleOkay(): void {
    const waiter = this.okayWaiter;
    this.okayWaiter = null;
    waiter?.();
  }

  /** Ends the stream from the device side after every queued write has been acknowledged. */
  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    await this.writeChain;
    if (this.isClosed()) return; // the host closed it meanwhile
    this.sink.send(A_CLSE, this.localId, this.remoteId);
    this.finish('local');
  }

  /** The host closed the stream: adbd answers with its own CLSE. */
  handleHostClose(): void {
    if (this.state === 'closed') return;
    this.sink.send(A_CLSE, this.localId, this.remoteId);
    this.finish('host');
  }

  handleConnectionLost(): void {
    if (this.state !== 'closed') this.finish('connection');
  }

  onClose(listener: (reason: CloseReason) => void): void {
    this.closeListeners.push(listener);
  }

  private finish(reason: CloseReason): void {
    this.state = 'closed';
    this.input.end();
    this.handleOkay();
    this.sink.forget(this.localId);
    for (const listener of this.closeListeners.splice(0)) listener(reason);
  }
}

/** Starts a service on a freshly opened stream; returns null for a service adbd does not offer. */
export type ServiceResolver = (service: string) => ((stream: AdbStream) => void) | null;

export interface ConnectionOptions {
  /** The CNXN payload, e.g. `device::ro.product.name=…;…;features=shell_v2,…`. */
  banner: string;
  /** Answer the host's CNXN with AUTH TOKEN challenges that never succeed. */
  unauthorized: boolean;
  resolveService: ServiceResolver;
  log?: (message: string, extra?: Record<string, unknown>) => void;
}

export class AdbConnection implements StreamSink {
  private readonly reader = new PacketReader(MAX_PAYLOAD);
  private readonly streams = new Map<number, AdbStream>();
  private nextLocalId = 1;
  private version = A_VERSION;
  maxPayload = MAX_PAYLOAD;
  private online = false;
  private closed = false;

  constructor(private readonly socket: net.Socket, private readonly options: ConnectionOptions) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  /** Drops the connection at once (an unplugged cable): every stream ends with reason 'connection'. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.online = false;
    this.socket.destroy();
    for (const stream of [...this.streams.values()]) stream.handleConnectionLost();
    this.streams.clear();
  }

  send(command: number, arg0: number, arg1: number, data: Buffer = Buffer.alloc(0)): void {
    if (this.closed) return;
    this.socket.write(encodePacket({ command, arg0, arg1, data }, this.version < A_VERSION_SKIP_CHECKSUM));
  }

  forget(localId: number): void {
    this.streams.delete(localId);
  }

  private receive(chunk: Buffer): void {
    let packets: Packet[];
    try {
      packets = this.reader.push(chunk);
    } catch (err) {
      this.options.log?.('bad packet from host, dropping the connection', { error: (err as Error).message });
      this.destroy();
      return;
    }
    for (const packet of packets) {
      if (this.closed) return;
      this.handle(packet);
    }
  }

  private handle(p: Packet): void {
    switch (p.command) {
      case A_CNXN: return this.handleConnect(p);
      case A_AUTH: return this.handleAuth(p);
      case A_OPEN: return this.handleOpen(p);
      case A_OKAY: this.streams.get(p.arg1)?.handleOkay(); return;
      case A_WRTE: return this.handleWrite(p);
      case A_CLSE: this.streams.get(p.arg1)?.handleHostClose(); return;
      default:
        this.options.log?.('ignoring packet', { command: commandName(p.command) });
    }
  }

  private handleConnect(p: Packet): void {
    // A second CNXN restarts the session, as in adbd: every open stream is dropped.
    for (const stream of [...this.streams.values()]) stream.handleConnectionLost();
    this.version = Math.max(A_VERSION_MIN, Math.min(p.arg0 >>> 0, A_VERSION));
    this.maxPayload = Math.min(p.arg1 >>> 0, MAX_PAYLOAD) || MAX_PAYLOAD_V1;
    if (this.options.unauthorized) {
      this.sendAuthToken();
      return;
    }
    this.online = true;
    this.send(A_CNXN, this.version, MAX_PAYLOAD, Buffer.from(this.options.banner, 'utf8'));
  }

  private handleAuth(p: Packet): void {
    // A signature can never be verified (the user has not accepted this host): challenge again.
    // An RSA public key would make a real phone show the "Allow USB debugging?" prompt; nobody answers it.
    if (this.options.unauthorized && p.arg0 === AUTH_SIGNATURE) this.sendAuthToken();
  }

  private sendAuthToken(): void {
    this.send(A_AUTH, AUTH_TOKEN, 0, crypto.randomBytes(20));
  }

  private handleOpen(p: Packet): void {
    const remoteId = p.arg0;
    if (!this.online || remoteId === 0) return;
    const nul = p.data.indexOf(0);
    const service = p.data.subarray(0, nul < 0 ? p.data.length : nul).toString('utf8');
    const start = this.options.resolveService(service);
    if (!start) {
      this.options.log?.('unknown service', { service });
      this.send(A_CLSE, 0, remoteId);
      return;
    }
    const localId = this.nextLocalId++;
    const stream = new AdbStream(this, localId, remoteId, service);
    this.streams.set(localId, stream);
    this.send(A_OKAY, localId, remoteId);
    try {
      start(stream);
    } catch (err) {
      this.options.log?.('service failed to start', { service, error: (err as Error).message });
      void stream.close();
    }
  }

  private handleWrite(p: Packet): void {
    const stream = this.streams.get(p.arg1);
    if (!stream) return;
    stream.input.push(p.data, () => {
      if (stream.isOpen) this.send(A_OKAY, stream.localId, stream.remoteId);
    });
  }
}
