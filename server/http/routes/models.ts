// Model routes: streaming content-addressed upload, listing, lookup and download by hash.
import fs from 'node:fs';
import { Router } from 'express';
import { modelUploadQuerySchema, paginationQuerySchema, sha256Schema } from '../../../protocol/index.js';
import { BenchfleetError } from '../../../protocol/errors.js';
import type { ServerContext } from '../../context.js';
import { jsonBody, requirePermission, validate } from '../middleware.js';
import { variantMetadataSchema } from '../../../protocol/variants.js';

export function modelRoutes(ctx: ServerContext): Router {
  const r = Router();

  r.post('/models', requirePermission(ctx, 'submit'), async (req, res) => {
    const q = validate(modelUploadQuerySchema, req.query, 'query');
    if (!req.is('application/octet-stream')) throw new BenchfleetError('unsupported_media_type', 'upload the model as application/octet-stream');
    const announced = req.header('x-benchfleet-sha256');
    if (announced !== undefined && !sha256Schema.safeParse(announced).success) {
      throw new BenchfleetError('validation_failed', 'x-benchfleet-sha256 must be a lowercase hex sha256');
    }
    const lengthHeader = req.header('content-length');
    const contentLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
    if (contentLength !== undefined && contentLength > ctx.config.maxModelBytes) {
      throw new BenchfleetError('payload_too_large', `model of ${contentLength} bytes exceeds the upload limit of ${ctx.config.maxModelBytes} bytes`);
    }
    let metadata;
    if (q.metadata !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(q.metadata);
      } catch {
        throw new BenchfleetError('validation_failed', 'query metadata: not valid JSON');
      }
      metadata = validate(variantMetadataSchema, parsed, 'query metadata');
    }
    const { model, created } = await ctx.models.ingest(req, { ...q, metadata }, { sha256: announced, contentLength, maxBytes: ctx.config.maxModelBytes }, ctx.now());
    res.status(created ? 201 : 200).json({ model, created });
  });

  r.get('/models', requirePermission(ctx, 'read'), (req, res) => {
    const q = validate(paginationQuerySchema, req.query, 'query');
    res.json(ctx.models.list(q.limit, q.cursor));
  });

  r.get('/models/:ref', requirePermission(ctx, 'read'), (req, res) => {
    const ref = String(req.params.ref);
    const model = ctx.models.resolve(ref);
    if (!model) throw new BenchfleetError('not_found', `no model ${ref}`);
    res.json({ ...model, facts: ctx.models.facts(model.sha256) });
  });

  r.patch('/models/:ref', requirePermission(ctx, 'submit'), (req, res) => {
    const ref = String(req.params.ref);
    const body = validate(variantMetadataSchema, jsonBody(req), 'body');
    const model = ctx.models.resolve(ref);
    if (!model) throw new BenchfleetError('not_found', `no model ${ref}`);
    res.json(ctx.models.updateMetadata(model.sha256, body));
  });

  r.get('/models/:sha256/content', requirePermission(ctx, 'fetch_model'), (req, res) => {
    const sha = validate(sha256Schema, req.params.sha256, 'model hash');
    const model = ctx.models.get(sha);
    if (!model) throw new BenchfleetError('not_found', `no model ${sha}`);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', String(model.size_bytes));
    res.setHeader('x-benchfleet-sha256', sha);
    fs.createReadStream(ctx.models.pathOf(sha)).on('error', () => res.destroy()).pipe(res);
  });
  return r;
}
