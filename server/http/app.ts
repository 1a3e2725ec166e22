// The express application: /api/v1 routes, the dashboard's static files and chart.js.
import express from 'express';
import fs from 'node:fs';
import path from 'node:path';
import { API_PREFIX } from '../../protocol/api.js';
import { BenchfleetError } from '../../protocol/errors.js';
import type { ServerContext } from '../context.js';
import { chartJsFile, dashboardBuildDir, dashboardProtocolDir, dashboardStaticDir } from '../paths.js';
import { authenticateFirst, errorHandler } from './middleware.js';
import { farmRoutes } from './routes/farm.js';
import { modelRoutes } from './routes/models.js';
import { runRoutes } from './routes/runs.js';
import { alertRoutes } from './routes/alerts.js';
import { webhookRoutes } from './routes/webhooks.js';
import { variantRoutes } from './routes/variants.js';
import type { Log } from '../agents/session.js';

export const VERSION = '0.1.0';

/** Scripts and connections only to this server; inline style attributes are used by the pages and chart.js. */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Bodies of most routes are a few fields: 256 KiB is plenty. */
export const SMALL_JSON_BYTES = 256 * 1024;
/** Routes whose bodies carry tensors (run input data, a family's reference set) get the configured limit. */
export const LARGE_BODY_ROUTES: [string, RegExp][] = [['POST', /^\/runs$/], ['PUT', /^\/families\/[^/]+\/reference$/]];

/** The parts of express's router (router 2.x) that `apiRoutes` reads. */
interface RouterLayer { rawPath?: unknown; route?: { path: string; methods: Record<string, boolean> }; handle: { stack?: RouterLayer[] } }

/**
 * Every route of the API as `[METHOD, path]` (path under API_PREFIX, e.g. `['GET', '/runs/:id']`),
 * read from the application's router: test/auth-matrix.test.ts checks its table against this list.
 */
export function apiRoutes(app: express.Express): [string, string][] {
  const routes: [string, string][] = [];
  const walk = (stack: RouterLayer[], prefix: string): void => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') routes.push([method.toUpperCase(), prefix + layer.route.path]);
      } else if (layer.handle.stack) {
        walk(layer.handle.stack, prefix + (layer.rawPath === '/' ? '' : String(layer.rawPath)));
      }
    }
  };
  const top = (app.router as unknown as { stack: RouterLayer[] }).stack;
  for (const layer of top) if (layer.rawPath === API_PREFIX && layer.handle.stack) walk(layer.handle.stack, '');
  return routes;
}

export function createApp(ctx: ServerContext, log: Log): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // API answers are built fresh every time; hashing a large one (a run of 1,000 jobs) for an ETag cost more than it saved.
  app.set('etag', false);
  app.set('query parser', 'simple');
  // Security headers on every response: the dashboard loads only its own scripts, is never framed,
  // and nothing is sniffed into another type.
  app.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });

  const api = express.Router();
  // JSON answers are written directly: express's res.json took 26 ms for a run of 1,000 jobs
  // (1.7 MB) where stringifying and writing it takes 6.
  api.use((_req, res, next) => {
    res.json = ((body: unknown) => {
      const bytes = Buffer.from(JSON.stringify(body) ?? '');
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', bytes.length);
      res.end(bytes);
      return res;
    }) as typeof res.json;
    next();
  });
  api.get('/health', (_req, res) => res.json({ ok: true, version: VERSION }));
  // The token is checked before any body is read; then each route's body has its own size limit.
  api.use(authenticateFirst(ctx, () => false));
  const small = express.json({ limit: SMALL_JSON_BYTES, strict: true });
  const large = express.json({ limit: ctx.config.maxJsonBytes, strict: true });
  api.use((req, res, next) => (LARGE_BODY_ROUTES.some(([method, re]) => req.method === method && re.test(req.path)) ? large : small)(req, res, next));
  api.use(farmRoutes(ctx));
  api.use(modelRoutes(ctx));
  api.use(runRoutes(ctx));
  api.use(alertRoutes(ctx));
  api.use(webhookRoutes(ctx));
  api.use(variantRoutes(ctx));
  api.use((req, _res, next) => next(new BenchfleetError('not_found', `no route ${req.method} ${API_PREFIX}${req.path}`)));
  api.use(errorHandler(log));
  app.use(API_PREFIX, api);

  app.get('/vendor/chart.umd.js', (_req, res) => res.sendFile(chartJsFile));
  // Only the page and its stylesheet come from dashboard/; its scripts are the compiled ones.
  app.get(['/', '/index.html'], (_req, res) => res.sendFile(path.join(dashboardStaticDir, 'index.html')));
  app.get('/style.css', (_req, res) => res.sendFile(path.join(dashboardStaticDir, 'style.css')));
  if (fs.existsSync(dashboardBuildDir)) app.use(express.static(dashboardBuildDir));
  // Only the protocol's browser-safe module (one definition of a reported change), not the zod schemas.
  app.get('/protocol/change.js', (_req, res) => res.type('text/javascript').sendFile(path.join(dashboardProtocolDir, 'change.js')));
  return app;
}
