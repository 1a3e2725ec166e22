// Forward-only migrations: `migrations/NNN_name.sql`, applied in order at start, each inside a
// transaction together with its row in `schema_migrations`. Applied files are never edited.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';

const FILE_PATTERN = /^(\d{3,})_[a-z0-9_]+\.sql$/;

export interface MigrationFile { version: number; name: string; sql: string }

export function readMigrations(dir: string): MigrationFile[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  return files.map((name) => {
    const match = FILE_PATTERN.exec(name);
    if (!match?.[1]) throw new Error(`migration file name must look like 001_name.sql: ${name}`);
    return { version: Number(match[1]), name, sql: fs.readFileSync(path.join(dir, name), 'utf8') };
  });
}

/** Applies every migration newer than the database's; returns the names applied. */
export function applyMigrations(db: Database.Database, dir: string): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const migrations = readMigrations(dir);
  const seen = new Set<number>();
  for (const m of migrations) {
    if (seen.has(m.version)) throw new Error(`two migrations share version ${m.version}`);
    seen.add(m.version);
  }
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }).immediate();
    done.push(m.name);
  }
  return done;
}
