-- Idempotency records move to a rowid table: records are appended in time order, and
-- only the small (request_id -> id) index takes inserts at random places, instead of
-- the whole ~300-byte record.

CREATE TABLE requests_in_order (
    id          INTEGER PRIMARY KEY,
    request_id  TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    result      TEXT NOT NULL,  -- JSON of the first answer
    create_time INTEGER NOT NULL
);
INSERT INTO requests_in_order (request_id, fingerprint, result, create_time)
    SELECT request_id, fingerprint, result, create_time FROM requests ORDER BY create_time;
DROP TABLE requests;
ALTER TABLE requests_in_order RENAME TO requests;
CREATE INDEX requests_by_age ON requests (create_time);
