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

export function requirePermission(ctx: ServerContext, permission: Permission): RequestHandler {
  return (req, res, next) => {
    const secret = bearerToken(req.headers.authorization);
    if (!secret) return next(new BenchfleetError('unauthorized', 'missing bearer token: send `Authorization: Bearer <token>`'));
    const principal = authenticate(ctx.db, secret, ctx.now());
    if (!principal) return next(new BenchfleetError('unauthorized', 'unknown or revoked token'));
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
