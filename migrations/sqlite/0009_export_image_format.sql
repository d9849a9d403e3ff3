-- ExportImage's ImageFormat (data-plane.md §2): the format an export task
-- writes, 'RAW' or 'QCOW2', '' on exports an earlier binary recorded (they
-- write the stored format, as that binary did); on an import, the format
-- its DiskDeviceMapping.1.Format named ('' for any). Additive
-- only: a binary of schema 8 keeps working on this schema (rolling updates).
-- The CHECK is spelled without IN (...): a list makes SQLite open an
-- ephemeral table on every insert (migration 0005).
ALTER TABLE io_tasks ADD COLUMN image_format TEXT NOT NULL DEFAULT ''
  CHECK (image_format = '' OR image_format = 'RAW' OR
         image_format = 'QCOW2');
