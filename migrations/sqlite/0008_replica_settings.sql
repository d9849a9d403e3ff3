-- Settings every replica of one database must agree on (scale-out.md §4:
-- --simulation-control), with the last time a running replica confirmed
-- its value: a replica whose value differs from a recently confirmed one
-- refuses to start. Additive only.
CREATE TABLE replica_settings (
  name TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL,
  confirmed_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
