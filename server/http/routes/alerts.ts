// Regression watching: series and their history, a rebuild of the detector on demand, alerts
// (acknowledge, resolve), mutes and per-metric policies.
import { Router } from 'express';
import {
  alertActionSchema, durationMs, listAlertsQuerySchema, listSeriesQuerySchema, muteSchema, policyParamSchema, policySchema,
  seriesHistoryQuerySchema, seriesMetricParamSchema, seriesParamSchema,
} from '../../../protocol/alerts.js';
import { idParamSchema } from '../../../protocol/api.js';
import { BenchfleetError } from '../../../protocol/errors.js';
import type { ServerContext } from '../../context.js';
import { acknowledgeAlert, getAlert, listAlerts, listMutes, muteSeries, resolveAlert, unmuteSeries } from '../../alerts/alerts.js';
import { rebuildSeries } from '../../regression/watch.js';
import { DEFAULT_POLICY, deletePolicy, listPolicies, setPolicy } from '../../regression/policy.js';
import { getSeries, listSeries, resolveSeriesKey, seriesHistory } from '../../regression/views.js';
import type { Request } from 'express';
import { jsonBody, principalOf, requirePermission, validate } from '../middleware.js';

/** Actions whose body is optional: no body is `{}`. */
function optionalBody(req: Request): unknown {
  const empty = (req.headers['content-length'] === undefined || req.headers['content-length'] === '0') && req.headers['transfer-encoding'] === undefined;
  return empty ? {} : jsonBody(req);
}

export function alertRoutes(ctx: ServerContext): Router {
  const r = Router();
  const read = requirePermission(ctx, 'read');
  const submit = requirePermission(ctx, 'submit');
  const admin = requirePermission(ctx, 'admin');

  r.get('/series', read, (req, res) => {
    const q = validate(listSeriesQuerySchema, req.query, 'query');
    res.json(listSeries(ctx.db, q.limit, q.cursor, q));
  });
  r.get('/series/:key', read, (req, res) => {
    const key = resolveSeriesKey(ctx.db, validate(seriesParamSchema, req.params, 'path').key);
    const series = getSeries(ctx.db, key);
    if (!series) throw new BenchfleetError('not_found', `no series ${key}`);
    res.json(series);
  });
  r.get('/series/:key/:metric', read, (req, res) => {
    const { key: ref, metric } = validate(seriesMetricParamSchema, req.params, 'path');
    const key = resolveSeriesKey(ctx.db, ref);
    const q = validate(seriesHistoryQuerySchema, req.query, 'query');
    const history = seriesHistory(ctx.db, key, metric, q.branch, q.limit, ctx.now());
    if (!history) throw new BenchfleetError('not_found', `no series ${key}`);
    if (history.points.length === 0) throw new BenchfleetError('not_found', `series ${key} has no ${metric} results on ${history.branch}`);
    res.json(history);
  });
  r.post('/series/:key/analyze', submit, (req, res) => {
    const key = resolveSeriesKey(ctx.db, validate(seriesParamSchema, req.params, 'path').key);
    if (!getSeries(ctx.db, key)) throw new BenchfleetError('not_found', `no series ${key}`);
    // Rebuilds the detector's state and the changes it finds from the stored history.
    const results = rebuildSeries(ctx.db, key, ctx.now());
    res.json({ series_key: key, results });
  });
  r.post('/series/:key/mute', submit, (req, res) => {
    const key = resolveSeriesKey(ctx.db, validate(seriesParamSchema, req.params, 'path').key);
    const body = validate(muteSchema, jsonBody(req), 'body');
    const now = ctx.now();
    res.status(201).json(muteSeries(ctx.db, key, body.metric, now + durationMs(body.for), body.reason ?? null, principalOf(res).name, now));
  });
  r.delete('/series/:key/mute', submit, (req, res) => {
    const key = resolveSeriesKey(ctx.db, validate(seriesParamSchema, req.params, 'path').key);
    const metric = typeof req.query.metric === 'string' ? req.query.metric : '*';
    if (!unmuteSeries(ctx.db, key, metric)) throw new BenchfleetError('not_found', `series ${key} has no mute for ${metric}`);
    res.status(204).end();
  });
  r.get('/mutes', read, (_req, res) => res.json({ items: listMutes(ctx.db, ctx.now()) }));

  r.get('/alerts', read, (req, res) => {
    const q = validate(listAlertsQuerySchema, req.query, 'query');
    res.json(listAlerts(ctx.db, q.limit, q.cursor, q, ctx.now()));
  });
  r.get('/alerts/:id', read, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const alert = getAlert(ctx.db, id, ctx.now());
    if (!alert) throw new BenchfleetError('not_found', `no alert ${id}`);
    res.json(alert);
  });
  r.post('/alerts/:id/acknowledge', submit, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    validate(alertActionSchema, optionalBody(req), 'body');
    res.json(acknowledgeAlert(ctx.db, id, principalOf(res).name, ctx.now()));
  });
  r.post('/alerts/:id/resolve', submit, (req, res) => {
    const { id } = validate(idParamSchema, req.params, 'path');
    const body = validate(alertActionSchema, optionalBody(req), 'body');
    const now = ctx.now();
    const alert = getAlert(ctx.db, id, now);
    if (!alert) throw new BenchfleetError('not_found', `no alert ${id}`);
    if (alert.status === 'resolved') throw new BenchfleetError('conflict', `alert ${id} is already resolved`);
    ctx.db.transaction(() => resolveAlert(ctx.db, id, body.note ? `by ${principalOf(res).name}: ${body.note}` : `by ${principalOf(res).name}`, null, now))();
    ctx.webhooks.kick();
    res.json(getAlert(ctx.db, id, now));
  });

  r.get('/policies', read, (_req, res) => res.json({ items: listPolicies(ctx.db) }));
  r.put('/policies/:metric', admin, (req, res) => {
    const { metric } = validate(policyParamSchema, req.params, 'path');
    const body = validate(policySchema, jsonBody(req), 'body');
    setPolicy(ctx.db, metric, {
      minEffect: body.min_effect, confirmReruns: body.confirm_reruns, falseAlertRate: body.false_alert_rate ?? DEFAULT_POLICY.falseAlertRate,
      abRounds: body.ab_rounds ?? DEFAULT_POLICY.abRounds, alertOnImprovement: body.alert_on_improvement ?? false,
    }, ctx.now());
    res.json(listPolicies(ctx.db).find((p) => p.metric === metric));
  });
  r.delete('/policies/:metric', admin, (req, res) => {
    const { metric } = validate(policyParamSchema, req.params, 'path');
    if (!deletePolicy(ctx.db, metric)) throw new BenchfleetError('not_found', `no policy for ${metric}`);
    res.status(204).end();
  });
  return r;
}
