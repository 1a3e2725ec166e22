-- Measurement flags (e.g. "charging", "throttled": a measurement taken under such conditions is
-- marked, never silently mixed with the others) and a per-operator breakdown stored with a job.
ALTER TABLE measurements ADD COLUMN flags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN operators TEXT;
