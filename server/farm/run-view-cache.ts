// GET /runs/:id of a large run, answered from the encoded view built last while nothing it shows
// has changed. What a run view shows is versioned in the database (migration 014: triggers bump
// runs.view_version on every change to the run, its jobs, measurements, verdicts and A/B tests,
// and view_generation.version on a device renamed, a model's metadata or a family's thresholds
// changed), so the check is one indexed read, holds across server replicas on one database, and
// cannot miss a writer. The pair of versions is also the answer's ETag: a client polling a run
// that has not changed gets 304 and no body.
import type { Db } from '../db/open.js';
import type { ModelStore } from '../models/store.js';
import { stmt } from '../db/statements.js';
import { getRun } from './views.js';

export interface EncodedRunView { etag: string; body: Buffer }

export class RunViewCache {
  private readonly entries = new Map<string, EncodedRunView>();
  private bytes = 0;

  /**
   * @param maxBytes total size of the views kept (least recently used dropped first)
   * @param minBytes views smaller than this are built on every request (they are cheap)
   * @param build the build's identity, part of every ETag (a new build may shape views anew)
   */
  constructor(private readonly maxBytes: number, private readonly minBytes: number, private readonly build: string) {}

  /** The run's view, encoded, with its ETag; null when there is no such run. */
  get(db: Db, models: ModelStore, id: string): EncodedRunView | null {
    // The versions and the view are read in one transaction: one snapshot of the database.
    return db.transaction((): EncodedRunView | null => {
      const v = stmt(db, 'SELECT r.view_version AS run, g.version AS gen FROM runs r, view_generation g WHERE r.id = ?').get(id) as { run: number; gen: number } | undefined;
      if (!v) return null;
      const etag = `"${this.build}-${v.run}-${v.gen}"`;
      const cached = this.entries.get(id);
      if (cached && cached.etag === etag) {
        this.entries.delete(id); // most recently used last
        this.entries.set(id, cached);
        return cached;
      }
      const run = getRun(db, models, id);
      if (!run) return null;
      const entry = { etag, body: Buffer.from(JSON.stringify(run)) };
      this.forget(id);
      if (entry.body.length >= this.minBytes && entry.body.length <= this.maxBytes) {
        this.entries.set(id, entry);
        this.bytes += entry.body.length;
        for (const [key, e] of this.entries) {
          if (this.bytes <= this.maxBytes) break;
          this.entries.delete(key);
          this.bytes -= e.body.length;
        }
      }
      return entry;
    })();
  }

  private forget(id: string): void {
    const old = this.entries.get(id);
    if (old) {
      this.entries.delete(id);
      this.bytes -= old.body.length;
    }
  }

  /** Views held and their total size (for tests and benchmarks). */
  get size(): { views: number; bytes: number } {
    return { views: this.entries.size, bytes: this.bytes };
  }
}
