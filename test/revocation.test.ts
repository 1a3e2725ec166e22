// Revoking a token takes effect on sockets already open with it: a live dashboard socket is
// closed at once, and an agent whose token (or which) is revoked is disconnected, gets no more
// work and cannot come back — over real HTTP, real WebSockets and a real agent process.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WebSocket } from 'ws';
import type { DeviceView, Page, RunView, TokenView } from '../protocol/api.js';
import { startFarm, waitFor, type Farm } from './support/farm.js';

let farm: Farm | null = null;
after(async () => { await farm?.stop(); });

test('revoking a token closes the sockets opened with it; a revoked agent gets no more work', { timeout: 60_000 }, async () => {
  const f = await startFarm({ agent: true });
  farm = f;
  // A live dashboard socket with a read token, then the token is revoked.
  const made = await f.api<{ id: string; token: string }>('POST', '/tokens', { role: 'read', name: 'wall screen' });
  assert.equal(made.status, 201);
  const ws = new WebSocket(`${f.url.replace(/^http/, 'ws')}/ws/live?token=${made.body.token}`);
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  assert.equal((await f.api('DELETE', `/tokens/${made.body.id}`)).status, 204);
  const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 3000))]);
  assert.equal(code, 4401, 'the live socket is closed at once with "token revoked"');

  // The agent's token is revoked: its socket closes, its device goes offline, and a job submitted now is not assigned to it.
  const tokens = (await f.api<Page<TokenView>>('GET', '/tokens')).body.items;
  const agentToken = tokens.find((t) => t.role === 'agent' && !t.revoked);
  assert.ok(agentToken, 'the agent has a token');
  assert.equal((await f.api('DELETE', `/tokens/${agentToken.id}`)).status, 204);
  await waitFor('the device to go offline', async () => (await f.api<Page<DeviceView>>('GET', '/devices')).body.items.every((d) => d.state === 'offline'), 5000);
  const pushed = await f.cli(['model', 'push', 'examples/models/kws-cnn-int8.onnx', '--family', 'rv', '--variant', 'int8']);
  assert.equal(pushed.code, 0, pushed.stderr);
  const submitted = await f.cli(['run', 'submit', '--model', 'rv:int8', '--device', 'testbox', '--iterations', '5', '--json']);
  assert.equal(submitted.code, 0, submitted.stderr);
  const runId = (JSON.parse(submitted.stdout) as RunView).id;
  await new Promise((r) => setTimeout(r, 2500)); // the agent retries its connection meanwhile
  const view = (await f.api<RunView>('GET', `/runs/${runId}`)).body;
  assert.deepEqual(view.jobs?.map((j) => [j.status, j.attempt]), [['queued', 0]], 'a revoked agent is assigned nothing');
  assert.ok(f.server.db.prepare(`SELECT 1 FROM agents WHERE online = 1`).get() === undefined, 'and it could not come back');
});

test('the agent takes its token from a file or the environment; a token in argv is warned about; a bad token file is one line', { timeout: 60_000 }, async () => {
  const f = farm!;
  // The farm's agent was started with --token-file (test/support/farm.ts) and worked above; these are the refusals.
  const missing = await f.cli(['agent', '--server', f.url, '--token-file', '/nonexistent/agent-token', '--data', '/tmp/never']);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.trim().split('\n').length, 1);
  assert.match(missing.stderr, /^benchfleet: --token-file \/nonexistent\/agent-token: no such file/);
  const both = await f.cli(['agent', '--server', f.url, '--token', 'x', '--token-file', '/etc/hostname', '--data', '/tmp/never']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /give the agent token once/);
  // A token given in argv still works (here it is refused by the server) but is warned about first.
  const argv = await f.cli(['agent', '--server', f.url, '--token', 'bfa_not-a-token', '--data', path.join(f.dataDir, 'argv-agent')]);
  assert.equal(argv.code, 7, argv.stderr);
  assert.match(argv.stderr, /^benchfleet: warning: --token on the command line is visible to every local user in `ps`/);
});
