// Runs one emulated PPK2 until interrupted:
//   node dist/agent/emulators/ppk2/main.js [--port PATH | --pty-dir DIR] [--pid N | --pidfile F] [--clock auto|stat|schedstat]
//     [--activity 0..1] [--idle-ua 250] [--active-ua 7500] [--seed 1] [--vdd 3300] [--verbose]
// --port opens an existing serial device; otherwise a socat pty pair is made (in --pty-dir or a
// temp folder) and the emulator takes its end `a`. --pid makes the current follow that process's
// CPU time (e.g. the QEMU running the MCU firmware); --pidfile follows the pid written in a file
// (the emulated board's <link>.pid, rewritten on every flash); --activity fixes it instead.
// Prints one JSON line {"event":"ready","port":<the path the driver opens>,…}.
import { parseArgs } from 'node:util';
import { ConstantActivity, PidfileCpuActivity, ProcessCpuActivity, type ActivitySource, type CpuClock } from './activity.js';
import { EmulatedPpk2 } from './device.js';
import { openPtyPair, type PtyPair } from './pty-pair.js';
import { numberOption } from '../proc.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'pty-dir': { type: 'string' },
      pid: { type: 'string' },
      pidfile: { type: 'string' },
      clock: { type: 'string', default: 'auto' },
      activity: { type: 'string' },
      'idle-ua': { type: 'string' },
      'active-ua': { type: 'string' },
      seed: { type: 'string' },
      vdd: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const clock = values.clock as CpuClock;
  if (!['auto', 'stat', 'schedstat'].includes(clock)) throw new Error('--clock must be auto, stat or schedstat');
  const pid = numberOption(values.pid, 'pid');
  const source: ActivitySource = pid !== undefined ? new ProcessCpuActivity(pid, { clock })
    : values.pidfile !== undefined ? new PidfileCpuActivity(values.pidfile, { clock })
      : new ConstantActivity(numberOption(values.activity, 'activity') ?? 0);

  let pair: PtyPair | null = null;
  let devicePath = values.port;
  let hostPath = values.port;
  if (devicePath === undefined) {
    pair = await openPtyPair(values['pty-dir'] === undefined ? {} : { dir: values['pty-dir'] });
    devicePath = pair.a;
    hostPath = pair.b;
  }
  const ppk = await EmulatedPpk2.open({
    path: devicePath,
    activity: source,
    idleUa: numberOption(values['idle-ua'], 'idle-ua'),
    activeUa: numberOption(values['active-ua'], 'active-ua'),
    seed: numberOption(values.seed, 'seed'),
    initialVddMv: numberOption(values.vdd, 'vdd'),
    log: values.verbose ? (message) => process.stderr.write(`${JSON.stringify({ message })}\n`) : undefined,
  });
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: hostPath, devicePort: devicePath, socatPid: pair?.pid ?? null, observedPid: pid ?? null, pidfile: values.pidfile ?? null })}\n`);
  const shutdown = (): void => {
    void ppk
      .close()
      .then(() => pair?.close())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`emulated PPK2: ${(err as Error).message}\n`);
  process.exit(1);
});
