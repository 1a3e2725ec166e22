// HTTP client for the CLI: resolves the server and token (flags, environment, ./data/credentials.json),
// sends requests and turns every failure into a CliError with a documented exit code.
import fs from 'node:fs';
import path from 'node:path';
import { API_PREFIX } from '../protocol/api.js';

/** Exit codes (documented in docs/cli.md). */
export const EXIT = {
  ok: 0,
  runFailed: 1,
  usage: 2,
  apiError: 3,
  unreachable: 4,
  waitTimeout: 5,
  notFound: 6,
  auth: 7,
  /** `up` / `server`: the port is taken or the address cannot be listened on. */
  listen: 8,
  /** --fail-on-regression: a job's result is a regression against its baseline. */
  regression: 10,
  /** A bug in benchfleet (never a user's input): the one-line message says what broke. */
  internal: 70,
} as const;

/** The error code printed after a CLI error's message, by exit code. */
const EXIT_CODE_NAMES: Record<number, string> = {
  1: 'run_failed', 2: 'usage', 3: 'api_error', 4: 'unreachable', 5: 'wait_timeout', 6: 'not_found', 7: 'unauthorized', 8: 'cannot_listen', 10: 'regression', 70: 'internal',
};

export class CliError extends Error {
  readonly code: string;
  constructor(readonly exitCode: number, message: string, code?: string) {
    super(message);
    this.code = code ?? EXIT_CODE_NAMES[exitCode] ?? 'error';
  }
}

export interface Credentials { server: string; token: string | null; source: string }

export const CREDENTIALS_FILE = 'credentials.json';

export function resolveCredentials(flags: { server?: string | undefined; token?: string | undefined; credentials?: string | undefined }): Credentials {
  const file = flags.credentials ?? path.join(process.env.BENCHFLEET_DATA ?? 'data', CREDENTIALS_FILE);
  let saved: { server?: string; token?: string } = {};
  if (fs.existsSync(file)) {
    try {
      saved = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof saved;
    } catch {
      throw new CliError(EXIT.usage, `${file} is not valid JSON; delete it or pass --server and --token`);
    }
  }
  const server = flags.server ?? process.env.BENCHFLEET_SERVER ?? saved.server ?? 'http://127.0.0.1:8080';
  const token = flags.token ?? process.env.BENCHFLEET_TOKEN ?? saved.token ?? null;
  const source = flags.token ? '--token' : process.env.BENCHFLEET_TOKEN ? 'BENCHFLEET_TOKEN' : saved.token ? file : 'none';
  return { server: server.replace(/\/$/, ''), token, source };
}

export class ApiClient {
  constructor(readonly creds: Credentials) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    if (!this.creds.token) {
      throw new CliError(EXIT.auth, 'no token: pass --token, set BENCHFLEET_TOKEN, or run from the folder where `benchfleet up` wrote data/credentials.json');
    }
    return { authorization: `Bearer ${this.creds.token}`, ...extra };
  }

  async request<T>(method: string, route: string, init: { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string>; raw?: boolean; binary?: boolean } = {}): Promise<T> {
    const headers = this.headers(init.headers);
    let body: RequestInit['body'] | undefined = init.body;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    let res: Response;
    try {
      res = await fetch(`${this.creds.server}${API_PREFIX}${route}`, { method, headers, body, duplex: init.body ? 'half' : undefined } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(EXIT.unreachable, `cannot reach the server at ${this.creds.server} (${cause?.code ?? cause?.message ?? (err as Error).message}); is \`benchfleet up\` running?`);
    }
    if (!res.ok) {
      const text = await res.text();
      let code = `http_${res.status}`;
      let message = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = parsed.error?.code ?? code;
        message = parsed.error?.message ?? message;
      } catch { /* not JSON: keep the text */ }
      const exit = res.status === 401 || res.status === 403 ? EXIT.auth : res.status === 404 ? EXIT.notFound : EXIT.apiError;
      throw new CliError(exit, `${message} (${code})`);
    }
    if (init.binary) return Buffer.from(await res.arrayBuffer()) as T;
    if (init.raw) return (await res.text()) as T;
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }
}
