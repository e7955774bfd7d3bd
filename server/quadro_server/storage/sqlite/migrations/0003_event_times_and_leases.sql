-- The time of each board's last event, so that event times never decrease along a
-- board's log (even if the clock steps back across a restart); and leases for the
-- singleton background jobs.

ALTER TABLE boards ADD COLUMN head_time INTEGER NOT NULL DEFAULT 0;
UPDATE boards SET head_time = coalesce(
    (SELECT max(create_time) FROM events WHERE events.board_id = boards.board_id), 0);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
