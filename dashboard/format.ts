// Formatting helpers for the dashboard: numbers with sensible precision, short ids and hashes,
// byte sizes, absolute and relative timestamps, and the colour tone for each status, state and
// health value. Pure functions with no DOM access, so pages stay declarative.
import type { Tone } from './dom.js';
import type { AlertView } from '../protocol/alerts.js';
import { formatChange, signedPercent } from '../protocol/change.js';

/** Formats a measurement with ~3–4 significant digits (1234.5 → "1235", 1.23456 → "1.235"). */
export function num(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 10) return value.toFixed(digits - 1);
  if (abs >= 1) return value.toFixed(digits);
  return value.toPrecision(digits);
}

export function shortId(id: string, length = 8): string {
  // ids may carry a type prefix ("run_abc…"); keep it and shorten the rest.
  const match = /^([a-z]+_)(.*)$/.exec(id);
  if (match && match[1] !== undefined && match[2] !== undefined) return match[1] + match[2].slice(0, length);
  return id.slice(0, length);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i] ?? ''}`;
}

export function dateTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (x: number): string => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const TONES: Record<string, Tone> = {
  // device state
  idle: 'green', busy: 'blue', offline: 'grey',
  // device health
  good: 'green', unknown: 'grey', bad: 'red', maintenance: 'amber', retired: 'grey',
  // run / job status
  queued: 'grey', assigned: 'purple', running: 'blue', succeeded: 'green', failed: 'red', canceled: 'amber', timed_out: 'red',
  // agent
  online: 'green',
};

export function tone(value: string): Tone {
  return TONES[value] ?? 'grey';
}

/** Display label for a status value ("timed_out" → "timed out"). */
export function label(value: string): string {
  return value.replace(/_/g, ' ');
}

/** A relative change as a signed percentage (0.153 → "+15.3%"): the protocol's one definition. */
export function signedPct(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return signedPercent(value, digits);
}

/** A reported change with its 95% interval ("+12.3% (95% CI +10.1% … +14.6%)"), as everywhere else. */
export function change(c: { effect: number | null; ci_low: number | null; ci_high: number | null }): string {
  return c.effect === null ? '—' : formatChange(c);
}

/** A share or relative size as a percentage (0.007 → "0.7%"). */
export function pct(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(digits)}%`;
}

/** An alert's kind in words (a change found in the history, one an A/B test confirmed, or the older kinds) and its steps. */
export function alertKind(a: Pick<AlertView, 'kind' | 'steps'>): string {
  const kind = a.kind === 'change' ? 'change' : a.kind === 'ab' ? 'A/B-confirmed change' : a.kind === 'gate' ? 'confirmed regression' : 'change point';
  return a.steps > 1 ? `${kind}, ${a.steps} steps` : kind;
}
