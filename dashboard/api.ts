// Talking to the benchfleet server: the bearer token (kept in localStorage), typed GET helpers for
// the REST API that turn `{ error: { code, message } }` bodies into ApiError (with a dedicated
// `unauthorized` path so the app can ask for a new token), and LiveSocket, which keeps the
// /ws/live WebSocket open with exponential backoff and reports its state for the header indicator.
import type { AgentView, DeviceView, JobView, LiveEvent, ModelView, Page, RunView, SamplesView } from '../protocol/api.js';
import type { CompareView } from '../protocol/variants.js';
import type { AlertView, SeriesHistoryView, SeriesView } from '../protocol/alerts.js';

const TOKEN_KEY = 'benchfleet.token';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled (private mode): the token then lives only as long as the page
  }
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Called once per 401 so the app can forget the token and show the token form. */
let onUnauthorized: (message: string) => void = () => undefined;
export function handleUnauthorized(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

async function request<T>(method: string, path: string, signal?: AbortSignal, payload?: unknown): Promise<T> {
  const token = getToken();
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers: {
        Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(payload === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: payload === undefined ? undefined : JSON.stringify(payload),
      signal,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'cannot reach the benchfleet server');
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // non-JSON body (proxy error page, empty response): reported below with the status alone
  }
  // Left the page meanwhile (e.g. a parallel request's 401 already showed the token form).
  signal?.throwIfAborted();
  if (!res.ok) {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof error?.code === 'string' ? error.code : `http_${res.status}`;
    const message = typeof error?.message === 'string' ? error.message : `${res.status} ${res.statusText}`;
    if (res.status === 401) onUnauthorized(message);
    throw new ApiError(res.status, code, message);
  }
  return body as T;
}

const get = <T>(path: string, signal?: AbortSignal): Promise<T> => request<T>('GET', path, signal);
const q = (params: Record<string, string | undefined>) => new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)).toString();

export const api = {
  models: (signal?: AbortSignal) => get<Page<ModelView>>('/models?limit=500', signal),
  compare: (family: string, objective: string, budget: number, settings: string | undefined, signal?: AbortSignal) =>
    get<CompareView>(`/compare?${q({ family, objective, budget: String(budget), settings })}`, signal),
  series: (params: { family?: string; device?: string }, signal?: AbortSignal) => get<Page<SeriesView>>(`/series?${q({ limit: '500', ...params })}`, signal),
  seriesHistory: (key: string, metric: string, branch: string | undefined, signal?: AbortSignal) =>
    get<SeriesHistoryView>(`/series/${encodeURIComponent(key)}/${encodeURIComponent(metric)}?${q({ branch, limit: '300' })}`, signal),
  alerts: (status: string | undefined, signal?: AbortSignal) => get<Page<AlertView>>(`/alerts?${q({ limit: '200', status })}`, signal),
  alert: (id: string, signal?: AbortSignal) => get<AlertView>(`/alerts/${encodeURIComponent(id)}`, signal),
  acknowledgeAlert: (id: string) => request<AlertView>('POST', `/alerts/${encodeURIComponent(id)}/acknowledge`, undefined, {}),
  resolveAlert: (id: string) => request<AlertView>('POST', `/alerts/${encodeURIComponent(id)}/resolve`, undefined, { note: 'resolved in the dashboard' }),
  muteSeries: (key: string, metric: string, duration: string) => request<unknown>('POST', `/series/${encodeURIComponent(key)}/mute`, undefined, { metric, for: duration }),
  devices: (signal?: AbortSignal) => get<Page<DeviceView>>('/devices?limit=500', signal),
  agents: (signal?: AbortSignal) => get<Page<AgentView>>('/agents?limit=500', signal),
  runs: (signal?: AbortSignal) => get<Page<RunView>>('/runs?limit=50', signal),
  run: (id: string, signal?: AbortSignal) => get<RunView>(`/runs/${encodeURIComponent(id)}`, signal),
  job: (id: string, signal?: AbortSignal) => get<JobView>(`/jobs/${encodeURIComponent(id)}`, signal),
  samples: (jobId: string, metric: string, signal?: AbortSignal) =>
    get<SamplesView>(`/jobs/${encodeURIComponent(jobId)}/samples?metric=${encodeURIComponent(metric)}`, signal),
};

export type LiveState = 'live' | 'connecting' | 'off';

/** The /ws/live socket: reconnects with backoff (1 s doubling to 30 s) until stopped. */
export class LiveSocket {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private delay = 1000;
  private stopped = true;

  constructor(private readonly onEvent: (event: LiveEvent) => void, private readonly onState: (state: LiveState) => void) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'bye');
    this.onState('off');
  }

  private connect(): void {
    const token = getToken();
    if (this.stopped || !token) { this.onState('off'); return; }
    this.onState('connecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws/live?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 1000;
      this.onState('live');
    };
    ws.onmessage = (msg) => {
      if (typeof msg.data !== 'string') return;
      let event: LiveEvent;
      try {
        event = JSON.parse(msg.data) as LiveEvent;
      } catch {
        return;
      }
      if (event && typeof event.type === 'string') this.onEvent(event);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.onState('connecting');
      // Jitter keeps many dashboards from reconnecting in lockstep after a server restart.
      this.timer = setTimeout(() => this.connect(), this.delay * (0.8 + Math.random() * 0.4));
      this.delay = Math.min(this.delay * 2, 30_000);
    };
  }
}
