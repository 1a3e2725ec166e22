// Feeding a labelled corpus (bench/regression-corpus.ts) through a server's own code: every result
// is stored with the queue's completeJob on a real SQLite database — which judges it exactly as a
// result from an agent — and a simulated device answers every job the server queues in response
// (reruns of a suspect, A/B rounds of the baseline artifact against the candidate) with samples
// from the same series' device at that moment. Used by bench/regression-quality.ts (scores) and by
// test/change-consistency.test.ts (every reported change agrees with itself).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededRng } from '../protocol/random.js';
import { extraJob, type CorpusSeries } from './regression-corpus.js';
import { newTally, scoreSeries, type Report, type Tally } from './regression-scoring.js';

export interface FeedOptions {
  /** Policy overrides: A/B round budget and confirmation reruns (undefined = the server's defaults). */
  abRounds?: number | undefined;
  reruns?: number | undefined;
  /** Called with the database after the corpus was fed, before it is closed. */
  inspect?: (db: Db) => void;
}

export interface SampleSet { metric: string; unit: string; samples: number[]; flags?: string[] }
export type Db = { prepare(sql: string): { run(...a: unknown[]): unknown; get(...a: unknown[]): unknown; all(...a: unknown[]): unknown[] }; close(): void };
export interface ServerModules {
  openDatabase(file: string): Db;
  createAgent(db: Db, name: string, now: number): { agentId: string };
  syncInventory(db: Db, agentId: string, devices: unknown[], now: number): string[];
  completeJob(db: Db, ref: { job_id: string; attempt: number }, agentId: string, now: number, sets: SampleSet[], env: Record<string, unknown>): string;
  claimNextJob(db: Db, deviceId: string, agentId: string, now: number, policy: unknown): { id: string; attempt: number } | null;
  queuePolicy: unknown;
  /** The old build's periodic change-point analysis, when it has one. */
  analyzeDueSeries?: (db: Db, now: number, max?: number) => number;
  recentJudgeTimes?: (reset?: boolean) => Float64Array;
  setPolicy?: (db: Db, metric: string, policy: Record<string, unknown>, now: number) => void;
  defaultPolicy?: Record<string, unknown>;
}

export async function loadServer(root: string | undefined): Promise<ServerModules & { name: string }> {
  const base = root ? path.resolve(root) : path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const load = async (rel: string): Promise<Record<string, unknown>> => {
    const file = path.join(base, rel);
    return fs.existsSync(file) ? (await import(file)) as Record<string, unknown> : {};
  };
  const open = await load('server/db/open.js');
  const registry = await load('server/farm/registry.js');
  const jobs = await load('server/queue/jobs.js');
  // Only another build's analyzer: a stale compiled file of this build must not run.
  const analyzer = root ? await load('server/regression/analyzer.js') : {};
  const policy = await load('server/regression/policy.js');
  const series = await load('server/regression/series.js');
  return {
    name: root ? `server at ${root}` : 'this build',
    openDatabase: open.openDatabase as ServerModules['openDatabase'],
    createAgent: registry.createAgent as ServerModules['createAgent'],
    syncInventory: registry.syncInventory as ServerModules['syncInventory'],
    completeJob: jobs.completeJob as ServerModules['completeJob'],
    claimNextJob: jobs.claimNextJob as ServerModules['claimNextJob'],
    queuePolicy: jobs.DEFAULT_POLICY,
    analyzeDueSeries: analyzer.analyzeDueSeries as ServerModules['analyzeDueSeries'],
    recentJudgeTimes: series.recentJudgeTimes as ServerModules['recentJudgeTimes'],
    setPolicy: policy.setPolicy as ServerModules['setPolicy'],
    defaultPolicy: policy.DEFAULT_POLICY as Record<string, unknown> | undefined,
  };
}

// ---- feeding one corpus ----------------------------------------------------------------------------

const T0 = 1_750_000_000_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;
const sha = (seed: number, series: number, artifact: number): string => crypto.createHash('sha256').update(`${seed}:${series}:${artifact}`).digest('hex');
const metricOf = (s: CorpusSeries): [string, string] => (s.direction === 'lower_is_better' ? ['latency_ms', 'ms'] : ['throughput_per_s', '1/s']);

export interface FeedStats { judgeMs: number[]; results: number; extraJobs: number; abJobs: number; rerunJobs: number; completeMs: number[]; wallMs: number; analyzeMs: number }

export async function feedCorpus(srv: ServerModules, seed: number, corpus: CorpusSeries[], tally: Tally, byClass: Map<string, Tally>, stats: FeedStats, opts: FeedOptions = {}): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-quality-'));
  const db = srv.openDatabase(path.join(dir, 'benchfleet.db'));
  try {
    const { agentId } = srv.createAgent(db, 'sim', T0);
    srv.syncInventory(db, agentId, corpus.map((s) => ({ serial: `s${s.id}`, name: `dev${s.id}`, driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true })), T0);
    const devices = new Map((db.prepare('SELECT id, serial FROM devices').all() as { id: string; serial: string }[]).map((d) => [d.serial, d.id]));
    if (srv.setPolicy && srv.defaultPolicy && (opts.abRounds !== undefined || opts.reruns !== undefined)) {
      const p = { ...srv.defaultPolicy };
      if (opts.abRounds !== undefined) p.abRounds = opts.abRounds;
      if (opts.reruns !== undefined) p.confirmReruns = opts.reruns;
      srv.setPolicy(db, '*', p, T0);
    }
    const hasJobModel = (db.prepare(`SELECT COUNT(*) AS n FROM pragma_table_info('jobs') WHERE name = 'model_sha256'`).get() as { n: number }).n > 0;
    const hasChanges = (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'series_changes'`).get() as { n: number }).n > 0;
    const insertModel = db.prepare(`INSERT OR IGNORE INTO models (sha256, family, variant, format, size_bytes, created_at) VALUES (?, ?, 'v', 'onnx', 1, ?)`);
    const insertRun = db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, created_at) VALUES (?, ?, 'onnxruntime', ?, ?, ?, ?)`);
    const insertJob = db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, attempt, lease_owner, lease_expires_at, timeout_ms, created_at)
                                  VALUES (?, ?, ?, 'assigned', 1, ?, ?, 600000, ?)`);
    const jobModel = db.prepare(hasJobModel
      ? 'SELECT COALESCE(j.model_sha256, r.model_sha256) AS sha, j.ab_test_id AS ab FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = ?'
      : 'SELECT r.model_sha256 AS sha, NULL AS ab FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = ?');
    const nextQueued = db.prepare(`SELECT MIN(not_before) AS t FROM jobs WHERE device_id = ? AND status = 'queued'`);
    const wall = performance.now();
    for (const s of corpus) {
      const device = devices.get(`s${s.id}`)!;
      const [metric, unit] = metricOf(s);
      const artifactOf = new Map(s.artifactLevel.map((_, a) => [sha(seed, s.id, a), a]));
      for (const [h] of artifactOf) insertModel.run(h, `f${s.id}`, T0);
      const rng = seededRng((seed * 7919 + s.id * 104729 + 17) >>> 0);
      const times: number[] = [];
      let now = T0;
      for (let t = 0; t < s.results.length; t++) {
        now = Math.max(now + MINUTE, T0 + t * HOUR);
        times.push(now);
        const r = s.results[t]!;
        const runId = `r-${s.id}-${t}`;
        const jobId = `j-${s.id}-${t}`;
        insertRun.run(runId, sha(seed, s.id, r.artifact), `dev${s.id}`, JSON.stringify({ threads: 1 }), JSON.stringify({ branch: 'main', commit: `c${t}`, baseline_branch: 'main' }), now);
        insertJob.run(jobId, runId, device, agentId, now + HOUR, now);
        const t1 = performance.now();
        const out = srv.completeJob(db, { job_id: jobId, attempt: 1 }, agentId, now, [{ metric, unit, samples: Array.from(r.samples), flags: r.flags }], {});
        stats.completeMs.push(performance.now() - t1);
        const judged = srv.recentJudgeTimes?.(true);
        if (judged?.length) stats.judgeMs.push(judged[judged.length - 1]!);
        if (out !== 'accepted') throw new Error(`result ${jobId} was ${out}`);
        stats.results++;
        // The simulated device answers whatever the server queued for it, one job at a time.
        for (let extra = 0; extra < 400; extra++) {
          now += MINUTE;
          let claimed = srv.claimNextJob(db, device, agentId, now, srv.queuePolicy);
          if (!claimed) {
            const wait = (nextQueued.get(device) as { t: number | null }).t;
            if (wait === null) break;
            now = Math.max(now, wait);
            claimed = srv.claimNextJob(db, device, agentId, now, srv.queuePolicy);
            if (!claimed) break;
          }
          const m = jobModel.get(claimed.id) as { sha: string; ab: string | null };
          const job = extraJob(s, t, artifactOf.get(m.sha) ?? r.artifact, rng);
          srv.completeJob(db, { job_id: claimed.id, attempt: claimed.attempt }, agentId, now, [{ metric, unit, samples: Array.from(job.samples), flags: job.flags }], {});
          stats.extraJobs++;
          if (m.ab) stats.abJobs++; else stats.rerunJobs++;
        }
        if (srv.analyzeDueSeries) {
          const t2 = performance.now();
          srv.analyzeDueSeries(db, now, 1_000_000);
          stats.analyzeMs += performance.now() - t2;
        }
      }
      const indexAt = (at: number): number => {
        let i = 0;
        while (i + 1 < times.length && times[i + 1]! <= at) i++;
        return i;
      };
      const worse = (dir: string): 'worse' | 'better' => (dir === 'regression' ? 'worse' : 'better');
      const reports: Report[] = hasChanges
        ? (db.prepare(`SELECT c.direction, c.detected_at, c.source FROM series_changes c JOIN series se ON se.key = c.series_key WHERE se.device_id = ? ORDER BY c.detected_at`)
          .all(device) as { direction: string; detected_at: number; source: string }[]).map((c) => ({ at: indexAt(c.detected_at), direction: worse(c.direction), source: c.source }))
        : (db.prepare(`SELECT a.opened_at, a.kind FROM alerts a JOIN series se ON se.key = a.series_key WHERE se.device_id = ? ORDER BY a.opened_at`)
          .all(device) as { opened_at: number; kind: string }[]).map((a) => ({ at: indexAt(a.opened_at), direction: 'worse' as const, source: a.kind }));
      scoreSeries(tally, s, reports);
      for (const key of [`noise:${s.noise}|${s.direction}`]) {
        let t = byClass.get(key);
        if (!t) { t = newTally(); byClass.set(key, t); }
        scoreSeries(t, s, reports);
      }
    }
    stats.wallMs += performance.now() - wall;
    opts.inspect?.(db);
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

