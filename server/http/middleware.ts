// Express glue: bearer-token authentication with role checks, zod validation that turns
// failures into 400s, and the one error handler that writes `{ error: { code, message } }`.
import type { NextFunction, Request, Response, RequestHandler } from 'express';
import type { z } from 'zod';
import { BenchfleetError, describeZodError } from '../../protocol/errors.js';
import { allows, authenticate, type Permission, type Principal } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1] ?? null;
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

/** The request's principal, authenticated once (before any body is read) and kept in `res.locals`. */
function principalFor(ctx: ServerContext, req: Request, res: Response): Principal | BenchfleetError {
  if (res.locals.principal) return res.locals.principal as Principal;
  const secret = bearerToken(req.headers.authorization);
  if (!secret) return new BenchfleetError('unauthorized', 'missing bearer token: send `Authorization: Bearer <token>`');
  const principal = authenticate(ctx.db, secret, ctx.now());
  if (!principal) return new BenchfleetError('unauthorized', 'unknown or revoked token');
  res.locals.principal = principal;
  return principal;
}

/**
 * Authenticates every API request before its body is read, so that an anonymous client cannot
 * make the server parse a large body (the route still checks the token's role).
 */
export function authenticateFirst(ctx: ServerContext, open: (req: Request) => boolean): RequestHandler {
  return (req, res, next) => {
    if (open(req)) return next();
    const p = principalFor(ctx, req, res);
    if (p instanceof BenchfleetError) {
      // The body is not read: close the connection after answering, so a large upload stops at once.
      res.setHeader('connection', 'close');
      return next(p);
    }
    next();
  };
}

export function requirePermission(ctx: ServerContext, permission: Permission): RequestHandler {
  return (req, res, next) => {
    const principal = principalFor(ctx, req, res);
    if (principal instanceof BenchfleetError) return next(principal);
    if (!allows(principal.role, permission)) {
      return next(new BenchfleetError('forbidden', `a ${principal.role} token may not ${permission === 'admin' ? 'use admin routes' : `do ${permission}`}`));
    }
    res.locals.principal = principal;
    next();
  };
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new BenchfleetError('validation_failed', `invalid ${where}: ${describeZodError(result.error)}`);
  return result.data;
}

/** Requires a JSON body (express.json leaves `req.body` undefined for other content types). */
export function jsonBody(req: Request): unknown {
  if (!req.is('application/json')) throw new BenchfleetError('unsupported_media_type', 'send the body as application/json');
  return req.body;
}

export function errorHandler(log: (msg: string, extra?: Record<string, unknown>) => void) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const e = toBenchfleetError(err);
    if (e.status >= 500) log('request failed', { method: req.method, path: req.path, error: String((err as Error)?.stack ?? err) });
    if (res.headersSent) { res.destroy(); return; }
    res.status(e.status).json(e.toBody());
  };
}

function toBenchfleetError(err: unknown): BenchfleetError {
  if (err instanceof BenchfleetError) return err;
  const e = err as { type?: string; status?: number; message?: string; code?: string };
  if (e?.type === 'entity.parse.failed') return new BenchfleetError('invalid_json', `malformed JSON body: ${e.message ?? ''}`.trim());
  if (e?.type === 'entity.too.large') return new BenchfleetError('payload_too_large', 'request body exceeds the size limit');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new BenchfleetError('unsupported_media_type', e.message ?? 'unsupported encoding');
  if (e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.code === 'ECONNRESET' || e?.message === 'aborted') {
    return new BenchfleetError('truncated_upload', 'the upload was cut short; nothing was stored');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return new BenchfleetError('bad_request', e.message ?? 'bad request');
  return new BenchfleetError('internal', 'internal server error');
}
