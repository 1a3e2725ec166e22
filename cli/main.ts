// The `benchfleet` command line: parses arguments with commander, runs the command, and turns
// failures into one-line messages with documented exit codes (see docs/cli.md).
import { Command, CommanderError } from 'commander';
import { ApiClient, CliError, EXIT, resolveCredentials } from './client.js';
import { registerServeCommands } from './commands/serve.js';
import { registerFarmCommands } from './commands/farm.js';
import { registerModelCommands } from './commands/models.js';
import { registerRunCommands } from './commands/runs.js';
import { registerAlertCommands } from './commands/alerts.js';
import { registerVariantCommands } from './commands/variants.js';

export interface Io {
  api: ApiClient;
  json: boolean;
  /** Result output (stdout). Objects are printed as JSON. */
  print(value: unknown): void;
  /** Progress and status lines (stderr), so stdout stays clean for scripts. */
  progress(line: string): void;
}

export interface CommandEnv {
  wrap<A extends unknown[]>(fn: (io: Io, ...args: A) => Promise<void>): (...args: unknown[]) => Promise<void>;
}

interface GlobalOptions { server?: string; token?: string; json?: boolean; credentials?: string }

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('benchfleet')
    .description('Hardware-aware benchmarking for compressed ML models: a server, agents beside the hardware, and this CLI.')
    .version('0.1.0')
    .option('--server <url>', 'server URL (default: $BENCHFLEET_SERVER, data/credentials.json, http://127.0.0.1:8080)')
    .option('--token <token>', 'API token (default: $BENCHFLEET_TOKEN or data/credentials.json)')
    .option('--credentials <file>', 'credentials file written by `benchfleet up` (default: $BENCHFLEET_DATA/credentials.json or data/credentials.json)')
    .option('--json', 'machine-readable JSON output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const env: CommandEnv = {
    wrap: (fn) => async (...args: unknown[]) => {
      const globals = program.opts<GlobalOptions>();
      const io: Io = {
        api: new ApiClient(resolveCredentials(globals)),
        json: Boolean(globals.json),
        print: (value) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`),
        progress: (line) => process.stderr.write(`${line}\n`),
      };
      // commander passes (...arguments, options, command); drop the command object.
      await fn(io, ...(args.slice(0, -1) as never));
    },
  };
  registerServeCommands(program);
  registerFarmCommands(program, env);
  registerModelCommands(program, env);
  registerRunCommands(program, env);
  registerAlertCommands(program, env);
  registerVariantCommands(program, env);
  program.addHelpText('after', `
Quick start:
  benchfleet up                                   # server + local agent, prints the dashboard URL
  benchfleet model push examples/models/kws-cnn-fp32.onnx --family kws-cnn --variant fp32
  benchfleet run submit --model kws-cnn:fp32 --device '*' --wait

Exit codes: 0 ok, 1 run failed, 2 usage, 3 API error, 4 server unreachable, 5 wait timed out, 6 not found, 7 auth,
10 regression (--fail-on-regression).`);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok; // --help, --version
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`benchfleet: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`benchfleet: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}

const code = await main(process.argv);
// Long-running commands (up, server, agent) keep the event loop alive; others exit now.
if (code !== EXIT.ok || !['up', 'server', 'agent'].includes(process.argv[2] ?? '')) process.exitCode = code;
if (code !== EXIT.ok) process.exit(code);
