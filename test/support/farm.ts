// Test farm: a real server (HTTP + WebSocket on a random port, SQLite file in a temp folder)
// and, on request, a real agent process connected over a real socket, plus a CLI runner.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../../server/main.js';
import type { QueuePolicy } from '../../server/queue/jobs.js';
import type { WebhookConfig } from '../../server/webhooks/deliver.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const cliBin = path.join(repoRoot, 'bin', 'benchfleet.js');

export interface CliResult { code: number; stdout: string; stderr: string }

export interface Farm {
  url: string;
  adminToken: string;
  dataDir: string;
  server: RunningServer;
  agent: ChildProcess | null;
  agentToken: string | null;
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  api<T = unknown>(method: string, route: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>;
  startAgent(opts?: { name?: string; sysfsRoot?: string; config?: string; env?: Record<string, string> }): Promise<ChildProcess>;
  stopAgent(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `benchfleet-${prefix}-`));
}

export function runCli(args: string[], env: Record<string, string>, cwd = repoRoot): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBin, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function startFarm(opts: { agent?: boolean; policy?: Partial<QueuePolicy>; heartbeatMs?: number; dataDir?: string; webhooks?: Partial<WebhookConfig> } = {}): Promise<Farm> {
  const dataDir = opts.dataDir ?? tempDir('farm');
  const logFile = fs.createWriteStream(path.join(dataDir, 'server.log'), { flags: 'a' });
  const server = await startServer({
    port: 0, dataDir, heartbeatMs: opts.heartbeatMs ?? 500, dispatchIntervalMs: 200, policy: opts.policy, webhooks: opts.webhooks,
    log: (msg, extra) => logFile.write(`${JSON.stringify({ msg, ...extra })}\n`),
  });
  const adminToken = server.firstAdminToken ?? fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8');
  fs.writeFileSync(path.join(dataDir, 'admin-token'), adminToken);
  const api = async <T>(method: string, route: string, body?: unknown, token = adminToken) => {
    const res = await fetch(`${server.url}/api/v1${route}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };

  const farm: Farm = {
    url: server.url, adminToken, dataDir, server, agent: null, agentToken: null, api,
    cli: (args, env = {}) => runCli(args, { BENCHFLEET_SERVER: server.url, BENCHFLEET_TOKEN: adminToken, ...env }),
    async startAgent(agentOpts = {}) {
      if (!farm.agentToken) {
        const created = await api<{ token: string }>('POST', '/agents', { name: agentOpts.name ?? 'test-agent' });
        if (created.status !== 201) throw new Error(`could not create agent: ${JSON.stringify(created.body)}`);
        farm.agentToken = created.body.token;
      }
      // The token from a 0600 file, as a careful user gives it (not in argv, where `ps` shows it).
      const tokenFile = path.join(dataDir, 'agent-token');
      fs.writeFileSync(tokenFile, `${farm.agentToken}\n`, { mode: 0o600 });
      const args = [cliBin, 'agent', '--server', server.url, '--token-file', tokenFile, '--data', path.join(dataDir, 'agent'), '--name', 'testbox'];
      if (agentOpts.sysfsRoot) args.push('--sysfs-root', agentOpts.sysfsRoot);
      if (agentOpts.config) args.push('--config', agentOpts.config);
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(agentOpts.env ? { env: { ...process.env, ...agentOpts.env } } : {}) });
      const agentLog = fs.createWriteStream(path.join(dataDir, 'agent.log'), { flags: 'a' });
      child.stdout?.pipe(agentLog);
      child.stderr?.pipe(agentLog);
      farm.agent = child;
      await waitFor('the agent to come online', async () => {
        const res = await api<{ items: { state: string }[] }>('GET', '/devices');
        return res.body.items.some((d) => d.state !== 'offline');
      });
      return child;
    },
    async stopAgent(signal = 'SIGTERM') {
      const child = farm.agent;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill(signal); });
      farm.agent = null;
    },
    async stop() {
      await farm.stopAgent('SIGKILL');
      await server.close();
      logFile.end();
      if (!process.env.BENCHFLEET_KEEP_TEST_DATA && !opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (opts.agent) {
    try {
      await farm.startAgent();
    } catch (err) {
      await farm.stop();
      const agentLog = path.join(dataDir, 'agent.log');
      throw new Error(`${(err as Error).message}; agent log: ${fs.existsSync(agentLog) ? fs.readFileSync(agentLog, 'utf8').slice(-2000) : '(none)'}`);
    }
  }
  return farm;
}
