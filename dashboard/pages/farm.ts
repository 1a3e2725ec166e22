// The Farm page (#/farm): every device with its driver, agent, state and health (with the reason
// when a device was marked bad), its key hardware labels, runtimes and the job it is running, plus
// every agent with its online status and last contact. Busy devices link to the run of their job.
import type { AgentView, DeviceView, LiveEvent } from '../../protocol/api.js';
import { api } from '../api.js';
import { badge, empty, h, mono, replaceChildren, table, type Child } from '../dom.js';
import { ago, dateTime, shortId, tone } from '../format.js';
import type { Page } from '../page.js';

/** Labels worth a column, in display order; the rest stay in the tooltip. */
const KEY_LABELS = ['board', 'soc', 'cpu', 'arch', 'os', 'gpu', 'npu'];

function labelChips(labels: Record<string, string>): Child[] {
  const keys = KEY_LABELS.filter((k) => labels[k]);
  const rest = Object.keys(labels).filter((k) => !KEY_LABELS.includes(k));
  const all = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join('\n');
  const chips: Child[] = keys.map((k) => h('span', { class: 'chip', title: all }, h('b', {}, k), ' ', labels[k] ?? ''));
  if (rest.length) chips.push(h('span', { class: 'chip subtle', title: all }, `+${rest.length} more`));
  return chips.length ? chips : ['—'];
}

export function farmPage(): Page {
  const el = h('section', { 'data-page': 'farm' }, h('div', { class: 'loading' }, 'loading…'));
  const jobRuns = new Map<string, string>();

  function currentJob(d: DeviceView): Child {
    if (!d.current_job_id) return h('span', { class: 'subtle' }, '—');
    const runId = jobRuns.get(d.current_job_id);
    const text = mono(shortId(d.current_job_id), d.current_job_id);
    return runId ? h('a', { href: `#/runs/${encodeURIComponent(runId)}` }, text) : text;
  }

  function render(devices: DeviceView[], agents: AgentView[]): void {
    const count = (s: string) => devices.filter((d) => d.state === s).length;
    const online = agents.filter((a) => a.online).length;
    const summary = `${devices.length} device${devices.length === 1 ? '' : 's'} · ${count('idle')} idle · ${count('busy')} busy · ${count('offline')} offline · ${online}/${agents.length} agents online`;

    const devicesTable = devices.length === 0
      ? empty('No devices yet — start an agent.', ['Run ', h('code', {}, 'benchfleet up'), ' for this machine, or ', h('code', {}, 'benchfleet agent --server <url> --token <agent token>'), ' on a host next to your devices.'])
      : table<DeviceView>([
        { title: 'Name', cell: (d) => h('strong', {}, d.name) },
        { title: 'Driver', cell: (d) => d.driver },
        { title: 'Agent', cell: (d) => d.agent_name },
        { title: 'State', cell: (d) => badge(d.state, tone(d.state)) },
        { title: 'Health', cell: (d) => [badge(d.health, tone(d.health)), d.health_reason ? h('span', { class: 'reason' }, d.health_reason) : null] },
        { title: 'Labels', cell: (d) => labelChips(d.labels) },
        { title: 'Runtimes', cell: (d) => (d.runtimes.length ? d.runtimes.join(', ') : '—') },
        { title: 'Current job', cell: currentJob },
      ], devices, { id: 'devices', rowAttrs: (d) => ({ 'data-device-id': d.id, 'data-device-name': d.name, 'data-state': d.state, 'data-health': d.health }) });

    const agentsTable = agents.length === 0
      ? empty('No agents yet.', ['Create one with ', h('code', {}, 'benchfleet agents create <name>'), ' and start it with the printed token.'])
      : table<AgentView>([
        { title: 'Name', cell: (a) => h('strong', {}, a.name) },
        { title: 'Hostname', cell: (a) => a.hostname ?? '—' },
        { title: 'Status', cell: (a) => (a.revoked ? badge('revoked', 'red') : a.online ? badge('online', 'green') : badge('offline', 'grey')) },
        { title: 'Last seen', cell: (a) => h('span', { title: dateTime(a.last_seen_at) }, ago(a.last_seen_at)) },
        { title: 'Version', cell: (a) => a.version ?? '—' },
        { title: 'Devices', numeric: true, cell: (a) => a.device_count },
      ], agents, { id: 'agents', rowAttrs: (a) => ({ 'data-agent-id': a.id, 'data-agent-name': a.name, 'data-online': String(a.online) }) });

    replaceChildren(el,
      h('div', { class: 'page-head' }, h('h1', {}, 'Farm'), h('span', { class: 'subtle' }, summary)),
      h('h2', {}, 'Devices'), devicesTable,
      h('h2', {}, 'Agents'), agentsTable,
    );
  }

  return {
    el,
    async refresh(signal) {
      const [devices, agents] = await Promise.all([api.devices(signal), api.agents(signal)]);
      // Resolve the run of each running job once, so "current job" can link to the run page.
      const unknown = devices.items.map((d) => d.current_job_id).filter((id): id is string => id !== null && !jobRuns.has(id));
      await Promise.all(unknown.map(async (id) => {
        try {
          jobRuns.set(id, (await api.job(id, signal)).run_id);
        } catch {
          // the job may have finished and the link is only a convenience; show the bare id
        }
      }));
      render(devices.items, agents.items);
    },
    wants: (event: LiveEvent) => event.type === 'device.changed' || event.type === 'agent.changed' || (event.type === 'job.changed' && ['assigned', 'succeeded', 'failed', 'canceled', 'timed_out'].includes(event.status)),
    dispose() {},
  };
}

