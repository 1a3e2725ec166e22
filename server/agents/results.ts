// Large job results: the parts of a result (job.result.part) are assembled per agent session, and
// the whole is parsed, validated and prepared in a worker thread (result-worker.ts), one result at
// a time. The main thread only copies parts and runs the write transaction.
import { Worker } from 'node:worker_threads';
import { MAX_RESULT_BYTES, type JobResultMessage } from '../../protocol/agent-messages.js';
import type { PreparedSet } from '../stats/prepare.js';
import type { ResultAnswer } from './result-worker.js';

export type PreparedResult =
  | { ok: true; message: Omit<JobResultMessage, 'measurements'>; sets: PreparedSet[] }
  | { ok: false; code: 'invalid_json' | 'invalid_message'; message: string };

/** One worker thread shared by all sessions, started on first use and restarted if it dies. */
export class ResultPreparer {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, (answer: PreparedResult) => void>();

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./result-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (answer: ResultAnswer) => {
      const done = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      if (!done) return;
      if (!answer.ok) return done(answer);
      // Structured clone turns Buffers into Uint8Arrays: view them as Buffers again, without copying.
      const sets = answer.sets.map((s) => ({ ...s, blob: Buffer.from(s.blob.buffer, s.blob.byteOffset, s.blob.byteLength) }));
      done({ ok: true, message: answer.message, sets });
    });
    const fail = (why: string) => {
      if (this.worker === worker) this.worker = null;
      for (const [id, done] of this.waiting) {
        this.waiting.delete(id);
        done({ ok: false, code: 'invalid_message', message: `the server could not process the result (${why}); send it again` });
      }
    };
    worker.on('error', (err: Error) => fail(err.message));
    worker.on('exit', (code) => fail(`worker exited with ${code}`));
    this.worker = worker;
    return worker;
  }

  /** Parses and prepares a result from its parts, in order; the parts move to the worker without a copy where they can. */
  prepare(parts: Buffer[]): Promise<PreparedResult> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      const views = parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
      const transfer = [...new Set(parts.filter((p) => p.byteOffset === 0 && p.byteLength === p.buffer.byteLength).map((p) => p.buffer as ArrayBuffer))];
      worker.postMessage({ id, parts: views }, transfer);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

/** The parts of one result as they arrive. */
export class ResultAssembly {
  private readonly parts: (Buffer | undefined)[];
  private received = 0;
  private bytes = 0;
  constructor(readonly jobId: string, readonly attempt: number, readonly count: number) {
    this.parts = new Array<Buffer | undefined>(count);
  }

  /** Adds a part; returns an error text if the result breaks the bounds, 'done' once whole. */
  add(index: number, data: string): 'more' | 'done' | string {
    if (index >= this.count) return `part ${index} of ${this.count}: no such part`;
    // A part over 4 KiB gets its own ArrayBuffer and moves to the worker without a copy (prepare()).
    const part = Buffer.from(data, 'base64');
    if (this.parts[index]) this.bytes -= this.parts[index].length;
    else this.received++;
    this.parts[index] = part;
    this.bytes += part.length;
    if (this.bytes > MAX_RESULT_BYTES) return `the result exceeds ${MAX_RESULT_BYTES} bytes`;
    return this.received === this.count ? 'done' : 'more';
  }

  /** The parts in order (joined by the worker thread: copying megabytes here would hold the event loop). */
  all(): Buffer[] {
    return this.parts as Buffer[];
  }
}
