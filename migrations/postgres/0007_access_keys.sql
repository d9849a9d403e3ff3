-- AccessKey pairs of the ECS HTTP listener; the same table as
-- migrations/sqlite/0007_access_keys.sql. Additive only: min_binary_version
-- stays 5.
CREATE TABLE access_keys (
  access_key_id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  secret_sealed BYTEA NOT NULL,
  key_id TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  revoked_at_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_keys_by_account ON access_keys (account_id, created_at_ms);
