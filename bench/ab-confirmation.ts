// Active confirmation through the server's own code: paired A/B tests started with the queue's
// startAbTest on a real SQLite database, whose jobs a simulated device (bench/ab-device.ts: slow
// drift, transient disturbances, independent per-job noise, per-artifact true latency) claims and
// answers through claimNextJob/completeJob, one job at a time, until the server decides. Reports,
// per device model and true change: how often the test decided "changed" in the suspected
// direction, "no change", or ran out of rounds, and the rounds it used.
//
// Usage: node dist/bench/ab-confirmation.js [--trials 200] [--seed 1] [--only confirm|false|gate|budget|budget-iid]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import crypto from 'node:crypto';
import { DEFAULT_DEVICE, SimulatedDevice, type DeviceModel } from './ab-device.js';
import { openDatabase, type Db } from '../server/db/open.js';
import { createAgent, syncInventory } from '../server/farm/registry.js';
import { claimNextJob, completeJob, DEFAULT_POLICY as QUEUE_POLICY } from '../server/queue/jobs.js';
import { startAbTest } from '../server/regression/ab.js';
import { DEFAULT_POLICY } from '../server/regression/policy.js';

const { values: args } = parseArgs({
  options: { trials: { type: 'string', default: '200' }, seed: { type: 'string', default: '1' }, only: { type: 'string' } },
});
const TRIALS = Number(args.trials);
const SEED = Number(args.seed);
const T0 = 1_750_000_000_000;
const MINUTE = 60_000;

interface Case { name: string; device: DeviceModel; change: number; purpose: 'confirm' | 'gate'; rounds: number; minEffect: number }
interface Outcome { changed: number; wrongSign: number; noChange: number; inconclusive: number; failed: number; rounds: number[]; jobs: number }

function runCase(c: Case, caseSeed: number): Outcome {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-ab-'));
  const db: Db = openDatabase(path.join(dir, 'benchfleet.db'));
  try {
    const { agentId } = createAgent(db, 'sim', T0);
    syncInventory(db, agentId, [{ serial: 'd', name: 'dev', driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true }], T0);
    const deviceId = (db.prepare('SELECT id FROM devices').get() as { id: string }).id;
    const [a, b] = ['A', 'B'].map((x) => crypto.createHash('sha256').update(`${caseSeed}${x}`).digest('hex')) as [string, string];
    for (const [h, v] of [[a, 'base'], [b, 'cand']] as const) {
      db.prepare(`INSERT INTO models (sha256, family, variant, format, size_bytes, created_at) VALUES (?, 'f', ?, 'onnx', 1, ?)`).run(h, v, T0);
    }
    const device = new SimulatedDevice(c.device, caseSeed);
    const out: Outcome = { changed: 0, wrongSign: 0, noChange: 0, inconclusive: 0, failed: 0, rounds: [], jobs: 0 };
    let now = T0;
    for (let trial = 0; trial < TRIALS; trial++) {
      device.idle(180); // tests hours apart: the device's state has moved on
      now += 180 * MINUTE;
      const runId = `run${trial}`;
      db.prepare(`INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, created_at) VALUES (?, ?, 'onnxruntime', 'dev', '{"threads":1}', '{}', ?)`).run(runId, b, now);
      const testId = startAbTest(db, {
        runId, deviceId, purpose: c.purpose, seriesKey: null, metric: 'latency_ms', branch: null, triggerJobId: null, startJobId: null,
        baselineSha: a, candidateSha: b, direction: c.purpose === 'gate' ? null : 'regression', maxRounds: c.rounds, minEffect: c.minEffect,
        spacingMs: 0, maxAttempts: 1, timeoutMs: 600_000,
      }, now);
      for (let guard = 0; guard < 4 * c.rounds + 8; guard++) {
        const job = claimNextJob(db, deviceId, agentId, now, QUEUE_POLICY);
        if (!job) break;
        const sha = (db.prepare('SELECT model_sha256 AS sha FROM jobs WHERE id = ?').get(job.id) as { sha: string }).sha;
        const samples = device.run(sha === b ? 1 + c.change : 1);
        now += c.device.jobMinutes * MINUTE;
        completeJob(db, { job_id: job.id, attempt: job.attempt }, agentId, now, [{ metric: 'latency_ms', unit: 'ms', samples: Array.from(samples) }], {});
        out.jobs++;
      }
      const t = db.prepare('SELECT status, rounds, estimate FROM ab_tests WHERE id = ?').get(testId) as { status: string; rounds: number; estimate: number | null };
      out.rounds.push(t.rounds);
      if (t.status === 'changed') {
        // The sign looked for: the true change's, or "worse" for no change (what a confirmation suspects).
        const expected = c.change !== 0 ? Math.sign(c.change) : 1;
        if (Math.sign(t.estimate ?? 0) === expected) out.changed++; else out.wrongSign++;
      } else if (t.status === 'no_change') out.noChange++;
      else if (t.status === 'inconclusive') out.inconclusive++;
      else out.failed++;
    }
    return out;
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((p, q) => p - q); return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN; };
const p90 = (xs: number[]): number => { const s = [...xs].sort((p, q) => p - q); return s[Math.floor(0.9 * (s.length - 1))] ?? Number.NaN; };
const f2 = (x: number): string => x.toFixed(3);

const budget = DEFAULT_POLICY.abRounds;
const phone = (sigma: number, iidShare: number, over: Partial<DeviceModel> = {}): DeviceModel => ({ ...DEFAULT_DEVICE, sigma, iidShare, ...over });
const groups: Record<string, Case[]> = {
  confirm: [
    { name: `3% worse, σ 5%, iid share 0.3 (default device), budget ${budget}`, device: phone(0.05, 0.3), change: 0.03, purpose: 'confirm', rounds: budget, minEffect: 0.01 },
    { name: `3% worse, σ 5%, iid share 0.6, budget ${budget}`, device: phone(0.05, 0.6), change: 0.03, purpose: 'confirm', rounds: budget, minEffect: 0.01 },
    { name: `3% worse, σ 5%, all iid (no drift), budget ${budget}`, device: phone(0.05, 1), change: 0.03, purpose: 'confirm', rounds: budget, minEffect: 0.01 },
    { name: `3% worse, σ 5%, iid 0.3, 2 transients/h, budget ${budget}`, device: phone(0.05, 0.3, { transientsPerHour: 2 }), change: 0.03, purpose: 'confirm', rounds: budget, minEffect: 0.01 },
    { name: `5% worse, σ 10%, iid 0.3, budget ${budget}`, device: phone(0.1, 0.3), change: 0.05, purpose: 'confirm', rounds: budget, minEffect: 0.01 },
  ],
  false: [
    { name: `no change, σ 5%, iid 0.3, budget ${budget}`, device: phone(0.05, 0.3), change: 0, purpose: 'confirm', rounds: budget, minEffect: 0.01 },
    { name: `no change, σ 10%, iid 0.3, 2 transients/h, budget ${budget}`, device: phone(0.1, 0.3, { transientsPerHour: 2 }), change: 0, purpose: 'confirm', rounds: budget, minEffect: 0.01 },
    { name: `3% better while a regression is suspected, σ 5%, budget ${budget}`, device: phone(0.05, 0.3), change: -0.03, purpose: 'confirm', rounds: budget, minEffect: 0.01 },
  ],
  gate: [
    { name: 'gate: 2% worse, σ 2%, iid 0.3, 20 rounds', device: phone(0.02, 0.3), change: 0.02, purpose: 'gate', rounds: 20, minEffect: 0.01 },
    { name: 'gate: 2% worse, σ 2%, all iid, 20 rounds', device: phone(0.02, 1), change: 0.02, purpose: 'gate', rounds: 20, minEffect: 0.01 },
    { name: 'gate: no change, σ 2%, iid 0.3, 20 rounds', device: phone(0.02, 0.3), change: 0, purpose: 'gate', rounds: 20, minEffect: 0.01 },
  ],
  'budget-iid': [[0.6, 96], [1, 96], [1, 128]].map(([iid, r]) => ({ name: `budget ${r}: 3% worse, σ 5%, iid share ${iid}`, device: phone(0.05, iid!), change: 0.03, purpose: 'confirm' as const, rounds: r!, minEffect: 0.01 })),
  budget: [24, 32, 48, 64].map((r) => ({ name: `budget ${r}: 3% worse, σ 5%, iid 0.3`, device: phone(0.05, 0.3), change: 0.03, purpose: 'confirm' as const, rounds: r, minEffect: 0.01 })),
};

console.log(`A/B tests through startAbTest/claimNextJob/completeJob, ${TRIALS} trials per row (seed ${SEED}); device: drift correlation ${DEFAULT_DEVICE.driftMinutes} min, `
  + `${DEFAULT_DEVICE.transientsPerHour} transients/h of +${DEFAULT_DEVICE.transientSize.map((x) => `${x * 100}%`).join('…')} lasting ${DEFAULT_DEVICE.transientMinutes.join('–')} min, `
  + `${DEFAULT_DEVICE.samples} samples per job (within-job CV ${DEFAULT_DEVICE.withinCv * 100}%), one job per minute.\n`);
console.log('| case | changed (in the direction tested) | opposite sign | no change | inconclusive | failed | rounds: median · p90 |');
console.log('|---|---|---|---|---|---|---|');
let k = 0;
for (const [group, cases] of Object.entries(groups)) {
  if (args.only && args.only !== group) continue;
  for (const c of cases) {
    const o = runCase(c, SEED * 1000 + k++);
    const n = TRIALS;
    console.log(`| ${c.name} | ${f2(o.changed / n)} | ${f2(o.wrongSign / n)} | ${f2(o.noChange / n)} | ${f2(o.inconclusive / n)} | ${f2(o.failed / n)} | ${median(o.rounds)} · ${p90(o.rounds)} |`);
  }
}
