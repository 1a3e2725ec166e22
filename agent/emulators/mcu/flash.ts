// The "flash command" of the emulated MCU board: (re)starts QEMU with a firmware image and points a
// stable symlink at its serial pty. QEMU keeps running after this command exits.
//   node dist/agent/emulators/mcu/flash.js --link /tmp/bf-mcu0 [--pidfile FILE] [--machine mps2-an385]
//       [--icount SHIFT|off] [--log FILE] <image.elf>
//   node dist/agent/emulators/mcu/flash.js --link /tmp/bf-mcu0 --stop     (stop the board)
//   node dist/agent/emulators/mcu/flash.js --link /tmp/bf-mcu0 --reset    (reset it, via QMP)
// Prints one JSON line: {"event":"flashed","pid":…,"pty":"/dev/pts/N","link":…,"pidfile":…,"log":…}.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { qmpCommand, startQemu, stopFromPidfile } from './qemu.js';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      link: { type: 'string' },
      pidfile: { type: 'string' },
      machine: { type: 'string' },
      icount: { type: 'string' },
      log: { type: 'string' },
      qmp: { type: 'string' },
      stop: { type: 'boolean', default: false },
      reset: { type: 'boolean', default: false },
    },
  });
  if (!values.link) throw new Error('--link <path> is required');
  const pidfile = values.pidfile ?? `${values.link}.pid`;
  const qmpSocket = values.qmp ?? `${values.link}.qmp`;
  if (values.stop) {
    const pid = await stopFromPidfile(pidfile);
    fs.rmSync(values.link, { force: true });
    process.stdout.write(`${JSON.stringify({ event: 'stopped', pid })}\n`);
    return;
  }
  if (values.reset) {
    await qmpCommand(qmpSocket, 'system_reset');
    process.stdout.write(`${JSON.stringify({ event: 'reset' })}\n`);
    return;
  }
  const image = positionals[0];
  if (!image || positionals.length > 1) throw new Error('usage: flash --link <path> [--pidfile FILE] <image.elf>');
  let icountShift: number | null | undefined;
  if (values.icount !== undefined) {
    icountShift = values.icount === 'off' ? null : Number(values.icount);
    if (icountShift !== null && !(Number.isInteger(icountShift) && icountShift >= 0 && icountShift <= 10)) {
      throw new Error(`--icount must be an integer shift 0..10 or "off", got "${values.icount}"`);
    }
  }
  const q = await startQemu({
    image, link: values.link, pidfile, qmpSocket, machine: values.machine, icountShift, logFile: values.log,
  });
  process.stdout.write(`${JSON.stringify({ event: 'flashed', pid: q.pid, pty: q.pty, link: q.link, pidfile: q.pidfile, log: q.logFile })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`flash: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
