// Prepared statements, compiled once per connection and SQL text. better-sqlite3's `prepare`
// compiles the SQL every time it is called (tens of microseconds, more than most of our queries
// take to run), so the server's hot paths take their statements from here.
import type { Statement } from 'better-sqlite3';
import type { Db } from './open.js';

const MAX_CACHED = 1000;
const caches = new WeakMap<Db, Map<string, Statement>>();

/** The prepared statement for `text` on `db`, compiled on first use. */
export function stmt(db: Db, text: string): Statement {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  let s = cache.get(text);
  if (!s) {
    // SQL built with a variable number of terms could grow the cache without bound: start over.
    if (cache.size >= MAX_CACHED) cache.clear();
    s = db.prepare(text);
    cache.set(text, s);
  }
  return s;
}
