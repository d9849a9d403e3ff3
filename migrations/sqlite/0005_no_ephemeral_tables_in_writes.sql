-- No ephemeral tables in the write path.
--
-- SQLite evaluates `x IN ('a', 'b', 'c')` (three or more constants) by
-- building a temporary b-tree of the list, and it did so for every row
-- written: in the CHECK constraints on images.status, copy_tasks.phase and
-- io_tasks.status, in the WHERE of the three partial indexes of copy_tasks,
-- and in images_visible_update's shares statement. Each costs about 1.4 us
-- of the writer's CPU (4 per CopyImage insert; BENCHMARKS.md). The same
-- conditions as chains of = / <> compile to plain comparisons.
--
-- The CHECK constraints are rewritten in place, the documented way for a
-- change that leaves the stored rows as they are (sqlite.org/lang_altertable,
-- "writable_schema"): the new expressions accept exactly the same values.
-- The queries that use the partial indexes spell their conditions the same
-- way (storage/sqlite_txn_read.cc, SqliteStore::CountActiveTasks), so that
-- the planner still picks them (tests/storage/query_plan_test.cc).

PRAGMA writable_schema = ON;

UPDATE sqlite_schema
SET sql = replace(sql,
  'status TEXT NOT NULL CHECK (status IN (''Waiting'', ''Creating'', ''Available'',
      ''UnAvailable'', ''CreateFailed'', ''Deprecated''))',
  'status TEXT NOT NULL CHECK (status = ''Waiting'' OR status = ''Creating''
      OR status = ''Available'' OR status = ''UnAvailable''
      OR status = ''CreateFailed'' OR status = ''Deprecated'')')
WHERE type = 'table' AND name = 'images';

UPDATE sqlite_schema
SET sql = replace(sql,
  'phase TEXT NOT NULL CHECK (phase IN (''QUEUED'', ''PREPARING'', ''TRANSFERRING'',
      ''REGISTERING'', ''SUCCEEDED'', ''FAILED'', ''CANCELLING'', ''CANCELLED''))',
  'phase TEXT NOT NULL CHECK (phase = ''QUEUED'' OR phase = ''PREPARING''
      OR phase = ''TRANSFERRING'' OR phase = ''REGISTERING''
      OR phase = ''SUCCEEDED'' OR phase = ''FAILED'' OR phase = ''CANCELLING''
      OR phase = ''CANCELLED'')')
WHERE type = 'table' AND name = 'copy_tasks';

UPDATE sqlite_schema
SET sql = replace(sql,
  'status TEXT NOT NULL CHECK (status IN (''Waiting'', ''Processing'', ''Finished'',
      ''Failed'', ''Cancelled''))',
  'status TEXT NOT NULL CHECK (status = ''Waiting'' OR status = ''Processing''
      OR status = ''Finished'' OR status = ''Failed'' OR status = ''Cancelled'')')
WHERE type = 'table' AND name = 'io_tasks';

-- Reload the schema from the rewritten text (this connection goes on
-- writing; the DDL below makes every other connection reload too).
PRAGMA writable_schema = RESET;

-- Copies ----------------------------------------------------------------

DROP INDEX copy_tasks_active_by_source;
CREATE INDEX copy_tasks_active_by_source
  ON copy_tasks (source_image_rowid)
  WHERE phase <> 'SUCCEEDED' AND phase <> 'FAILED' AND phase <> 'CANCELLED';

DROP INDEX copy_tasks_running_by_dest;
CREATE INDEX copy_tasks_running_by_dest
  ON copy_tasks (account_id, dest_region_id)
  WHERE (phase = 'PREPARING' OR phase = 'TRANSFERRING'
         OR phase = 'REGISTERING');

DROP INDEX copy_tasks_active;
CREATE INDEX copy_tasks_active
  ON copy_tasks (id)
  WHERE phase <> 'SUCCEEDED' AND phase <> 'FAILED' AND phase <> 'CANCELLED';

-- Visible counters (0004) ---------------------------------------------------
--
-- images_visible_update ran its four statements on every change of a
-- counted column; the shares statement built a temporary table of the
-- image's shares even for an image with none (every DeleteImage). It is
-- split in two with the same statements: one for images that are or become
-- public, one for images with shares. The counters move exactly as before
-- (tests/storage/list_images_test.cc recounts them against a model).

DROP TRIGGER images_visible_update;

CREATE TRIGGER images_visible_update_public
  AFTER UPDATE OF status, deleted_at_ms, is_public, owner_account_id,
    region_id ON images
  WHEN (OLD.is_public = 1 OR NEW.is_public = 1)
    AND (OLD.status IS NOT NEW.status
      OR OLD.deleted_at_ms IS NOT NEW.deleted_at_ms
      OR OLD.is_public IS NOT NEW.is_public
      OR OLD.owner_account_id IS NOT NEW.owner_account_id
      OR OLD.region_id IS NOT NEW.region_id)
BEGIN
  UPDATE visible_counts SET live_count = live_count - 1
    WHERE OLD.deleted_at_ms IS NULL AND OLD.is_public = 1
      AND OLD.owner_account_id IS NOT NULL
      AND viewer_key IN ('public', 'public:' || OLD.owner_account_id)
      AND region_id = OLD.region_id AND status = OLD.status;
  INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
    SELECT k, NEW.region_id, NEW.status, 1
    FROM (SELECT 'public' AS k UNION ALL
          SELECT 'public:' || NEW.owner_account_id)
    WHERE NEW.deleted_at_ms IS NULL AND NEW.is_public = 1
      AND NEW.owner_account_id IS NOT NULL
    ON CONFLICT (viewer_key, region_id, status)
    DO UPDATE SET live_count = live_count + 1;
END;

CREATE TRIGGER images_visible_update_shared
  AFTER UPDATE OF status, deleted_at_ms, is_public, owner_account_id,
    region_id ON images
  WHEN (EXISTS (SELECT 1 FROM shares WHERE image_rowid = OLD.id)
        OR EXISTS (SELECT 1 FROM shares WHERE image_rowid = NEW.id))
    AND (OLD.status IS NOT NEW.status
      OR OLD.deleted_at_ms IS NOT NEW.deleted_at_ms
      OR OLD.is_public IS NOT NEW.is_public
      OR OLD.owner_account_id IS NOT NEW.owner_account_id
      OR OLD.region_id IS NOT NEW.region_id)
BEGIN
  UPDATE visible_counts SET live_count = live_count - 1
    WHERE OLD.deleted_at_ms IS NULL AND OLD.is_public = 0
      AND OLD.owner_account_id IS NOT NULL
      AND region_id = OLD.region_id AND status = OLD.status
      AND viewer_key IN (
        SELECT 'shared:' || account_id FROM shares
        WHERE image_rowid = OLD.id AND account_id <> OLD.owner_account_id);
  INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
    SELECT 'shared:' || account_id, NEW.region_id, NEW.status, 1
    FROM shares
    WHERE image_rowid = NEW.id AND NEW.deleted_at_ms IS NULL
      AND NEW.is_public = 0 AND NEW.owner_account_id IS NOT NULL
      AND account_id <> NEW.owner_account_id
    ON CONFLICT (viewer_key, region_id, status)
    DO UPDATE SET live_count = live_count + 1;
END;
