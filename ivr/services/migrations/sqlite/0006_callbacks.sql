-- Callbacks: a promise to call a customer back, its dial attempts, and the do-not-call list.
-- A request keeps the place its caller had in the queue (priority, entered_at) and is served
-- in turn; every dial is an attempt row, whatever came of it.
-- Same logical schema as postgresql/0006_callbacks.sql.
CREATE TABLE callbacks (
    id              TEXT PRIMARY KEY,
    queue           TEXT NOT NULL,
    number          TEXT NOT NULL,
    caller          TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL DEFAULT '',
    priority        INTEGER NOT NULL DEFAULT 0,
    entered_at      TIMESTAMPTZ NOT NULL,
    orig_position   INTEGER NOT NULL DEFAULT 1,
    source          TEXT NOT NULL,
    message_id      TEXT NOT NULL DEFAULT '',
    timezone        TEXT NOT NULL,
    state           TEXT NOT NULL,
    outcome         TEXT NOT NULL DEFAULT '',
    not_before      TIMESTAMPTZ,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    agent_id        TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX callbacks_state ON callbacks (state, next_attempt_at);

CREATE TABLE callback_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id  TEXT NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ NOT NULL,
    result       TEXT NOT NULL,
    agent_id     TEXT NOT NULL DEFAULT '',
    channel_id   TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX callback_attempts_callback ON callback_attempts (callback_id, attempt);

CREATE TABLE callback_dnc (
    number    TEXT PRIMARY KEY,
    reason    TEXT NOT NULL DEFAULT '',
    added_at  TIMESTAMPTZ NOT NULL
);
