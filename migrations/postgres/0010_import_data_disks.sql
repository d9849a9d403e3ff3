-- ImportImage's data disks; the same column as
-- migrations/sqlite/0010_import_data_disks.sql. Additive only:
-- min_binary_version stays 5.
ALTER TABLE io_tasks ADD COLUMN data_disks TEXT NOT NULL DEFAULT '';
