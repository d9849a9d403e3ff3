-- Settings every replica of one database must agree on (scale-out.md §4:
-- --simulation-control); the same table as
-- migrations/sqlite/0008_replica_settings.sql. Additive only:
-- min_binary_version stays 5.
CREATE TABLE replica_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  confirmed_at_ms BIGINT NOT NULL
);
