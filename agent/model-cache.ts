// Models cached on the agent by sha256. A download streams to a temp file while hashing and is
// kept only if the hash matches; a cached file is re-verified before every use.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { JobFailure } from './drivers/driver.js';

export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

export class ModelCache {
  constructor(private readonly dir: string, private readonly server: string, private readonly token: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  pathOf(sha256: string): string {
    return path.join(this.dir, sha256);
  }

  /** Returns the path of a verified copy of the model, downloading it when needed. */
  async get(sha256: string, signal: AbortSignal): Promise<{ path: string; cached: boolean }> {
    const file = this.pathOf(sha256);
    if (fs.existsSync(file)) {
      if ((await sha256File(file)) === sha256) return { path: file, cached: true };
      fs.rmSync(file, { force: true }); // corrupted on disk: fetch again
    }
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.part`;
    try {
      let res: Response;
      try {
        res = await fetch(`${this.server}/api/v1/models/${sha256}/content`, { headers: { authorization: `Bearer ${this.token}` }, signal });
      } catch (err) {
        if (signal.aborted) throw err;
        throw new JobFailure('model_fetch_failed', `could not download model ${sha256.slice(0, 12)}: ${(err as Error).message}`);
      }
      if (!res.ok || !res.body) throw new JobFailure('model_fetch_failed', `model download answered HTTP ${res.status}`);
      const hash = crypto.createHash('sha256');
      const source = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      source.on('data', (chunk: Buffer) => hash.update(chunk));
      await pipeline(source, fs.createWriteStream(tmp), { signal });
      const got = hash.digest('hex');
      if (got !== sha256) throw new JobFailure('model_hash_mismatch', `downloaded model hashes to ${got}, expected ${sha256}`);
      fs.renameSync(tmp, file);
      return { path: file, cached: false };
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
}
