// Describes the agent's own Linux host as a device: CPU model, cores, RAM, OS, architecture,
// and the board model from the device tree where there is one (a Raspberry Pi says so there).
import os from 'node:os';
import type { Sysfs } from './sysfs.js';

export function describeHost(sys: Sysfs): Record<string, string> {
  const labels: Record<string, string> = {
    os: 'linux',
    arch: os.arch(),
    cores: String(os.cpus().length),
    ram_mib: String(Math.round(os.totalmem() / 1024 / 1024)),
  };
  const cpuinfo = sys.readText('proc/cpuinfo') ?? '';
  const cpu = /^(?:model name|Model|Hardware|cpu model)\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim();
  if (cpu) labels.cpu = cpu;
  const osRelease = sys.readText('etc/os-release') ?? '';
  const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1];
  if (pretty) labels.distro = pretty;
  labels.kernel = os.release();
  const board = sys.readText('proc/device-tree/model');
  if (board) labels.board = board;
  return labels;
}
