-- Mailboxes a person dials into to hear their messages (extension 102): the digits keyed for
-- the mailbox and its PIN as a salted scrypt hash (never the PIN). Consecutive wrong PINs are
-- counted with the mailbox, and a mailbox locks until `locked_until` at the limit, so neither
-- an app restart nor a new call resets them. The messages themselves stay in
-- voicemail_messages, keyed by the mailbox name.
-- Same logical schema as postgresql/0005_voicemail_mailboxes.sql.
CREATE TABLE voicemail_mailboxes (
    mailbox         TEXT PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    pin_hash        TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
