-- A version for each run's view (issue 11: the run view of a 1,000-job run). GET /runs/:id
-- answers from the encoded view it built last while the run's version and the view generation
-- are unchanged, and answers 304 to a client that already holds that version (ETag).
-- Triggers bump runs.view_version in the transaction of any change a run view shows: its jobs
-- (not their leases or backoff), their measurements and verdicts, its A/B tests, the run's own
-- columns. view_generation.version is bumped by what many runs' views show: a device renamed, a
-- model's metadata, a family's thresholds.
ALTER TABLE runs ADD COLUMN view_version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE view_generation (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO view_generation (id, version) VALUES (1, 0);

CREATE TRIGGER run_view_job_insert AFTER INSERT ON jobs
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = NEW.run_id; END;
CREATE TRIGGER run_view_job_update AFTER UPDATE OF run_id, device_id, status, attempt, max_attempts, error_code, error_message, progress, environment, operators,
  confirms_job_id, ab_test_id, ab_round, ab_arm, model_sha256, created_at, started_at, finished_at ON jobs
BEGIN
  UPDATE runs SET view_version = view_version + 1 WHERE id = NEW.run_id;
  UPDATE runs SET view_version = view_version + 1 WHERE id = OLD.run_id AND OLD.run_id <> NEW.run_id;
END;
CREATE TRIGGER run_view_job_delete AFTER DELETE ON jobs
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = OLD.run_id; END;

CREATE TRIGGER run_view_measurement_insert AFTER INSERT ON measurements
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = (SELECT run_id FROM jobs WHERE id = NEW.job_id); END;
CREATE TRIGGER run_view_measurement_update AFTER UPDATE ON measurements
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id IN (SELECT run_id FROM jobs WHERE id IN (NEW.job_id, OLD.job_id)); END;
CREATE TRIGGER run_view_measurement_delete AFTER DELETE ON measurements
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = (SELECT run_id FROM jobs WHERE id = OLD.job_id); END;

CREATE TRIGGER run_view_verdict_insert AFTER INSERT ON verdicts
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = (SELECT run_id FROM jobs WHERE id = NEW.job_id); END;
CREATE TRIGGER run_view_verdict_update AFTER UPDATE ON verdicts
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id IN (SELECT run_id FROM jobs WHERE id IN (NEW.job_id, OLD.job_id)); END;
CREATE TRIGGER run_view_verdict_delete AFTER DELETE ON verdicts
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = (SELECT run_id FROM jobs WHERE id = OLD.job_id); END;

CREATE TRIGGER run_view_ab_insert AFTER INSERT ON ab_tests
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = NEW.run_id; END;
CREATE TRIGGER run_view_ab_update AFTER UPDATE ON ab_tests
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id IN (NEW.run_id, OLD.run_id); END;
CREATE TRIGGER run_view_ab_delete AFTER DELETE ON ab_tests
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = OLD.run_id; END;

-- The run's own columns (the bump itself changes only view_version, which fires nothing).
CREATE TRIGGER run_view_run_update AFTER UPDATE OF model_sha256, runtime, device_selector, settings, git, status, created_at, finished_at ON runs
BEGIN UPDATE runs SET view_version = view_version + 1 WHERE id = NEW.id; END;

CREATE TRIGGER run_view_device_renamed AFTER UPDATE OF name ON devices
BEGIN UPDATE view_generation SET version = version + 1; END;
CREATE TRIGGER run_view_model_update AFTER UPDATE ON models
BEGIN UPDATE view_generation SET version = version + 1; END;
CREATE TRIGGER run_view_family_insert AFTER INSERT ON families
BEGIN UPDATE view_generation SET version = version + 1; END;
CREATE TRIGGER run_view_family_update AFTER UPDATE ON families
BEGIN UPDATE view_generation SET version = version + 1; END;
CREATE TRIGGER run_view_family_delete AFTER DELETE ON families
BEGIN UPDATE view_generation SET version = version + 1; END;
