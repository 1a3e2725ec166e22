// Run submission: resolves the model and the device selector, then writes the run and one
// queued job per matching device in one transaction.
import type { Db } from '../db/open.js';
import type { ModelStore } from '../models/store.js';
import type { createRunSchema } from '../../protocol/api.js';
import type { DeviceView } from '../../protocol/api.js';
import { BenchfleetError } from '../../protocol/errors.js';
import { RUNTIME_FORMATS, SCHEDULABLE_HEALTHS } from '../../protocol/domain.js';
import { allDevices, getDevice } from '../farm/views.js';
import { randomId, type IdGenerator } from '../ids.js';
import type { z } from 'zod';
import { refreshRunStatus } from './jobs.js';
import fs from 'node:fs';
import { ElfError, fitProblems, parseElf } from '../models/elf.js';
import { startAbTest } from '../regression/ab.js';
import { policyFor } from '../regression/policy.js';
import { stmt } from '../db/statements.js';

/**
 * Fit check for MCU firmware: the image's flash (text + data) and RAM (data + bss) needs against
 * the `flash_bytes` / `ram_bytes` labels a device declares (from its agent's board config).
 * Refused at submit time, before any job exists.
 */
function fitCheck(file: string, devices: DeviceView[]): void {
  let image;
  try {
    image = parseElf(fs.readFileSync(file));
  } catch (err) {
    if (err instanceof ElfError) throw new BenchfleetError('unsupported_format', `the firmware image is not a usable ELF file: ${err.message}`);
    throw err;
  }
  const size = (v: string | undefined) => (v === undefined || !/^\d+$/.test(v) ? null : Number(v));
  const problems = devices.flatMap((d) => fitProblems(image, { flashBytes: size(d.labels.flash_bytes), ramBytes: size(d.labels.ram_bytes) })
    .map((p) => `${d.name}: ${p}`));
  if (problems.length > 0) throw new BenchfleetError('does_not_fit', `the image does not fit: ${problems.join('; ')}`);
}

type CreateRun = z.infer<typeof createRunSchema>;


/**
 * A selector is `*` (every online, healthy device), a device name or id, or labels
 * `key=value,key2=value2` (`name`, `driver` and `agent` match the device's own fields).
 * Selectors other than a name match only online, schedulable devices that have the runtime.
 */
export function selectDevices(devices: DeviceView[], selector: string, runtime: string): DeviceView[] {
  const s = selector.trim();
  const byName = devices.find((d) => d.name === s || d.id === s);
  if (byName) {
    if (!byName.runtimes.includes(runtime)) {
      throw new BenchfleetError('no_matching_device', `device ${byName.name} has no ${runtime} runner (it has: ${byName.runtimes.join(', ') || 'none'})`);
    }
    if (byName.health === 'retired') throw new BenchfleetError('no_matching_device', `device ${byName.name} is retired`);
    return [byName];
  }
  const usable = devices.filter((d) => d.state !== 'offline' && SCHEDULABLE_HEALTHS.includes(d.health) && d.runtimes.includes(runtime));
  if (s === '*') return usable;
  if (!s.includes('=')) return [];
  const terms = s.split(',').map((term) => {
    const eq = term.indexOf('=');
    if (eq <= 0) throw new BenchfleetError('bad_request', `bad selector term "${term}": expected key=value`);
    return [term.slice(0, eq).trim(), term.slice(eq + 1).trim()] as const;
  });
  return usable.filter((d) =>
    terms.every(([k, v]) => {
      const own = k === 'name' ? d.name : k === 'driver' ? d.driver : k === 'agent' ? d.agent_name : d.labels[k];
      return own === v;
    }),
  );
}

export function createRun(db: Db, models: ModelStore, body: CreateRun, createdBy: string | null, now: number, ids: IdGenerator = randomId): string {
  const model = models.resolve(body.model);
  if (!model) throw new BenchfleetError('not_found', `no model ${body.model}; push it first (benchfleet model push)`);
  const formats: readonly string[] = RUNTIME_FORMATS[body.runtime];
  if (!formats.includes(model.format)) {
    throw new BenchfleetError('unsupported_format', `runtime ${body.runtime} cannot run a ${model.format} model`);
  }
  dynamicInputCheck(models.facts(model.sha256), body.settings.inputs);
  // A device named directly is looked up alone; a label selector looks at every device.
  const selector = body.device.trim();
  const named = selector !== '*' && !selector.includes('=') ? getDevice(db, selector) : null;
  const devices = named ? [named] : allDevices(db);
  const chosen = selectDevices(devices, body.device, body.runtime);
  if (chosen.length === 0) {
    const known = devices.map((d) => `${d.name} (${d.state}, ${d.health})`).join(', ') || 'none registered';
    throw new BenchfleetError('no_matching_device', `no online, healthy device with ${body.runtime} matches "${body.device}"; devices: ${known}`);
  }
  if (model.format === 'elf') fitCheck(models.pathOf(model.sha256), chosen);
  const baseline = body.ab ? models.resolve(body.ab.baseline) : null;
  if (body.ab) {
    if (!baseline) throw new BenchfleetError('not_found', `no model ${body.ab.baseline} to A/B against; push it first (benchfleet model push)`);
    if (!formats.includes(baseline.format)) throw new BenchfleetError('unsupported_format', `runtime ${body.runtime} cannot run the baseline ${baseline.format} model`);
    if (baseline.sha256 === model.sha256) throw new BenchfleetError('validation_failed', `the baseline ${body.ab.baseline} is the same model (${model.sha256.slice(0, 12)}): nothing to compare`);
    if (model.format === 'elf') fitCheck(models.pathOf(baseline.sha256), chosen);
  }
  const runId = ids('run');
  db.transaction(() => {
    stmt(db,
      `INSERT INTO runs (id, model_sha256, runtime, device_selector, settings, git, created_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(runId, model.sha256, body.runtime, body.device, JSON.stringify(body.settings), JSON.stringify(body.git), createdBy, now);
    const insertJob = stmt(db,
      `INSERT INTO jobs (id, run_id, device_id, max_attempts, timeout_ms, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    if (body.ab && baseline) {
      // A paired A/B test per device instead of plain jobs: rounds of baseline and candidate, back to back.
      const minEffect = policyFor(db, body.ab.metric).minEffect;
      for (const d of chosen) {
        startAbTest(db, {
          runId, deviceId: d.id, purpose: 'gate', seriesKey: null, metric: body.ab.metric, branch: body.git.branch ?? null, triggerJobId: null, startJobId: null,
          baselineSha: baseline.sha256, candidateSha: model.sha256, direction: null, maxRounds: body.ab.rounds, minEffect,
          spacingMs: Math.round(body.ab.spacing_minutes * 60_000), maxAttempts: body.max_attempts, timeoutMs: body.settings.timeout_ms,
        }, now);
      }
    } else for (const d of chosen) insertJob.run(ids('job'), runId, d.id, body.max_attempts, body.settings.timeout_ms, now);
    refreshRunStatus(db, runId, now);
  })();
  return runId;
}

/** A model with a dynamic input dimension needs a shape for that input before any device time is spent. */
function dynamicInputCheck(facts: Record<string, unknown>, inputs: Record<string, { shape?: number[] | undefined; data?: unknown }>): void {
  const declared = facts.inputs as { name: string; shape: (number | string | null)[] }[] | undefined;
  if (!declared) return;
  for (const input of declared) {
    const given = inputs[input.name];
    if (given?.shape || given?.data) continue;
    const dynamic = input.shape.filter((d) => typeof d !== 'number' || d <= 0);
    if (dynamic.length > 0) {
      throw new BenchfleetError(
        'validation_failed',
        `input "${input.name}" has dynamic dimensions [${input.shape.map((d) => d ?? '?').join(', ')}]; give a shape, e.g. --input-shape ${input.name}=${input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)).join('x')}`,
      );
    }
  }
}
