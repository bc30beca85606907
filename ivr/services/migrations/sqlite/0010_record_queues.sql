-- The queues a call went through, kept with its record (',general,billing,': every name
-- between commas, so one LIKE finds a queue's calls in SQLite and PostgreSQL alike): a
-- supervisor sees the records of its own queues' calls only. Records from before this
-- migration went through no queue as far as it knows (only admin and reporting see them).
ALTER TABLE call_records ADD COLUMN queues TEXT NOT NULL DEFAULT '';
