-- Confirmation reruns are looked up by the job they confirm on every regression verdict and run view.
CREATE INDEX jobs_confirms ON jobs (confirms_job_id) WHERE confirms_job_id IS NOT NULL;
