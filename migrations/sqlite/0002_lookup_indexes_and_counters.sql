-- Lookup indexes for every query the store makes, and counters kept by
-- triggers so that quotas, DescribeImages totals and instance references
-- are read in O(1). Counters are backfilled from the rows already present.
--
-- A query uses a partial index only if its WHERE clause repeats the index's
-- WHERE terms: storage/*.cc spells them the same way.

-- Images ----------------------------------------------------------------

-- DescribeImages pages of own (owner = account) and system (owner IS NULL)
-- images, newest first, one status at a time.
CREATE INDEX images_live_by_owner
  ON images (owner_account_id, region_id, status, id)
  WHERE deleted_at_ms IS NULL;

-- DescribeImages pages of public images.
CREATE INDEX images_live_public
  ON images (region_id, status, id)
  WHERE is_public = 1 AND deleted_at_ms IS NULL;

-- Created images whose snapshot work is still pending.
CREATE INDEX images_creating
  ON images (id)
  WHERE status = 'Creating' AND deleted_at_ms IS NULL AND is_copied = 0
    AND creating_remaining_ms > 0;

-- Live images per (owner, region, status); owner_key '' = system images.
CREATE TABLE image_counts (
  owner_key TEXT NOT NULL,
  region_id TEXT NOT NULL,
  status TEXT NOT NULL,
  live_count INTEGER NOT NULL CHECK (live_count >= 0),
  PRIMARY KEY (owner_key, region_id, status)
) STRICT, WITHOUT ROWID;

INSERT INTO image_counts (owner_key, region_id, status, live_count)
  SELECT coalesce(owner_account_id, ''), region_id, status, count(*)
  FROM images WHERE deleted_at_ms IS NULL
  GROUP BY 1, 2, 3;

CREATE TRIGGER images_count_insert AFTER INSERT ON images
  WHEN NEW.deleted_at_ms IS NULL
BEGIN
  INSERT INTO image_counts (owner_key, region_id, status, live_count)
    VALUES (coalesce(NEW.owner_account_id, ''), NEW.region_id, NEW.status, 1)
    ON CONFLICT (owner_key, region_id, status)
    DO UPDATE SET live_count = live_count + 1;
END;

CREATE TRIGGER images_count_update
  AFTER UPDATE OF status, deleted_at_ms, owner_account_id, region_id ON images
  WHEN OLD.status IS NOT NEW.status
    OR OLD.deleted_at_ms IS NOT NEW.deleted_at_ms
    OR OLD.owner_account_id IS NOT NEW.owner_account_id
    OR OLD.region_id IS NOT NEW.region_id
BEGIN
  UPDATE image_counts SET live_count = live_count - 1
    WHERE OLD.deleted_at_ms IS NULL
      AND owner_key = coalesce(OLD.owner_account_id, '')
      AND region_id = OLD.region_id AND status = OLD.status;
  INSERT INTO image_counts (owner_key, region_id, status, live_count)
    SELECT coalesce(NEW.owner_account_id, ''), NEW.region_id, NEW.status, 1
    WHERE NEW.deleted_at_ms IS NULL
    ON CONFLICT (owner_key, region_id, status)
    DO UPDATE SET live_count = live_count + 1;
END;

CREATE TRIGGER images_count_delete AFTER DELETE ON images
  WHEN OLD.deleted_at_ms IS NULL
BEGIN
  UPDATE image_counts SET live_count = live_count - 1
    WHERE owner_key = coalesce(OLD.owner_account_id, '')
      AND region_id = OLD.region_id AND status = OLD.status;
END;

-- Instances -------------------------------------------------------------

CREATE INDEX instances_live_by_image
  ON instances (image_rowid, id)
  WHERE released_at_ms IS NULL;

CREATE INDEX instances_live_by_account
  ON instances (account_id, region_id, id)
  WHERE released_at_ms IS NULL;

-- Live instances referencing each image (any account).
ALTER TABLE images ADD COLUMN live_instance_count INTEGER NOT NULL DEFAULT 0
  CHECK (live_instance_count >= 0);

UPDATE images SET live_instance_count = (
  SELECT count(*) FROM instances
  WHERE image_rowid = images.id AND released_at_ms IS NULL)
WHERE id IN (SELECT image_rowid FROM instances WHERE released_at_ms IS NULL);

CREATE TRIGGER instances_count_insert AFTER INSERT ON instances
  WHEN NEW.released_at_ms IS NULL
BEGIN
  UPDATE images SET live_instance_count = live_instance_count + 1
    WHERE id = NEW.image_rowid;
END;

CREATE TRIGGER instances_count_update
  AFTER UPDATE OF released_at_ms, image_rowid ON instances
  WHEN OLD.released_at_ms IS NOT NEW.released_at_ms
    OR OLD.image_rowid IS NOT NEW.image_rowid
BEGIN
  UPDATE images SET live_instance_count = live_instance_count - 1
    WHERE id = OLD.image_rowid AND OLD.released_at_ms IS NULL;
  UPDATE images SET live_instance_count = live_instance_count + 1
    WHERE id = NEW.image_rowid AND NEW.released_at_ms IS NULL;
END;

CREATE TRIGGER instances_count_delete AFTER DELETE ON instances
  WHEN OLD.released_at_ms IS NULL
BEGIN
  UPDATE images SET live_instance_count = live_instance_count - 1
    WHERE id = OLD.image_rowid;
END;

-- Shares ----------------------------------------------------------------

-- Images shared to an account (DescribeImages "others").
CREATE INDEX shares_by_account ON shares (account_id, image_rowid);

-- Copies ----------------------------------------------------------------

CREATE INDEX copy_tasks_active_by_source
  ON copy_tasks (source_image_rowid)
  WHERE phase NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED');

CREATE INDEX copy_tasks_running_by_dest
  ON copy_tasks (account_id, dest_region_id)
  WHERE phase IN ('PREPARING', 'TRANSFERRING', 'REGISTERING');

CREATE INDEX copy_tasks_active
  ON copy_tasks (id)
  WHERE phase NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED');

-- A copy's progress never goes backwards, not even after a restart.
CREATE TRIGGER copy_tasks_progress_monotonic
  BEFORE UPDATE OF progress ON copy_tasks
  WHEN NEW.progress < OLD.progress
BEGIN
  SELECT RAISE(ABORT, 'copy progress must not decrease');
END;

-- Import and export tasks -----------------------------------------------

CREATE INDEX io_tasks_active
  ON io_tasks (id)
  WHERE status IN ('Waiting', 'Processing');

CREATE INDEX io_tasks_by_account ON io_tasks (account_id, region_id, id);

-- The tasks of an image (a handful): its active import or export, and
-- whether it was imported at all (ListCreatingImages leaves those alone).
CREATE INDEX io_tasks_by_image ON io_tasks (image_rowid, action);

-- Accounts and client tokens --------------------------------------------

CREATE INDEX tokens_by_account ON tokens (account_id);

CREATE INDEX client_tokens_by_age ON client_tokens (created_at_ms);
