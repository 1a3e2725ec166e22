// Small helpers shared by the emulators: reading /proc/<pid>/stat, and numeric CLI options.
import fs from 'node:fs';

/** Kernel clock ticks per second (USER_HZ) in /proc/<pid>/stat times. */
export const CLOCK_TICKS = 100;

/**
 * The fields of /proc/<pid>/stat after the command name (so index 0 is field 3, the state), or
 * null when the process is gone. The command name may contain spaces and parentheses: the split
 * happens after the last ')'.
 */
export function procStatFields(pid: number): string[] | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** A numeric command-line option, or undefined when absent; throws with the option's name. */
export function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${value}"`);
  return n;
}
