// Dashboard entry point: takes a `#token=…` from the URL fragment into localStorage (and strips it
// from the address bar), asks for a token when there is none or the server rejects it, routes the
// hash (#/farm, #/runs, #/runs/<id>) to a page, and keeps the page current: live events refresh it
// (coalesced over ~300 ms, one refresh at a time), a reconnect or a slow timer catch up on anything
// missed, and the header shows whether the live socket is connected.
import type { LiveEvent } from '../protocol/api.js';
import { ApiError, getToken, handleUnauthorized, LiveSocket, setToken, type LiveState } from './api.js';
import { errorBox, h, replaceChildren } from './dom.js';
import type { Page } from './page.js';
import { farmPage } from './pages/farm.js';
import { runDetailPage } from './pages/run-detail.js';
import { runsPage } from './pages/runs.js';
import { seriesListPage, seriesPage } from './pages/series.js';
import { alertsPage } from './pages/alerts.js';
import { comparePage } from './pages/compare.js';

const REFRESH_DELAY_MS = 300;
const POLL_MS = 30_000;

const main = document.getElementById('main') as HTMLElement;
const liveEl = document.getElementById('live') as HTMLElement;
const signOut = document.getElementById('signout') as HTMLButtonElement;
const banner = h('div', { id: 'banner' });

interface Mounted { page: Page; abort: AbortController; running: Promise<void> | null; again: boolean; timer: ReturnType<typeof setTimeout> | null }
let current: Mounted | null = null;
let wasLive = false;

/** Moves a token from the fragment (`#token=…`, also `#/runs/x&token=…`) to storage and cleans the URL. */
function takeTokenFromUrl(): void {
  const hash = location.hash.replace(/^#/, '');
  const match = /(^|[&?])token=([^&]*)/.exec(hash);
  if (!match) return;
  const token = decodeURIComponent(match[2] ?? '').trim();
  if (token) setToken(token);
  const rest = (hash.slice(0, match.index) + hash.slice(match.index + match[0].length)).replace(/^[&?]+|[&?]+$/g, '');
  history.replaceState(null, '', `${location.pathname}${location.search}#${rest.startsWith('/') ? rest : '/farm'}`);
}

function setLive(state: LiveState): void {
  liveEl.className = `live live-${state === 'live' ? 'on' : state === 'connecting' ? 'connecting' : 'off'}`;
  liveEl.textContent = state === 'live' ? 'live' : state === 'connecting' ? 'reconnecting…' : 'offline';
  liveEl.dataset.state = state;
  if (state === 'live') {
    // Events sent while we were disconnected are lost: catch up once the socket is back.
    if (wasLive) void refresh();
    wasLive = true;
  }
}

const live = new LiveSocket(onLiveEvent, setLive);

function onLiveEvent(event: LiveEvent): void {
  const m = current;
  if (!m || !m.page.wants(event) || m.timer) return;
  m.timer = setTimeout(() => {
    m.timer = null;
    if (current === m) void refresh();
  }, REFRESH_DELAY_MS);
}

/** Refreshes the mounted page; overlapping requests collapse into one follow-up refresh. */
async function refresh(): Promise<void> {
  const m = current;
  if (!m) return;
  if (m.running) { m.again = true; return; }
  m.running = (async () => {
    try {
      await m.page.refresh(m.abort.signal);
      if (current === m) replaceChildren(banner);
    } catch (err) {
      if (current !== m || m.abort.signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) return; // the token form is already showing
      const code = err instanceof ApiError ? err.code : null;
      const message = err instanceof Error ? err.message : String(err);
      replaceChildren(banner, errorBox('Could not load this page:', code, message));
      m.page.el.querySelector('.loading')?.remove();
    }
  })();
  await m.running;
  m.running = null;
  if (m.again && current === m) {
    m.again = false;
    await refresh();
  }
}

function unmount(): void {
  if (!current) return;
  current.abort.abort();
  if (current.timer) clearTimeout(current.timer);
  current.page.dispose();
  current = null;
}

function pageFor(hash: string): { page: Page; nav: string; title: string } {
  const path = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  if (path[0] === 'runs' && path[1]) return { page: runDetailPage(path[1]), nav: 'runs', title: `Run ${path[1]}` };
  if (path[0] === 'runs') return { page: runsPage(), nav: 'runs', title: 'Runs' };
  if (path[0] === 'series' && path[1]) return { page: seriesPage(path[1], path[2] ?? 'latency_ms'), nav: 'series', title: `Series ${path[1].slice(0, 8)}` };
  if (path[0] === 'series') return { page: seriesListPage(), nav: 'series', title: 'Series' };
  if (path[0] === 'compare') return { page: comparePage(path[1] ?? null), nav: 'compare', title: `Compare${path[1] ? ` ${path[1]}` : ''}` };
  if (path[0] === 'alerts') return { page: alertsPage(path[1] ?? null), nav: 'alerts', title: 'Alerts' };
  return { page: farmPage(), nav: 'farm', title: 'Farm' };
}

function route(): void {
  takeTokenFromUrl();
  unmount();
  if (!getToken()) { showTokenForm(null); return; }
  signOut.hidden = false;
  live.start();
  const { page, nav, title } = pageFor(location.hash);
  document.title = `${title} · benchfleet`;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
  current = { page, abort: new AbortController(), running: null, again: false, timer: null };
  replaceChildren(banner);
  replaceChildren(main, banner, page.el);
  void refresh();
}

function showTokenForm(problem: string | null): void {
  unmount();
  live.stop();
  wasLive = false;
  signOut.hidden = true;
  document.title = 'Sign in · benchfleet';
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.remove('active');
  const existing = document.getElementById('token-form');
  const problemEl = problem ? h('div', { class: 'error-box', role: 'alert', id: 'token-problem' }, 'The token was rejected: ', problem) : null;
  if (existing) {
    existing.querySelector('#token-problem')?.remove();
    if (problemEl) existing.querySelector('h1')?.after(problemEl);
    return;
  }
  const input = h('input', { id: 'token-input', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'paste a token' });
  const form = h('form', { class: 'token-form card', id: 'token-form' },
    h('h1', {}, 'Sign in to benchfleet'),
    problemEl,
    h('p', { class: 'subtle' }, 'Paste an API token. One is printed by ', h('code', {}, 'benchfleet up'), ' on first start, or create one with ',
      h('code', {}, 'benchfleet token create --role read --name dashboard'), '.'),
    h('label', { for: 'token-input' }, 'API token'),
    input,
    h('button', { class: 'primary', type: 'submit' }, 'Open dashboard'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    setToken(token);
    route();
  });
  replaceChildren(main, form);
  input.focus();
}

handleUnauthorized((message) => {
  setToken(null);
  showTokenForm(message);
});

signOut.addEventListener('click', () => {
  setToken(null);
  showTokenForm(null);
});

window.addEventListener('hashchange', route);
setInterval(() => {
  if (document.visibilityState === 'visible') void refresh();
}, POLL_MS);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') void refresh();
});
route();
