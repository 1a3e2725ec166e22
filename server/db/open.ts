// Opens the SQLite database with the settings every connection needs (WAL, busy timeout,
// foreign keys) and brings its schema up to date with the numbered migrations.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { applyMigrations } from './migrate.js';
import { migrationsDir } from '../paths.js';

export type Db = Database.Database;

export interface OpenOptions { migrationsDir?: string; busyTimeoutMs?: number }


export function openDatabase(file: string, opts: OpenOptions = {}): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  applyMigrations(db, opts.migrationsDir ?? migrationsDir);
  // The database holds token hashes and webhook secrets: readable by its owner only (the WAL and
  // shared-memory files too, which exist once the migrations wrote).
  if (file !== ':memory:') for (const f of [file, `${file}-wal`, `${file}-shm`]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
  return db;
}
