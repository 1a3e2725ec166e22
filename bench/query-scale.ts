// Read queries on a big farm's history (issue 11: "series and results queries p95 ≤ 50 ms over
// 10 M stored raw samples"). A farm database is built directly with SQL on a fresh data directory
// opened through the server's own openDatabase (so the migrations made the schema): agents,
// devices in classes, families × variants in several versions, runs over ~180 days with one job
// per device of a class, and per job the measurements a result stores (latency_ms with 100 raw
// samples, peak_mem_mib, energy_mj on devices with a power monitor), their raw samples as
// little-endian float64 blobs (encodeSamples), series keys and series rows as judge() writes them,
// verdicts, and the detector's watches and changes rebuilt by the server's own rebuildSeries.
// Latencies are lognormal around a level per series that steps with each new model version and
// now and then on its own; some results are flagged, some jobs failed, some runs are pull requests.
//
// Then the real server (startServer) is started on that directory and the read queries users run
// are timed over real HTTP, until the whole body has arrived: the series list (with and without a
// family filter), one series, one metric's history (the chart), a run's results and measurements,
// a job's raw samples, the variant comparison of a family and the run list — keys, runs, jobs and
// families picked at random across the data (seeded). Same-run baselines: a bare GET of
// /api/v1/health on the same server, and a bare indexed SQLite point lookup on the same file.
//
// Usage: node dist/bench/query-scale.js [--samples 10000000] [--requests 50] [--seed 1]
//          [--data DIR] [--keep] [--build-only]
//   --samples is the number of raw samples stored in all (latency, memory and energy together).
//   --data DIR builds the database into DIR, or reuses the one already there (no rebuild).
//   --keep leaves a fresh temporary data directory in place (its path on stderr).
//   --only NAME,NAME times only these queries (names as in the output, e.g. compare,series_history).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openDatabase, type Db } from '../server/db/open.js';
import { startServer } from '../server/main.js';
import { createToken } from '../server/auth/tokens.js';
import { randomId } from '../server/ids.js';
import { encodeSamples, summarize } from '../server/stats/summary.js';
import { seriesKey } from '../server/regression/series-keys.js';
import { rebuildSeries } from '../server/regression/watch.js';
import { syncCompareIndex } from '../server/variants/compare-index.js';
import { seededRng } from '../protocol/random.js';
import { quantile } from './scale/harness.js';

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '10000000' },
    requests: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    data: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'build-only': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});

const progress = (msg: string): void => { process.stderr.write(`[query-scale] ${msg}\n`); };
const now = (): number => performance.now();
const q = quantile;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

const seed = Number(args.seed);
const rand = seededRng(seed);
function normal(r: () => number = rand): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}
const pick = <T>(xs: readonly T[], r: () => number = rand): T => xs[Math.floor(r() * xs.length)]!;
const hex = (bytes: number): string => Array.from({ length: bytes }, () => Math.floor(rand() * 256).toString(16).padStart(2, '0')).join('');

// ---- the farm's shape -----------------------------------------------------------------------------

interface DeviceClass { name: string; factor: number; runtime: string; energy: boolean; android: boolean; memMib: number }
const CLASSES: DeviceClass[] = [
  { name: 'pixel-7', factor: 1.6, runtime: 'tflite', energy: false, android: true, memMib: 8192 },
  { name: 'pixel-4a', factor: 3.2, runtime: 'tflite', energy: false, android: true, memMib: 6144 },
  { name: 'galaxy-s23', factor: 1.2, runtime: 'tflite', energy: false, android: true, memMib: 8192 },
  { name: 'rpi5', factor: 2.4, runtime: 'onnxruntime', energy: true, android: false, memMib: 8192 },
  { name: 'rpi4', factor: 4.1, runtime: 'onnxruntime', energy: true, android: false, memMib: 4096 },
  { name: 'jetson-orin', factor: 0.6, runtime: 'onnxruntime', energy: true, android: false, memMib: 16384 },
  { name: 'jetson-nano', factor: 2.0, runtime: 'onnxruntime', energy: true, android: false, memMib: 4096 },
  { name: 'x86-ci', factor: 0.5, runtime: 'onnxruntime', energy: false, android: false, memMib: 32768 },
  { name: 'mac-m2', factor: 0.45, runtime: 'onnxruntime', energy: false, android: false, memMib: 16384 },
  { name: 'stm32-h7', factor: 9, runtime: 'tflite-micro', energy: true, android: false, memMib: 1 },
];
const DEVICES_PER_CLASS = 5;
const AGENTS = 5;
const FAMILIES = ['mobilenet-v3', 'resnet-50', 'efficientnet-b0', 'yolov8n', 'kws-cnn', 'bert-tiny', 'whisper-tiny', 'deeplab-v3', 'squeezenet', 'ssd-mobilenet'];
const VARIANTS = [
  { name: 'fp32', factor: 1, parent: null, compression: {} },
  { name: 'fp16', factor: 0.72, parent: 'fp32', compression: { quantization: { method: 'ptq', weight_bits: 16, activation_bits: 16 } } },
  { name: 'int8', factor: 0.46, parent: 'fp32', compression: { quantization: { method: 'ptq', weight_bits: 8, activation_bits: 8, per_channel: true } } },
  { name: 'int8-pruned50', factor: 0.39, parent: 'int8', compression: { quantization: { method: 'qat', weight_bits: 8, activation_bits: 8 }, pruning: { kind: 'unstructured', sparsity: 0.5 } } },
] as const;
const VERSIONS = 3;
const DAYS = 180;
const LATENCY_SAMPLES = 100;
const MEM_SAMPLES = 3;
const ENERGY_SAMPLES = 5;
const FAILED = 0.03;

interface BuildStats { seconds: number; jobs: number; runs: number; measurements: number; series: number; rawSamples: number; changes: number; alerts: number }

function buildFarm(db: Db, targetSamples: number, tokenId: string): BuildStats {
  const t0 = now();
  const start = Date.now() - DAYS * 86_400_000;
  // Agents and devices: one class per 5 devices, spread over the agents.
  const agents = Array.from({ length: AGENTS }, (_, i) => ({ id: randomId('agt'), name: `lab-${i + 1}` }));
  const insAgent = db.prepare('INSERT INTO agents (id, name, hostname, version, online, last_seen_at, created_at) VALUES (?, ?, ?, ?, 0, ?, ?)');
  for (const a of agents) insAgent.run(a.id, a.name, `${a.name}.farm.internal`, '0.1.0', Date.now(), start);
  interface Device { id: string; name: string; cls: DeviceClass; speed: number }
  const devices: Device[] = [];
  const insDevice = db.prepare(`INSERT INTO devices (id, agent_id, serial, name, driver, labels, runtimes, present, health, last_seen_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 1, 'good', ?, ?)`);
  CLASSES.forEach((cls, c) => {
    for (let k = 0; k < DEVICES_PER_CLASS; k++) {
      const d: Device = { id: randomId('dev'), name: `${cls.name}-${k + 1}`, cls, speed: Math.exp(0.03 * normal()) };
      const agent = agents[(c * DEVICES_PER_CLASS + k) % AGENTS]!;
      insDevice.run(d.id, agent.id, `${cls.name.toUpperCase()}${hex(4)}`, d.name, cls.android ? 'adb' : cls.name.startsWith('stm32') ? 'serial' : 'local',
        JSON.stringify({ class: cls.name, power_monitor: cls.energy ? 'yes' : 'no' }), JSON.stringify([cls.runtime]), Date.now(), start);
      devices.push(d);
    }
  });
  // Models: every family × variant in VERSIONS versions, uploaded at even intervals.
  interface Model { sha: string; family: string; variant: (typeof VARIANTS)[number]; version: number; factor: number; sizeBytes: number; createdAt: number }
  const insModel = db.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, filename, facts, created_at, parent_variant, compression, tags, accuracy)
    VALUES (?, ?, ?, 'onnx', ?, ?, ?, ?, ?, ?, ?, ?)`);
  const models = new Map<string, Model[]>(); // family:variant → versions, oldest first
  const familyBase = new Map<string, number>();
  for (const family of FAMILIES) {
    familyBase.set(family, Math.exp(Math.log(2) + rand() * Math.log(60))); // 2 … 120 ms on the reference class
    const params = Math.round(1e6 * Math.exp(rand() * Math.log(40)));
    for (const variant of VARIANTS) {
      const versions: Model[] = [];
      for (let v = 0; v < VERSIONS; v++) {
        const m: Model = {
          sha: hex(32), family, variant, version: v, factor: v === 0 ? 1 : Math.exp(0.08 * normal()), createdAt: start + (v * DAYS * 86_400_000) / VERSIONS,
          sizeBytes: Math.round(params * (variant.name === 'fp32' ? 4 : variant.name === 'fp16' ? 2 : 1) * (1 + 0.01 * v)),
        };
        insModel.run(m.sha, family, variant.name, m.sizeBytes, `${family}-${variant.name}-v${v + 1}.onnx`,
          JSON.stringify({ parameterCount: params, hasQuantOps: variant.name.startsWith('int8'), int8InitializerCount: variant.name.startsWith('int8') ? 40 : 0, weightSparsity: variant.name === 'int8-pruned50' ? 0.5 : 0 }),
          m.createdAt, variant.parent, JSON.stringify(variant.compression), JSON.stringify(v === VERSIONS - 1 ? ['latest'] : []), 0.76 - 0.004 * VARIANTS.indexOf(variant) + 0.002 * normal());
        versions.push(m);
      }
      models.set(`${family}:${variant.name}`, versions);
    }
  }
  // Each family runs on 4 of the classes; on some classes with 4 threads too.
  const familyClasses = new Map(FAMILIES.map((f, i) => [f, [0, 3, 6, 9].map((o) => CLASSES[(i + o) % CLASSES.length]!)]));
  const threadsFor = (family: string, cls: DeviceClass): number[] => ((FAMILIES.indexOf(family) + CLASSES.indexOf(cls)) % 4 === 0 ? [1, 4] : [1]);

  // Per series: its own step at a random time (a third of them) beyond the version effects.
  interface SeriesInfo { key: string; family: string; variant: string; deviceId: string; runtime: string; settings: string; first: number; last: number; n: number; stepAt: number; step: number }
  const series = new Map<string, SeriesInfo>();

  // Raw samples per job: 3% of jobs fail (no results); half the classes measure energy.
  const perJob = (1 - FAILED) * (LATENCY_SAMPLES + MEM_SAMPLES + ENERGY_SAMPLES * (CLASSES.filter((c) => c.energy).length / CLASSES.length));
  const targetJobs = Math.max(DEVICES_PER_CLASS, Math.round(targetSamples / perJob));
  const runsWanted = Math.ceil(targetJobs / DEVICES_PER_CLASS);
  progress(`building ${runsWanted} runs × ${DEVICES_PER_CLASS} jobs (~${targetJobs} jobs, ~${targetSamples} raw samples) on ${devices.length} devices, ${FAMILIES.length * VARIANTS.length} families × variants`);

  const insRun = db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, status, created_by, created_at, finished_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insJob = db.prepare(`INSERT INTO jobs (id, run_id, device_id, status, attempt, max_attempts, not_before, timeout_ms, error_code, error_message, environment,
      created_at, assigned_at, started_at, finished_at) VALUES (?, ?, ?, ?, 1, 3, 0, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insMeas = db.prepare(`INSERT INTO measurements (job_id, metric, unit, attempt, count, median, p90, p99, mean, stddev, min, max, ci_low, ci_high, mean_ci_half,
      outliers, created_at, flags, series_key) VALUES (@job, @metric, @unit, 1, @count, @median, @p90, @p99, @mean, @stddev, @min, @max, @ci_low, @ci_high, @mean_ci_half,
      @outliers, @at, @flags, @key)`);
  const insSamples = db.prepare('INSERT INTO samples (job_id, metric, data) VALUES (?, ?, ?)');
  const insVerdict = db.prepare(`INSERT INTO verdicts (job_id, metric, verdict, p_value, effect, ci_low, ci_high, baseline_median, candidate_median, baseline_results,
      baseline_branch, created_at, z, noise, detectable, confirmation, confirmed_by, hint, evidence)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'main', ?, ?, ?, ?, ?, ?, ?, ?)`);

  let jobs = 0;
  let measurements = 0;
  let rawSamples = 0;
  const lastMedian = new Map<string, number>(); // series:metric → previous median (a verdict's baseline)
  const resultsSoFar = new Map<string, number>();
  const writeRun = (i: number): void => {
    const at = start + ((i + rand()) / runsWanted) * DAYS * 86_400_000;
    const family = pick(FAMILIES);
    const variant = pick(VARIANTS);
    const versions = models.get(`${family}:${variant.name}`)!;
    const model = [...versions].reverse().find((m) => m.createdAt <= at) ?? versions[0]!;
    const cls = pick(familyClasses.get(family)!);
    const threads = pick(threadsFor(family, cls));
    const settings = { warmup: 10, iterations: LATENCY_SAMPLES, min_duration_ms: 0, threads, seed: 42, inputs: {}, timeout_ms: 900_000 };
    const pr = rand() < 0.15;
    const commit = hex(20);
    const git = pr ? { repository: 'git@example.com:ml/models.git', branch: `pr-${1000 + Math.floor(rand() * 400)}`, commit, pull_request: String(1000 + Math.floor(rand() * 400)), baseline_branch: 'main' }
      : { repository: 'git@example.com:ml/models.git', branch: 'main', commit };
    const runId = randomId('run');
    const classDevices = devices.filter((d) => d.cls === cls);
    const jobRows = classDevices.map((d) => ({ d, failed: rand() < FAILED, startedAt: at + 1000 + rand() * 120_000 }));
    const finishedAt = Math.max(...jobRows.map((j) => j.startedAt)) + 60_000;
    const allFailed = jobRows.every((j) => j.failed);
    insRun.run(runId, model.sha, cls.runtime, `class=${cls.name}`, JSON.stringify(settings), JSON.stringify(git), allFailed ? 'failed' : 'succeeded', tokenId, at, finishedAt);
    for (const { d, failed, startedAt } of jobRows) {
      const jobId = randomId('job');
      const jobFinished = startedAt + 20_000 + rand() * 40_000;
      insJob.run(jobId, runId, d.id, failed ? 'failed' : 'succeeded', 900_000, failed ? 'runtime_error' : null, failed ? 'the runtime exited with status 134 (SIGABRT)' : null,
        JSON.stringify({ runner: `${cls.runtime} 1.${17 + model.version}.0`, os: cls.android ? 'Android 14' : 'Linux 6.6', cpu_governor: 'performance', thermal_c: Math.round(38 + 8 * rand()) }),
        at, startedAt - 500, startedAt, jobFinished);
      jobs++;
      if (failed) continue;
      const key = seriesKey({ family, variant: variant.name, deviceId: d.id, runtime: cls.runtime, threads, inputs: settings.inputs });
      let s = series.get(key);
      if (!s) {
        const stepAt = rand() < 0.33 ? start + rand() * DAYS * 86_400_000 : Number.POSITIVE_INFINITY;
        s = { key, family, variant: variant.name, deviceId: d.id, runtime: cls.runtime, settings: JSON.stringify({ threads, inputs: settings.inputs }), first: jobFinished, last: jobFinished, n: 0, stepAt, step: Math.exp((rand() < 0.5 ? -1 : 1) * (0.04 + 0.2 * rand())) };
        series.set(key, s);
      }
      s.first = Math.min(s.first, jobFinished);
      s.last = Math.max(s.last, jobFinished);
      s.n++;
      const flagged = cls.android && rand() < 0.03 ? ['throttled'] : [];
      const level = familyBase.get(family)! * variant.factor * cls.factor * d.speed * (threads === 4 ? 0.42 : 1) * versions.slice(0, model.version + 1).reduce((a, m) => a * m.factor, 1)
        * (at >= s.stepAt ? s.step : 1) * (flagged.length ? 1.25 : 1);
      const jobLevel = level * Math.exp(0.015 * normal());
      const latency = new Float64Array(LATENCY_SAMPLES);
      for (let k = 0; k < LATENCY_SAMPLES; k++) latency[k] = jobLevel * Math.exp(0.04 * normal()) * (rand() < 0.01 ? 1.5 + 2 * rand() : 1);
      const memBase = (model.sizeBytes / 2 ** 20) * 1.6 + 40;
      const mem = Float64Array.from({ length: MEM_SAMPLES }, () => memBase * (1 + 0.002 * normal()));
      const metrics: { metric: string; unit: string; xs: Float64Array }[] = [{ metric: 'latency_ms', unit: 'ms', xs: latency }, { metric: 'peak_mem_mib', unit: 'MiB', xs: mem }];
      if (cls.energy) metrics.push({ metric: 'energy_mj', unit: 'mJ', xs: Float64Array.from({ length: ENERGY_SAMPLES }, () => jobLevel * 2.2 * Math.exp(0.03 * normal())) });
      metrics.sort((a, b) => a.metric.localeCompare(b.metric));
      for (const m of metrics) {
        const sum = summarize(m.xs);
        insMeas.run({ job: jobId, metric: m.metric, unit: m.unit, ...sum, at: jobFinished, flags: JSON.stringify(flagged), key });
        insSamples.run(jobId, m.metric, encodeSamples(m.xs));
        measurements++;
        rawSamples += m.xs.length;
        // The verdict: against the previous result of the series (the detector's own verdicts need its state; these carry the same columns).
        const sk = `${key}:${m.metric}`;
        const before = lastMedian.get(sk);
        const n = resultsSoFar.get(sk) ?? 0;
        if (!pr && flagged.length === 0) { lastMedian.set(sk, sum.median); resultsSoFar.set(sk, n + 1); }
        if (before === undefined || n < 13) {
          insVerdict.run(jobId, m.metric, 'insufficient_baseline', null, null, null, null, null, sum.median, n, jobFinished, null, null, null, 'none', null,
            `no judgement before 13 results (${n + 1} so far): the series' noise is not known yet`, null);
        } else {
          const effect = sum.median / before - 1;
          const z = effect / 0.02;
          const verdict = Math.abs(effect) > 0.08 ? (effect > 0 ? 'regression' : 'improvement') : 'pass';
          insVerdict.run(jobId, m.metric, verdict, Math.min(1, Math.exp(-z * z / 2)), effect, effect - 0.04, effect + 0.04, before, sum.median, n, jobFinished, z, 0.02, 0.06,
            verdict === 'pass' ? 'none' : 'confirmed', verdict === 'pass' ? null : 'history', null,
            "this result's median against the level of the 40 results before (outlier-clipped mean of log medians)");
        }
      }
    }
  };
  const batch = db.transaction((from: number, to: number) => { for (let i = from; i < to; i++) writeRun(i); });
  const BATCH = 500;
  let lastReport = now();
  for (let i = 0; i < runsWanted; i += BATCH) {
    batch(i, Math.min(runsWanted, i + BATCH));
    if (now() - lastReport > 5000 || i + BATCH >= runsWanted) {
      lastReport = now();
      progress(`  ${Math.min(runsWanted, i + BATCH)} / ${runsWanted} runs, ${jobs} jobs, ${rawSamples} raw samples (${((now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
  // Series rows as judge() leaves them: created at the first result, analysed at the last.
  const insSeries = db.prepare(`INSERT INTO series (key, family, variant, device_id, runtime, settings, created_at, last_result_at, analyzed_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  db.transaction(() => { for (const s of series.values()) insSeries.run(s.key, s.family, s.variant, s.deviceId, s.runtime, s.settings, s.first, s.last, s.last); })();
  progress(`  ${series.size} series; rebuilding their detector watches and changes from the history (rebuildSeries)`);
  let done = 0;
  for (const s of series.values()) {
    rebuildSeries(db, s.key, s.last);
    if (++done % 200 === 0) progress(`  ${done} / ${series.size} series rebuilt (${((now() - t0) / 1000).toFixed(0)} s)`);
  }
  // The variant comparison's index, as the server's tick would build it from the noted jobs.
  const tIndex = now();
  const indexed = syncCompareIndex(db);
  progress(`  ${indexed} jobs indexed for the variant comparison in ${((now() - tIndex) / 1000).toFixed(1)} s (syncCompareIndex)`);
  // Alerts: the latest regression of a third of the series that have one is still open.
  const latest = db.prepare(`SELECT c.id, c.series_key, c.metric, c.branch, c.job_id, c.effect, c.before_value, c.after_value, c.detected_at, c.evidence
    FROM series_changes c WHERE c.direction = 'regression' AND c.metric = 'latency_ms'
      AND c.rowid = (SELECT c2.rowid FROM series_changes c2 WHERE c2.series_key = c.series_key AND c2.metric = c.metric AND c2.direction = 'regression' ORDER BY c2.detected_at DESC, c2.rowid DESC LIMIT 1)`)
    .all() as { id: string; series_key: string; metric: string; branch: string; job_id: string; effect: number; before_value: number; after_value: number; detected_at: number; evidence: string | null }[];
  const insAlert = db.prepare(`INSERT INTO alerts (id, series_key, metric, branch, kind, status, severity, effect, baseline_median, current_median, job_id, commit_sha,
      opened_at, steps, updated_at, evidence, resolved_at, resolved_reason) VALUES (?, ?, ?, ?, 'change', ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`);
  const link = db.prepare('UPDATE series_changes SET alert_id = ? WHERE id = ?');
  let alerts = 0;
  db.transaction(() => {
    for (const c of latest) {
      const open = rand() < 0.33;
      const id = randomId('alr');
      insAlert.run(id, c.series_key, c.metric, c.branch, open ? 'open' : 'resolved', c.effect > 0.15 ? 'high' : c.effect > 0.05 ? 'medium' : 'low', c.effect, c.before_value, c.after_value,
        c.job_id, hex(20), c.detected_at, c.detected_at, c.evidence, open ? null : c.detected_at + 86_400_000, open ? null : 'a later change brought the series back');
      link.run(id, c.id);
      alerts++;
    }
  })();
  const changes = (db.prepare('SELECT COUNT(*) AS n FROM series_changes').get() as { n: number }).n;
  return { seconds: (now() - t0) / 1000, jobs, runs: runsWanted, measurements, series: series.size, rawSamples, changes, alerts };
}

// ---- build or reuse ----------------------------------------------------------------------------------

const fresh = !args.data;
const dataDir = args.data ? path.resolve(args.data) : fs.mkdtempSync(path.join(os.tmpdir(), 'bf-query-scale-'));
const dbFile = path.join(dataDir, 'benchfleet.db');
const tokenFile = path.join(dataDir, 'bench-token');
let build: BuildStats | null = null;
if (fs.existsSync(dbFile)) {
  if (!fs.existsSync(tokenFile)) throw new Error(`${dataDir} holds a database without a bench-token: not one this bench built`);
  progress(`reusing the database in ${dataDir}`);
} else {
  const db = openDatabase(dbFile);
  const token = createToken(db, 'admin', 'query-scale bench');
  fs.writeFileSync(tokenFile, token.secret, { mode: 0o600 });
  build = buildFarm(db, Number(args.samples), token.id);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  progress(`built in ${build.seconds.toFixed(1)} s: ${build.runs} runs, ${build.jobs} jobs, ${build.measurements} measurements, ${build.rawSamples} raw samples, ${build.series} series, ${build.changes} changes, ${build.alerts} alerts`);
}
const sizeOf = (f: string): number => (fs.existsSync(f) ? fs.statSync(f).size : 0);
const dbBytes = sizeOf(dbFile) + sizeOf(`${dbFile}-wal`);
progress(`database: ${(dbBytes / 2 ** 20).toFixed(0)} MiB on disk`);
if (args['build-only']) {
  console.log(JSON.stringify({ data_dir: dataDir, build, db_bytes: dbBytes }, null, 2));
  process.exit(0);
}

// ---- what to ask -------------------------------------------------------------------------------------

const token = fs.readFileSync(tokenFile, 'utf8').trim();
const look = new Database(dbFile, { readonly: true });
const counts = look.prepare(`SELECT (SELECT COUNT(*) FROM runs) AS runs, (SELECT COUNT(*) FROM jobs) AS jobs, (SELECT COUNT(*) FROM measurements) AS measurements,
  (SELECT COUNT(*) FROM series) AS series, (SELECT SUM(length(data)) / 8 FROM samples) AS raw_samples`).get() as Record<string, number>;
const keys = (look.prepare('SELECT key FROM series ORDER BY rowid').all() as { key: string }[]).map((r) => r.key);
// A chart's history needs latency results on the baseline branch: the series with a watch of them.
const chartKeys = (look.prepare(`SELECT series_key FROM series_watch WHERE metric = 'latency_ms' AND branch = 'main' ORDER BY series_key`).all() as { series_key: string }[]).map((r) => r.series_key);
const runIds = (look.prepare('SELECT id FROM runs ORDER BY rowid').all() as { id: string }[]).map((r) => r.id);
const jobIds = (look.prepare(`SELECT id FROM jobs WHERE status = 'succeeded' ORDER BY rowid`).all() as { id: string }[]).map((r) => r.id);
const families = (look.prepare('SELECT DISTINCT family FROM models ORDER BY family').all() as { family: string }[]).map((r) => r.family);
const pr = seededRng(seed * 7919 + 1);
const N = Number(args.requests);
const queries: { name: string; paths: string[] }[] = [
  { name: 'series_list', paths: Array.from({ length: N }, () => '/series') },
  { name: 'series_list_family', paths: Array.from({ length: N }, () => `/series?family=${pick(families, pr)}`) },
  { name: 'series_get', paths: Array.from({ length: N }, () => `/series/${pick(keys, pr)}`) },
  { name: 'series_history', paths: Array.from({ length: N }, () => `/series/${pick(chartKeys, pr)}/latency_ms`) },
  { name: 'series_history_2000', paths: Array.from({ length: N }, () => `/series/${pick(chartKeys, pr)}/latency_ms?limit=2000`) },
  { name: 'run_results', paths: Array.from({ length: N }, () => `/runs/${pick(runIds, pr)}/results`) },
  { name: 'measurements_of_run', paths: Array.from({ length: N }, () => `/measurements?run_id=${pick(runIds, pr)}`) },
  { name: 'job_samples', paths: Array.from({ length: N }, () => `/jobs/${pick(jobIds, pr)}/samples?metric=latency_ms`) },
  { name: 'compare', paths: Array.from({ length: N }, () => `/compare?family=${pick(families, pr)}`) },
  { name: 'runs_list', paths: Array.from({ length: N }, () => '/runs') },
  { name: 'runs_list_family', paths: Array.from({ length: N }, () => `/runs?family=${pick(families, pr)}`) },
];

// The bare SQLite baseline: an indexed point lookup on the same file, from another connection.
const point = look.prepare('SELECT median FROM measurements WHERE job_id = ? AND metric = ?');
const sqliteMs: number[] = [];
for (let i = 0; i < 5000; i++) {
  const id = pick(jobIds, pr);
  const t = now();
  point.get(id, 'latency_ms');
  sqliteMs.push(now() - t);
}
look.close();
progress(`bare SQLite point lookup: p50 ${(q(sqliteMs, 0.5) * 1000).toFixed(1)} µs, p95 ${(q(sqliteMs, 0.95) * 1000).toFixed(1)} µs`);

// ---- the server --------------------------------------------------------------------------------------

const server = await startServer({ dataDir, port: 0, host: '127.0.0.1', log: () => {} });
async function get(route: string): Promise<{ ms: number; bytes: number }> {
  const t = now();
  const res = await fetch(`${server.url}/api/v1${route}`, { headers: { authorization: `Bearer ${token}` } });
  const bytes = (await res.arrayBuffer()).byteLength; // timed until the whole body has arrived
  const ms = now() - t;
  if (res.status !== 200) throw new Error(`GET ${route}: ${res.status}`);
  return { ms, bytes };
}
for (let i = 0; i < 50; i++) await get('/health'); // warm the connection and the route
const healthMs: number[] = [];
for (let i = 0; i < 300; i++) healthMs.push((await get('/health')).ms);
const healthP50 = q(healthMs, 0.5);
const healthP95 = q(healthMs, 0.95);
progress(`bare HTTP GET /api/v1/health: p50 ${healthP50.toFixed(3)} ms, p95 ${healthP95.toFixed(3)} ms`);

const TARGET_MS = 50;
const results: Record<string, { p50_ms: number; p95_ms: number; max_ms: number; mean_kib: number; n: number; p95_over_health: number }> = {};
const only = args.only ? new Set(args.only.split(',')) : null;
for (const query of queries) {
  if (only && !only.has(query.name)) continue;
  for (let i = 0; i < 3; i++) await get(query.paths[i]!); // statements compiled, pages warm for the first few
  const ms: number[] = [];
  let bytes = 0;
  for (const p of query.paths) {
    const r = await get(p);
    ms.push(r.ms);
    bytes += r.bytes;
  }
  const p95 = q(ms, 0.95);
  results[query.name] = { p50_ms: r3(q(ms, 0.5)), p95_ms: r3(p95), max_ms: r3(Math.max(...ms)), mean_kib: r3(bytes / ms.length / 1024), n: ms.length, p95_over_health: Math.round((p95 / healthP95) * 10) / 10 };
  progress(`${query.name.padEnd(20)} p50 ${q(ms, 0.5).toFixed(1).padStart(7)} ms  p95 ${p95.toFixed(1).padStart(7)} ms  max ${Math.max(...ms).toFixed(1).padStart(7)} ms  ` +
    `${(bytes / ms.length / 1024).toFixed(1)} KiB${p95 > TARGET_MS ? '  OVER TARGET' : ''}`);
}
await server.close();

console.log(JSON.stringify({
  data_dir: fresh && !args.keep ? null : dataDir, cores: os.cpus().length, seed, requests_per_query: N,
  data: { ...counts, db_bytes: dbBytes, db_mib: Math.round(dbBytes / 2 ** 20) },
  build: build && { seconds: Math.round(build.seconds * 10) / 10, changes: build.changes, alerts: build.alerts },
  baseline: {
    health_http_ms: { p50: r3(healthP50), p95: r3(healthP95) },
    sqlite_point_lookup_ms: { p50: Math.round(q(sqliteMs, 0.5) * 1e5) / 1e5, p95: Math.round(q(sqliteMs, 0.95) * 1e5) / 1e5 },
  },
  target_p95_ms: TARGET_MS,
  queries: results,
  over_target: Object.entries(results).filter(([, r]) => r.p95_ms > TARGET_MS).map(([name]) => name),
}, null, 2));
if (fresh && !args.keep) fs.rmSync(dataDir, { recursive: true, force: true });
else if (fresh) progress(`data kept in ${dataDir}`);
process.exit(0);
