-- Compact usage records (issue 25): 258 bytes a record on disk, indexes
-- included, became about 60. Ids and names are small integers from three
-- dictionaries (never deleted from, so a cached mapping stays true), the IP
-- is 4 or 16 raw bytes, the path only its variable part (empty for a
-- fixed route; see store/usage/codec.rs). Rollups and buckets are unchanged.
-- Old records are moved over by the server in batches, newest first, with
-- their ids (Store::migrate_usage_step): this migration itself is instant.

-- Workspace and key ids (ws_…, key_…).
CREATE TABLE usage_names (
    n INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
-- Method + route template, from keyward's route table as they are used.
CREATE TABLE usage_endpoints (
    n INTEGER PRIMARY KEY,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    UNIQUE (method, route)
);
-- Problem codes; 0 in usage_log.code means none.
CREATE TABLE usage_codes (
    n INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE
);

CREATE TABLE usage_log (
    id INTEGER PRIMARY KEY,                -- insertion order; tie-break; the rollup watermark
    ws INTEGER NOT NULL,                   -- usage_names.n
    at INTEGER NOT NULL,                   -- unix ms when the request started
    key INTEGER NOT NULL,                  -- usage_names.n
    endpoint INTEGER NOT NULL,             -- usage_endpoints.n
    status INTEGER NOT NULL,
    code INTEGER NOT NULL,                 -- usage_codes.n, 0: none
    latency_us INTEGER NOT NULL,
    ip BLOB NOT NULL,                      -- 4 or 16 bytes
    path BLOB NOT NULL                     -- the path's variable part; empty: the route itself
);
CREATE INDEX usage_log_ws_at ON usage_log (ws, at);

-- Whatever the old log holds past the rollup watermark is rolled up now,
-- so the watermark can move to the new table.
INSERT INTO usage_hourly (workspace_id, hour_start, key_id, method, route, status, code, requests)
SELECT workspace_id, at - (at % 3600000), key_id, method, route, status, COALESCE(code, ''), COUNT(*)
FROM usage_records WHERE id > (SELECT rolled_through FROM usage_rollup_state WHERE id = 1)
GROUP BY workspace_id, at - (at % 3600000), key_id, method, route, status, COALESCE(code, '')
ON CONFLICT (workspace_id, hour_start, key_id, method, route, status, code)
DO UPDATE SET requests = usage_hourly.requests + excluded.requests;
INSERT INTO usage_hourly_ws (workspace_id, hour_start, method, route, status, code, requests)
SELECT workspace_id, at - (at % 3600000), method, route, status, COALESCE(code, ''), COUNT(*)
FROM usage_records WHERE id > (SELECT rolled_through FROM usage_rollup_state WHERE id = 1)
GROUP BY workspace_id, at - (at % 3600000), method, route, status, COALESCE(code, '')
ON CONFLICT (workspace_id, hour_start, method, route, status, code)
DO UPDATE SET requests = usage_hourly_ws.requests + excluded.requests;

-- Moved records keep their ids, so new ones must come after the old
-- largest: a placeholder (workspace 0, read by nothing) holds that id until
-- the record it stands for moves in over it. Everything up to it is rolled up.
INSERT INTO usage_log (id, ws, at, key, endpoint, status, code, latency_us, ip, path)
SELECT MAX(id), 0, 0, 0, 0, 0, 0, 0, x'', x'' FROM usage_records HAVING MAX(id) IS NOT NULL;
UPDATE usage_rollup_state SET rolled_through = (SELECT COALESCE(MAX(id), 0) FROM usage_log) WHERE id = 1;
