// benchfleet's JSON-lines runner contract (documented in docs/runners.md): any program that prints
// these records on stdout, one JSON object per line, can be benchmarked by benchfleet.
//
//   {"type":"meta","runner":"my-runner","version":"1.2"}                       optional, first
//   {"type":"progress","phase":"warmup"|"measuring","done":N,"total":N}         optional
//   {"type":"window","edge":"start"|"end","iterations":N}                       timed window edges (energy)
//   {"type":"sample","metric":"latency_ms","unit":"ms","value":0.45}            one iteration
//   {"type":"samples","metric":"latency_ms","unit":"ms","values":[0.45, ...]}    many at once
//   {"type":"env","key":"first_inference_ms","value":1.9}                             facts about the run
//   {"type":"error","code":"model_load_failed","message":"..."}                 the runner failed
//   {"type":"done"}                                                             required, last
import { z } from 'zod';

const metric = z.string().min(1).max(64).regex(/^[a-z0-9_.]+$/);
const unit = z.string().min(1).max(16);

export const jsonlRecordSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('meta'), runner: z.string().max(128), version: z.string().max(64).optional() }),
  z.object({ type: z.literal('progress'), phase: z.enum(['warmup', 'measuring']), done: z.number().int().min(0), total: z.number().int().min(0) }),
  z.object({ type: z.literal('window'), edge: z.enum(['start', 'end']), iterations: z.number().int().min(0) }),
  z.object({ type: z.literal('sample'), metric, unit, value: z.number() }),
  z.object({ type: z.literal('samples'), metric, unit, values: z.array(z.number()) }),
  z.object({ type: z.literal('env'), key: z.string().min(1).max(64), value: z.union([z.number(), z.string(), z.boolean(), z.null()]) }),
  z.object({ type: z.literal('error'), code: z.string().max(64), message: z.string().max(4000) }),
  z.object({ type: z.literal('done') }),
]);
export type JsonlRecord = z.infer<typeof jsonlRecordSchema>;

export function formatRecord(record: JsonlRecord): string {
  return `${JSON.stringify(record)}\n`;
}
