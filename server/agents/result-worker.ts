// A worker thread for large job results: parses the assembled JSON, validates it as a job.result
// and prepares its sample sets (summaries, blobs, within-job variance), so that a result of
// millions of samples never stalls the server's event loop. Only the write transaction runs on
// the main thread.
import { parentPort } from 'node:worker_threads';
import { jobResultSchema, type JobResultMessage } from '../../protocol/agent-messages.js';
import { describeZodError } from '../../protocol/errors.js';
import { prepareSets } from '../stats/prepare.js';

export interface ResultTask { id: number; parts: Uint8Array[] }
export type ResultAnswer =
  | { id: number; ok: true; message: Omit<JobResultMessage, 'measurements'>; sets: ReturnType<typeof prepareSets> }
  | { id: number; ok: false; code: 'invalid_json' | 'invalid_message'; message: string };

parentPort?.on('message', (task: ResultTask) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(task.parts).toString('utf8'));
  } catch {
    return parentPort!.postMessage({ id: task.id, ok: false, code: 'invalid_json', message: 'the assembled result is not valid JSON; ignored' } satisfies ResultAnswer);
  }
  const result = jobResultSchema.safeParse(parsed);
  if (!result.success || result.data.type !== 'job.result') {
    const why = result.success ? 'it is not a job.result' : describeZodError(result.error);
    return parentPort!.postMessage({ id: task.id, ok: false, code: 'invalid_message', message: `assembled result rejected: ${why}; ignored` } satisfies ResultAnswer);
  }
  const { measurements, ...message } = result.data as JobResultMessage;
  const sets = prepareSets(measurements);
  const answer: ResultAnswer = { id: task.id, ok: true, message, sets };
  // The blobs move to the main thread without a copy.
  parentPort!.postMessage(answer, sets.map((s) => s.blob.buffer as ArrayBuffer).filter((b, i, all) => all.indexOf(b) === i));
});
