-- The ACD's state that must survive a restart: agents, the callers in the queues, and the
-- queue log (Asterisk queue_log events, the raw material of the queue KPIs).
-- Same logical schema as sqlite/0003_acd.sql.
CREATE TABLE acd_agents (
    agent_id       TEXT PRIMARY KEY,
    state          TEXT NOT NULL CHECK (state IN ('logged_out', 'available', 'ringing',
                                                  'on_call', 'wrap_up', 'paused')),
    pause_reason   TEXT NOT NULL DEFAULT '',
    state_since    TIMESTAMPTZ NOT NULL,
    logged_in_at   TIMESTAMPTZ,
    idle_since     TIMESTAMPTZ,
    calls_taken    INTEGER NOT NULL DEFAULT 0,
    missed_in_row  INTEGER NOT NULL DEFAULT 0
);

-- Callers waiting or being served; seq breaks ties in arrival order (one sequence for all
-- queues, so an entry moved to another queue keeps its place by arrival).
CREATE TABLE acd_entries (
    channel_id     TEXT PRIMARY KEY,
    queue          TEXT NOT NULL,
    priority       INTEGER NOT NULL,
    entered_at     TIMESTAMPTZ NOT NULL,
    seq            INTEGER NOT NULL,
    caller         TEXT NOT NULL DEFAULT '',
    language       TEXT NOT NULL DEFAULT '',
    flow           TEXT NOT NULL DEFAULT '',
    node           TEXT NOT NULL DEFAULT '',
    variables      TEXT NOT NULL DEFAULT '{}',
    orig_position  INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('waiting', 'ringing', 'connected')),
    agent_id       TEXT,
    agent_channel  TEXT,
    bridge_id      TEXT,
    connected_at   TIMESTAMPTZ
);
CREATE INDEX acd_entries_queue ON acd_entries (queue, priority, seq);

-- time: seconds since the epoch (as Asterisk writes it); data: the data fields joined by '|'.
CREATE TABLE acd_queue_log (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time     DOUBLE PRECISION NOT NULL,
    call_id  TEXT NOT NULL,
    queue    TEXT NOT NULL,
    agent    TEXT NOT NULL,
    event    TEXT NOT NULL,
    data     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX acd_queue_log_time ON acd_queue_log (time);
CREATE INDEX acd_queue_log_queue ON acd_queue_log (queue, time);
