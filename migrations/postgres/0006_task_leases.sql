-- Task leases (scale-out.md §4) and phase-move counts; the same columns as
-- migrations/sqlite/0006_task_leases.sql. Additive only: min_binary_version
-- stays 5, so the replicas of a rolling update that still run a schema-5
-- binary (and a rollback to one) keep working on this schema.
ALTER TABLE copy_tasks
  ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '',
  ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN lease_expires_at_ms BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN phase_moves BIGINT NOT NULL DEFAULT 0;

ALTER TABLE io_tasks
  ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '',
  ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN lease_expires_at_ms BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN phase_moves BIGINT NOT NULL DEFAULT 0;

ALTER TABLE images
  ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '',
  ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN lease_expires_at_ms BIGINT NOT NULL DEFAULT 0;
