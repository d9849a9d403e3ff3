-- Task leases (scale-out.md §4): which engine advances a running task, under
-- which epoch, until when; and how often each task's phase (status) moved,
-- so that a test can prove that no move happened twice. Additive only:
-- a binary of schema 5 keeps working on this schema (rolling updates).
ALTER TABLE copy_tasks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE copy_tasks ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE copy_tasks ADD COLUMN lease_expires_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE copy_tasks ADD COLUMN phase_moves INTEGER NOT NULL DEFAULT 0;

ALTER TABLE io_tasks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE io_tasks ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE io_tasks ADD COLUMN lease_expires_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE io_tasks ADD COLUMN phase_moves INTEGER NOT NULL DEFAULT 0;

ALTER TABLE images ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN lease_expires_at_ms INTEGER NOT NULL DEFAULT 0;
