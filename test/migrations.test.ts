// Upgrading a database made by an earlier version: results stored before migrations 005
// (series, alerts, webhooks) and 006 (variants) get their series rows and default metadata, and
// keep working with the gate, the analyzer and the compare view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../server/db/open.js';
import { migrationsDir } from '../server/paths.js';
import { createAgent, syncInventory } from '../server/farm/registry.js';
import { completeJob } from '../server/queue/jobs.js';
import { compareFamily } from '../server/variants/compare.js';
import { tempDir } from './support/farm.js';
import { seriesKey } from '../server/regression/series.js';

const key = (deviceId: string) => seriesKey({ family: 'f', variant: 'v', deviceId, runtime: 'onnxruntime', threads: 1, inputs: undefined });

test('a database from before migrations 005 and 006 upgrades with its results intact', () => {
  const dir = tempDir('upgrade');
  const oldMigrations = path.join(dir, 'old-migrations');
  fs.mkdirSync(oldMigrations);
  for (const f of fs.readdirSync(migrationsDir).filter((name) => Number(name.slice(0, 3)) <= 4)) fs.copyFileSync(path.join(migrationsDir, f), path.join(oldMigrations, f));
  const file = path.join(dir, 'benchfleet.db');
  const T0 = 1_700_000_000_000;

  // The old version stores a result (the same SQL its completeJob ran: measurement + samples + series key).
  const old = openDatabase(file, { migrationsDir: oldMigrations });
  assert.equal((old.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'series'`).get() as { n: number }).n, 0, 'the old schema has no series table');
  const { agentId } = createAgent(old, 'a1', T0);
  syncInventory(old, agentId, [{ serial: 's1', name: 'dev1', driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true }], T0);
  const deviceId = (old.prepare('SELECT id FROM devices').get() as { id: string }).id;
  old.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, created_at) VALUES (?, 'f', 'v', 'onnx', 10, ?)`).run('c'.repeat(64), T0);
  old.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, created_at) VALUES ('r0', ?, 'onnxruntime', '*', ?, '{}', ?)`)
    .run('c'.repeat(64), JSON.stringify({ threads: 1 }), T0);
  old.prepare(`INSERT INTO jobs (id, run_id, device_id, status, attempt, timeout_ms, created_at, finished_at) VALUES ('j0', 'r0', ?, 'succeeded', 1, 60000, ?, ?)`).run(deviceId, T0, T0);
  old.prepare(`INSERT INTO measurements (job_id, metric, unit, attempt, count, median, p90, p99, mean, stddev, min, max, ci_low, ci_high, mean_ci_half, outliers, created_at, series_key)
               VALUES ('j0', 'latency_ms', 'ms', 1, 3, 2, 3, 3, 2, 1, 1, 3, 1, 3, 1, 0, ?, ?)`).run(T0, key(deviceId));
  old.close();

  const db = openDatabase(file);
  const versions = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version);
  assert.ok(versions.includes(5) && versions.includes(6), `applied: ${versions.join(',')}`);
  const series = db.prepare('SELECT * FROM series').all() as { key: string; family: string; variant: string; device_id: string; settings: string }[];
  assert.equal(series.length, 1, 'the old result has its series row');
  assert.deepEqual({ key: series[0]!.key, family: series[0]!.family, device: series[0]!.device_id }, { key: key(deviceId), family: 'f', device: deviceId });
  assert.equal(JSON.parse(series[0]!.settings).threads, 1);
  const model = db.prepare('SELECT parent_variant, compression, tags, accuracy FROM models').get() as Record<string, unknown>;
  assert.deepEqual(model, { parent_variant: null, compression: '{}', tags: '[]', accuracy: null });
  // The old result shows in the comparison, and new results join the series.
  assert.equal(compareFamily(db, { family: 'f', budget: 0.01, objective: 'latency' }).cells[0]?.latency_ms, 2);
  db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, created_at) VALUES ('r1', ?, 'onnxruntime', '*', ?, '{}', ?)`)
    .run('c'.repeat(64), JSON.stringify({ threads: 1 }), T0 + 1);
  db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, attempt, lease_owner, lease_expires_at, timeout_ms, created_at) VALUES ('j1', 'r1', ?, 'assigned', 1, ?, ?, 60000, ?)`)
    .run(deviceId, agentId, T0 + 60_000, T0 + 1);
  assert.equal(completeJob(db, { job_id: 'j1', attempt: 1 }, agentId, T0 + 2, [{ metric: 'latency_ms', unit: 'ms', samples: [2, 2.1, 1.9] }], {}), 'accepted');
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM series').get() as { n: number }).n, 1, 'the new result joins the old series');
  assert.equal((db.prepare(`SELECT COUNT(*) AS n FROM measurements WHERE series_key = ?`).get(key(deviceId)) as { n: number }).n, 2);
  db.close();
});
