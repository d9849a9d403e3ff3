-- ExportImage's ImageFormat (an import's Format); the same column as
-- migrations/sqlite/0009_export_image_format.sql. Additive only:
-- min_binary_version stays 5.
ALTER TABLE io_tasks ADD COLUMN image_format TEXT NOT NULL DEFAULT ''
  CHECK (image_format = '' OR image_format = 'RAW' OR
         image_format = 'QCOW2');
