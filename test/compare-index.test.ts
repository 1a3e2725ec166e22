// The variant comparison reads compare_keys / compare_results (migration 013): triggers note every
// job whose row may have changed, and syncCompareIndex rebuilds the noted rows before a comparison.
// Whatever writes the jobs — results stored the way completeJob stores them (the job's update
// first, then its measurements), jobs inserted already succeeded (a bulk load), A/B
// jobs whose arm ran another model, a runner changed afterwards, a measurement rewritten or deleted,
// a job leaving succeeded or deleted — the index must say exactly what the jobs and measurements
// say. The expected index is computed here in JS from the jobs themselves, not with the
// migration's SQL, over a seeded random sequence of such writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../server/db/open.js';
import { seededRng } from '../protocol/random.js';
import { syncCompareIndex } from '../server/variants/compare-index.js';

interface Row { key: string; run_id: string; finished_at: number; metrics: string }

/** The index as the jobs say it should be: job id → key and summaries. */
function expected(db: Db): Map<string, Row> {
  const out = new Map<string, Row>();
  const jobs = db.prepare(`SELECT j.id, j.run_id, j.device_id, j.model_sha256, j.environment, j.finished_at, j.created_at, r.model_sha256 AS run_sha, r.runtime, r.settings
                           FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.status = 'succeeded'`).all() as {
    id: string; run_id: string; device_id: string; model_sha256: string | null; environment: string | null; finished_at: number | null; created_at: number;
    run_sha: string; runtime: string; settings: string;
  }[];
  for (const j of jobs) {
    const sha = j.model_sha256 ?? j.run_sha;
    const family = (db.prepare('SELECT family FROM models WHERE sha256 = ?').get(sha) as { family: string }).family;
    const settings = JSON.parse(j.settings) as { threads?: number; inputs?: unknown };
    const env = j.environment ? JSON.parse(j.environment) as { runner?: string } : {};
    const key = JSON.stringify([family, sha, j.device_id, [j.runtime, settings.threads ?? null, settings.inputs ?? null, env.runner ?? null]]);
    const ms = (db.prepare('SELECT metric, median, mean, max, ci_low, ci_high, flags FROM measurements WHERE job_id = ?').all(j.id) as {
      metric: string; median: number; mean: number; max: number; ci_low: number; ci_high: number; flags: string;
    }[]).map((m) => [m.metric, m.median, m.mean, m.max, m.ci_low, m.ci_high, JSON.parse(m.flags) as string[]]);
    out.set(j.id, { key, run_id: j.run_id, finished_at: j.finished_at ?? j.created_at, metrics: JSON.stringify(ms.sort((a, b) => String(a[0]).localeCompare(String(b[0])))) });
  }
  return out;
}

/** The index as the triggers kept it. */
function actual(db: Db): Map<string, Row> {
  const rows = db.prepare(`SELECT c.job_id, c.run_id, c.finished_at, c.metrics, k.family, k.sha256, k.device_id, k.settings
                           FROM compare_results c JOIN compare_keys k ON k.id = c.key_id`).all() as {
    job_id: string; run_id: string; finished_at: number; metrics: string; family: string; sha256: string; device_id: string; settings: string;
  }[];
  return new Map(rows.map((r) => [r.job_id, {
    key: JSON.stringify([r.family, r.sha256, r.device_id, JSON.parse(r.settings)]), run_id: r.run_id, finished_at: r.finished_at,
    metrics: JSON.stringify((JSON.parse(r.metrics) as unknown[][]).sort((a, b) => String(a[0]).localeCompare(String(b[0])))),
  }]));
}

test('the compare index equals what the jobs say after every kind of write', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-compare-index-'));
  const db = openDatabase(path.join(dir, 'farm.db'));
  try {
    const rand = seededRng(13);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const now = 1_700_000_000_000;
    db.prepare('INSERT INTO agents (id, name, hostname, version, online, last_seen_at, created_at) VALUES (?, ?, ?, ?, 0, ?, ?)').run('agt_1', 'lab', 'lab', '1', now, now);
    const devices = ['dev_a', 'dev_b', 'dev_c'];
    for (const d of devices) {
      db.prepare(`INSERT INTO devices (id, agent_id, serial, name, driver, labels, runtimes, present, health, last_seen_at, created_at)
                  VALUES (?, 'agt_1', ?, ?, 'linux', '{}', '["onnxruntime"]', 1, 'good', ?, ?)`).run(d, d, d, now, now);
    }
    const models: string[] = [];
    for (const [family, variant] of [['resnet', 'fp32'], ['resnet', 'int8'], ['bert', 'fp32']] as const) {
      for (let v = 0; v < 2; v++) {
        const sha = `${family}${variant}${v}`.padEnd(64, '0');
        db.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, filename, facts, created_at, parent_variant, compression, tags, accuracy)
                    VALUES (?, ?, ?, 'onnx', 100, 'm.onnx', '{}', ?, NULL, '{}', '[]', NULL)`).run(sha, family, variant, now + v);
        models.push(sha);
      }
    }
    const settingsChoices = [
      { threads: 1, inputs: {} }, { threads: 4, inputs: {} }, { threads: 1, inputs: { x: { shape: [1, 3] } } }, { threads: 2 },
    ];
    const jobs: string[] = [];
    let n = 0;
    const measure = (jobId: string) => {
      for (const metric of ['latency_ms', 'peak_rss_mib', 'energy_mj'].filter(() => rand() < 0.7)) {
        const median = 1 + rand() * 10;
        db.prepare(`INSERT INTO measurements (job_id, metric, unit, attempt, count, median, p90, p99, mean, stddev, min, max, ci_low, ci_high, mean_ci_half, outliers, flags, created_at)
                    VALUES (?, ?, 'ms', 1, 10, ?, ?, ?, ?, 0.1, ?, ?, ?, ?, 0.1, 0, ?, ?)`)
          .run(jobId, metric, median, median, median, median, median, median, median * 0.9, median * 1.1, rand() < 0.2 ? '["throttled"]' : '[]', now);
      }
    };
    const steps: string[] = [];
    for (let i = 0; i < 400; i++) {
      const op = rand();
      if (op < 0.45 || jobs.length === 0) {
        // A run with one job: either stored like completeJob (queued, then succeeded with its
        // environment, then measurements), or inserted already succeeded with its measurements (a bulk load).
        const runId = `run_${++n}`;
        const sha = pick(models);
        db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, status, created_by, created_at, finished_at)
                    VALUES (?, ?, ?, '*', ?, '{}', 'queued', NULL, ?, NULL)`).run(runId, sha, pick(['onnxruntime', 'tflite']), JSON.stringify(pick(settingsChoices)), now + i);
        const jobId = `job_${n}`;
        const abSha = rand() < 0.2 ? pick(models) : null; // an A/B arm that ran another model
        const env = JSON.stringify(rand() < 0.8 ? { runner: pick(['ort 1.17', 'ort 1.18']) } : {});
        if (rand() < 0.5) {
          db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, timeout_ms, created_at, model_sha256) VALUES (?, ?, ?, 'queued', 1000, ?, ?)`).run(jobId, runId, pick(devices), now + i, abSha);
          db.transaction(() => {
            db.prepare(`UPDATE jobs SET status = 'succeeded', finished_at = ?, environment = ? WHERE id = ?`).run(now + i + rand() * 100, env, jobId);
            measure(jobId);
          })();
          steps.push('completed');
        } else {
          db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, timeout_ms, created_at, finished_at, environment, model_sha256)
                      VALUES (?, ?, ?, ?, 1000, ?, ?, ?, ?)`).run(jobId, runId, pick(devices), rand() < 0.8 ? 'succeeded' : 'failed', now + i, now + i + 50, env, abSha);
          measure(jobId);
          steps.push('bulk');
        }
        jobs.push(jobId);
      } else if (op < 0.55) {
        db.prepare(`UPDATE jobs SET environment = ? WHERE id = ?`).run(JSON.stringify({ runner: pick(['ort 1.17', 'ort 1.19']) }), pick(jobs));
        steps.push('runner changed');
      } else if (op < 0.65) {
        db.prepare(`UPDATE measurements SET median = median * 2, flags = '["charging"]' WHERE job_id = ? AND metric = 'latency_ms'`).run(pick(jobs));
        steps.push('measurement rewritten');
      } else if (op < 0.72) {
        db.prepare(`UPDATE measurements SET series_key = 'k' WHERE job_id = ?`).run(pick(jobs));
        steps.push('series key set');
      } else if (op < 0.8) {
        db.prepare(`DELETE FROM measurements WHERE job_id = ? AND metric = 'peak_rss_mib'`).run(pick(jobs));
        steps.push('measurement deleted');
      } else if (op < 0.88) {
        db.prepare(`UPDATE jobs SET status = 'failed', error_code = 'runtime_error' WHERE id = ?`).run(pick(jobs));
        steps.push('left succeeded');
      } else if (op < 0.94) {
        db.prepare(`UPDATE jobs SET status = 'succeeded', error_code = NULL, finished_at = ? WHERE id = ? AND status = 'failed'`).run(now + 10_000 + i, pick(jobs));
        steps.push('succeeded again');
      } else {
        const id = pick(jobs);
        db.prepare('DELETE FROM samples WHERE job_id = ?').run(id);
        db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
        jobs.splice(jobs.indexOf(id), 1);
        steps.push('deleted');
      }
      if (i % 20 === 19 || i === 399) {
        // What the comparison does before it reads: the noted jobs' rows rebuilt (here in batches of 7, to cross batch edges).
        while (syncCompareIndex(db, 7) > 0) { /* next batch */ }
        assert.equal((db.prepare('SELECT COUNT(*) AS n FROM compare_pending').get() as { n: number }).n, 0);
        assert.deepEqual(actual(db), expected(db), `after step ${i} (${steps.slice(-3).join(', ')})`);
      }
    }
    // Every kind of write happened.
    for (const s of ['completed', 'bulk', 'runner changed', 'measurement rewritten', 'measurement deleted', 'left succeeded', 'succeeded again', 'deleted']) {
      assert.ok(steps.includes(s), `the sequence had no "${s}"`);
    }
    assert.ok(expected(db).size > 50, 'a farm of some size');
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
