-- Series, change points, alerts, mutes, per-metric regression policies and webhooks.

-- One row per series (family + variant + device + runtime settings); the metric is a second key
-- wherever a series is watched. `analyzed_at` < `last_result_at` marks a series whose change
-- points are due: the analyzer picks it up after a restart too.
CREATE TABLE series (
  key             TEXT PRIMARY KEY,
  family          TEXT NOT NULL,
  variant         TEXT NOT NULL,
  device_id       TEXT NOT NULL REFERENCES devices(id),
  runtime         TEXT NOT NULL,
  settings        TEXT NOT NULL,            -- the settings that are part of the key (threads, inputs)
  created_at      INTEGER NOT NULL,
  last_result_at  INTEGER NOT NULL,
  analyzed_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX series_family ON series (family, variant);

-- Step changes found in a series' history on its baseline branch (E-divisive means). `job_id`
-- is the first result after the change.
CREATE TABLE change_points (
  series_key      TEXT NOT NULL REFERENCES series(key) ON DELETE CASCADE,
  metric          TEXT NOT NULL,
  job_id          TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  branch          TEXT NOT NULL,
  position        INTEGER NOT NULL,         -- index of job_id in the analyzed history
  p_value         REAL NOT NULL,
  before_median   REAL NOT NULL,
  after_median    REAL NOT NULL,
  effect          REAL NOT NULL,            -- relative change, positive = worse
  detected_at     INTEGER NOT NULL,
  PRIMARY KEY (series_key, metric, job_id)
);

-- Per-metric regression policy; metric '*' is the default for metrics without their own row.
CREATE TABLE regression_policies (
  metric          TEXT PRIMARY KEY,
  min_effect      REAL NOT NULL CHECK (min_effect >= 0 AND min_effect < 10),
  confirm_reruns  INTEGER NOT NULL CHECK (confirm_reruns BETWEEN 0 AND 5),
  updated_at      INTEGER NOT NULL
);

CREATE TABLE alerts (
  id                TEXT PRIMARY KEY,
  series_key        TEXT NOT NULL REFERENCES series(key) ON DELETE CASCADE,
  metric            TEXT NOT NULL,
  branch            TEXT NOT NULL,
  kind              TEXT NOT NULL CHECK (kind IN ('gate', 'change_point')),
  status            TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
  severity          TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
  effect            REAL NOT NULL,
  baseline_median   REAL NOT NULL,
  current_median    REAL NOT NULL,
  job_id            TEXT NOT NULL REFERENCES jobs(id),   -- the result that opened it
  commit_sha        TEXT,
  opened_at         INTEGER NOT NULL,
  acknowledged_at   INTEGER,
  acknowledged_by   TEXT,
  resolved_at       INTEGER,
  resolved_reason   TEXT,
  resolved_job_id   TEXT REFERENCES jobs(id)
);
-- At most one unresolved alert per series, metric and branch.
CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (series_key, metric, branch) WHERE status != 'resolved';
CREATE INDEX alerts_status ON alerts (status, opened_at);

-- A muted series (metric '*' = every metric) opens no alerts until `until`.
CREATE TABLE mutes (
  series_key      TEXT NOT NULL REFERENCES series(key) ON DELETE CASCADE,
  metric          TEXT NOT NULL,
  until           INTEGER NOT NULL,
  reason          TEXT,
  created_by      TEXT,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (series_key, metric)
);

CREATE TABLE webhooks (
  id              TEXT PRIMARY KEY,
  url             TEXT NOT NULL,
  secret          TEXT NOT NULL,            -- HMAC key; needed in clear to sign deliveries
  events          TEXT NOT NULL,            -- JSON array of event names
  filters         TEXT NOT NULL DEFAULT '{}', -- JSON {family?, device?, metric?}
  format          TEXT NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack')),
  enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at      INTEGER NOT NULL
);

-- The outbox: one row per event and matching webhook, written in the same transaction as the
-- event itself, so a delivery survives a restart. `status` pending → delivered | failed.
CREATE TABLE webhook_deliveries (
  id              TEXT PRIMARY KEY,
  webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event           TEXT NOT NULL,
  data            TEXT NOT NULL,            -- the event's JSON (the body adds links and envelope)
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_status     INTEGER,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  delivered_at    INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at);

-- Every attempt, for the delivery log.
CREATE TABLE webhook_attempts (
  delivery_id     TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempt         INTEGER NOT NULL,
  at              INTEGER NOT NULL,
  status_code     INTEGER,
  error           TEXT,
  duration_ms     INTEGER NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);

-- Series rows for results stored before this migration.
INSERT OR IGNORE INTO series (key, family, variant, device_id, runtime, settings, created_at, last_result_at)
SELECT m.series_key, mo.family, mo.variant, j.device_id, r.runtime,
       json_object('threads', json_extract(r.settings, '$.threads'), 'inputs', json_extract(r.settings, '$.inputs')),
       MIN(m.created_at), MAX(m.created_at)
FROM measurements m JOIN jobs j ON j.id = m.job_id JOIN runs r ON r.id = j.run_id JOIN models mo ON mo.sha256 = r.model_sha256
WHERE m.series_key IS NOT NULL
GROUP BY m.series_key;
