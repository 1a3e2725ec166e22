// `benchfleet device …`, `benchfleet agents …` and `benchfleet token …`.
import type { Command } from 'commander';
import type { AgentView, DeviceView, Page, TokenView } from '../../protocol/api.js';
import { DEVICE_HEALTHS, TOKEN_ROLES } from '../../protocol/domain.js';
import { CliError, EXIT } from '../client.js';
import { table } from '../format.js';
import type { CommandEnv } from '../main.js';

export function registerFarmCommands(program: Command, env: CommandEnv): void {
  const device = program.command('device').description('list and manage devices');
  device.command('list').description('list devices with state and health').action(env.wrap(async ({ api, json, print }) => {
    const page = await api.request<Page<DeviceView>>('GET', '/devices?limit=500');
    if (json) return print(page.items);
    if (page.items.length === 0) return print('no devices yet: start an agent (benchfleet up starts one for this machine)');
    print(table(['NAME', 'DRIVER', 'AGENT', 'STATE', 'HEALTH', 'RUNTIMES', 'CPU / SOC'],
      page.items.map((d) => [d.name, d.driver, d.agent_name, d.state, d.health, d.runtimes.join(','), d.labels.cpu ?? d.labels.soc ?? d.labels.board])));
  }));
  device.command('show <name>').description('show one device with all its labels').action(env.wrap(async ({ api, json, print }, name: string) => {
    const d = await api.request<DeviceView>('GET', `/devices/${encodeURIComponent(name)}`);
    if (json) return print(d);
    print([`name:     ${d.name} (${d.id})`, `driver:   ${d.driver}  serial: ${d.serial}`, `agent:    ${d.agent_name}`,
      `state:    ${d.state}${d.current_job_id ? ` (job ${d.current_job_id})` : ''}`,
      `health:   ${d.health}${d.health_reason ? ` — ${d.health_reason}` : ''} (failures in a row: ${d.consecutive_failures})`,
      `runtimes: ${d.runtimes.join(', ') || '-'}`, 'labels:', ...Object.entries(d.labels).map(([k, v]) => `  ${k}=${v}`)].join('\n'));
  }));
  device.command('set-health <name> <health>').description(`set a device's health (${DEVICE_HEALTHS.join(', ')}); good clears a bad device`)
    .action(env.wrap(async ({ api, json, print }, name: string, health: string) => {
      if (!(DEVICE_HEALTHS as readonly string[]).includes(health)) throw new CliError(EXIT.usage, `health must be one of ${DEVICE_HEALTHS.join(', ')}`);
      const d = await api.request<DeviceView>('PATCH', `/devices/${encodeURIComponent(name)}`, { json: { health } });
      print(json ? d : `${d.name}: health ${d.health}`);
    }));

  const agents = program.command('agents').description('list, create and revoke agents');
  agents.command('list').action(env.wrap(async ({ api, json, print }) => {
    const page = await api.request<Page<AgentView>>('GET', '/agents?limit=500');
    if (json) return print(page.items);
    print(table(['NAME', 'ID', 'HOST', 'ONLINE', 'DEVICES', 'LAST SEEN'],
      page.items.map((a) => [a.name, a.id, a.hostname, a.revoked ? 'revoked' : a.online ? 'online' : 'offline', a.device_count, a.last_seen_at])));
  }));
  agents.command('create <name>').description('create an agent and print its token (shown once)').action(env.wrap(async ({ api, json, print }, name: string) => {
    const res = await api.request<{ agent: AgentView; token: string }>('POST', '/agents', { json: { name } });
    if (json) return print(res);
    print(`agent ${res.agent.name} (${res.agent.id}) created; its token (shown once):\n  ${res.token}\nstart it with: benchfleet agent --server ${api.creds.server} --token ${res.token}`);
  }));
  agents.command('revoke <name>').description('revoke an agent: its token stops working and it is disconnected').action(env.wrap(async ({ api, json, print }, name: string) => {
    const a = await api.request<AgentView>('POST', `/agents/${encodeURIComponent(name)}/revoke`);
    print(json ? a : `agent ${a.name} revoked`);
  }));

  const token = program.command('token').description('create, list and revoke API tokens');
  token.command('create').description('create a token (shown once)')
    .requiredOption('--role <role>', `one of ${TOKEN_ROLES.filter((r) => r !== 'agent').join(', ')}`)
    .requiredOption('--name <name>', 'what the token is for, e.g. "ci"')
    .action(env.wrap(async ({ api, json, print }, o: { role: string; name: string }) => {
      const res = await api.request<{ id: string; token: string }>('POST', '/tokens', { json: { role: o.role, name: o.name } });
      print(json ? res : `token ${res.id} (${o.role}), shown once:\n  ${res.token}`);
    }));
  token.command('list').action(env.wrap(async ({ api, json, print }) => {
    const page = await api.request<Page<TokenView>>('GET', '/tokens');
    print(json ? page.items : table(['ID', 'ROLE', 'NAME', 'CREATED', 'REVOKED'], page.items.map((t) => [t.id, t.role, t.name, t.created_at, t.revoked ? 'yes' : ''])));
  }));
  token.command('revoke <id>').action(env.wrap(async ({ api, print }, id: string) => {
    await api.request('DELETE', `/tokens/${encodeURIComponent(id)}`);
    print(`token ${id} revoked`);
  }));
}
