// GET /runs/:id answers a large run from the encoded view it built last while the run's version
// (migration 014's triggers) and the view generation are unchanged. A stale answer would be a
// wrong answer: after every kind of write a run view shows — and some it does not — the cached
// answer must be byte-identical to a view built afresh, over a seeded random sequence of writes.
// Over real HTTP: the ETag, 304 to a client that holds the current version, 200 with the new
// view after a change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../server/db/open.js';
import { ModelStore } from '../server/models/store.js';
import { RunViewCache } from '../server/farm/run-view-cache.js';
import { getRun } from '../server/farm/views.js';
import { seededRng } from '../protocol/random.js';
import { repoRoot, startFarm } from './support/farm.js';

test('a cached run view is never stale: byte-identical to a fresh one after every kind of write', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-run-view-'));
  const db = openDatabase(path.join(dir, 'farm.db'));
  try {
    const models = new ModelStore(db, path.join(dir, 'models'));
    const rand = seededRng(14);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const now = 1_700_000_000_000;
    db.prepare('INSERT INTO agents (id, name, hostname, version, online, last_seen_at, created_at) VALUES (?, ?, ?, ?, 1, ?, ?)').run('agt_1', 'lab', 'lab', '1', now, now);
    const devices = ['dev_a', 'dev_b', 'dev_c', 'dev_d'];
    for (const d of devices) {
      db.prepare(`INSERT INTO devices (id, agent_id, serial, name, driver, labels, runtimes, present, health, last_seen_at, created_at)
                  VALUES (?, 'agt_1', ?, ?, 'linux', '{}', '["onnxruntime"]', 1, 'good', ?, ?)`).run(d, d, `${d}-name`, now, now);
    }
    const sha = 'a'.repeat(64);
    const other = 'b'.repeat(64);
    for (const [s, variant] of [[sha, 'int8'], [other, 'fp32']] as const) {
      db.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, filename, facts, created_at, parent_variant, compression, tags, accuracy)
                  VALUES (?, 'net', ?, 'onnx', 100, 'm.onnx', '{}', ?, NULL, '{}', '[]', NULL)`).run(s, variant, now);
    }
    const runId = 'run_1';
    db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, status, created_by, created_at, finished_at)
                VALUES (?, ?, 'onnxruntime', '*', '{"threads":1}', '{}', 'running', NULL, ?, NULL)`).run(runId, sha, now);
    db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, status, created_by, created_at, finished_at)
                VALUES ('run_other', ?, 'onnxruntime', '*', '{}', '{}', 'running', NULL, ?, NULL)`).run(sha, now);
    const jobs: string[] = [];
    let n = 0;
    const addJob = (run = runId) => {
      const id = `job_${++n}`;
      db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, timeout_ms, created_at) VALUES (?, ?, ?, 'queued', 1000, ?)`).run(id, run, pick(devices), now + n);
      if (run === runId) jobs.push(id);
      return id;
    };
    for (let i = 0; i < 30; i++) addJob();
    const succeed = (id: string) => {
      db.transaction(() => {
        const done = db.prepare(`UPDATE jobs SET status = 'succeeded', finished_at = ?, environment = '{"runner":"ort"}' WHERE id = ? AND status <> 'succeeded'`).run(now + 100, id);
        if (done.changes === 0) return;
        const median = 1 + rand();
        db.prepare(`INSERT OR REPLACE INTO measurements (job_id, metric, unit, attempt, count, median, p90, p99, mean, stddev, min, max, ci_low, ci_high, mean_ci_half, outliers, flags, created_at)
                    VALUES (?, 'latency_ms', 'ms', 1, 10, ?, ?, ?, ?, 0.1, ?, ?, ?, ?, 0.1, 0, '[]', ?)`).run(id, median, median, median, median, median, median, median * 0.9, median * 1.1, now);
        db.prepare(`INSERT OR REPLACE INTO verdicts (job_id, metric, verdict, baseline_results, baseline_branch, created_at, confirmation, evidence)
                    VALUES (?, 'latency_ms', ?, 5, 'main', ?, 'none', 'z = 1.2')`).run(id, pick(['pass', 'regression']), now);
      })();
    };
    const cache = new RunViewCache(64 * 2 ** 20, 0, 'test');
    const fresh = () => JSON.stringify(getRun(db, models, runId));

    const shown: Record<string, () => void> = {
      'job queued': () => addJob(),
      'job assigned': () => db.prepare(`UPDATE jobs SET status = 'assigned', attempt = attempt + 1, lease_owner = 'agt_1', lease_expires_at = ? WHERE id = ? AND status = 'queued'
                                         AND device_id NOT IN (SELECT device_id FROM jobs WHERE status IN ('assigned', 'running'))`).run(now + 5000, pick(jobs)),
      'progress': () => db.prepare(`UPDATE jobs SET progress = ? WHERE id = ?`).run(JSON.stringify({ phase: 'timed', done: Math.floor(rand() * 10), total: 10 }), pick(jobs)),
      'job succeeded with results': () => succeed(pick(jobs)),
      'job failed': () => db.prepare(`UPDATE jobs SET status = 'failed', error_code = 'runtime_error', error_message = 'boom', lease_owner = NULL, lease_expires_at = NULL WHERE id = ?`).run(pick(jobs)),
      'verdict confirmed': () => db.prepare(`UPDATE verdicts SET confirmation = 'confirmed', confirmed_by = 'ab' WHERE job_id = ?`).run(pick(jobs)),
      'series key set': () => db.prepare(`UPDATE measurements SET series_key = ? WHERE job_id = ?`).run(`key-${n}`, pick(jobs)),
      'measurement deleted': () => db.prepare(`DELETE FROM measurements WHERE job_id = ?`).run(pick(jobs)),
      'A/B test started': () => db.prepare(`INSERT OR IGNORE INTO ab_tests (id, run_id, device_id, purpose, metric, baseline_sha256, candidate_sha256, min_rounds, max_rounds, min_effect, alpha, spacing_ms, created_at)
                                             VALUES (?, ?, ?, 'gate', 'latency_ms', ?, ?, 4, 12, 0.02, 0.05, 0, ?)`).run(`ab_${n}`, runId, pick(devices), other, sha, now),
      'A/B test decided': () => db.prepare(`UPDATE ab_tests SET status = 'changed', effect = 0.1 WHERE run_id = ?`).run(runId),
      'run finished': () => db.prepare(`UPDATE runs SET status = 'failed', finished_at = ? WHERE id = ?`).run(now + 1000, runId),
      'device renamed': () => db.prepare(`UPDATE devices SET name = ? WHERE id = ?`).run(`renamed-${n++}`, pick(devices)),
      'model metadata': () => db.prepare(`UPDATE models SET tags = ? WHERE sha256 = ?`).run(JSON.stringify([`t${n++}`]), sha),
      'family thresholds': () => db.prepare(`INSERT INTO families (name, reference_variant, reference, reference_sha256, min_cosine, updated_at) VALUES ('net', 'fp32', '{}', 'x', ?, ?)
                                              ON CONFLICT (name) DO UPDATE SET min_cosine = excluded.min_cosine`).run(0.9 + rand() * 0.09, now),
      'job deleted': () => { const id = pick(jobs); db.prepare('DELETE FROM jobs WHERE id = ?').run(id); jobs.splice(jobs.indexOf(id), 1); },
    };
    const notShown: Record<string, () => void> = {
      'lease extended': () => db.prepare(`UPDATE jobs SET lease_expires_at = lease_expires_at + 1000 WHERE run_id = ? AND status IN ('assigned', 'running')`).run(runId),
      'backoff': () => db.prepare(`UPDATE jobs SET not_before = ? WHERE id = ?`).run(now + 99, pick(jobs)),
      'device seen': () => db.prepare(`UPDATE devices SET last_seen_at = ? WHERE id = ?`).run(now + n++, pick(devices)),
      'another run changed': () => { addJob('run_other'); db.prepare(`UPDATE runs SET status = 'queued' WHERE id = 'run_other'`).run(); },
    };
    // A job with results before the sequence starts, so fidelity and verdict paths are in the view.
    succeed(jobs[0]!);
    let previous = cache.get(db, models, runId)!;
    assert.equal(previous.body.toString(), fresh());
    const hits = { shown: 0, notShown: 0 };
    for (let i = 0; i < 300; i++) {
      const both = { ...shown, ...notShown };
      const what = pick(Object.keys(both));
      both[what]!();
      const got = cache.get(db, models, runId)!;
      const want = fresh();
      assert.equal(got.body.toString(), want, `step ${i} (${what}): the cached view is stale`);
      if (what in notShown) {
        // Nothing the view shows changed: the same encoded answer, the same ETag.
        assert.equal(got.etag, previous.etag, `step ${i} (${what}) changed the ETag`);
        assert.equal(got.body, previous.body, `step ${i} (${what}) rebuilt the view`);
        hits.notShown++;
      } else if (got.body.toString() !== previous.body.toString()) {
        assert.notEqual(got.etag, previous.etag, `step ${i} (${what}): a changed view kept its ETag`);
        hits.shown++;
      }
      previous = got;
    }
    assert.ok(hits.shown > 100 && hits.notShown > 30, JSON.stringify(hits));
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GET /runs/:id: an ETag, 304 to a client holding the current view, the new view after a change', { timeout: 60_000 }, async () => {
  const farm = await startFarm();
  try {
    const up = await fetch(`${farm.url}/api/v1/models?family=etag&variant=v1`, {
      method: 'POST', headers: { authorization: `Bearer ${farm.adminToken}`, 'content-type': 'application/octet-stream' },
      body: fs.readFileSync(path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx')),
    });
    assert.equal(up.status, 201, await up.text());
    // A device whose agent is away: the run's job stays queued while the test reads the view.
    const now = Date.now();
    farm.server.db.prepare('INSERT INTO agents (id, name, hostname, version, online, last_seen_at, created_at) VALUES (?, ?, ?, ?, 0, ?, ?)').run('agt_etag', 'away', 'away', '1', now, now);
    farm.server.db.prepare(`INSERT INTO devices (id, agent_id, serial, name, driver, labels, runtimes, present, health, last_seen_at, created_at)
                            VALUES ('dev_etag', 'agt_etag', 'e1', 'etag-device', 'linux', '{}', '["onnxruntime"]', 1, 'good', ?, ?)`).run(now, now);
    const created = await farm.api<{ id: string }>('POST', '/runs', { model: 'etag:v1', device: 'etag-device' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const get = (headers: Record<string, string> = {}) => fetch(`${farm.url}/api/v1/runs/${created.body.id}`, { headers: { authorization: `Bearer ${farm.adminToken}`, ...headers } });
    const first = await get();
    assert.equal(first.status, 200);
    const etag = first.headers.get('etag');
    assert.match(etag ?? '', /^".+"$/);
    assert.equal(first.headers.get('cache-control'), 'private, no-cache');
    const view = await first.json() as { status: string };
    const again = await get({ 'if-none-match': etag! });
    assert.equal(again.status, 304);
    assert.equal((await again.text()).length, 0);
    assert.equal((await get({ 'if-none-match': '"something-else"' })).status, 200);
    // A change (the run canceled) gives the new view with another ETag, whatever the client holds.
    const canceled = await farm.api<{ status: string }>('POST', `/runs/${created.body.id}/cancel`);
    assert.equal(canceled.status, 200);
    const after = await get({ 'if-none-match': etag! });
    assert.equal(after.status, 200);
    assert.notEqual(after.headers.get('etag'), etag);
    const changed = await after.json() as { status: string };
    assert.notEqual(changed.status, view.status);
    assert.equal(changed.status, 'canceled');
  } finally {
    await farm.stop();
  }
});
