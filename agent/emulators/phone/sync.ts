// The `sync:` service (SYNC.TXT, file_sync_protocol.h): 8-byte requests (4-char id + u32 LE)
// re-framed from the stream's bytes, since the host packs SEND, its DATA chunks and DONE into
// WRTEs of any size. STAT/STA2/LST2, LIST/LIS2, SEND (≤ 64 KiB DATA chunks, mode bits applied
// with the user bits copied to group and other, partial file removed on any failure, optional
// disk quota), RECV (65528-byte chunks) and QUIT, on the sandbox's mapped paths only.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EndOfStream } from './byte-reader.js';
import type { Sandbox } from './sandbox.js';
import type { AdbStream } from './transport.js';

export const SYNC_DATA_MAX = 64 * 1024;
/** adbd's RECV chunk: SYNC_DATA_MAX minus the 8-byte DATA header. */
export const RECV_CHUNK = SYNC_DATA_MAX - 8;
const MAX_PATH_LENGTH = 1024;
const RECV_BATCH_BYTES = 16 * SYNC_DATA_MAX;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const DENT_V1_SIZE = 20;
const STAT_V2_SIZE = 72;
const DENT_V2_SIZE = 76;

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory', ENOSPC: 'No space left on device', EEXIST: 'File exists',
  EROFS: 'Read-only file system', ELOOP: 'Too many levels of symbolic links', EPERM: 'Operation not permitted',
};

function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  return STRERROR[code] ?? (err as Error)?.message ?? String(err);
}

function errnoOf(err: unknown): number {
  const code = (err as NodeJS.ErrnoException)?.code ?? 'EIO';
  return (os.constants.errno as Record<string, number>)[code] ?? 5;
}

function header(id: string, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.write(id, 0, 'latin1');
  b.writeUInt32LE(value >>> 0, 4);
  return b;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** The 72-byte stat_v2 record (also the head of dent_v2, which adds namelen). */
function statV2(id: string, st: fs.BigIntStats | null, error: number, size = STAT_V2_SIZE): Buffer {
  const b = Buffer.alloc(size);
  b.write(id, 0, 'latin1');
  b.writeUInt32LE(error, 4);
  if (st) {
    b.writeBigUInt64LE(st.dev, 8);
    b.writeBigUInt64LE(st.ino, 16);
    b.writeUInt32LE(Number(st.mode), 24);
    b.writeUInt32LE(Number(st.nlink), 28);
    b.writeUInt32LE(Number(st.uid), 32);
    b.writeUInt32LE(Number(st.gid), 36);
    b.writeBigUInt64LE(st.size, 40);
    b.writeBigInt64LE(st.atimeMs / 1000n, 48);
    b.writeBigInt64LE(st.mtimeMs / 1000n, 56);
    b.writeBigInt64LE(st.ctimeMs / 1000n, 64);
  }
  return b;
}

/** `strtoul(text, nullptr, 0)`: decimal, 0x hex or leading-0 octal. */
function parseMode(text: string): number {
  const t = text.trim();
  if (/^0x/i.test(t)) return parseInt(t.slice(2), 16) || 0;
  if (/^0[0-7]+$/.test(t)) return parseInt(t, 8);
  return parseInt(t, 10) || 0;
}

export class SyncSession {
  constructor(
    private readonly stream: AdbStream,
    private readonly sandbox: Sandbox,
    private readonly log: (message: string, extra?: Record<string, unknown>) => void = () => {},
  ) {}

  async run(): Promise<void> {
    try {
      while (await this.request());
    } catch (err) {
      // EndOfStream: the host went away mid-request. Anything else ends the session like an adbd error.
      if (!(err instanceof EndOfStream)) this.log('sync session failed', { error: (err as Error).message });
    } finally {
      await this.stream.close();
    }
  }

  private read(n: number): Promise<Buffer> {
    return this.stream.input.read(n);
  }

  private async send(data: Buffer): Promise<void> {
    if (!(await this.stream.write(data))) throw new EndOfStream();
  }

  private async fail(message: string): Promise<void> {
    const text = Buffer.from(message, 'utf8');
    await this.send(Buffer.concat([header('FAIL', text.length), text]));
  }

  /** Handles one request; false ends the session (QUIT, or an error adbd does not recover from). */
  private async request(): Promise<boolean> {
    const head = await this.read(8);
    const id = head.toString('latin1', 0, 4);
    const length = head.readUInt32LE(4);
    if (id === 'QUIT') return false;
    if (!['STAT', 'STA2', 'LST2', 'LIST', 'LIS2', 'SEND', 'RECV'].includes(id)) {
      await this.fail(`unknown command ${head.readUInt32LE(0).toString(16).padStart(8, '0')}`);
      return false;
    }
    if (length > MAX_PATH_LENGTH) {
      await this.fail('path too long');
      return false;
    }
    const arg = (await this.read(length)).toString('utf8');
    this.log('sync request', { id, arg });
    switch (id) {
      case 'STAT': return this.statV1(arg);
      case 'STA2': case 'LST2': return this.statV2(id, arg);
      case 'LIST': case 'LIS2': return this.list(arg, id === 'LIS2');
      case 'SEND': return this.receiveFile(arg);
      default: return this.sendFile(arg);
    }
  }

  private async statV1(devicePath: string): Promise<boolean> {
    const host = this.sandbox.resolve(devicePath, 'read');
    let st: fs.Stats | null = null;
    try {
      if (host) st = fs.lstatSync(host);
    } catch {
      st = null;
    }
    const b = Buffer.alloc(16);
    b.write('STAT', 0, 'latin1');
    if (st) {
      b.writeUInt32LE(st.mode >>> 0, 4);
      b.writeUInt32LE(st.size % 2 ** 32, 8);
      b.writeUInt32LE(seconds(st.mtimeMs) >>> 0, 12);
    }
    await this.send(b);
    return true;
  }

  private async statV2(id: 'STA2' | 'LST2', devicePath: string): Promise<boolean> {
    const host = this.sandbox.resolve(devicePath, 'read');
    if (!host) {
      await this.send(statV2(id, null, os.constants.errno.EACCES));
      return true;
    }
    try {
      const st = id === 'STA2' ? fs.statSync(host, { bigint: true }) : fs.lstatSync(host, { bigint: true });
      await this.send(statV2(id, st, 0));
    } catch (err) {
      if (err instanceof EndOfStream) throw err;
      await this.send(statV2(id, null, errnoOf(err)));
    }
    return true;
  }

  private async list(devicePath: string, v2: boolean): Promise<boolean> {
    const dir = this.sandbox.resolve(devicePath, 'read');
    const records: Buffer[] = [];
    let names: string[] = [];
    try {
      if (dir) names = ['.', '..', ...fs.readdirSync(dir)];
    } catch {
      names = []; // adbd answers an unreadable directory with an empty listing
    }
    for (const name of names) {
      const full = name === '.' ? dir! : name === '..' ? path.dirname(dir!) : path.join(dir!, name);
      const nameBytes = Buffer.from(name, 'utf8');
      let st: fs.BigIntStats | null = null;
      let error = 0;
      try {
        st = fs.lstatSync(full, { bigint: true });
      } catch (err) {
        error = errnoOf(err);
      }
      if (v2) {
        const rec = statV2('DNT2', st, error, DENT_V2_SIZE);
        rec.writeUInt32LE(nameBytes.length, 72);
        records.push(rec, nameBytes);
      } else if (st) {
        const rec = Buffer.alloc(DENT_V1_SIZE);
        rec.write('DENT', 0, 'latin1');
        rec.writeUInt32LE(Number(st.mode), 4);
        rec.writeUInt32LE(Number(st.size % 2n ** 32n), 8);
        rec.writeUInt32LE(Number(st.mtimeMs / 1000n), 12);
        rec.writeUInt32LE(nameBytes.length, 16);
        records.push(rec, nameBytes);
      }
    }
    // The terminator is a whole zeroed dent record with the id DONE.
    const done = Buffer.alloc(v2 ? DENT_V2_SIZE : DENT_V1_SIZE);
    done.write('DONE', 0, 'latin1');
    records.push(done);
    await this.send(Buffer.concat(records));
    return true;
  }

  /** Reads and discards DATA until DONE, so the host sees the FAIL when it asks for the result. */
  private async drainUntilDone(): Promise<void> {
    for (;;) {
      const head = await this.read(8);
      const id = head.toString('latin1', 0, 4);
      const length = head.readUInt32LE(4);
      if (id !== 'DATA' || length > SYNC_DATA_MAX) return;
      await this.read(length);
    }
  }

  /** SEND: the host pushes a file. */
  private async receiveFile(spec: string): Promise<boolean> {
    const comma = spec.lastIndexOf(',');
    const devicePath = comma < 0 ? spec : spec.slice(0, comma);
    const mode = comma < 0 ? 0o100644 : parseMode(spec.slice(comma + 1));
    const host = devicePath.endsWith('/') ? null : this.sandbox.resolve(devicePath, 'write');
    if (!host) {
      if (devicePath.endsWith('/')) {
        await this.fail("couldn't create file: Is a directory");
        await this.drainUntilDone();
        return false;
      }
      const readOnly = this.sandbox.resolve(devicePath, 'read') !== null;
      await this.fail(`couldn't create file: ${readOnly ? 'Read-only file system' : 'Permission denied'}`);
      await this.drainUntilDone();
      return false;
    }
    let existing: fs.Stats | null = null;
    try {
      existing = fs.lstatSync(host);
    } catch {
      existing = null;
    }
    if (existing?.isDirectory()) {
      await this.fail("couldn't create file: Is a directory");
      await this.drainUntilDone();
      return false;
    }
    if (!existing || existing.isFile() || existing.isSymbolicLink()) fs.rmSync(host, { force: true });
    if ((mode & S_IFMT) === S_IFLNK) return this.receiveLink(host);

    // Copy the user permission bits to group and other, as adbd does (0644 → 0666).
    let perm = mode & 0o777;
    perm |= (perm >> 3) & 0o070;
    perm |= (perm >> 3) & 0o007;
    let file: fsp.FileHandle;
    try {
      fs.mkdirSync(path.dirname(host), { recursive: true });
    } catch (err) {
      await this.fail(`secure_mkdirs failed: ${strerror(err)}`);
      await this.drainUntilDone();
      return false;
    }
    try {
      file = await fsp.open(host, 'wx', perm);
      await file.chmod(perm);
    } catch (err) {
      await this.fail(`couldn't create file: ${strerror(err)}`);
      await this.drainUntilDone();
      return false;
    }
    const quota = this.sandbox.diskQuotaBytes;
    const used = quota === null ? 0 : this.sandbox.usedDataBytes();
    let written = 0;
    let complete = false;
    try {
      for (;;) {
        const head = await this.read(8);
        const id = head.toString('latin1', 0, 4);
        const length = head.readUInt32LE(4);
        if (id === 'DONE') {
          await file.close();
          complete = true;
          try {
            fs.utimesSync(host, length, length);
          } catch {
            // removed by a shell command meanwhile: the push itself succeeded
          }
          await this.send(header('OKAY', 0));
          return true;
        }
        if (id !== 'DATA') {
          await this.fail('invalid data message');
          return false;
        }
        if (length > SYNC_DATA_MAX) {
          await this.fail('oversize data message');
          return false;
        }
        const data = await this.read(length);
        if (quota !== null && used + written + length > quota) {
          await this.fail('write failed: No space left on device');
          await this.drainUntilDone();
          return false;
        }
        await file.write(data);
        written += length;
      }
    } finally {
      if (!complete) {
        await file.close().catch(() => {});
        fs.rmSync(host, { force: true });
      }
    }
  }

  /** SEND of a symlink: one DATA with the target, then DONE. */
  private async receiveLink(host: string): Promise<boolean> {
    const head = await this.read(8);
    if (head.toString('latin1', 0, 4) !== 'DATA') {
      await this.fail('invalid data message: expected ID_DATA');
      return false;
    }
    const length = head.readUInt32LE(4);
    if (length > SYNC_DATA_MAX) {
      await this.fail('oversize data message');
      return false;
    }
    const target = (await this.read(length)).toString('utf8').replace(/\0+$/, '');
    try {
      fs.mkdirSync(path.dirname(host), { recursive: true });
      fs.symlinkSync(target, host);
    } catch (err) {
      await this.fail(`symlink failed: ${strerror(err)}`);
      return false;
    }
    const done = await this.read(8);
    if (done.toString('latin1', 0, 4) !== 'DONE') {
      await this.fail('invalid data message: expected ID_DONE');
      return false;
    }
    await this.send(header('OKAY', 0));
    return true;
  }

  /** RECV: the host pulls a file. */
  private async sendFile(devicePath: string): Promise<boolean> {
    const host = this.sandbox.resolve(devicePath, 'read');
    if (!host) {
      await this.fail('open failed: Permission denied');
      return false;
    }
    let file: fsp.FileHandle;
    try {
      file = await fsp.open(host, 'r');
    } catch (err) {
      await this.fail(`open failed: ${strerror(err)}`);
      return false;
    }
    try {
      // Several DATA records go into one write (the transport cuts it into WRTEs of the
      // negotiated size), as adbd's socket buffering does: one round trip per chunk is slow.
      const batch: Buffer[] = [];
      let batchBytes = 0;
      for (;;) {
        const buffer = Buffer.alloc(RECV_CHUNK);
        let bytesRead: number;
        try {
          ({ bytesRead } = await file.read(buffer, 0, RECV_CHUNK, null));
        } catch (err) {
          if (batch.length) await this.send(Buffer.concat(batch));
          await this.fail(`read failed: ${strerror(err)}`);
          return false;
        }
        if (bytesRead === 0) break;
        batch.push(header('DATA', bytesRead), buffer.subarray(0, bytesRead));
        batchBytes += bytesRead + 8;
        if (batchBytes >= RECV_BATCH_BYTES) {
          await this.send(Buffer.concat(batch));
          batch.length = 0;
          batchBytes = 0;
        }
      }
      batch.push(header('DONE', 0));
      await this.send(Buffer.concat(batch));
      return true;
    } finally {
      await file.close().catch(() => {});
    }
  }
}
