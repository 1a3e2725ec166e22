// `benchfleet model push | list | show`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { ModelView, Page } from '../../protocol/api.js';
import { CliError, EXIT } from '../client.js';
import { bytes, table } from '../format.js';
import type { CommandEnv } from '../main.js';
import { describeCompression, metadataFromFlags, metadataOptions, type MetadataFlags } from './variants.js';

async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A fact read from the model file as one cell: tensors as `name type [dims]`, lists joined, objects as compact JSON. */
function describeFact(v: unknown): string {
  if (Array.isArray(v)) return v.map(describeFact).join('; ') || '-';
  if (v && typeof v === 'object') {
    const t = v as { name?: unknown; elemType?: unknown; type?: unknown; dtype?: unknown; shape?: unknown };
    if (typeof t.name === 'string' && Array.isArray(t.shape)) return `${t.name} ${String(t.elemType ?? t.type ?? t.dtype ?? '')} [${(t.shape as unknown[]).map((d) => (d === null ? '?' : String(d))).join(', ')}]`.replace(/\s+\[/, ' [');
    return JSON.stringify(v);
  }
  return v === null || v === undefined ? '-' : String(v);
}

export function registerModelCommands(program: Command, env: CommandEnv): void {
  const model = program.command('model').description('upload and list models');
  metadataOptions(model.command('push <file>').description('upload a model (content-addressed by sha256; identical uploads are deduplicated)')
    .requiredOption('--family <family>', 'model family, e.g. kws-cnn')
    .requiredOption('--variant <variant>', 'variant name, e.g. fp32 or int8'))
    .action(env.wrap(async ({ api, json, print, progress }, file: string, o: MetadataFlags & { family: string; variant: string }) => {
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new CliError(EXIT.usage, `no such file: ${file}`);
      const metadata = metadataFromFlags(o);
      const size = fs.statSync(file).size;
      const sha = await sha256File(file);
      progress(`uploading ${path.basename(file)} (${bytes(size)}, sha256 ${sha.slice(0, 12)})…`);
      let sent = 0;
      let lastShown = 0;
      const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
      stream.on('data', (c) => {
        sent += c.length;
        const pct = Math.floor((sent / size) * 100);
        if (size > 8 << 20 && pct >= lastShown + 10) { lastShown = pct; progress(`  ${pct}%`); }
      });
      const q = new URLSearchParams({ family: o.family, variant: o.variant, filename: path.basename(file), ...(metadata ? { metadata: JSON.stringify(metadata) } : {}) });
      const res = await api.request<{ model: ModelView; created: boolean }>('POST', `/models?${q.toString()}`, {
        body: Readable.toWeb(stream) as unknown as RequestInit['body'],
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), 'x-benchfleet-sha256': sha },
      });
      if (json) return print(res);
      const m = res.model;
      print(`${res.created ? 'stored' : 'already stored'}: ${m.family}:${m.variant} ${m.format} ${bytes(m.size_bytes)} sha256 ${m.sha256}`);
      if (metadata || m.parent || m.tags.length || Object.keys(m.compression).length) print(`  ${describeCompression(m)}`);
    }));
  model.command('list').description('list models, newest first').option('--limit <n>', 'how many', '50')
    .action(env.wrap(async ({ api, json, print }, o: { limit: string }) => {
      const page = await api.request<Page<ModelView>>('GET', `/models?limit=${encodeURIComponent(o.limit)}`);
      if (json) return print(page.items);
      print(table(['FAMILY', 'VARIANT', 'FORMAT', 'SIZE', 'SHA256', 'LINEAGE / COMPRESSION', 'UPLOADED'],
        page.items.map((m) => [m.family, m.variant, m.format, bytes(m.size_bytes), m.sha256.slice(0, 16), describeCompression(m), m.created_at])));
    }));
  model.command('show <ref>').description('show a model by sha256 (or prefix) or family:variant, with facts read from the file')
    .action(env.wrap(async ({ api, json, print }, ref: string) => {
      const m = await api.request<ModelView & { facts?: Record<string, unknown> }>('GET', `/models/${encodeURIComponent(ref)}`);
      if (json) return print(m);
      const rows: [string, string][] = [
        ['family:variant', `${m.family}:${m.variant}`], ['sha256', m.sha256], ['format', m.format], ['size', `${bytes(m.size_bytes)} (${m.size_bytes} bytes)`],
        ['file', m.filename ?? '-'], ['lineage / compression', describeCompression(m)], ['accuracy note', m.accuracy_note ?? '-'], ['uploaded', m.created_at],
        ...Object.entries(m.facts ?? {}).map(([k, v]) => [k, describeFact(v)] as [string, string]),
      ];
      print(table(['FIELD', 'VALUE'], rows));
    }));
}
