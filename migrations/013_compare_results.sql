-- The variant comparison's own index of results (issue 11: compare?family= p95 ≤ 50 ms over 10 M
-- raw samples). Ranking every job of a family with json_extract on its run's settings and its
-- environment, then looking up each kept job's measurements, took 160–310 ms for a family of
-- ~10,000 jobs; most of it was reading rows the answer never uses.
--
-- compare_keys: one row per compare key — the family, the model version a job really ran (an
-- A/B arm's model overrides its run's), the device, and the settings part of a series' identity
-- as one JSON array [runtime, threads, inputs, runner] (inputs as stored, so one key may be split
-- in two by key order in its JSON text, never two joined).
-- compare_results: one row per succeeded job under its key, newest first, with the job's
-- measurement summaries as one JSON array of [metric, median, mean, max, ci_low, ci_high, flags]
-- — so a key's newest N results are N contiguous rows, not a ranking of the family.
--
-- Kept up to date in two steps, so that storing a result pays almost nothing for it (building
-- the rows inside the result's own transaction cost ~60 µs a result, 15% of ingest): triggers
-- note every job whose row may have changed in compare_pending — a job becoming succeeded,
-- leaving it, re-keyed, deleted, a measurement stored, changed or deleted — in the transaction
-- of the change itself, so nothing is missed; server/variants/compare-index.ts rebuilds the
-- noted jobs' rows in batches, set-based, on the server's tick and before every comparison.
CREATE TABLE compare_keys (
  id         INTEGER PRIMARY KEY,
  family     TEXT NOT NULL,
  sha256     TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  settings   TEXT NOT NULL,
  UNIQUE (family, sha256, device_id, settings)
);

-- Stored in key order, newest first (WITHOUT ROWID: a key's newest results are one contiguous
-- range of the table itself, not index entries pointing at rows elsewhere).
CREATE TABLE compare_results (
  key_id       INTEGER NOT NULL REFERENCES compare_keys(id),
  finished_at  NOT NULL,
  job_id       TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  run_id       TEXT NOT NULL,
  metrics      TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (key_id, finished_at DESC, job_id DESC)
) WITHOUT ROWID;
CREATE UNIQUE INDEX compare_results_job ON compare_results (job_id);

CREATE TABLE compare_pending (job_id TEXT PRIMARY KEY) WITHOUT ROWID;

-- A succeeded job's key parts (used by compare-index.ts to rebuild noted jobs' rows).
CREATE VIEW compare_job_keys AS
  SELECT j.id AS job_id, m.family, m.sha256, j.device_id, r.id AS run_id,
         json_array(r.runtime, json_extract(r.settings, '$.threads'), json(json_extract(r.settings, '$.inputs')), json_extract(j.environment, '$.runner')) AS settings,
         COALESCE(j.finished_at, j.created_at) AS finished_at
  FROM jobs j JOIN runs r ON r.id = j.run_id JOIN models m ON m.sha256 = COALESCE(j.model_sha256, r.model_sha256)
  WHERE j.status = 'succeeded';

CREATE TRIGGER compare_pending_job_insert AFTER INSERT ON jobs WHEN NEW.status = 'succeeded'
BEGIN INSERT OR IGNORE INTO compare_pending (job_id) VALUES (NEW.id); END;
CREATE TRIGGER compare_pending_job_update AFTER UPDATE OF status, finished_at, environment, model_sha256, device_id, run_id ON jobs
  WHEN NEW.status = 'succeeded' OR OLD.status = 'succeeded'
BEGIN INSERT OR IGNORE INTO compare_pending (job_id) VALUES (NEW.id); END;
CREATE TRIGGER compare_pending_job_delete AFTER DELETE ON jobs WHEN OLD.status = 'succeeded'
BEGIN INSERT OR IGNORE INTO compare_pending (job_id) VALUES (OLD.id); END;
CREATE TRIGGER compare_pending_measurement_insert AFTER INSERT ON measurements
BEGIN INSERT OR IGNORE INTO compare_pending (job_id) VALUES (NEW.job_id); END;
CREATE TRIGGER compare_pending_measurement_update AFTER UPDATE OF job_id, metric, median, mean, max, ci_low, ci_high, flags ON measurements
BEGIN INSERT OR IGNORE INTO compare_pending (job_id) VALUES (NEW.job_id), (OLD.job_id); END;
CREATE TRIGGER compare_pending_measurement_delete AFTER DELETE ON measurements
BEGIN INSERT OR IGNORE INTO compare_pending (job_id) VALUES (OLD.job_id); END;
-- A run's settings or model, or a model's family, re-keys every job under it.
CREATE TRIGGER compare_pending_run_update AFTER UPDATE OF model_sha256, runtime, settings ON runs
BEGIN INSERT OR IGNORE INTO compare_pending (job_id) SELECT id FROM jobs WHERE run_id = NEW.id AND status = 'succeeded'; END;

-- Every succeeded job of an existing farm is noted; the server indexes them (in batches) on start.
INSERT INTO compare_pending (job_id) SELECT id FROM jobs WHERE status = 'succeeded';
