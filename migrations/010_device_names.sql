-- Device names are allocated in O(1) (issue 11): the next free suffix per base name is kept here,
-- instead of probing name-2, name-3, … for every new device of a popular name.
CREATE TABLE device_name_counters (
  base  TEXT PRIMARY KEY,
  next  INTEGER NOT NULL
);
CREATE INDEX devices_forgotten ON devices (present, last_seen_at);
