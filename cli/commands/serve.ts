// `benchfleet up`, `benchfleet server` and `benchfleet agent`: the long-running processes.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { startServer, jsonLog } from '../../server/main.js';
import { createAgent } from '../../server/farm/registry.js';
import { Agent } from '../../agent/agent.js';
import { LinuxDriver } from '../../agent/drivers/linux/driver.js';
import { createDrivers, loadAgentConfig, type AgentConfig } from '../../agent/config.js';
import { adbConfigSchema } from '../../agent/drivers/adb/config.js';
import { AdbDriver } from '../../agent/drivers/adb/driver.js';
import type { Driver } from '../../agent/drivers/driver.js';
import { startDemoPhone, type DemoPhone } from '../demo-phone.js';
import { ApiClient, CREDENTIALS_FILE, CliError, EXIT } from '../client.js';
import net from 'node:net';
import os from 'node:os';

interface ServeOptions { port: string; host: string; data: string; agent?: boolean; sysfsRoot?: string; demoPhone?: boolean; publicUrl?: string }

function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(EXIT.usage, `--port must be 0..65535, got ${text}`);
  return n;
}

/** A JSON file benchfleet wrote earlier; a damaged one is a one-line usage error naming it. */
function readJsonFile<T>(file: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new CliError(EXIT.usage, `${file} is unreadable (${(err as Error).message}); delete it or fix it`);
  }
}

function writePrivateJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}

function onShutdown(fn: () => Promise<void>): void {
  let closing = false;
  const handler = () => {
    if (closing) process.exit(130);
    closing = true;
    fn().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

function listenError(host: string, portNumber: number, err: NodeJS.ErrnoException): CliError {
  const why = err.code === 'EADDRINUSE' ? 'the port is already in use (another benchfleet? pick another with --port)'
    : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges; pick another with --port)'
    : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' ? `${host} is not an address of this machine (check --host)`
    : err.message;
  return new CliError(EXIT.listen, `cannot listen on ${host}:${portNumber}: ${why}`);
}

/** Listens on the address and lets go again, so a taken port fails before anything is created. */
async function checkListen(host: string, portNumber: number): Promise<void> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err: NodeJS.ErrnoException) => reject(listenError(host, portNumber, err)));
    probe.listen(portNumber, host, () => probe.close(() => resolve()));
  });
}

async function serve(opts: ServeOptions, withAgent: boolean): Promise<void> {
  const dataDir = path.resolve(opts.data);
  const portNumber = port(opts.port);
  if (fs.existsSync(dataDir) && !fs.statSync(dataDir).isDirectory()) throw new CliError(EXIT.usage, `--data ${opts.data} is not a folder`);
  await checkListen(opts.host, portNumber);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ port: portNumber, host: opts.host, dataDir, publicUrl: opts.publicUrl ?? null });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') throw listenError(opts.host, portNumber, err as NodeJS.ErrnoException);
    throw err;
  }
  const credentialsFile = path.join(dataDir, CREDENTIALS_FILE);
  const out = process.stdout;
  out.write(`benchfleet server listening on ${server.url} (data in ${dataDir})\n`);
  out.write(`dashboard: ${server.url}/\n`);
  if (server.firstAdminToken) {
    writePrivateJson(credentialsFile, { server: server.url, token: server.firstAdminToken });
    out.write(`\nadmin token (shown once; saved for the CLI in ${credentialsFile}):\n  ${server.firstAdminToken}\n`);
    out.write(`open the dashboard with it: ${server.url}/#token=${server.firstAdminToken}\n\n`);
  } else if (fs.existsSync(credentialsFile)) {
    const saved = readJsonFile<{ server?: string; token?: string }>(credentialsFile);
    if (saved.server !== server.url) writePrivateJson(credentialsFile, { ...saved, server: server.url });
    out.write(`admin token: see ${credentialsFile}\n`);
  }
  let agent: Agent | null = null;
  let demo: DemoPhone | null = null;
  if (withAgent) {
    const identityFile = path.join(dataDir, 'local-agent.json');
    let identity: { agent_id: string; token: string };
    if (fs.existsSync(identityFile)) {
      identity = readJsonFile<typeof identity>(identityFile);
    } else {
      const created = createAgent(server.db, 'local');
      identity = { agent_id: created.agentId, token: created.token };
      writePrivateJson(identityFile, identity);
    }
    const log = jsonLog('agent');
    const drivers: Driver[] = [new LinuxDriver({ sysfsRoot: opts.sysfsRoot })];
    if (opts.demoPhone) {
      demo = await startDemoPhone(dataDir);
      drivers.push(new AdbDriver(demo.adb, log));
      out.write(`demo phone: an emulated Android phone on ${demo.adb.connect[0]} behind a private adb server (port ${demo.adb.port})\n`);
    }
    agent = new Agent({ server: server.url, token: identity.token, dataDir: path.join(dataDir, 'agent'), drivers, log });
    agent.on('connected', () => out.write('local agent connected; this machine is a linux device in the farm\n'));
    agent.on('fatal', (err: Error) => process.stderr.write(`local agent: ${err.message}\n`));
    await agent.start();
  }
  out.write(`try: npx benchfleet model push examples/models/kws-cnn-fp32.onnx --family kws-cnn --variant fp32\n`);
  onShutdown(async () => {
    await agent?.stop();
    await demo?.stop();
    await server.close();
  });
}

const AGENT_TOKEN_FILE = 'agent-token.json';

function savedToken(dataDir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dataDir, AGENT_TOKEN_FILE), 'utf8')) as { token?: string }).token;
  } catch {
    return undefined;
  }
}

/** Trades an enroll token for this agent's own token, once, and keeps it in the agent's data folder. */
async function enroll(server: string, enrollToken: string, name: string, dataDir: string): Promise<string> {
  const saved = savedToken(dataDir);
  if (saved) return saved;
  const api = new ApiClient({ server, token: enrollToken, source: '--enroll' });
  const res = await api.request<{ agent: { id: string; name: string }; token: string }>('POST', '/agents/enroll', { json: { name: name.replace(/[^A-Za-z0-9._-]/g, '-') } });
  writePrivateJson(path.join(dataDir, AGENT_TOKEN_FILE), { server, agent_id: res.agent.id, token: res.token });
  process.stdout.write(`enrolled as agent ${res.agent.name} (${res.agent.id}); token kept in ${path.join(dataDir, AGENT_TOKEN_FILE)}\n`);
  return res.token;
}

export function registerServeCommands(program: Command): void {
  const serverCommand = (name: string, description: string) => program
    .command(name)
    .description(description)
    .option('-p, --port <port>', 'HTTP + WebSocket port', process.env.BENCHFLEET_PORT ?? '8080')
    .option('--host <host>', 'address to listen on (0.0.0.0 to accept remote agents)', process.env.BENCHFLEET_HOST ?? '127.0.0.1')
    .option('--data <dir>', 'data folder (SQLite database, models, credentials)', process.env.BENCHFLEET_DATA ?? 'data')
    .option('--public-url <url>', 'the dashboard\'s address as others reach it, for links in webhooks', process.env.BENCHFLEET_PUBLIC_URL);
  serverCommand('up', 'start the server and a local agent for this machine (the quick start)')
    .option('--sysfs-root <dir>', 'read sysfs/procfs under this root (for testing)')
    .option('--demo-phone', 'also start an emulated Android phone (needs Debian\'s adb) so the farm has a phone')
    .action((opts: ServeOptions) => serve(opts, true));
  serverCommand('server', 'start only the server (agents connect to it over WebSocket)')
    .action((opts: ServeOptions) => serve(opts, false));

  program
    .command('agent')
    .description('run an agent: connect to a server and run jobs on this host\'s devices')
    .option('--data <dir>', 'agent data folder (model cache, outbox)', process.env.BENCHFLEET_AGENT_DATA ?? 'agent-data')
    .option('--name <name>', 'name of this host as a device')
    .option('--sysfs-root <dir>', 'read sysfs/procfs under this root (for testing)')
    .option('--config <file>', 'agent config (JSON): drivers to run, e.g. {"adb": {}} for phones; see docs/agent.md')
    .option('--adb', 'also drive Android phones through the adb server (default settings)')
    .option('--enroll <token>', 'enroll this host with an enroll token (benchfleet token create --role enroll); the agent token is kept in --data')
    .option('--token-file <file>', 'read the agent token from this file (keep it 0600): unlike --token, it is not visible to other users in `ps`')
    .addHelpText('after', '\nNeeds --server <url> and the agent token (from `benchfleet agents create <name>`): best from\n$BENCHFLEET_AGENT_TOKEN or --token-file FILE — a --token on the command line is visible to every\nlocal user in `ps`. $BENCHFLEET_SERVER may replace --server.')
    .action(async (_local: unknown, command: Command) => {
      const all = command.optsWithGlobals<{ server?: string; token?: string; tokenFile?: string; data: string; name?: string; sysfsRoot?: string; config?: string; adb?: boolean; enroll?: string }>();
      if (all.token && all.tokenFile) throw new CliError(EXIT.usage, 'give the agent token once: --token or --token-file');
      let fromFile: string | undefined;
      if (all.tokenFile) {
        try {
          fromFile = fs.readFileSync(all.tokenFile, 'utf8').trim();
        } catch (err) {
          throw new CliError(EXIT.usage, `--token-file ${all.tokenFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
        }
        if (!fromFile) throw new CliError(EXIT.usage, `--token-file ${all.tokenFile} is empty`);
      }
      const opts = { ...all, server: all.server ?? process.env.BENCHFLEET_SERVER, token: fromFile ?? all.token ?? process.env.BENCHFLEET_AGENT_TOKEN };
      if (!opts.server) throw new CliError(EXIT.usage, 'benchfleet agent needs --server <url>');
      const server = opts.server.replace(/\/$/, '');
      const token = opts.token ?? (all.enroll ? await enroll(server, all.enroll, all.name ?? os.hostname(), path.resolve(opts.data)) : savedToken(path.resolve(opts.data)));
      if (!token) throw new CliError(EXIT.usage, 'benchfleet agent needs --token <agent token> (or --enroll <enroll token> once)');
      let config: AgentConfig;
      try {
        config = loadAgentConfig(opts.config);
      } catch (err) {
        throw new CliError(EXIT.usage, (err as Error).message);
      }
      if (config.linux !== false) config.linux = { ...config.linux, ...(opts.name ? { name: opts.name } : {}), ...(opts.sysfsRoot ? { sysfsRoot: opts.sysfsRoot } : {}) };
      if (opts.adb && !config.adb) config.adb = adbConfigSchema.parse({});
      const log = jsonLog('agent');
      let drivers: Driver[];
      try {
        drivers = createDrivers(config, log);
      } catch (err) {
        throw new CliError(EXIT.usage, (err as Error).message); // e.g. a malformed ADB_SERVER_SOCKET
      }
      if (all.token && command.getOptionValueSourceWithGlobals('token') === 'cli') {
        process.stderr.write('benchfleet: warning: --token on the command line is visible to every local user in `ps`; use $BENCHFLEET_AGENT_TOKEN or --token-file\n');
      }
      const agent = new Agent({ server, token, dataDir: path.resolve(opts.data), drivers, log });
      agent.on('connected', (id: string) => process.stdout.write(`agent ${id} connected to ${opts.server}\n`));
      agent.on('fatal', async (err: Error) => {
        process.stderr.write(`benchfleet: agent: ${err.message.replace(/\s*\n\s*/g, ' ')} (unauthorized)\n`);
        await agent.stop();
        process.exit(EXIT.auth);
      });
      await agent.start();
      onShutdown(() => agent.stop());
    });
}
