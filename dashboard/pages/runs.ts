// The Runs page (#/runs): the 50 newest runs with model, runtime, device selector, status, job
// counts per status, the headline result per device (median and verdict badge), submission time
// and git branch/commit. Each row opens the run detail page.
import type { LiveEvent, RunView } from '../../protocol/api.js';
import { api } from '../api.js';
import { badge, empty, h, mono, replaceChildren, table, type Child } from '../dom.js';
import { ago, dateTime, label, num, shortId, signedPct, tone } from '../format.js';
import type { Page } from '../page.js';

const STATUS_ORDER = ['succeeded', 'running', 'assigned', 'queued', 'failed', 'timed_out', 'canceled'] as const;

function jobCounts(run: RunView): Child[] {
  const parts = STATUS_ORDER.filter((s) => (run.job_counts[s] ?? 0) > 0)
    .map((s) => badge(`${run.job_counts[s]} ${label(s)}`, tone(s)));
  return parts.length ? parts.flatMap((p, i) => (i ? [' ', p] : [p])) : ['—'];
}

/** Per device: the headline median and the verdict badge (a confirmed regression is red even when the run succeeded). */
function headline(run: RunView): Child[] {
  if (run.headline.length === 0) return ['—'];
  return run.headline.map((x) => {
    const median = x.median === null ? null : h('span', { class: 'num' }, `${num(x.median)} ${x.unit ?? ''}`);
    let verdict: HTMLElement | null = null;
    if (x.ab_status) {
      const text = x.ab_status === 'changed' ? `A/B ${x.verdict} ${signedPct(x.effect)}` : `A/B ${label(x.ab_status)}`;
      verdict = badge(text, x.verdict === 'regression' ? 'red' : x.verdict === 'improvement' ? 'green' : x.ab_status === 'running' ? 'blue' : 'grey');
    } else if (x.status !== 'succeeded') {
      verdict = badge(`${label(x.status)}${x.error_code ? `: ${x.error_code}` : ''}`, tone(x.status));
    } else if (x.verdict === 'regression' || x.verdict === 'improvement') {
      const state = x.confirmation === 'confirmed' ? 'confirmed' : x.confirmation === 'pending' ? 'confirming' : x.confirmation === 'not_confirmed' ? 'not confirmed' : 'suspect';
      const metric = x.metric && x.metric !== 'latency_ms' ? `${x.metric} ` : '';
      const tone2 = x.verdict === 'regression' ? (x.confirmation === 'confirmed' ? 'red' : 'amber') : 'green';
      verdict = badge(`${metric}${x.verdict} ${signedPct(x.effect)} · ${state}`, tone2);
    } else if (x.verdict === 'pass') verdict = badge('no change', 'grey');
    else if (x.verdict === 'too_noisy') verdict = badge('too noisy', 'amber');
    if (verdict) verdict.dataset.verdict = x.verdict ?? x.status;
    return h('div', { class: 'headline', 'data-device': x.device_name }, h('span', { class: 'subtle' }, `${x.device_name} `), median, ' ', verdict,
      x.fidelity_flagged ? ' ' : null, x.fidelity_flagged ? badge('fidelity', 'red', 'outputs differ from the reference beyond the family\'s thresholds') : null);
  });
}

export function gitSummary(git: RunView['git']): Child {
  if (!git.branch && !git.commit) return h('span', { class: 'subtle' }, '—');
  return h('span', { title: [git.repository, git.branch, git.commit, git.pull_request ? `PR ${git.pull_request}` : ''].filter(Boolean).join(' · ') },
    git.branch ?? '', git.branch && git.commit ? ' @ ' : '', git.commit ? mono(git.commit.slice(0, 10)) : null);
}

export function runsPage(): Page {
  const el = h('section', { 'data-page': 'runs' }, h('div', { class: 'loading' }, 'loading…'));

  function render(page: { items: RunView[]; next_cursor: string | null }): void {
    const runs = page.items;
    const body = runs.length === 0
      ? empty('No runs yet.', ['Push a model and submit one: ', h('code', {}, 'benchfleet run submit --model <family:variant> --device "*" --wait')])
      : table<RunView>([
        { title: 'Run', cell: (r) => h('a', { href: `#/runs/${encodeURIComponent(r.id)}`, title: r.id }, mono(shortId(r.id))) },
        { title: 'Model', cell: (r) => h('strong', {}, `${r.model.family}:${r.model.variant}`) },
        { title: 'Runtime', cell: (r) => r.runtime },
        { title: 'Devices', cell: (r) => mono(r.device_selector) },
        { title: 'Status', cell: (r) => badge(label(r.status), tone(r.status)) },
        { title: 'Jobs', cell: jobCounts },
        { title: 'Results', cell: headline },
        { title: 'Created', cell: (r) => h('span', { title: dateTime(r.created_at) }, ago(r.created_at)) },
        { title: 'Git', cell: (r) => gitSummary(r.git) },
      ], runs, {
        id: 'runs',
        rowAttrs: (r) => ({ 'data-run-id': r.id, 'data-status': r.status }),
        onRow: (r) => { location.hash = `#/runs/${encodeURIComponent(r.id)}`; },
      });
    replaceChildren(el,
      h('div', { class: 'page-head' }, h('h1', {}, 'Runs'), h('span', { class: 'subtle' }, page.next_cursor ? `newest ${runs.length}` : `${runs.length} run${runs.length === 1 ? '' : 's'}`)),
      body,
    );
  }

  return {
    el,
    async refresh(signal) {
      render(await api.runs(signal));
    },
    wants: (event: LiveEvent) => event.type === 'run.changed' || (event.type === 'job.changed' && event.progress === undefined),
    dispose() {},
  };
}
