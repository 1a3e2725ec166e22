// The adb device-transport wire format (protocol.txt, adb.h): a 24-byte header of six
// little-endian uint32 — command, arg0, arg1, data_length, data_check, magic (= command ^
// 0xffffffff) — followed by data_length payload bytes. TCP delivers a byte stream, so
// PacketReader re-frames packets from arbitrary chunk boundaries.

export const A_SYNC = 0x434e5953;
export const A_CNXN = 0x4e584e43;
export const A_AUTH = 0x48545541;
export const A_OPEN = 0x4e45504f;
export const A_OKAY = 0x59414b4f;
export const A_CLSE = 0x45534c43;
export const A_WRTE = 0x45545257;

export const A_VERSION_MIN = 0x01000000;
/** From this version on, senders put 0 in data_check. */
export const A_VERSION_SKIP_CHECKSUM = 0x01000001;
export const A_VERSION = 0x01000001;
/** adbd's MAX_PAYLOAD (1 MiB); the host offers the same. */
export const MAX_PAYLOAD = 1024 * 1024;
/** CNXN and AUTH packets must fit in the v1 payload limit. */
export const MAX_PAYLOAD_V1 = 4 * 1024;

export const AUTH_TOKEN = 1;
export const AUTH_SIGNATURE = 2;
export const AUTH_RSAPUBLICKEY = 3;

export const HEADER_SIZE = 24;

export interface Packet {
  command: number;
  arg0: number;
  arg1: number;
  data: Buffer;
}

const NAMES: Record<number, string> = {
  [A_SYNC]: 'SYNC', [A_CNXN]: 'CNXN', [A_AUTH]: 'AUTH', [A_OPEN]: 'OPEN',
  [A_OKAY]: 'OKAY', [A_CLSE]: 'CLSE', [A_WRTE]: 'WRTE',
};

export function commandName(command: number): string {
  return NAMES[command] ?? `0x${command.toString(16).padStart(8, '0')}`;
}

/** The plain byte sum adb calls data_crc32 (only sent before A_VERSION_SKIP_CHECKSUM). */
export function byteSum(data: Buffer): number {
  let sum = 0;
  for (const b of data) sum = (sum + b) >>> 0;
  return sum;
}

export function encodePacket(packet: Packet, withChecksum: boolean): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt32LE(packet.command >>> 0, 0);
  header.writeUInt32LE(packet.arg0 >>> 0, 4);
  header.writeUInt32LE(packet.arg1 >>> 0, 8);
  header.writeUInt32LE(packet.data.length, 12);
  header.writeUInt32LE(withChecksum ? byteSum(packet.data) : 0, 16);
  header.writeUInt32LE((packet.command ^ 0xffffffff) >>> 0, 20);
  return packet.data.length ? Buffer.concat([header, packet.data]) : header;
}

export class PacketFormatError extends Error {}

/**
 * Accumulates socket bytes and returns every complete packet. Like adbd's check_header it
 * verifies the magic and the size limit and ignores data_check.
 */
export class PacketReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private maxPayload: number = MAX_PAYLOAD) {}

  setMaxPayload(max: number): void {
    this.maxPayload = max;
  }

  push(chunk: Buffer): Packet[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const packets: Packet[] = [];
    for (;;) {
      if (this.pending.length < HEADER_SIZE) break;
      const command = this.pending.readUInt32LE(0);
      const length = this.pending.readUInt32LE(12);
      const magic = this.pending.readUInt32LE(20);
      if (magic !== (command ^ 0xffffffff) >>> 0) throw new PacketFormatError(`bad magic for ${commandName(command)}`);
      if (length > this.maxPayload) throw new PacketFormatError(`${commandName(command)} payload of ${length} bytes exceeds ${this.maxPayload}`);
      if (this.pending.length < HEADER_SIZE + length) break;
      packets.push({
        command,
        arg0: this.pending.readUInt32LE(4),
        arg1: this.pending.readUInt32LE(8),
        data: Buffer.from(this.pending.subarray(HEADER_SIZE, HEADER_SIZE + length)),
      });
      this.pending = this.pending.subarray(HEADER_SIZE + length);
    }
    return packets;
  }
}
