// Routes for the farm itself: devices, agents (create, enroll, revoke) and tokens.
import { Router } from 'express';
import {
  createAgentSchema, createTokenSchema, enrollAgentSchema, idParamSchema, paginationQuerySchema, patchDeviceSchema,
} from '../../../protocol/api.js';
import { BenchfleetError } from '../../../protocol/errors.js';
import { createToken, listTokens, revokeToken } from '../../auth/tokens.js';
import { createAgent, revokeAgent } from '../../farm/registry.js';
import { getAgent, getDevice, listAgents, listDevices } from '../../farm/views.js';
import type { ServerContext } from '../../context.js';
import { jsonBody, requirePermission, validate } from '../middleware.js';
import { deviceHealthChanged } from '../../webhooks/events.js';
import { stmt } from '../../db/statements.js';

export function farmRoutes(ctx: ServerContext): Router {
  const r = Router();
  const read = requirePermission(ctx, 'read');
  const admin = requirePermission(ctx, 'admin');

  r.get('/devices', read, (req, res) => {
    const q = validate(paginationQuerySchema, req.query, 'query');
    res.json(listDevices(ctx.db, q.limit, q.cursor));
  });
  r.get('/devices/:id', read, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const device = getDevice(ctx.db, id);
    if (!device) throw new BenchfleetError('not_found', `no device ${id}`);
    res.json(device);
  });
  r.patch('/devices/:id', admin, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const body = validate(patchDeviceSchema, jsonBody(req), 'body');
    const device = getDevice(ctx.db, id);
    if (!device) throw new BenchfleetError('not_found', `no device ${id}`);
    ctx.db.transaction(() => {
      if (body.name && body.name !== device.name) {
        if (getDevice(ctx.db, body.name)) throw new BenchfleetError('conflict', `a device named ${body.name} exists already`);
        stmt(ctx.db, 'UPDATE devices SET name = ? WHERE id = ?').run(body.name, device.id);
      }
      if (body.health) {
        const reason = body.health === 'good' || body.health === 'unknown' ? null : 'set by an admin';
        stmt(ctx.db, `UPDATE devices SET health = ?, health_reason = ?, consecutive_failures = 0 WHERE id = ?`).run(body.health, reason, device.id);
        deviceHealthChanged(ctx.db, device.id, device.health, body.health, reason ?? 'set by an admin', ctx.now());
      }
      if (body.labels) stmt(ctx.db, 'UPDATE devices SET labels = ? WHERE id = ?').run(JSON.stringify({ ...device.labels, ...body.labels }), device.id);
    })();
    ctx.publish({ type: 'device.changed', device_id: device.id });
    ctx.kick({ devices: [device.id] });
    ctx.webhooks.kick();
    res.json(getDevice(ctx.db, device.id));
  });

  r.get('/agents', read, (req, res) => {
    const q = validate(paginationQuerySchema, req.query, 'query');
    res.json(listAgents(ctx.db, q.limit, q.cursor));
  });
  r.post('/agents', admin, (req, res) => {
    const body = validate(createAgentSchema, jsonBody(req), 'body');
    const { agentId, token } = createAgent(ctx.db, body.name, ctx.now());
    res.status(201).json({ agent: getAgent(ctx.db, agentId), token });
  });
  r.post('/agents/enroll', requirePermission(ctx, 'enroll'), (req, res) => {
    const body = validate(enrollAgentSchema, jsonBody(req), 'body');
    const { agentId, token } = createAgent(ctx.db, body.name, ctx.now());
    res.status(201).json({ agent: getAgent(ctx.db, agentId), token });
  });
  r.post('/agents/:id/revoke', admin, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const agent = getAgent(ctx.db, id);
    if (!agent) throw new BenchfleetError('not_found', `no agent ${id}`);
    revokeAgent(ctx.db, agent.id, ctx.now());
    ctx.revoked({ agentId: agent.id });
    ctx.publish({ type: 'agent.changed', agent_id: agent.id });
    res.json(getAgent(ctx.db, agent.id));
  });

  r.get('/tokens', admin, (_req, res) => res.json({ items: listTokens(ctx.db), next_cursor: null }));
  r.post('/tokens', admin, (req, res) => {
    const body = validate(createTokenSchema, jsonBody(req), 'body');
    if (body.role === 'agent') throw new BenchfleetError('bad_request', 'agent tokens come with an agent: POST /api/v1/agents');
    const { id, secret } = createToken(ctx.db, body.role, body.name, null, ctx.now());
    res.status(201).json({ id, role: body.role, name: body.name, token: secret });
  });
  r.delete('/tokens/:id', admin, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    if (!revokeToken(ctx.db, id, ctx.now())) throw new BenchfleetError('not_found', `no active token ${id}`);
    ctx.revoked({ tokenId: id });
    res.status(204).end();
  });
  return r;
}
