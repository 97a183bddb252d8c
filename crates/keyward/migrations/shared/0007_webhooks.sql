-- Webhooks (SPEC §9): subscriptions, the transactional outbox of events,
-- and one delivery row per (hook, event) that the worker claims, attempts
-- and reschedules. Times are unix milliseconds.
CREATE TABLE hooks (
    id TEXT PRIMARY KEY,                   -- hook_<ULID>
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key_id TEXT REFERENCES api_keys(id) ON DELETE CASCADE, -- the key that created it (/v1); NULL: an admin's key-event hook
    created_by TEXT,                       -- the admin user (key-event hooks)
    target_url TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,                  -- active | disabled
    secret TEXT NOT NULL,                  -- encrypted: v1:<base64 nonce || ChaCha20-Poly1305 ciphertext>
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    disabled_reason TEXT,                  -- key_revoked | failing
    last_attempt_at BIGINT,
    last_status_code BIGINT,
    last_error TEXT,
    failing_since BIGINT                   -- first failed attempt since the last success
);
CREATE INDEX hooks_workspace ON hooks(workspace_id, event, status);
CREATE INDEX hooks_key ON hooks(key_id);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,                   -- evt_<ULID>
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,                 -- JSON: the resource as GET returns it; never a secret
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_workspace ON webhook_events(workspace_id, id);

CREATE TABLE webhook_deliveries (
    hook_id TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,                -- written before its event row, in the same transaction
    workspace_id TEXT NOT NULL,
    state TEXT NOT NULL,                   -- pending | delivered | given_up | skipped
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,                      -- the claim of the worker attempting it
    lease_until BIGINT,                    -- after this, another worker may take it over
    last_attempt_at BIGINT,
    last_status_code BIGINT,
    last_error TEXT,
    last_duration_ms BIGINT,
    PRIMARY KEY (hook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX webhook_deliveries_lease ON webhook_deliveries(lease_owner);

CREATE TABLE webhook_attempts (
    hook_id TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (hook_id, event_id, attempt)
);
