-- Confirmation by rerun: a result judged a regression queues a rerun of the same model,
-- settings and device in the same run; the regression counts as confirmed only when the reruns
-- agree. confirms_job_id points at the job whose result is being confirmed.
ALTER TABLE jobs ADD COLUMN confirms_job_id TEXT REFERENCES jobs(id);
