-- AccessKey pairs of the ECS HTTP listener (ecs-http.md §2). The secret is
-- kept only AES-256-GCM encrypted (nonce || ciphertext || tag) under the
-- operator's key file, the AccessKeyId as associated data; key_id names the
-- key that sealed it (rotation). Revoked keys stay (InvalidAccessKeyId.Inactive)
-- with revoked_at_ms > 0. Additive only.
CREATE TABLE access_keys (
  access_key_id TEXT PRIMARY KEY NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  secret_sealed BLOB NOT NULL,
  key_id TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX access_keys_by_account ON access_keys (account_id, created_at_ms);
