// Per-family reference sets: inputs and the reference variant's outputs on them, with the
// fidelity thresholds below which a variant is flagged on a device. Jobs of the family's models
// carry the set so the agent can report output fidelity.
import crypto from 'node:crypto';
import type { Db } from '../db/open.js';
import type { FamilyView, ReferenceSet } from '../../protocol/variants.js';
import { BenchfleetError } from '../../protocol/errors.js';
import { DTYPE_BYTES } from '../../protocol/domain.js';
import { stmt } from '../db/statements.js';

interface FamilyRow { name: string; reference_variant: string; samples: number; reference_sha256: string; min_cosine: number; min_top1: number; updated_at: number }

/** Everything but the (large) reference set itself; its sample count comes from SQLite's JSON. */
const FAMILY_SELECT = `SELECT name, reference_variant, reference_sha256, min_cosine, min_top1, updated_at, json_extract(reference, '$.samples') AS samples FROM families`;

const toView = (r: FamilyRow): FamilyView => ({
  name: r.name, reference_variant: r.reference_variant, reference_sha256: r.reference_sha256,
  samples: r.samples, min_cosine: r.min_cosine, min_top1: r.min_top1,
  updated_at: new Date(r.updated_at).toISOString(),
});

/** Checks that every tensor stacks `samples` along its first axis and that its bytes match its shape. */
export function checkReferenceSet(set: ReferenceSet): void {
  if (set.labels && set.labels.length !== set.samples) throw new BenchfleetError('validation_failed', `${set.labels.length} labels for ${set.samples} samples`);
  if (Object.keys(set.inputs).length === 0 || Object.keys(set.outputs).length === 0) throw new BenchfleetError('validation_failed', 'a reference set needs inputs and outputs');
  for (const [kind, tensors] of [['input', set.inputs], ['output', set.outputs]] as const) {
    for (const [name, t] of Object.entries(tensors)) {
      if (t.shape[0] !== set.samples) throw new BenchfleetError('validation_failed', `${kind} ${name}: first dimension ${t.shape[0]} is not the ${set.samples} samples`);
      const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
      if (Buffer.from(t.base64, 'base64').length !== expected) throw new BenchfleetError('validation_failed', `${kind} ${name}: ${t.dtype}[${t.shape.join('x')}] needs ${expected} bytes`);
    }
  }
}

export function putReference(db: Db, family: string, variant: string, set: ReferenceSet, minCosine: number, minTop1: number, now: number): FamilyView {
  checkReferenceSet(set);
  if (!stmt(db, 'SELECT 1 FROM models WHERE family = ? AND variant = ?').get(family, variant)) {
    throw new BenchfleetError('not_found', `no model ${family}:${variant}; push the reference variant first`);
  }
  const text = JSON.stringify(set);
  const sha = crypto.createHash('sha256').update(text).digest('hex');
  stmt(db, `INSERT INTO families (name, reference_variant, reference, reference_sha256, min_cosine, min_top1, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT (name) DO UPDATE SET reference_variant = excluded.reference_variant, reference = excluded.reference,
                reference_sha256 = excluded.reference_sha256, min_cosine = excluded.min_cosine, min_top1 = excluded.min_top1, updated_at = excluded.updated_at`)
    .run(family, variant, text, sha, minCosine, minTop1, now);
  return getFamily(db, family)!;
}

export function getFamily(db: Db, name: string): FamilyView | null {
  const row = stmt(db, `${FAMILY_SELECT} WHERE name = ?`).get(name) as FamilyRow | undefined;
  return row ? toView(row) : null;
}

export function listFamilies(db: Db): FamilyView[] {
  return (stmt(db, `${FAMILY_SELECT} ORDER BY name`).all() as FamilyRow[]).map(toView);
}

export function deleteReference(db: Db, name: string): boolean {
  return stmt(db, 'DELETE FROM families WHERE name = ?').run(name).changes > 0;
}

/** Parsed reference sets by hash: the dispatcher attaches one to every job of a family, so it is parsed once. */
const parsedSets = new Map<string, ReferenceSet>();

/** The reference set a job of this family carries (null when the family has none). */
export function referenceForJob(db: Db, family: string): { sha256: string; variant: string; set: ReferenceSet } | null {
  const row = stmt(db, 'SELECT reference_variant, reference_sha256 FROM families WHERE name = ?').get(family) as
    { reference_variant: string; reference_sha256: string } | undefined;
  if (!row) return null;
  let set = parsedSets.get(row.reference_sha256);
  if (!set) {
    const text = (stmt(db, 'SELECT reference FROM families WHERE name = ?').get(family) as { reference: string }).reference;
    set = JSON.parse(text) as ReferenceSet;
    if (parsedSets.size >= 16) parsedSets.delete(parsedSets.keys().next().value!);
    parsedSets.set(row.reference_sha256, set);
  }
  return { sha256: row.reference_sha256, variant: row.reference_variant, set };
}
