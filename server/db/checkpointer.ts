// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the commit that
// grows the WAL past 1,000 pages, on the server's main thread, and it syncs the database file:
// a 6 MB result took 40–160 ms to commit with it and 12–17 ms without. The server turns the
// automatic checkpoint off and this worker thread, with its own connection, runs a PASSIVE
// checkpoint every second (it never blocks writers or readers); once everything is copied back
// the next write starts the WAL over, so it stays about one second of writes long (and the
// server's own journal_size_limit trims the file after a burst).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export const CHECKPOINT_INTERVAL_MS = 1000;

export class Checkpointer {
  private readonly worker: Worker;
  constructor(file: string, intervalMs = CHECKPOINT_INTERVAL_MS) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { file, intervalMs } });
    this.worker.unref();
    this.worker.on('error', () => { /* a failed checkpoint worker leaves the WAL to the final checkpoint at close */ });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

if (!isMainThread && parentPort && (workerData as { file?: string })?.file) {
  const { file, intervalMs } = workerData as { file: string; intervalMs: number };
  const db = new Database(file);
  db.pragma('busy_timeout = 1000');
  setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // busy: the next round tries again
    }
  }, intervalMs);
}
