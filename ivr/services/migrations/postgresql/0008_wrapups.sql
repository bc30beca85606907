-- After-call work: the disposition an agent gives a call and its notes, one row per call,
-- kept beside the call record (which is written when the call ends, often before the agent
-- is done). Same logical schema as sqlite/0008_wrapups.sql.
CREATE TABLE call_wrapups (
    call_id     TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    disposition TEXT NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    caller      TEXT NOT NULL DEFAULT '',
    saved_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX call_wrapups_caller ON call_wrapups (caller, saved_at);
