-- A notification (e.g. an auto-revocation banner) one admin has dismissed:
-- per user, so every other admin still sees it. Goes with its notification.
CREATE TABLE notification_dismissals (
    notification_id TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    PRIMARY KEY (notification_id, user_id)
);
