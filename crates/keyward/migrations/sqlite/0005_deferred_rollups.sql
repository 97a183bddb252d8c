-- SQLite: the hourly rollups are brought up to date every few seconds from
-- the records past a watermark instead of with each batch: with many keys
-- and workspaces the per-batch upserts dirtied a different B-tree page for
-- nearly every record. See Store::defers_rollups.

-- Every usage record with an id up to rolled_through is in the rollups.
CREATE TABLE usage_rollup_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rolled_through BIGINT NOT NULL
);
INSERT INTO usage_rollup_state (id, rolled_through) SELECT 1, COALESCE(MAX(id), 0) FROM usage_records;
