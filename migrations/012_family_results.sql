-- A family's results without reading every job of the farm (issue 11): the variant comparison
-- finds its jobs from the family's models — the runs of each model, and the A/B jobs whose arm
-- ran one of them. (compare?family= read every succeeded job: ~450 ms over 10 M raw samples.)
CREATE INDEX runs_model ON runs (model_sha256);
CREATE INDEX jobs_model ON jobs (model_sha256) WHERE model_sha256 IS NOT NULL;
