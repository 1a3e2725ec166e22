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
    // commander's own errors (unknown option, missing argument, bad value) become one
    // `benchfleet: … (usage)` line in main(); help asked for by a usage error goes to stdout.
    .configureOutput({ outputError: () => undefined, writeErr: (text) => process.stdout.write(text) })
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
8 cannot listen (port in use), 10 regression (--fail-on-regression), 70 internal error (a bug; BENCHFLEET_DEBUG=1 prints its stack).`);
  return program;
}

/** One line: newlines and runs of blanks inside a message (e.g. from onnxruntime) collapse to a space. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The `benchfleet: … (code)` line of a failure and its exit code. */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (err instanceof CommanderError) {
    const message = oneLine(err.message.replace(/^error: /, ''));
    return { line: `benchfleet: ${message}; see --help (usage)`, exitCode: EXIT.usage };
  }
  if (err instanceof CliError) {
    const message = oneLine(err.message);
    // API errors already end with the server's code, e.g. "no run x (not_found)".
    const coded = /\([a-z][a-z0-9_]*\)$/.test(message) ? message : `${message} (${err.code})`;
    return { line: `benchfleet: ${coded}`, exitCode: err.exitCode };
  }
  const e = err as { message?: unknown; code?: unknown };
  const message = oneLine(typeof e?.message === 'string' ? e.message : String(err));
  return { line: `benchfleet: internal error: ${message} (internal)`, exitCode: EXIT.internal };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    // --help and --version end through exitOverride with code 0.
    if (err instanceof CommanderError && err.exitCode === 0) return EXIT.ok;
    // A command group without its subcommand (e.g. `benchfleet run`) printed its help (to stdout).
    if (err instanceof CommanderError && err.code === 'commander.help') {
      process.stderr.write('benchfleet: missing command; the help above lists them (usage)\n');
      return EXIT.usage;
    }
    const { line, exitCode } = describeFailure(err);
    process.stderr.write(`${line}\n`);
    if (process.env.BENCHFLEET_DEBUG && !(err instanceof CliError) && !(err instanceof CommanderError)) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return exitCode;
  }
}

const code = await main(process.argv);
// Long-running commands (up, server, agent) keep the event loop alive; others exit now.
if (code !== EXIT.ok || !['up', 'server', 'agent'].includes(process.argv[2] ?? '')) process.exitCode = code;
if (code !== EXIT.ok) process.exit(code);
