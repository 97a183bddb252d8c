-- The usage log (SPEC §6): raw records kept --usage-retention-days (90),
-- hourly rollups (per key, and per workspace) that answer the API Usage
-- statistics in O(buckets), the per-key per-second counters behind
-- auto-revocation, and notifications.
-- No foreign keys on the usage tables: they are the hot insert path, and
-- workspaces and keys are never deleted (retention removes old rows).

-- One row per /v1 request made with a key that exists.
CREATE TABLE usage_records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order; tie-break
    workspace_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    at BIGINT NOT NULL,                    -- unix ms when the request started
    method TEXT NOT NULL,
    route TEXT NOT NULL,                   -- matched template, e.g. /v1/studies/{id}
    path TEXT NOT NULL,                    -- without the query string
    status BIGINT NOT NULL,
    code TEXT,                             -- problem code, NULL on success
    latency_us BIGINT NOT NULL,
    ip TEXT NOT NULL
);
-- `recent` (newest 20 of a workspace) and retention (oldest first, per workspace).
CREATE INDEX usage_records_ws_at ON usage_records(workspace_id, at);
-- `recent` filtered by key.
CREATE INDEX usage_records_key_at ON usage_records(workspace_id, key_id, at);

-- Requests per hour and per (key, endpoint, status, code); `code` is '' when
-- there is none (a primary-key column cannot be NULL for ON CONFLICT to work).
-- The primary key index makes a workspace's last 168 hours one range scan.
CREATE TABLE usage_hourly (
    workspace_id TEXT NOT NULL,
    hour_start BIGINT NOT NULL,            -- unix ms, multiple of 3 600 000 (UTC)
    key_id TEXT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    status BIGINT NOT NULL,
    code TEXT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, hour_start, key_id, method, route, status, code)
);

-- The same without the key: what the unfiltered report reads (at most
-- endpoints x statuses rows per hour, whatever the number of keys).
CREATE TABLE usage_hourly_ws (
    workspace_id TEXT NOT NULL,
    hour_start BIGINT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    status BIGINT NOT NULL,
    code TEXT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, hour_start, method, route, status, code)
);

-- Auto-revocation counters per key and second, shared by every node writing
-- to the store: `errors` = 401 ip_not_allowed + 422 answers, `requests` =
-- answers other than 429 and 5xx. Only the last window (minutes) is kept.
CREATE TABLE usage_key_seconds (
    workspace_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sec BIGINT NOT NULL,                   -- unix seconds
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key_id, sec)
);
CREATE INDEX usage_key_seconds_sec ON usage_key_seconds(sec);

-- Messages for a workspace's admins (the banner on the page), e.g. a key
-- was revoked automatically.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,                   -- ntf_<ULID>: sorts by time
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    key_id TEXT,
    message TEXT NOT NULL
);
CREATE INDEX notifications_workspace ON notifications(workspace_id, id);
