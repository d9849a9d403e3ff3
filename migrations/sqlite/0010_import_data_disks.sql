-- ImportImage's data disks (data-plane.md §2): DiskDeviceMapping.2..N of an
-- import task, one line per disk, "<FORMAT>\t<bucket>\t<object>" with the
-- bucket and the object C-escaped (service/domain/import_disks.h); '' on a
-- one-disk import and on every export. Additive only: a binary of schema 9
-- keeps working on this schema (it imports the system disk only).
ALTER TABLE io_tasks ADD COLUMN data_disks TEXT NOT NULL DEFAULT '';
