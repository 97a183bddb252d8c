-- Auto-revocation now counts a key's window from usage_records (its
-- (workspace_id, key_id, at) index), so the per-key, per-second counters,
-- one random insert per request with many keys, are gone.
DROP TABLE usage_key_seconds;
