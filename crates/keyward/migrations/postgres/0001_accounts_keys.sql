-- Accounts, sessions, API keys and the audit log.
-- Times are unix milliseconds (BIGINT) so the same SQL runs on SQLite and PostgreSQL.
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan TEXT NOT NULL,
    rpm_override BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,            -- stored lowercased: unique case-insensitively
    password_hash TEXT NOT NULL,           -- argon2id PHC string
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,           -- SHA-256 of the cookie token; the token itself is never stored
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last4 TEXT NOT NULL,
    key_hash BYTEA NOT NULL UNIQUE,         -- SHA-256 of the full secret: the only trace of it
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    last_used_at BIGINT,
    last_used_ip TEXT,
    revoked_at BIGINT,
    revoked_by TEXT,                       -- a user id, 'support' (CLI) or 'system'
    revoke_reason TEXT,                    -- 'manual', 'auto_error_rate'
    allowed_cidrs TEXT NOT NULL DEFAULT '' -- canonical CIDRs, comma-separated; empty = any source
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id, id);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,                   -- aud_<ULID>: sorts by time
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    key_id TEXT,
    details TEXT NOT NULL                  -- JSON object; never a secret
);
CREATE INDEX audit_log_workspace ON audit_log(workspace_id, id);
