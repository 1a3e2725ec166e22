// Database and queue tests on real SQLite files: migrations, racing claimers, the one-active-job
// rule, guarded completion, lease reaping with backoff, device health, and run status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { openDatabase, type Db } from '../server/db/open.js';
import { applyMigrations } from '../server/db/migrate.js';
import { migrationsDir } from '../server/paths.js';
import { createAgent, MAX_DEVICES_PER_AGENT, pruneForgottenDevices, syncInventory } from '../server/farm/registry.js';
import {
  DEFAULT_POLICY, claimNextJob, completeJob, failJob, markJobStarted, reapExpiredLeases, renewLeases, cancelRun, type QueuePolicy,
} from '../server/queue/jobs.js';
import { tempDir } from './support/farm.js';

const policy: QueuePolicy = { ...DEFAULT_POLICY, leaseMs: 1000, backoffBaseMs: 100, backoffMaxMs: 1000, timeoutGraceMs: 500, badAfterFailures: 2 };
const T0 = 1_700_000_000_000;

interface Fixture { db: Db; file: string; agentId: string; deviceId: string; runId: string; jobIds: string[] }

function fixture(jobs = 1, maxAttempts = 3): Fixture {
  const file = path.join(tempDir('db'), 'benchfleet.db');
  const db = openDatabase(file);
  const { agentId } = createAgent(db, 'a1', T0);
  syncInventory(db, agentId, [{ serial: 's1', name: 'dev1', driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true }], T0);
  const deviceId = (db.prepare('SELECT id FROM devices').get() as { id: string }).id;
  db.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, created_at) VALUES (?, 'f', 'v', 'onnx', 1, ?)`).run('a'.repeat(64), T0);
  db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, created_at) VALUES ('run1', ?, 'onnxruntime', '*', '{}', ?)`).run('a'.repeat(64), T0);
  const jobIds: string[] = [];
  for (let i = 0; i < jobs; i++) {
    db.prepare(`INSERT INTO jobs (id, run_id, device_id, max_attempts, timeout_ms, created_at) VALUES (?, 'run1', ?, ?, 60000, ?)`)
      .run(`job${i}`, deviceId, maxAttempts, T0 + i);
    jobIds.push(`job${i}`);
  }
  return { db, file, agentId, deviceId, runId: 'run1', jobIds };
}

const jobRow = (db: Db, id: string) => db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Record<string, unknown>;
const samples = [{ metric: 'latency_ms', unit: 'ms', samples: [1, 2, 3, 4, 100] }];

test('migrations are applied once, in a transaction, and recorded', () => {
  const f = fixture(0);
  const versions = f.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as { version: number; name: string }[];
  assert.equal(versions[0]?.name, '001_initial.sql');
  assert.deepEqual(applyMigrations(f.db, migrationsDir), [], 'a second start applies nothing');
  assert.equal(f.db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(f.db.pragma('foreign_keys', { simple: true }), 1);

  // A failing migration leaves no trace: neither its tables nor its row.
  const dir = tempDir('mig');
  for (const f of fs.readdirSync(migrationsDir)) fs.copyFileSync(path.join(migrationsDir, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, '999_broken.sql'), 'CREATE TABLE half (x INTEGER);\nTHIS IS NOT SQL;');
  assert.throws(() => applyMigrations(f.db, dir));
  assert.equal((f.db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'half'`).get() as { n: number }).n, 0);
  assert.equal((f.db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n, fs.readdirSync(migrationsDir).length);
});

test('two claimers racing for one job: exactly one wins', () => {
  const f = fixture(1);
  const other = openDatabase(f.file); // a second connection to the same file
  const a = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy);
  const b = claimNextJob(other, f.deviceId, f.agentId, T0, policy);
  assert.ok(a, 'the first claim wins');
  assert.equal(b, null, 'the second finds nothing to claim');
  assert.equal(a.attempt, 1);
  other.close();
});

test('the database allows one active job per device even with more queued', () => {
  const f = fixture(2);
  const first = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy);
  assert.equal(first?.id, 'job0', 'oldest first');
  assert.equal(claimNextJob(f.db, f.deviceId, f.agentId, T0, policy), null);
  assert.throws(() => f.db.prepare(`UPDATE jobs SET status = 'assigned', lease_owner = ? WHERE id = 'job1'`).run(f.agentId), /UNIQUE/);
});

test('only the lease holder can start or complete; a resend is stored once', () => {
  const f = fixture(1);
  const other = createAgent(f.db, 'a2', T0).agentId;
  const job = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy)!;
  const ref = { job_id: job.id, attempt: job.attempt };
  assert.equal(markJobStarted(f.db, ref, other, T0, policy), 'stale');
  assert.equal(markJobStarted(f.db, ref, f.agentId, T0, policy), 'accepted');
  assert.equal(completeJob(f.db, ref, other, T0, samples, {}), 'stale');
  assert.equal(completeJob(f.db, { ...ref, attempt: 2 }, f.agentId, T0, samples, {}), 'stale');
  assert.equal(completeJob(f.db, ref, f.agentId, T0 + 10, samples, { k: 1 }), 'accepted');
  assert.equal(completeJob(f.db, ref, f.agentId, T0 + 20, samples, { k: 1 }), 'duplicate');
  assert.equal((f.db.prepare('SELECT COUNT(*) AS n FROM measurements').get() as { n: number }).n, 1);
  const m = f.db.prepare('SELECT * FROM measurements').get() as { median: number; count: number; max: number };
  assert.deepEqual([m.median, m.count, m.max], [3, 5, 100], 'statistics come from the raw samples');
  assert.equal(jobRow(f.db, job.id).status, 'succeeded');
  assert.equal((f.db.prepare('SELECT status FROM runs').get() as { status: string }).status, 'succeeded');
});

test('an expired lease is reaped: requeued with backoff, then failed after max attempts', () => {
  const f = fixture(1, 2);
  const first = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy)!;
  assert.deepEqual(reapExpiredLeases(f.db, T0 + 500, policy), [], 'the lease still holds');
  assert.deepEqual(renewLeases(f.db, f.agentId, [{ job_id: first.id, attempt: 1 }], T0 + 900, policy), []);
  assert.deepEqual(reapExpiredLeases(f.db, T0 + 1500, policy), [], 'renewed by the heartbeat');
  const reaped = reapExpiredLeases(f.db, T0 + 2000, policy);
  assert.equal(reaped.length, 1);
  let row = jobRow(f.db, first.id);
  assert.equal(row.status, 'queued');
  assert.equal(row.error_code, 'lease_expired');
  assert.equal(row.not_before, T0 + 2000 + policy.backoffBaseMs, 'backoff after attempt 1');
  assert.equal(claimNextJob(f.db, f.deviceId, f.agentId, T0 + 2050, policy), null, 'not claimable during backoff');
  const second = claimNextJob(f.db, f.deviceId, f.agentId, T0 + 2100, policy)!;
  assert.equal(second.attempt, 2);
  // The agent of attempt 1 comes back with an old result: refused.
  assert.equal(completeJob(f.db, { job_id: first.id, attempt: 1 }, f.agentId, T0 + 2200, samples, {}), 'stale');
  reapExpiredLeases(f.db, T0 + 5000, policy);
  row = jobRow(f.db, first.id);
  assert.equal(row.status, 'failed');
  assert.match(String(row.error_message), /all 2 attempts/);
  assert.equal((f.db.prepare('SELECT status FROM runs').get() as { status: string }).status, 'failed');
});

test('a late result for a requeued job that no one has claimed again is kept', () => {
  const f = fixture(1);
  const job = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy)!;
  reapExpiredLeases(f.db, T0 + 5000, policy);
  assert.equal(jobRow(f.db, job.id).status, 'queued');
  assert.equal(completeJob(f.db, { job_id: job.id, attempt: 1 }, f.agentId, T0 + 5100, samples, {}), 'accepted');
  assert.equal(jobRow(f.db, job.id).status, 'succeeded');
});

test('retryable failures requeue with exponential backoff; device faults turn the device bad', () => {
  const f = fixture(1, 5);
  const j1 = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy)!;
  assert.equal(failJob(f.db, { job_id: j1.id, attempt: 1 }, f.agentId, T0, { code: 'runner_crashed', message: 'segfault' }, policy), 'accepted');
  assert.equal(jobRow(f.db, j1.id).not_before, T0 + 100);
  const j2 = claimNextJob(f.db, f.deviceId, f.agentId, T0 + 100, policy)!;
  failJob(f.db, { job_id: j2.id, attempt: 2 }, f.agentId, T0 + 100, { code: 'runner_crashed', message: 'segfault again' }, policy);
  assert.equal(jobRow(f.db, j1.id).not_before, T0 + 100 + 200, 'doubled');
  const device = f.db.prepare('SELECT health, health_reason FROM devices').get() as { health: string; health_reason: string };
  assert.equal(device.health, 'bad');
  assert.match(device.health_reason, /runner_crashed/);
  assert.equal(claimNextJob(f.db, f.deviceId, f.agentId, T0 + 10_000, policy), null, 'a bad device gets no work');
  f.db.prepare(`UPDATE devices SET health = 'good', consecutive_failures = 0`).run();
  assert.ok(claimNextJob(f.db, f.deviceId, f.agentId, T0 + 10_000, policy), 'cleared by an admin, it works again');
});

test('a non-retryable failure ends the job at once; timeouts and cancels get their own states', () => {
  const f = fixture(3);
  const a = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy)!;
  failJob(f.db, { job_id: a.id, attempt: 1 }, f.agentId, T0, { code: 'model_load_failed', message: 'bad model' }, policy);
  assert.equal(jobRow(f.db, a.id).status, 'failed');
  const b = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy)!;
  failJob(f.db, { job_id: b.id, attempt: 1 }, f.agentId, T0, { code: 'timed_out', message: 'too slow' }, policy);
  assert.equal(jobRow(f.db, b.id).status, 'timed_out');
  const c = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy)!;
  const active = cancelRun(f.db, f.runId, T0);
  assert.deepEqual(active.map((j) => j.id), [c.id], 'the running job is reported so its agent can be told');
  assert.equal(jobRow(f.db, c.id).status, 'canceled');
  assert.equal(completeJob(f.db, { job_id: c.id, attempt: 1 }, f.agentId, T0, samples, {}), 'stale', 'a canceled job takes no result');
  assert.equal((f.db.prepare('SELECT status FROM runs').get() as { status: string }).status, 'failed');
});

test('a job running past its timeout plus grace is timed out by the server', () => {
  const f = fixture(1);
  const job = claimNextJob(f.db, f.deviceId, f.agentId, T0, policy)!;
  for (let t = T0; t < T0 + 60_000; t += 500) renewLeases(f.db, f.agentId, [{ job_id: job.id, attempt: 1 }], t, policy);
  const reaped = reapExpiredLeases(f.db, T0 + 60_000 + 600, policy);
  assert.equal(reaped[0]?.status, 'timed_out');
  assert.equal(reaped[0]?.lease_owner, f.agentId);
  assert.equal(jobRow(f.db, job.id).status, 'timed_out');
});

test('device names: thousands of one name stay unique and cheap; an agent has at most 1,024 devices; gone devices without jobs are pruned', () => {
  const db = openDatabase(path.join(tempDir('names'), 'benchfleet.db'));
  const t0 = 1_700_000_000_000;
  const same = (agent: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ serial: `${agent}-${from + i}`, name: 'pixel 7', driver: 'adb' as const, labels: {}, runtimes: ['onnxruntime'], online: true }));
  const agents = ['a', 'b', 'c', 'd'].map((name) => createAgent(db, name, t0).agentId);
  for (const [i, agentId] of agents.slice(0, 3).entries()) syncInventory(db, agentId, same(`s${i}`, 1000), t0);
  // Probes of taken names per new device stay constant (the old allocation probed name-2 … name-3001: ~4.5 M probes here).
  let probes = 0;
  const original = db.prepare.bind(db);
  (db as unknown as { prepare: typeof db.prepare }).prepare = ((sql: string) => {
    const stmt = original(sql);
    if (!/SELECT 1 FROM devices WHERE name = \?/.test(sql)) return stmt;
    const get = stmt.get.bind(stmt);
    (stmt as unknown as { get: typeof stmt.get }).get = ((...a: unknown[]) => { probes++; return get(...(a as [])); }) as typeof stmt.get;
    return stmt;
  }) as typeof db.prepare;
  const changed = syncInventory(db, agents[3]!, same('s3', 1024), t0);
  (db as unknown as { prepare: typeof db.prepare }).prepare = original;
  assert.equal(changed.length, 1024);
  assert.ok(probes <= 2 * 1024 + 10, `${probes} name probes for 1,024 new devices`);
  const names = (db.prepare('SELECT name FROM devices').all() as { name: string }[]).map((r) => r.name);
  assert.equal(names.length, 4024);
  assert.equal(new Set(names).size, 4024, 'every name is unique');
  assert.ok(names.includes('pixel-7') && names.includes('pixel-7-2') && names.includes('pixel-7-4024'));
  // The cap: the first agent may add 24 more, not 100.
  const over = syncInventory(db, agents[0]!, [...same('s0', 1000), ...same('s0', 100, 1000)], t0);
  assert.equal(over.refused, 100 - (MAX_DEVICES_PER_AGENT - 1000));
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM devices WHERE agent_id = ?').get(agents[0]) as { n: number }).n, MAX_DEVICES_PER_AGENT);
  // Pruning: the fourth agent's devices go absent; a week later those without jobs are removed, one with a job stays.
  syncInventory(db, agents[3]!, [], t0 + 1000);
  const kept = (db.prepare(`SELECT id FROM devices WHERE agent_id = ? LIMIT 1`).get(agents[3]) as { id: string }).id;
  db.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, created_at) VALUES (?, 'f', 'v', 'onnx', 1, ?)`).run('e'.repeat(64), t0);
  db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, created_at) VALUES ('r1', ?, 'onnxruntime', '*', '{}', ?)`).run('e'.repeat(64), t0);
  db.prepare(`INSERT INTO jobs (id, run_id, device_id, timeout_ms, created_at) VALUES ('j1', 'r1', ?, 1000, ?)`).run(kept, t0);
  assert.equal(pruneForgottenDevices(db, t0 + 86_400_000, 7 * 86_400_000), 0, 'not before a week');
  assert.equal(pruneForgottenDevices(db, t0 + 8 * 86_400_000, 7 * 86_400_000), 1023);
  assert.ok(db.prepare('SELECT 1 FROM devices WHERE id = ?').get(kept), 'a device with a job keeps its history');
  db.close();
});
