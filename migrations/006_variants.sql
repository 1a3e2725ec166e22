-- Compressed variants as first-class: lineage and compression metadata per model, user-attached
-- accuracy, and per-family reference sets (inputs + the parent's outputs) with fidelity thresholds.
ALTER TABLE models ADD COLUMN parent_variant TEXT;
ALTER TABLE models ADD COLUMN compression TEXT NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE models ADD COLUMN accuracy REAL CHECK (accuracy IS NULL OR (accuracy >= 0 AND accuracy <= 1));
ALTER TABLE models ADD COLUMN accuracy_note TEXT;

CREATE TABLE families (
  name            TEXT PRIMARY KEY,
  reference_variant TEXT NOT NULL,        -- whose outputs the reference set holds (usually fp32)
  reference       TEXT NOT NULL,          -- JSON: {samples, inputs: {name: TensorData}, outputs: {name: TensorData}}
  reference_sha256 TEXT NOT NULL,         -- hash of `reference`, sent with jobs so agents can tell sets apart
  min_cosine      REAL NOT NULL DEFAULT 0.99,
  min_top1        REAL NOT NULL DEFAULT 0.9,
  updated_at      INTEGER NOT NULL
);
