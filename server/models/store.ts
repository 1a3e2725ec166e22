// Content-addressed model store. Uploads stream to a temporary file while being hashed; the
// file is moved to `<dir>/<sha[0:2]>/<sha>` only after the size, the expected hash and the
// format check pass, and the database row is written last. Identical uploads are deduplicated.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { Db } from '../db/open.js';
import { BenchfleetError } from '../../protocol/errors.js';
import type { ModelView, Page } from '../../protocol/api.js';
import { pageOf } from '../http/paging.js';
import type { ModelFormat } from '../../protocol/domain.js';
import { detectFormat, inspectOnnx } from './inspect.js';
import type { Compression, VariantMetadata } from '../../protocol/variants.js';
import { stmt } from '../db/statements.js';

export interface UploadMeta { family: string; variant: string; filename?: string | undefined; metadata?: VariantMetadata | undefined }
export interface UploadExpectations { sha256?: string | undefined; contentLength?: number | undefined; maxBytes: number }

interface ModelRow {
  sha256: string; family: string; variant: string; format: string; size_bytes: number; filename: string | null; facts: string; created_at: number;
  parent_variant: string | null; compression: string; tags: string; accuracy: number | null; accuracy_note: string | null;
}

export class ModelStore {
  constructor(private readonly db: Db, private readonly dir: string) {
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  }

  pathOf(sha256: string): string {
    return path.join(this.dir, sha256.slice(0, 2), sha256);
  }

  async ingest(body: Readable, meta: UploadMeta, expect: UploadExpectations, now = Date.now()): Promise<{ model: ModelView; created: boolean }> {
    const tmp = path.join(this.dir, 'tmp', `${process.pid}-${crypto.randomBytes(8).toString('hex')}`);
    const hash = crypto.createHash('sha256');
    let size = 0;
    const head: Buffer[] = [];
    let headLen = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > expect.maxBytes) return cb(new BenchfleetError('payload_too_large', `model exceeds the upload limit of ${expect.maxBytes} bytes`));
        if (headLen < 64) { head.push(chunk); headLen += chunk.length; }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, fs.createWriteStream(tmp, { flags: 'wx' }));
      if (expect.contentLength !== undefined && size !== expect.contentLength) {
        throw new BenchfleetError('truncated_upload', `received ${size} of ${expect.contentLength} bytes; the upload was cut short`);
      }
      const sha256 = hash.digest('hex');
      if (expect.sha256 && expect.sha256 !== sha256) {
        throw new BenchfleetError('hash_mismatch', `upload hashes to ${sha256}, not the announced ${expect.sha256}; nothing was stored`);
      }
      if (size === 0) throw new BenchfleetError('unsupported_format', 'the upload is empty');
      const existing = this.get(sha256);
      if (existing) {
        if (existing.family !== meta.family || existing.variant !== meta.variant) {
          throw new BenchfleetError('conflict', `these bytes are already stored as ${existing.family}:${existing.variant} (${sha256.slice(0, 12)})`);
        }
        if (meta.metadata) this.updateMetadata(sha256, meta.metadata);
        return { model: this.get(sha256)!, created: false };
      }
      const { format, facts } = this.describe(tmp, Buffer.concat(head));
      const final = this.pathOf(sha256);
      fs.mkdirSync(path.dirname(final), { recursive: true });
      fs.renameSync(tmp, final);
      stmt(this.db,
        `INSERT INTO models (sha256, family, variant, format, size_bytes, filename, facts, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`,
      ).run(sha256, meta.family, meta.variant, format, size, meta.filename ?? null, JSON.stringify(facts), now);
      // A new version of a variant keeps the variant's metadata unless the upload brings its own.
      stmt(this.db,
        `UPDATE models SET (parent_variant, compression, tags, accuracy, accuracy_note) = (
           SELECT parent_variant, compression, tags, accuracy, accuracy_note FROM models p
           WHERE p.family = @family AND p.variant = @variant AND p.sha256 != @sha ORDER BY p.created_at DESC, p.rowid DESC LIMIT 1)
         WHERE sha256 = @sha AND EXISTS (SELECT 1 FROM models p WHERE p.family = @family AND p.variant = @variant AND p.sha256 != @sha)`,
      ).run({ sha: sha256, family: meta.family, variant: meta.variant });
      if (meta.metadata) this.updateMetadata(sha256, meta.metadata);
      return { model: this.get(sha256)!, created: true };
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  private describe(file: string, head: Buffer): { format: ModelFormat; facts: Record<string, unknown> } {
    const format = detectFormat(head);
    if (format === 'unknown') {
      throw new BenchfleetError('unsupported_format', 'the file is not a recognised model format (ONNX, TFLite, GGUF, ExecuTorch .pte or ELF firmware)');
    }
    if (format !== 'onnx') return { format, facts: {} };
    try {
      return { format, facts: { ...inspectOnnx(fs.readFileSync(file)) } };
    } catch (err) {
      throw new BenchfleetError('unsupported_format', `the file starts like ONNX but is not a valid ONNX model: ${(err as Error).message}`);
    }
  }

  /** Sets the given metadata fields (absent fields stay as they are). */
  updateMetadata(sha256: string, m: VariantMetadata): ModelView {
    const model = this.get(sha256);
    if (!model) throw new BenchfleetError('not_found', `no model ${sha256}`);
    if (m.parent !== undefined && m.parent === model.variant) throw new BenchfleetError('bad_request', `a variant cannot be its own parent (${m.parent})`);
    stmt(this.db,
      `UPDATE models SET parent_variant = CASE WHEN @setParent THEN @parent ELSE parent_variant END,
         compression = COALESCE(@compression, compression), tags = COALESCE(@tags, tags),
         accuracy = CASE WHEN @setAccuracy THEN @accuracy ELSE accuracy END,
         accuracy_note = CASE WHEN @setNote THEN @note ELSE accuracy_note END
       WHERE sha256 = @sha`,
    ).run({
      sha: sha256, setParent: m.parent === undefined ? 0 : 1, parent: m.parent ?? null,
      compression: m.compression ? JSON.stringify(m.compression) : null, tags: m.tags ? JSON.stringify(m.tags) : null,
      setAccuracy: m.accuracy === undefined ? 0 : 1, accuracy: m.accuracy ?? null, setNote: m.accuracy_note === undefined ? 0 : 1, note: m.accuracy_note ?? null,
    });
    return this.get(sha256)!;
  }

  get(sha256: string): ModelView | null {
    const row = stmt(this.db, 'SELECT * FROM models WHERE sha256 = ?').get(sha256) as ModelRow | undefined;
    return row ? toModelView(row) : null;
  }

  /** Resolves `sha256`, a unique sha prefix (≥ 8 hex digits) or `family:variant` (newest upload). */
  resolve(ref: string): ModelView | null {
    const colon = ref.indexOf(':');
    if (colon > 0) {
      const row = stmt(this.db, 'SELECT * FROM models WHERE family = ? AND variant = ? ORDER BY created_at DESC, rowid DESC LIMIT 1')
        .get(ref.slice(0, colon), ref.slice(colon + 1)) as ModelRow | undefined;
      return row ? toModelView(row) : null;
    }
    if (!/^[0-9a-f]{8,64}$/.test(ref)) return null;
    const rows = stmt(this.db, 'SELECT * FROM models WHERE sha256 LIKE ? LIMIT 2').all(`${ref}%`) as ModelRow[];
    if (rows.length > 1) throw new BenchfleetError('bad_request', `model prefix ${ref} is ambiguous; give more digits`);
    return rows[0] ? toModelView(rows[0]) : null;
  }

  facts(sha256: string): Record<string, unknown> {
    const row = stmt(this.db, 'SELECT facts FROM models WHERE sha256 = ?').get(sha256) as { facts: string } | undefined;
    return row ? (JSON.parse(row.facts) as Record<string, unknown>) : {};
  }

  list(limit: number, cursor: string | undefined): Page<ModelView> {
    const rows = stmt(this.db, `SELECT rowid AS _rowid, * FROM models WHERE (@cursor IS NULL OR rowid < @cursor) ORDER BY rowid DESC LIMIT @limit`)
      .all({ cursor: cursor === undefined ? null : Number(cursor), limit: limit + 1 }) as (ModelRow & { _rowid: number })[];
    return pageOf(rows, limit, toModelView);
  }

}

function toModelView(row: ModelRow): ModelView {
  return {
    sha256: row.sha256, family: row.family, variant: row.variant, format: row.format as ModelFormat,
    size_bytes: row.size_bytes, filename: row.filename, parent: row.parent_variant,
    compression: JSON.parse(row.compression) as Compression, tags: JSON.parse(row.tags) as string[],
    accuracy: row.accuracy, accuracy_note: row.accuracy_note, created_at: new Date(row.created_at).toISOString(),
  };
}
