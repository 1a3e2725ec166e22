-- Series and per-result verdicts. A measurement's series key identifies the model family and
-- variant, the device, the runtime and the settings that change results; with the metric it is
-- what regression detection watches. Each new result gets a verdict against its baseline window.
ALTER TABLE measurements ADD COLUMN series_key TEXT;
CREATE INDEX measurements_series ON measurements (series_key, metric, created_at);

CREATE TABLE verdicts (
  job_id            TEXT NOT NULL,
  metric            TEXT NOT NULL,
  verdict           TEXT NOT NULL CHECK (verdict IN ('pass', 'regression', 'improvement', 'insufficient_baseline')),
  p_value           REAL,
  effect            REAL,            -- relative change of the median, positive = worse
  ci_low            REAL,
  ci_high           REAL,
  baseline_median   REAL,
  candidate_median  REAL,
  baseline_results  INTEGER NOT NULL,
  baseline_branch   TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  PRIMARY KEY (job_id, metric),
  FOREIGN KEY (job_id, metric) REFERENCES measurements(job_id, metric) ON DELETE CASCADE
);
