-- The voicemail index: one row per message, its audio a file under the store's root
-- (file: the path relative to the root, '<mailbox>/<id>.wav'). The store writes the file and
-- the row in one step, so neither exists without the other.
-- Same logical schema as postgresql/0004_voicemail.sql.
CREATE TABLE voicemail_messages (
    id          TEXT PRIMARY KEY,
    mailbox     TEXT NOT NULL,
    caller      TEXT NOT NULL DEFAULT '',
    language    TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    duration_s  DOUBLE PRECISION NOT NULL,
    heard       BOOLEAN NOT NULL DEFAULT FALSE,
    heard_at    TIMESTAMPTZ,
    file        TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    call_id     TEXT NOT NULL DEFAULT '',
    queue       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX voicemail_messages_mailbox ON voicemail_messages (mailbox, created_at);
CREATE INDEX voicemail_messages_created ON voicemail_messages (created_at);
