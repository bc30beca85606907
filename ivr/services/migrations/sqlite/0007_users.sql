-- People who use the web console and the REST API: users with one role each, their API tokens,
-- their browser sessions, and every login attempt (the rate limit counts failures from here).
-- Secrets are stored hashed only: passwords with scrypt (like PINs), tokens and session ids
-- (random, 256 bits) with SHA-256. Same logical schema as postgresql/0007_users.sql.
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    agent_id      TEXT NOT NULL DEFAULT '',
    queues        TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    token_hash   TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    label        TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (user_name);

CREATE TABLE web_sessions (
    session_hash TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_name);

CREATE TABLE login_attempts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name TEXT NOT NULL,
    remote    TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    ok        BOOLEAN NOT NULL
);
CREATE INDEX login_attempts_user ON login_attempts (user_name, at);
CREATE INDEX login_attempts_remote ON login_attempts (remote, at);
