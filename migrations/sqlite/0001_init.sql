-- The tables, their keys and their constraints. Lookup indexes, counters and
-- the triggers that maintain them come in 0002.

CREATE TABLE accounts (
  account_id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Bearer tokens, kept only as SHA-256 digests.
CREATE TABLE tokens (
  token_sha256 BLOB PRIMARY KEY NOT NULL CHECK (length(token_sha256) = 32),
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  created_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE regions (
  region_id TEXT PRIMARY KEY NOT NULL,
  local_name TEXT NOT NULL,
  endpoint TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Custom image ids are unique across regions, system image ids only within
-- one, so (region_id, image_id) is the identity and `id` the internal key.
-- deleted_at_ms set means tombstone.
CREATE TABLE images (
  id INTEGER PRIMARY KEY,
  image_id TEXT NOT NULL,
  region_id TEXT NOT NULL REFERENCES regions (region_id),
  owner_account_id TEXT REFERENCES accounts (account_id),
  is_system INTEGER NOT NULL CHECK (is_system IN (0, 1)),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('Waiting', 'Creating', 'Available',
      'UnAvailable', 'CreateFailed', 'Deprecated')),
  progress INTEGER NOT NULL CHECK (progress BETWEEN 0 AND 100),
  size_gib INTEGER NOT NULL CHECK (size_gib >= 0),
  architecture TEXT NOT NULL,
  os_type TEXT NOT NULL,
  platform TEXT NOT NULL,
  is_copied INTEGER NOT NULL CHECK (is_copied IN (0, 1)),
  is_public INTEGER NOT NULL CHECK (is_public IN (0, 1)),
  created_at_ms INTEGER NOT NULL,
  deleted_at_ms INTEGER,
  creating_remaining_ms INTEGER NOT NULL CHECK (creating_remaining_ms >= 0),
  UNIQUE (region_id, image_id),
  CHECK ((is_system = 1) = (owner_account_id IS NULL))
) STRICT;

-- Image names are unique among an account's live images in a region.
CREATE UNIQUE INDEX images_live_name
  ON images (owner_account_id, region_id, name)
  WHERE name <> '' AND deleted_at_ms IS NULL;

CREATE TABLE disk_mappings (
  image_rowid INTEGER NOT NULL REFERENCES images (id),
  ordinal INTEGER NOT NULL,
  device TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('system', 'data')),
  snapshot_id TEXT NOT NULL,
  size_gib INTEGER NOT NULL CHECK (size_gib >= 0),
  PRIMARY KEY (image_rowid, ordinal)
) STRICT, WITHOUT ROWID;

-- One CopyImage; dest_region_id repeats the destination image's region so
-- that running copies can be counted from an index.
CREATE TABLE copy_tasks (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  source_image_rowid INTEGER NOT NULL REFERENCES images (id),
  dest_image_rowid INTEGER NOT NULL UNIQUE REFERENCES images (id),
  dest_region_id TEXT NOT NULL REFERENCES regions (region_id),
  phase TEXT NOT NULL CHECK (phase IN ('QUEUED', 'PREPARING', 'TRANSFERRING',
      'REGISTERING', 'SUCCEEDED', 'FAILED', 'CANCELLING', 'CANCELLED')),
  progress INTEGER NOT NULL CHECK (progress BETWEEN 0 AND 100),
  total_mib INTEGER NOT NULL CHECK (total_mib >= 0),
  transferred_mib INTEGER NOT NULL CHECK (transferred_mib >= 0),
  encrypted INTEGER NOT NULL CHECK (encrypted IN (0, 1)),
  kms_key_id TEXT NOT NULL,
  support_cancel INTEGER NOT NULL CHECK (support_cancel IN (0, 1)),
  created_at_ms INTEGER NOT NULL,
  phase_changed_at_ms INTEGER NOT NULL
) STRICT;

-- ImportImage and ExportImage tasks.
CREATE TABLE io_tasks (
  id INTEGER PRIMARY KEY,
  task_id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  region_id TEXT NOT NULL REFERENCES regions (region_id),
  image_rowid INTEGER NOT NULL REFERENCES images (id),
  action TEXT NOT NULL CHECK (action IN ('ImportImage', 'ExportImage')),
  status TEXT NOT NULL CHECK (status IN ('Waiting', 'Processing', 'Finished',
      'Failed', 'Cancelled')),
  progress INTEGER NOT NULL CHECK (progress BETWEEN 0 AND 100),
  total_mib INTEGER NOT NULL CHECK (total_mib >= 0),
  transferred_mib INTEGER NOT NULL CHECK (transferred_mib >= 0),
  support_cancel INTEGER NOT NULL CHECK (support_cancel IN (0, 1)),
  oss_bucket TEXT NOT NULL,
  oss_object TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER
) STRICT;

-- The rowid keeps insertion order, which breaks created_at_ms ties.
CREATE TABLE shares (
  image_rowid INTEGER NOT NULL REFERENCES images (id),
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (image_rowid, account_id)
) STRICT;

-- released_at_ms set means the instance no longer references its image.
CREATE TABLE instances (
  id INTEGER PRIMARY KEY,
  instance_id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  region_id TEXT NOT NULL REFERENCES regions (region_id),
  image_rowid INTEGER NOT NULL REFERENCES images (id),
  created_at_ms INTEGER NOT NULL,
  released_at_ms INTEGER
) STRICT;

-- Remembered responses of calls that carried a ClientToken.
CREATE TABLE client_tokens (
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  rpc TEXT NOT NULL,
  token TEXT NOT NULL,
  params_fingerprint BLOB NOT NULL,
  response BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (account_id, rpc, token)
) STRICT, WITHOUT ROWID;
