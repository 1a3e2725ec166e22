// The work a result's raw samples need before they are stored — sorting and summarising them,
// encoding the blob, the within-job variance the regression detector uses — kept free of the
// database so that it can run in a worker thread for large results (server/agents/result-worker.ts).
import type { SampleSet } from '../../protocol/agent-messages.js';
import { withinVariance } from '../regression/detector.js';
import { encodeSamples, summarize, type Summary } from './summary.js';

export interface PreparedSet {
  metric: string;
  unit: string;
  flags: string[];
  summary: Summary;
  blob: Buffer;
  /** Within-job variance of ln(median) (regression/detector.ts withinVariance). */
  within: number;
}

export function prepareSets(sets: SampleSet[]): PreparedSet[] {
  return sets.map((set) => ({
    metric: set.metric, unit: set.unit, flags: set.flags ?? [],
    summary: summarize(set.samples), blob: encodeSamples(set.samples), within: withinVariance(set.samples),
  }));
}

export function isPrepared(sets: SampleSet[] | PreparedSet[]): sets is PreparedSet[] {
  return sets.length > 0 && 'summary' in sets[0]!;
}
