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
  const cpu = /^(?:model name|cpu model)\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? armCore(cpuinfo);
  if (cpu) labels.cpu = cpu;
  const soc = /^Hardware\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim();
  if (soc) labels.soc = soc;
  const osRelease = sys.readText('etc/os-release') ?? '';
  const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1];
  if (pretty) labels.distro = pretty;
  labels.kernel = os.release();
  const board = sys.readText('proc/device-tree/model');
  if (board) labels.board = board;
  return labels;
}

/** ARM boards list cores by part number, not by name: name the common Cortex cores. */
const ARM_PARTS: Record<string, string> = {
  '0xd03': 'Cortex-A53', '0xd04': 'Cortex-A35', '0xd05': 'Cortex-A55', '0xd07': 'Cortex-A57', '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73', '0xd0a': 'Cortex-A75', '0xd0b': 'Cortex-A76', '0xd0d': 'Cortex-A77', '0xd41': 'Cortex-A78',
  '0xc07': 'Cortex-A7', '0xc08': 'Cortex-A8', '0xc09': 'Cortex-A9', '0xc0f': 'Cortex-A15',
};

function armCore(cpuinfo: string): string | undefined {
  const part = /^CPU part\s*:\s*(0x[0-9a-f]+)$/im.exec(cpuinfo)?.[1]?.toLowerCase();
  if (!part) return undefined;
  return `ARM ${ARM_PARTS[part] ?? part}`;
}
