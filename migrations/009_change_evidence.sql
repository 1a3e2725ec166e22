-- Every reported change says what it rests on and carries its interval (issue 10): the verdict's
-- before/after are the levels its effect was computed between (candidate_median is the level
-- after: the result's own median, or the pooled level of the window that made it suspect); series
-- changes and alerts get an evidence line, and alerts the interval of their effect.
ALTER TABLE verdicts ADD COLUMN evidence TEXT;
ALTER TABLE series_changes ADD COLUMN evidence TEXT;
ALTER TABLE alerts ADD COLUMN ci_low REAL;
ALTER TABLE alerts ADD COLUMN ci_high REAL;
ALTER TABLE alerts ADD COLUMN evidence TEXT;
