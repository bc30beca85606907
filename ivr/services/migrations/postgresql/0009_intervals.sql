-- Per-interval KPI summaries (services/acd/intervals.py): one row per queue and 15 minutes,
-- added to as queue_log events are written, so a wallboard sums a day's rows instead of
-- replaying its queue log. Same logical schema as sqlite/0009_intervals.sql.
CREATE TABLE acd_intervals (
    queue            TEXT NOT NULL,
    start            DOUBLE PRECISION NOT NULL,
    offered          INTEGER NOT NULL DEFAULT 0,
    answered         INTEGER NOT NULL DEFAULT 0,
    answered_in_time INTEGER NOT NULL DEFAULT 0,
    abandoned        INTEGER NOT NULL DEFAULT 0,
    short_abandoned  INTEGER NOT NULL DEFAULT 0,
    timed_out        INTEGER NOT NULL DEFAULT 0,
    exited_other     INTEGER NOT NULL DEFAULT 0,
    handled          INTEGER NOT NULL DEFAULT 0,
    hold_sum         DOUBLE PRECISION NOT NULL DEFAULT 0,
    handle_sum       DOUBLE PRECISION NOT NULL DEFAULT 0,
    longest_wait     DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, start)
);
