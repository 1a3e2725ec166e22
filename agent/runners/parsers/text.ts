// Text helpers shared by the runner output parsers: line splitting that tolerates CRLF (adb pty
// output), one number syntax (decimals, exponents such as 1.24027e+06), key=value pairs, and an
// ordered accumulator of sample sets.
import type { SampleSet } from '../../../protocol/agent-messages.js';
import { RunnerOutputError } from './types.js';

/** A number as C/C++ streams print it: `-3`, `0.5`, `.5`, `56415.2`, `1.24027e+06`. */
export const NUM = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;
const NUM_ONLY = new RegExp(`^${NUM}$`);
const NUM_ANY = new RegExp(NUM, 'g');

/** Splits output into lines, dropping the `\r` of CRLF line ends. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Parses a whole string as a finite number, or null (`nan`, `inf`, `12ms` and `` are null). */
export function toNumber(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (!NUM_ONLY.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** Every number in a string, in order. */
export function numbersIn(text: string): number[] {
  return (text.match(NUM_ANY) ?? []).map(Number).filter(Number.isFinite);
}

/** `count=50 first=1 avg=2.5e+03 std=nan` → {count: 50, first: 1, avg: 2500}; keys in any order. */
export function keyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/([A-Za-z0-9_]+)=(\S+)/g)) {
    const v = toNumber(m[2]);
    if (v !== null && m[1] !== undefined) out.set(m[1], v);
  }
  return out;
}

/** Accumulates samples per metric, keeping the order in which metrics first appear. */
export class SampleSets {
  private readonly sets = new Map<string, SampleSet>();

  add(metric: string, unit: string, values: readonly number[]): void {
    const set = this.sets.get(metric);
    if (!set) {
      this.sets.set(metric, { metric, unit, samples: [...values] });
      return;
    }
    if (set.unit !== unit) {
      throw new RunnerOutputError(`metric ${metric} was reported in both ${set.unit} and ${unit}`, []);
    }
    set.samples.push(...values);
  }

  has(metric: string): boolean {
    return (this.sets.get(metric)?.samples.length ?? 0) > 0;
  }

  get size(): number {
    return this.toArray().length;
  }

  /** The non-empty sets, in first-seen order. */
  toArray(): SampleSet[] {
    return [...this.sets.values()].filter((s) => s.samples.length > 0);
  }
}

/** Rounds away binary noise from unit conversions (56283.9 / 1000 → 56.2839, not 56.283899…). */
export function tidy(value: number): number {
  return Number(value.toPrecision(12));
}

/** A trimmed, non-empty line list, for error quoting. */
export function nonEmpty(lines: readonly string[]): string[] {
  return lines.map((l) => l.trim()).filter((l) => l.length > 0);
}
