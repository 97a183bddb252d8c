-- Studies and their transcripts: the product data /v1 serves.
-- Every row carries its workspace so every query can be scoped by it.
-- Ids are prefix + ULID (std_…, trn_…): ORDER BY id DESC is newest first.
CREATE TABLE studies (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX studies_workspace ON studies(workspace_id, id);

CREATE TABLE transcripts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    participant_name TEXT NOT NULL,
    participant_email TEXT,
    language TEXT NOT NULL,
    segments TEXT NOT NULL,                -- JSON array of {speaker, start_ms, end_ms, text}
    created_at BIGINT NOT NULL
);
CREATE INDEX transcripts_workspace ON transcripts(workspace_id, id);
CREATE INDEX transcripts_study ON transcripts(workspace_id, study_id, id);
