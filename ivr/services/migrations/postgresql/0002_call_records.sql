-- One row per call, upserted as the call goes on: the raw material of the KPIs
-- (containment per flow and per last node). Same logical schema as sqlite/0002.
CREATE TABLE call_records (
    call_id       TEXT PRIMARY KEY,
    flow          TEXT NOT NULL,
    flow_version  TEXT NOT NULL DEFAULT '',
    caller        TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    started_at    TIMESTAMPTZ NOT NULL,
    answered_at   TIMESTAMPTZ,
    ended_at      TIMESTAMPTZ,
    path          TEXT NOT NULL DEFAULT '[]',
    last_node     TEXT,
    keys_pressed  TEXT NOT NULL DEFAULT '',
    outcome       TEXT CHECK (outcome IN ('self_served', 'queue', 'voicemail', 'callback',
                                          'transfer', 'abandoned', 'error', 'completed')),
    hangup_by     TEXT,
    ring_s        DOUBLE PRECISION,
    ivr_s         DOUBLE PRECISION,
    total_s       DOUBLE PRECISION
);
CREATE INDEX call_records_started ON call_records (started_at);
CREATE INDEX call_records_flow ON call_records (flow, started_at);
