// Keeps the variant comparison's index (compare_keys, compare_results: migration 013) up to date.
// Triggers note in compare_pending every job whose row may have changed, in the transaction of the
// change; this rebuilds the noted jobs' rows set-based, a batch per transaction: on the server's
// tick (a bounded batch, so a backlog never holds the event loop long) and before every comparison
// (everything noted, so a comparison never reads a stale row).
import type { Db } from '../db/open.js';
import { stmt } from '../db/statements.js';

/** Jobs per transaction: ~10–20 ms of work. */
const BATCH = 1000;

/**
 * Rebuilds the rows of up to `maxJobs` noted jobs (all of them by default); returns how many were
 * rebuilt. A job no longer succeeded (or gone) just loses its row.
 */
export function syncCompareIndex(db: Db, maxJobs = Number.POSITIVE_INFINITY): number {
  let done = 0;
  while (done < maxJobs) {
    const n = db.transaction((): number => {
      const ids = (stmt(db, 'SELECT job_id FROM compare_pending LIMIT ?').all(Math.min(BATCH, maxJobs - done)) as { job_id: string }[]).map((r) => r.job_id);
      if (ids.length === 0) return 0;
      const list = JSON.stringify(ids);
      stmt(db, 'DELETE FROM compare_results WHERE job_id IN (SELECT value FROM json_each(?))').run(list);
      stmt(db,
        `INSERT OR IGNORE INTO compare_keys (family, sha256, device_id, settings)
         SELECT v.family, v.sha256, v.device_id, v.settings FROM json_each(?) p CROSS JOIN compare_job_keys v ON v.job_id = p.value`,
      ).run(list);
      stmt(db,
        `INSERT INTO compare_results (key_id, finished_at, job_id, run_id, metrics)
         SELECT k.id, v.finished_at, v.job_id, v.run_id,
                (SELECT json_group_array(json_array(me.metric, me.median, me.mean, me.max, me.ci_low, me.ci_high, json(me.flags))) FROM measurements me WHERE me.job_id = v.job_id)
         FROM json_each(?) p CROSS JOIN compare_job_keys v ON v.job_id = p.value
           JOIN compare_keys k ON k.family = v.family AND k.sha256 = v.sha256 AND k.device_id = v.device_id AND k.settings = v.settings`,
      ).run(list);
      stmt(db, 'DELETE FROM compare_pending WHERE job_id IN (SELECT value FROM json_each(?))').run(list);
      return ids.length;
    })();
    if (n === 0) break;
    done += n;
  }
  return done;
}
