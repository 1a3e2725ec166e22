// Webhook subscriptions, their delivery log and the 'send test' action (admin only: a webhook
// holds a secret and sends farm data to a URL of the admin's choosing).
import { Router } from 'express';
import { z } from 'zod';
import { createWebhookSchema, patchWebhookSchema } from '../../../protocol/alerts.js';
import { idParamSchema } from '../../../protocol/api.js';
import { BenchfleetError } from '../../../protocol/errors.js';
import type { ServerContext } from '../../context.js';
import { listDeliveries } from '../../webhooks/deliver.js';
import { createWebhook, deleteWebhook, getWebhook, listWebhooks, patchWebhook } from '../../webhooks/subscriptions.js';
import { jsonBody, requirePermission, validate } from '../middleware.js';

const deliveriesQuerySchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50) });

export function webhookRoutes(ctx: ServerContext): Router {
  const r = Router();
  const admin = requirePermission(ctx, 'admin');

  r.get('/webhooks', admin, (_req, res) => res.json({ items: listWebhooks(ctx.db) }));
  r.post('/webhooks', admin, (req, res) => {
    const body = validate(createWebhookSchema, jsonBody(req), 'body');
    res.status(201).json(createWebhook(ctx.db, body, ctx.now()));
  });
  r.get('/webhooks/:id', admin, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const hook = getWebhook(ctx.db, id);
    if (!hook) throw new BenchfleetError('not_found', `no webhook ${id}`);
    res.json(hook);
  });
  r.patch('/webhooks/:id', admin, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    res.json(patchWebhook(ctx.db, id, validate(patchWebhookSchema, jsonBody(req), 'body')));
  });
  r.delete('/webhooks/:id', admin, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    deleteWebhook(ctx.db, id);
    res.status(204).end();
  });
  r.get('/webhooks/:id/deliveries', admin, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const q = validate(deliveriesQuerySchema, req.query, 'query');
    if (!getWebhook(ctx.db, id)) throw new BenchfleetError('not_found', `no webhook ${id}`);
    res.json({ items: listDeliveries(ctx.db, id, q.limit) });
  });
  r.post('/webhooks/:id/test', admin, async (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    res.json(await ctx.webhooks.sendTest(id));
  });
  return r;
}
