// Helpers for the emulated-MCU tests: the Arm toolchain and QEMU must be installed (a missing tool
// fails the test with the install command), the firmware is built with make, section sizes are
// read with arm-none-eabi-size.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QEMU_INSTALL_HINT } from '../../agent/emulators/mcu/qemu.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const firmwareDir = path.join(repoRoot, 'agent', 'firmware');
export const firmwareImage = (flavor: 'fp32' | 'int8') => path.join(firmwareDir, 'build', `kws-${flavor}.elf`);

interface Run { code: number; stdout: string; stderr: string; error?: NodeJS.ErrnoException }

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, env: opts.env ?? process.env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr, error: e ?? undefined });
    });
  });
}

/** Throws (never skips) when a tool is missing, naming the Debian packages to install. */
export async function requireTools(): Promise<void> {
  const missing: string[] = [];
  for (const tool of ['arm-none-eabi-gcc', 'arm-none-eabi-size', 'qemu-system-arm', 'make']) {
    const r = await run(tool, ['--version'], { timeoutMs: 20_000 });
    if (r.error?.code === 'ENOENT' || r.code !== 0) missing.push(tool);
  }
  if (missing.length > 0) {
    const hint = missing.includes('make') ? QEMU_INSTALL_HINT.replace('apt-get install', 'apt-get install make') : QEMU_INSTALL_HINT;
    throw new Error(`missing ${missing.join(', ')}: ${hint}`);
  }
}

/** make -C agent/firmware, with this node for the weights generator. */
export async function buildFirmware(): Promise<string> {
  const r = await run('make', ['-C', firmwareDir, `NODE=${process.execPath}`], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`firmware build failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export interface SectionSizes { text: number; data: number; bss: number; flash: number }

/** Berkeley-format sizes; flash = text + data (initial values of .data live in flash). */
export async function sectionSizes(elf: string): Promise<SectionSizes> {
  const r = await run('arm-none-eabi-size', [elf]);
  if (r.code !== 0) throw new Error(`arm-none-eabi-size ${elf}: ${r.stderr}`);
  const row = r.stdout.trim().split('\n')[1]?.trim().split(/\s+/) ?? [];
  const [text, data, bss] = row.slice(0, 3).map(Number) as [number, number, number];
  if (![text, data, bss].every(Number.isFinite)) throw new Error(`cannot parse arm-none-eabi-size output:\n${r.stdout}`);
  return { text, data, bss, flash: text + data };
}
