-- DescribeImages' TotalCount of other owners' images without walking them
-- (the own and system totals come from image_counts). Live images per
-- (viewer_key, region, status):
--   'shared:<account>'  private images of other owners shared to <account>
--   'public'            public images of any account
--   'public:<owner>'    public images of <owner> (a caller's own public
--                       images are subtracted from 'public': they are
--                       listed as its own)
-- System images (no owner) are in none of them.
CREATE TABLE visible_counts (
  viewer_key TEXT NOT NULL,
  region_id TEXT NOT NULL,
  status TEXT NOT NULL,
  live_count INTEGER NOT NULL CHECK (live_count >= 0),
  PRIMARY KEY (viewer_key, region_id, status)
) STRICT, WITHOUT ROWID;

INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
  SELECT 'shared:' || s.account_id, i.region_id, i.status, count(*)
  FROM shares s JOIN images i ON i.id = s.image_rowid
  WHERE i.deleted_at_ms IS NULL AND i.is_public = 0
    AND i.owner_account_id IS NOT NULL AND i.owner_account_id <> s.account_id
  GROUP BY 1, 2, 3;
INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
  SELECT 'public', region_id, status, count(*) FROM images
  WHERE deleted_at_ms IS NULL AND is_public = 1
    AND owner_account_id IS NOT NULL
  GROUP BY 1, 2, 3;
INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
  SELECT 'public:' || owner_account_id, region_id, status, count(*)
  FROM images
  WHERE deleted_at_ms IS NULL AND is_public = 1
    AND owner_account_id IS NOT NULL
  GROUP BY 1, 2, 3;

-- An image counts for the public keys while live, public and owned, and
-- for the key of each account it is shared with while live, private and
-- owned by someone else.
CREATE TRIGGER images_visible_insert AFTER INSERT ON images
  WHEN NEW.deleted_at_ms IS NULL AND NEW.is_public = 1
    AND NEW.owner_account_id IS NOT NULL
BEGIN
  INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
    SELECT k, NEW.region_id, NEW.status, 1
    FROM (SELECT 'public' AS k UNION ALL
          SELECT 'public:' || NEW.owner_account_id)
    WHERE true
    ON CONFLICT (viewer_key, region_id, status)
    DO UPDATE SET live_count = live_count + 1;
END;

CREATE TRIGGER images_visible_update
  AFTER UPDATE OF status, deleted_at_ms, is_public, owner_account_id,
    region_id ON images
  WHEN OLD.status IS NOT NEW.status
    OR OLD.deleted_at_ms IS NOT NEW.deleted_at_ms
    OR OLD.is_public IS NOT NEW.is_public
    OR OLD.owner_account_id IS NOT NEW.owner_account_id
    OR OLD.region_id IS NOT NEW.region_id
BEGIN
  UPDATE visible_counts SET live_count = live_count - 1
    WHERE OLD.deleted_at_ms IS NULL AND OLD.is_public = 1
      AND OLD.owner_account_id IS NOT NULL
      AND viewer_key IN ('public', 'public:' || OLD.owner_account_id)
      AND region_id = OLD.region_id AND status = OLD.status;
  UPDATE visible_counts SET live_count = live_count - 1
    WHERE OLD.deleted_at_ms IS NULL AND OLD.is_public = 0
      AND OLD.owner_account_id IS NOT NULL
      AND region_id = OLD.region_id AND status = OLD.status
      AND viewer_key IN (
        SELECT 'shared:' || account_id FROM shares
        WHERE image_rowid = OLD.id AND account_id <> OLD.owner_account_id);
  INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
    SELECT k, NEW.region_id, NEW.status, 1
    FROM (SELECT 'public' AS k UNION ALL
          SELECT 'public:' || NEW.owner_account_id)
    WHERE NEW.deleted_at_ms IS NULL AND NEW.is_public = 1
      AND NEW.owner_account_id IS NOT NULL
    ON CONFLICT (viewer_key, region_id, status)
    DO UPDATE SET live_count = live_count + 1;
  INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
    SELECT 'shared:' || account_id, NEW.region_id, NEW.status, 1
    FROM shares
    WHERE image_rowid = NEW.id AND NEW.deleted_at_ms IS NULL
      AND NEW.is_public = 0 AND NEW.owner_account_id IS NOT NULL
      AND account_id <> NEW.owner_account_id
    ON CONFLICT (viewer_key, region_id, status)
    DO UPDATE SET live_count = live_count + 1;
END;

CREATE TRIGGER images_visible_delete AFTER DELETE ON images
  WHEN OLD.deleted_at_ms IS NULL AND OLD.is_public = 1
    AND OLD.owner_account_id IS NOT NULL
BEGIN
  UPDATE visible_counts SET live_count = live_count - 1
    WHERE viewer_key IN ('public', 'public:' || OLD.owner_account_id)
      AND region_id = OLD.region_id AND status = OLD.status;
END;

CREATE TRIGGER shares_visible_insert AFTER INSERT ON shares
BEGIN
  INSERT INTO visible_counts (viewer_key, region_id, status, live_count)
    SELECT 'shared:' || NEW.account_id, i.region_id, i.status, 1
    FROM images i
    WHERE i.id = NEW.image_rowid AND i.deleted_at_ms IS NULL
      AND i.is_public = 0 AND i.owner_account_id IS NOT NULL
      AND i.owner_account_id <> NEW.account_id
    ON CONFLICT (viewer_key, region_id, status)
    DO UPDATE SET live_count = live_count + 1;
END;

CREATE TRIGGER shares_visible_delete AFTER DELETE ON shares
BEGIN
  UPDATE visible_counts SET live_count = live_count - 1
    WHERE viewer_key = 'shared:' || OLD.account_id
      AND (region_id, status) = (
        SELECT region_id, status FROM images
        WHERE id = OLD.image_rowid AND deleted_at_ms IS NULL
          AND is_public = 0 AND owner_account_id IS NOT NULL
          AND owner_account_id <> OLD.account_id);
END;
