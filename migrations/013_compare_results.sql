-- The variant comparison's own index of results (issue 11: compare?family= p95 ≤ 50 ms over 10 M
-- raw samples). Ranking every job of a family with json_extract on its run's settings and its
-- environment, then looking up each kept job's measurements, took 160–310 ms for a family of
-- ~10,000 jobs; most of it was reading rows the answer never uses.
--
-- compare_keys: one row per compare key — the family, the model version a job really ran (an
-- A/B arm's model overrides its run's), the device, and the settings part of a series' identity
-- as one JSON array [runtime, threads, inputs, runner] (inputs as stored, so one key may be split
-- in two by key order in its JSON text, never two joined).
-- compare_results: one row per succeeded job under its key, newest first, with the
-- job's measurement summaries as one JSON array of [metric, median, mean, max, ci_low, ci_high,
-- flags] — so a key's newest N results are N index entries, not a ranking of the family.
-- Both are kept by triggers in the transaction of the change itself, so they cannot disagree with
-- the jobs: a job becoming succeeded (or inserted as succeeded) adds its row; a measurement
-- stored, changed or deleted rewrites the job's summaries; a job leaving succeeded or deleted
-- removes its row.
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

-- A succeeded job's key and its row (the measurements already stored, if any: completeJob stores
-- them after the job's own update, and the measurement triggers add them).
CREATE VIEW compare_job_keys AS
  SELECT j.id AS job_id, m.family, m.sha256, j.device_id, r.id AS run_id,
         json_array(r.runtime, json_extract(r.settings, '$.threads'), json(json_extract(r.settings, '$.inputs')), json_extract(j.environment, '$.runner')) AS settings,
         COALESCE(j.finished_at, j.created_at) AS finished_at
  FROM jobs j JOIN runs r ON r.id = j.run_id JOIN models m ON m.sha256 = COALESCE(j.model_sha256, r.model_sha256)
  WHERE j.status = 'succeeded';

CREATE TRIGGER compare_results_on_insert AFTER INSERT ON jobs WHEN NEW.status = 'succeeded'
BEGIN
  INSERT OR IGNORE INTO compare_keys (family, sha256, device_id, settings)
    SELECT family, sha256, device_id, settings FROM compare_job_keys WHERE job_id = NEW.id;
  INSERT OR REPLACE INTO compare_results (job_id, key_id, run_id, finished_at, metrics)
    SELECT v.job_id, k.id, v.run_id, v.finished_at,
           (SELECT json_group_array(json_array(me.metric, me.median, me.mean, me.max, me.ci_low, me.ci_high, json(me.flags))) FROM measurements me WHERE me.job_id = v.job_id)
    FROM compare_job_keys v JOIN compare_keys k ON k.family = v.family AND k.sha256 = v.sha256 AND k.device_id = v.device_id AND k.settings = v.settings
    WHERE v.job_id = NEW.id;
END;

CREATE TRIGGER compare_results_on_success AFTER UPDATE OF status, finished_at, environment, model_sha256, device_id ON jobs WHEN NEW.status = 'succeeded'
BEGIN
  INSERT OR IGNORE INTO compare_keys (family, sha256, device_id, settings)
    SELECT family, sha256, device_id, settings FROM compare_job_keys WHERE job_id = NEW.id;
  INSERT OR REPLACE INTO compare_results (job_id, key_id, run_id, finished_at, metrics)
    SELECT v.job_id, k.id, v.run_id, v.finished_at,
           (SELECT json_group_array(json_array(me.metric, me.median, me.mean, me.max, me.ci_low, me.ci_high, json(me.flags))) FROM measurements me WHERE me.job_id = v.job_id)
    FROM compare_job_keys v JOIN compare_keys k ON k.family = v.family AND k.sha256 = v.sha256 AND k.device_id = v.device_id AND k.settings = v.settings
    WHERE v.job_id = NEW.id;
END;

CREATE TRIGGER compare_results_on_leave AFTER UPDATE OF status ON jobs WHEN OLD.status = 'succeeded' AND NEW.status <> 'succeeded'
BEGIN
  DELETE FROM compare_results WHERE job_id = NEW.id;
END;

CREATE TRIGGER compare_results_on_delete AFTER DELETE ON jobs WHEN OLD.status = 'succeeded'
BEGIN
  DELETE FROM compare_results WHERE job_id = OLD.id;
END;

CREATE TRIGGER compare_results_measurement_insert AFTER INSERT ON measurements
BEGIN
  UPDATE compare_results SET metrics = json_insert(metrics, '$[#]', json_array(NEW.metric, NEW.median, NEW.mean, NEW.max, NEW.ci_low, NEW.ci_high, json(NEW.flags)))
  WHERE job_id = NEW.job_id;
END;

CREATE TRIGGER compare_results_measurement_update AFTER UPDATE OF metric, median, mean, max, ci_low, ci_high, flags ON measurements
BEGIN
  UPDATE compare_results SET metrics = (SELECT json_group_array(json_array(me.metric, me.median, me.mean, me.max, me.ci_low, me.ci_high, json(me.flags))) FROM measurements me WHERE me.job_id = NEW.job_id)
  WHERE job_id = NEW.job_id;
END;

CREATE TRIGGER compare_results_measurement_delete AFTER DELETE ON measurements
BEGIN
  UPDATE compare_results SET metrics = (SELECT json_group_array(json_array(me.metric, me.median, me.mean, me.max, me.ci_low, me.ci_high, json(me.flags))) FROM measurements me WHERE me.job_id = OLD.job_id)
  WHERE job_id = OLD.job_id;
END;

INSERT OR IGNORE INTO compare_keys (family, sha256, device_id, settings) SELECT family, sha256, device_id, settings FROM compare_job_keys;
INSERT INTO compare_results (job_id, key_id, run_id, finished_at, metrics)
  SELECT v.job_id, k.id, v.run_id, v.finished_at,
         (SELECT json_group_array(json_array(me.metric, me.median, me.mean, me.max, me.ci_low, me.ci_high, json(me.flags))) FROM measurements me WHERE me.job_id = v.job_id)
  FROM compare_job_keys v JOIN compare_keys k ON k.family = v.family AND k.sha256 = v.sha256 AND k.device_id = v.device_id AND k.settings = v.settings;
