-- Which outbound campaigns are running: a supervisor starts and stops a campaign (REST), and a
-- restarted service goes on dialling the ones that were running. A campaign with no row has
-- never been started. Same logical schema in both dialects.
CREATE TABLE outbound_runs (
    campaign    TEXT PRIMARY KEY,
    running     BOOLEAN NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL,
    changed_by  TEXT NOT NULL DEFAULT ''
);
