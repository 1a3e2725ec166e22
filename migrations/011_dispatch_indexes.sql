-- Event-driven dispatch and a run's status without reading all its jobs.
-- A run's status asks "is any job of this run still active?" on every job transition: answered by
-- (run_id, status) from the index, not by counting the run's jobs.
DROP INDEX jobs_run;
CREATE INDEX jobs_run_status ON jobs (run_id, status);
-- The dispatcher's sweep: queued jobs whose backoff ran out, and queued jobs created since the
-- last sweep. Partial indexes hold only queued jobs, so they stay small however long the history.
CREATE INDEX jobs_queued_not_before ON jobs (not_before) WHERE status = 'queued';
CREATE INDEX jobs_queued_created ON jobs (created_at) WHERE status = 'queued';
