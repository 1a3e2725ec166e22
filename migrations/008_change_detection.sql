-- Change detection in both directions (server/regression/detector.ts) replaces the per-result
-- gate and the E-Divisive change points: one sequential test per series, metric and branch, whose
-- state is kept here; the changes it finds (regressions and improvements); paired A/B tests that
-- confirm a suspect or gate a pull request; alerts that follow further steps.

-- The detector's state per series × metric × branch (JSON of DetectorState), with its current
-- noise and level for the series views. Rebuilt from the stored history when missing.
CREATE TABLE series_watch (
  series_key      TEXT NOT NULL REFERENCES series(key) ON DELETE CASCADE,
  metric          TEXT NOT NULL,
  branch          TEXT NOT NULL,
  state           TEXT NOT NULL,
  results         INTEGER NOT NULL,         -- results the detector has seen
  level           REAL,                     -- current level (value units)
  level_results   INTEGER,                  -- results since the last change
  noise           REAL,                     -- job-to-job σ of ln(value)
  noise_long      REAL,                     -- the same with slow drift
  outlier_rate    REAL,
  suspect_job_id  TEXT REFERENCES jobs(id), -- set while the series is suspect
  last_job_id     TEXT REFERENCES jobs(id),
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (series_key, metric, branch)
);

-- Every change found, in both directions. `job_id` is the first result at the new level,
-- `detected_job_id` the result at which it was found (or the A/B test's trigger).
CREATE TABLE series_changes (
  id              TEXT PRIMARY KEY,
  series_key      TEXT NOT NULL REFERENCES series(key) ON DELETE CASCADE,
  metric          TEXT NOT NULL,
  branch          TEXT NOT NULL,
  job_id          TEXT NOT NULL REFERENCES jobs(id),
  detected_job_id TEXT NOT NULL REFERENCES jobs(id),
  source          TEXT NOT NULL CHECK (source IN ('history', 'ab')),
  direction       TEXT NOT NULL CHECK (direction IN ('regression', 'improvement')),
  before_value    REAL NOT NULL,
  after_value     REAL NOT NULL,
  effect          REAL NOT NULL,            -- relative change, positive = worse
  ci_low          REAL,                     -- of the effect, when known (A/B)
  ci_high         REAL,
  z               REAL NOT NULL,            -- evidence (equivalent normal score)
  results         INTEGER NOT NULL,         -- results (or A/B rounds) that carried it
  alert_id        TEXT,
  detected_at     INTEGER NOT NULL
);
CREATE INDEX series_changes_series ON series_changes (series_key, metric, branch, detected_at);
DROP TABLE change_points;

-- Alerts: the new kinds ('change' from the detector, 'ab' from an A/B confirmation) and the
-- bookkeeping of further steps while open. SQLite cannot change a CHECK: the table is rebuilt.
CREATE TABLE alerts_new (
  id                TEXT PRIMARY KEY,
  series_key        TEXT NOT NULL REFERENCES series(key) ON DELETE CASCADE,
  metric            TEXT NOT NULL,
  branch            TEXT NOT NULL,
  kind              TEXT NOT NULL CHECK (kind IN ('gate', 'change_point', 'change', 'ab')),
  status            TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
  severity          TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
  effect            REAL NOT NULL,          -- current level against baseline_median, positive = worse
  baseline_median   REAL NOT NULL,
  current_median    REAL NOT NULL,
  job_id            TEXT NOT NULL REFERENCES jobs(id),
  commit_sha        TEXT,
  opened_at         INTEGER NOT NULL,
  acknowledged_at   INTEGER,
  acknowledged_by   TEXT,
  resolved_at       INTEGER,
  resolved_reason   TEXT,
  resolved_job_id   TEXT REFERENCES jobs(id),
  steps             INTEGER NOT NULL DEFAULT 1,   -- changes in the series since it opened
  updated_at        INTEGER NOT NULL
);
INSERT INTO alerts_new (id, series_key, metric, branch, kind, status, severity, effect, baseline_median, current_median, job_id,
  commit_sha, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_reason, resolved_job_id, steps, updated_at)
SELECT id, series_key, metric, branch, kind, status, severity, effect, baseline_median, current_median, job_id,
  commit_sha, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_reason, resolved_job_id, 1, COALESCE(resolved_at, opened_at)
FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (series_key, metric, branch) WHERE status != 'resolved';
CREATE INDEX alerts_status ON alerts (status, opened_at);

-- Verdicts: the detector's evidence, how the result was confirmed, and what would make a result
-- judgeable (rebuilt for the new verdict 'too_noisy').
CREATE TABLE verdicts_new (
  job_id            TEXT NOT NULL,
  metric            TEXT NOT NULL,
  verdict           TEXT NOT NULL CHECK (verdict IN ('pass', 'regression', 'improvement', 'insufficient_baseline', 'too_noisy')),
  p_value           REAL,
  effect            REAL,            -- relative change of the median, positive = worse
  ci_low            REAL,
  ci_high           REAL,
  baseline_median   REAL,
  candidate_median  REAL,
  baseline_results  INTEGER NOT NULL,
  baseline_branch   TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  z                 REAL,            -- the detector's evidence (equivalent normal score, + = worse)
  noise             REAL,            -- the series' job-to-job σ when judged
  detectable        REAL,            -- smallest change one result could show then
  confirmation      TEXT NOT NULL DEFAULT 'none' CHECK (confirmation IN ('none', 'pending', 'confirmed', 'not_confirmed')),
  confirmed_by      TEXT CHECK (confirmed_by IN ('history', 'ab', 'rerun')),
  hint              TEXT,
  PRIMARY KEY (job_id, metric),
  FOREIGN KEY (job_id, metric) REFERENCES measurements(job_id, metric) ON DELETE CASCADE
);
INSERT INTO verdicts_new (job_id, metric, verdict, p_value, effect, ci_low, ci_high, baseline_median, candidate_median,
  baseline_results, baseline_branch, created_at)
SELECT job_id, metric, verdict, p_value, effect, ci_low, ci_high, baseline_median, candidate_median, baseline_results, baseline_branch, created_at
FROM verdicts;
DROP TABLE verdicts;
ALTER TABLE verdicts_new RENAME TO verdicts;

-- Per-metric policy: the false-alert budget the alarm threshold comes from, the A/B round budget
-- of a confirmation (0 = none), and whether improvements open alerts too. NULL = the default.
ALTER TABLE regression_policies ADD COLUMN false_alert_rate REAL CHECK (false_alert_rate IS NULL OR (false_alert_rate > 0 AND false_alert_rate < 0.5));
ALTER TABLE regression_policies ADD COLUMN ab_rounds INTEGER CHECK (ab_rounds IS NULL OR ab_rounds BETWEEN 0 AND 100);
ALTER TABLE regression_policies ADD COLUMN alert_on_improvement INTEGER NOT NULL DEFAULT 0 CHECK (alert_on_improvement IN (0, 1));

-- Paired, interleaved A/B tests on one device: round r runs the baseline artifact (A) and the
-- candidate (B) back to back, in alternating order; rounds are added until the confidence
-- interval of the paired log ratio excludes no change or excludes the minimum effect, or the
-- round budget is spent. `purpose` confirm: a suspect series; gate: `run submit --ab`.
CREATE TABLE ab_tests (
  id                TEXT PRIMARY KEY,
  run_id            TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  device_id         TEXT NOT NULL REFERENCES devices(id),
  purpose           TEXT NOT NULL CHECK (purpose IN ('confirm', 'gate')),
  series_key        TEXT,
  metric            TEXT NOT NULL,
  branch            TEXT,
  trigger_job_id    TEXT REFERENCES jobs(id),
  start_job_id      TEXT REFERENCES jobs(id),    -- first result of the suspect window (where a confirmed change starts)
  baseline_sha256   TEXT NOT NULL REFERENCES models(sha256),
  candidate_sha256  TEXT NOT NULL REFERENCES models(sha256),
  direction         TEXT CHECK (direction IN ('regression', 'improvement')),  -- suspected; NULL = two-sided
  min_rounds        INTEGER NOT NULL,
  max_rounds        INTEGER NOT NULL,
  min_effect        REAL NOT NULL,
  alpha             REAL NOT NULL,
  spacing_ms        INTEGER NOT NULL,
  status            TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'changed', 'no_change', 'inconclusive', 'failed', 'canceled')),
  rounds            INTEGER NOT NULL DEFAULT 0,   -- complete rounds
  failed_rounds     INTEGER NOT NULL DEFAULT 0,
  estimate          REAL,                          -- candidate / baseline − 1 (value units)
  ci_low            REAL,
  ci_high           REAL,
  effect            REAL,                          -- the same, positive = worse
  noise             REAL,                          -- σ of the paired log ratio
  reason            TEXT,
  created_at        INTEGER NOT NULL,
  decided_at        INTEGER
);
CREATE INDEX ab_tests_running ON ab_tests (status) WHERE status = 'running';
CREATE INDEX ab_tests_run ON ab_tests (run_id);

ALTER TABLE jobs ADD COLUMN model_sha256 TEXT REFERENCES models(sha256);   -- overrides the run's model (A/B baseline arm)
ALTER TABLE jobs ADD COLUMN ab_test_id TEXT REFERENCES ab_tests(id);
ALTER TABLE jobs ADD COLUMN ab_round INTEGER;
ALTER TABLE jobs ADD COLUMN ab_arm TEXT CHECK (ab_arm IS NULL OR ab_arm IN ('A', 'B'));
CREATE INDEX jobs_ab ON jobs (ab_test_id, ab_round) WHERE ab_test_id IS NOT NULL;
