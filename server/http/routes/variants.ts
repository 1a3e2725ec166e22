// Families (reference sets for output fidelity) and the variant × device comparison.
import { Router } from 'express';
import { z } from 'zod';
import { compareQuerySchema, putReferenceSchema } from '../../../protocol/variants.js';
import { BenchfleetError } from '../../../protocol/errors.js';
import type { ServerContext } from '../../context.js';
import { compareFamily } from '../../variants/compare.js';
import { compareCsv, compareMarkdown } from '../../variants/export.js';
import { deleteReference, getFamily, listFamilies, putReference } from '../../variants/families.js';
import { jsonBody, requirePermission, validate } from '../middleware.js';

const familyParamSchema = z.strictObject({ name: z.string().min(1).max(128) });

export function variantRoutes(ctx: ServerContext): Router {
  const r = Router();
  const read = requirePermission(ctx, 'read');
  const submit = requirePermission(ctx, 'submit');

  r.get('/families', read, (_req, res) => res.json({ items: listFamilies(ctx.db) }));
  r.get('/families/:name', read, (req, res) => {
    const { name } = validate(familyParamSchema, req.params, 'path');
    const family = getFamily(ctx.db, name);
    if (!family) throw new BenchfleetError('not_found', `family ${name} has no reference set`);
    res.json(family);
  });
  r.put('/families/:name/reference', submit, (req, res) => {
    const { name } = validate(familyParamSchema, req.params, 'path');
    const body = validate(putReferenceSchema, jsonBody(req), 'body');
    res.json(putReference(ctx.db, name, body.variant, body.reference, body.min_cosine, body.min_top1, ctx.now()));
  });
  r.delete('/families/:name/reference', submit, (req, res) => {
    const { name } = validate(familyParamSchema, req.params, 'path');
    if (!deleteReference(ctx.db, name)) throw new BenchfleetError('not_found', `family ${name} has no reference set`);
    res.status(204).end();
  });

  r.get('/compare', read, (req, res) => {
    const q = validate(compareQuerySchema, req.query, 'query');
    const view = compareFamily(ctx.db, {
      family: q.family, devices: q.devices?.split(',').map((d) => d.trim()).filter(Boolean), budget: q.budget, objective: q.objective,
      threads: q.threads, runtime: q.runtime, settings: q.settings, window: q.window,
    });
    if (q.format === 'csv') res.type('text/csv').send(compareCsv(view));
    else if (q.format === 'md') res.type('text/markdown').send(compareMarkdown(view));
    else res.json(view);
  });
  return r;
}
