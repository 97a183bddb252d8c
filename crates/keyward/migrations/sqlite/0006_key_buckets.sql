-- SQLite: no per-key index on the usage log. With many keys in use each
-- record's (workspace_id, key_id, at) entry landed on a different B-tree
-- page: a 4 KiB WAL frame per record, the largest cost of the /v1 path
-- (docs/benchmarks.md). What it served now comes from elsewhere:
-- - auto-revocation counts: the per-key, 10-second buckets below, which
--   every node's usage writer adds to every few seconds (and before it
--   counts), sorted by time, so their pages are written in order;
-- - a key's newest requests: the hours its per-key rollup names, each read
--   along (workspace_id, at).
-- PostgreSQL keeps its index and counts from the records.
DROP INDEX IF EXISTS usage_records_key_at;

-- Counted answers per key and 10-second bucket (see usage::autorevoke):
-- `requests` = all but 429 and 5xx, `errors` = 401 ip_not_allowed + 422.
-- Only the auto-revocation window is kept. Time first: new buckets are
-- appended at the end of the B-tree, whatever the number of keys.
CREATE TABLE usage_key_buckets (
    bucket BIGINT NOT NULL,                -- unix seconds, a multiple of 10
    workspace_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    PRIMARY KEY (bucket, workspace_id, key_id)
) WITHOUT ROWID;

-- The records of the last ten minutes, so counts right after the upgrade
-- see the window as before it.
INSERT INTO usage_key_buckets (bucket, workspace_id, key_id, requests, errors)
SELECT (at / 10000) * 10, workspace_id, key_id, COUNT(*),
       SUM(CASE WHEN status = 422 OR (status = 401 AND code = 'ip_not_allowed') THEN 1 ELSE 0 END)
FROM usage_records
WHERE at >= (CAST(strftime('%s', 'now') AS INTEGER) - 600) * 1000 AND status <> 429 AND status < 500
GROUP BY (at / 10000) * 10, workspace_id, key_id;
