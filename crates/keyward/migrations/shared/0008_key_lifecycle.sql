-- Key lifecycle (SPEC §12): expiry, scopes, rotation, and the once-per-key
-- "expiring soon" announcement.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;            -- unix ms; NULL = never
ALTER TABLE api_keys ADD COLUMN scopes TEXT;                  -- scope names, comma-separated; NULL = full access
ALTER TABLE api_keys ADD COLUMN rolled_to TEXT;               -- the successor's id once rolled
ALTER TABLE api_keys ADD COLUMN expiry_announced_at BIGINT;   -- when key.expiring was announced (once per key)

-- The hourly check for keys about to expire that were not announced yet.
CREATE INDEX api_keys_expiring ON api_keys(expires_at)
    WHERE expires_at IS NOT NULL AND expiry_announced_at IS NULL AND revoked_at IS NULL;
