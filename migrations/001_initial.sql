-- Initial schema: tokens, agents, devices, models, runs, jobs, measurements, samples.
-- Times are integer milliseconds since the Unix epoch. JSON columns hold validated JSON text.

CREATE TABLE agents (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  hostname      TEXT,
  version       TEXT,
  online        INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
  last_seen_at  INTEGER,
  revoked_at    INTEGER,
  created_at    INTEGER NOT NULL
);

CREATE TABLE tokens (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'submit', 'read', 'agent', 'enroll')),
  hash          TEXT NOT NULL UNIQUE,           -- sha256 of the secret; the secret itself is never stored
  agent_id      TEXT REFERENCES agents(id) ON DELETE CASCADE,
  created_at    INTEGER NOT NULL,
  revoked_at    INTEGER,
  last_used_at  INTEGER,
  CHECK ((role = 'agent') = (agent_id IS NOT NULL))
);

CREATE TABLE devices (
  id                    TEXT PRIMARY KEY,
  agent_id              TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  serial                TEXT NOT NULL,          -- stable identity under its agent
  name                  TEXT NOT NULL UNIQUE,
  driver                TEXT NOT NULL,
  labels                TEXT NOT NULL DEFAULT '{}',
  runtimes              TEXT NOT NULL DEFAULT '[]',
  present               INTEGER NOT NULL DEFAULT 0 CHECK (present IN (0, 1)),
  health                TEXT NOT NULL DEFAULT 'unknown'
                        CHECK (health IN ('good', 'unknown', 'bad', 'maintenance', 'retired')),
  health_reason         TEXT,
  consecutive_failures  INTEGER NOT NULL DEFAULT 0,
  last_seen_at          INTEGER,
  created_at            INTEGER NOT NULL,
  UNIQUE (agent_id, serial)
);

CREATE TABLE models (
  sha256        TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  family        TEXT NOT NULL,
  variant       TEXT NOT NULL,
  format        TEXT NOT NULL,
  size_bytes    INTEGER NOT NULL,
  filename      TEXT,
  facts         TEXT NOT NULL DEFAULT '{}',
  created_at    INTEGER NOT NULL
);
CREATE INDEX models_family_variant ON models (family, variant, created_at);

CREATE TABLE runs (
  id              TEXT PRIMARY KEY,
  model_sha256    TEXT NOT NULL REFERENCES models(sha256),
  runtime         TEXT NOT NULL,
  device_selector TEXT NOT NULL,
  settings        TEXT NOT NULL,
  git             TEXT NOT NULL DEFAULT '{}',
  status          TEXT NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  created_by      TEXT REFERENCES tokens(id) ON DELETE SET NULL,
  created_at      INTEGER NOT NULL,
  finished_at     INTEGER
);
CREATE INDEX runs_created ON runs (created_at);

CREATE TABLE jobs (
  id                TEXT PRIMARY KEY,
  run_id            TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  device_id         TEXT NOT NULL REFERENCES devices(id),
  status            TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'assigned', 'running', 'succeeded', 'failed', 'canceled', 'timed_out')),
  attempt           INTEGER NOT NULL DEFAULT 0,   -- incremented by each claim
  max_attempts      INTEGER NOT NULL DEFAULT 3,
  not_before        INTEGER NOT NULL DEFAULT 0,   -- backoff: not claimable before this time
  lease_owner       TEXT REFERENCES agents(id),   -- the agent holding the job while assigned/running
  lease_expires_at  INTEGER,
  timeout_ms        INTEGER NOT NULL,
  error_code        TEXT,
  error_message     TEXT,
  progress          TEXT,
  environment       TEXT,
  created_at        INTEGER NOT NULL,
  assigned_at       INTEGER,
  started_at        INTEGER,
  finished_at       INTEGER,
  CHECK ((status IN ('assigned', 'running')) = (lease_owner IS NOT NULL))
);
CREATE INDEX jobs_run ON jobs (run_id);
CREATE INDEX jobs_claimable ON jobs (device_id, status, not_before);
CREATE INDEX jobs_lease ON jobs (status, lease_expires_at);
-- One assigned or running job per device, enforced by the database.
CREATE UNIQUE INDEX jobs_one_active_per_device ON jobs (device_id) WHERE status IN ('assigned', 'running');

CREATE TABLE measurements (
  job_id        TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  metric        TEXT NOT NULL,
  unit          TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  count         INTEGER NOT NULL,
  median        REAL NOT NULL,
  p90           REAL NOT NULL,
  p99           REAL NOT NULL,
  mean          REAL NOT NULL,
  stddev        REAL NOT NULL,
  min           REAL NOT NULL,
  max           REAL NOT NULL,
  ci_low        REAL NOT NULL,
  ci_high       REAL NOT NULL,
  mean_ci_half  REAL NOT NULL,
  outliers      INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (job_id, metric)
);

-- Every raw sample of a measurement, as a little-endian Float64Array.
CREATE TABLE samples (
  job_id   TEXT NOT NULL,
  metric   TEXT NOT NULL,
  data     BLOB NOT NULL,
  PRIMARY KEY (job_id, metric),
  FOREIGN KEY (job_id, metric) REFERENCES measurements(job_id, metric) ON DELETE CASCADE
);
