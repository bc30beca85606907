-- Outbound campaigns: the contacts imported for each campaign, every attempt to dial one, the
-- imports themselves (so a re-import is recognised), the campaigns' own do-not-call lists and
-- the national list with its date. A contact is unique per campaign and number: importing the
-- same row twice adds it once. The internal do-not-call list stays callback_dnc (one list for
-- every dial). Campaign definitions are data (flows/campaigns.yaml), not rows.
-- Same logical schema as sqlite/0011_outbound.sql.
CREATE TABLE outbound_imports (
    id          TEXT PRIMARY KEY,
    campaign    TEXT NOT NULL,
    file        TEXT NOT NULL DEFAULT '',
    sha256      TEXT NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL,
    rows_read   INTEGER NOT NULL,
    added       INTEGER NOT NULL,
    present     INTEGER NOT NULL,
    rejected    INTEGER NOT NULL
);

CREATE TABLE outbound_contacts (
    id              TEXT PRIMARY KEY,
    campaign        TEXT NOT NULL,
    number          TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    language        TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL DEFAULT '',
    fields          TEXT NOT NULL DEFAULT '{}',
    consent_at      TIMESTAMPTZ,
    night_consent   BOOLEAN NOT NULL DEFAULT FALSE,
    state           TEXT NOT NULL,
    outcome         TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    agent_id        TEXT NOT NULL DEFAULT '',
    import_id       TEXT NOT NULL,
    line            INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (campaign, number)
);
CREATE INDEX outbound_contacts_due ON outbound_contacts (campaign, state, next_attempt_at);

CREATE TABLE outbound_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id   TEXT NOT NULL REFERENCES outbound_contacts (id) ON DELETE CASCADE,
    campaign     TEXT NOT NULL,
    number       TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    answered_at  TIMESTAMPTZ,
    connected_at TIMESTAMPTZ,
    ended_at     TIMESTAMPTZ NOT NULL,
    result       TEXT NOT NULL,
    reasons      TEXT NOT NULL DEFAULT '',
    amd_status   TEXT NOT NULL DEFAULT '',
    amd_cause    TEXT NOT NULL DEFAULT '',
    agent_id     TEXT NOT NULL DEFAULT '',
    disposition  TEXT NOT NULL DEFAULT '',
    channel_id   TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbound_attempts_number ON outbound_attempts (number, started_at);
CREATE INDEX outbound_attempts_campaign ON outbound_attempts (campaign, started_at);

CREATE TABLE outbound_dnc (
    campaign  TEXT NOT NULL,
    number    TEXT NOT NULL,
    reason    TEXT NOT NULL DEFAULT '',
    added_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (campaign, number)
);

CREATE TABLE outbound_national_lists (
    id          TEXT PRIMARY KEY,
    list_date   DATE NOT NULL,
    source      TEXT NOT NULL DEFAULT '',
    numbers     INTEGER NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE outbound_national_dnc (
    number  TEXT PRIMARY KEY
);
