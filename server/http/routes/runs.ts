// Run, job and measurement routes: submit, list, show, cancel, raw samples and result export.
import { Router } from 'express';
import { z } from 'zod';
import { createRunSchema, idParamSchema, listRunsQuerySchema } from '../../../protocol/api.js';
import { BenchfleetError } from '../../../protocol/errors.js';
import type { ServerContext } from '../../context.js';
import { getJob, getRun, getSamples, listRuns } from '../../farm/views.js';
import { cancelRun } from '../../queue/jobs.js';
import { createRun } from '../../queue/runs.js';
import { resultRows, toCsv } from '../../farm/export.js';
import { jsonBody, principalOf, requirePermission, validate } from '../middleware.js';

const samplesQuerySchema = z.strictObject({ metric: z.string().min(1).max(64).default('latency_ms') });
const exportQuerySchema = z.strictObject({ format: z.enum(['json', 'csv']).default('json') });
const measurementsQuerySchema = z.strictObject({ run_id: z.string().max(64).optional(), job_id: z.string().max(64).optional() })
  .refine((q) => q.run_id || q.job_id, 'give run_id or job_id');

export function runRoutes(ctx: ServerContext): Router {
  const r = Router();
  const read = requirePermission(ctx, 'read');
  const submit = requirePermission(ctx, 'submit');

  r.post('/runs', submit, (req, res) => {
    const body = validate(createRunSchema, jsonBody(req), 'body');
    const runId = createRun(ctx.db, ctx.models, body, principalOf(res).tokenId, ctx.now());
    ctx.publish({ type: 'run.changed', run_id: runId, status: 'queued' });
    ctx.kick({ run: runId, immediate: true });
    res.status(201).json(getRun(ctx.db, ctx.models, runId));
  });

  r.get('/runs', read, (req, res) => {
    const q = validate(listRunsQuerySchema, req.query, 'query');
    res.json(listRuns(ctx.db, ctx.models, q.limit, q.cursor, { status: q.status, family: q.family }));
  });

  r.get('/runs/:id', read, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const view = ctx.runViews.get(ctx.db, ctx.models, id);
    if (!view) throw new BenchfleetError('not_found', `no run ${id}`);
    // Clients revalidate every time; one that holds this version of the view gets 304.
    res.setHeader('ETag', view.etag);
    res.setHeader('Cache-Control', 'private, no-cache');
    if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(view.etag)) {
      res.status(304).end();
      return;
    }
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', view.body.length);
    res.end(view.body);
  });

  r.post('/runs/:id/cancel', submit, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const run = getRun(ctx.db, ctx.models, id);
    if (!run) throw new BenchfleetError('not_found', `no run ${id}`);
    const active = cancelRun(ctx.db, id, ctx.now());
    for (const job of active) if (job.lease_owner) ctx.cancelOnAgent(job.lease_owner, job.id, job.attempt, 'canceled by a user');
    ctx.kick({ devices: active.map((j) => j.device_id) }); // their devices are free for other runs' jobs
    const after = getRun(ctx.db, ctx.models, id)!;
    ctx.publish({ type: 'run.changed', run_id: id, status: after.status });
    res.json(after);
  });

  r.get('/runs/:id/results', read, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const { format } = validate(exportQuerySchema, req.query, 'query');
    const run = getRun(ctx.db, ctx.models, id);
    if (!run) throw new BenchfleetError('not_found', `no run ${id}`);
    const rows = resultRows(run);
    if (format === 'csv') {
      res.type('text/csv').send(toCsv(rows));
    } else {
      res.json({ run_id: id, rows });
    }
  });

  r.get('/jobs/:id', read, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const job = getJob(ctx.db, id);
    if (!job) throw new BenchfleetError('not_found', `no job ${id}`);
    res.json(job);
  });

  r.get('/jobs/:id/samples', read, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const { metric } = validate(samplesQuerySchema, req.query, 'query');
    const samples = getSamples(ctx.db, id, metric);
    if (!samples) throw new BenchfleetError('not_found', `no ${metric} samples for job ${id}`);
    res.json(samples);
  });

  r.get('/measurements', read, (req, res) => {
    const q = validate(measurementsQuerySchema, req.query, 'query');
    const jobs = q.job_id ? [getJob(ctx.db, q.job_id)].filter((j) => j !== null) : getRun(ctx.db, ctx.models, q.run_id!)?.jobs ?? [];
    res.json({ items: jobs.flatMap((j) => j.measurements.map((m) => ({ job_id: j.id, device: j.device_name, ...m }))), next_cursor: null });
  });
  return r;
}
