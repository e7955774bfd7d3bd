-- Keys compare byte by byte. Under a database's default collation (en_US.UTF-8,
-- C.UTF-8, ...) every comparison of a TEXT key in an index goes through the C library's
-- locale-aware strcoll, and a batch makes thousands of them (each row it inserts
-- descends several indexes). The "C" collation compares bytes: what SQLite does for
-- these columns, and for UTF-8 the order of code points. Ids and names are what they
-- are spelled as; no listing orders them for a reader by language rules.
ALTER TABLE boards ALTER COLUMN board_id TYPE TEXT COLLATE "C";
ALTER TABLE tasks
    ALTER COLUMN board_id TYPE TEXT COLLATE "C",
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN status TYPE TEXT COLLATE "C",
    ALTER COLUMN parent_task TYPE TEXT COLLATE "C";
ALTER TABLE events
    ALTER COLUMN board_id TYPE TEXT COLLATE "C",
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN agent TYPE TEXT COLLATE "C";
ALTER TABLE agents
    ALTER COLUMN board_id TYPE TEXT COLLATE "C",
    ALTER COLUMN agent_id TYPE TEXT COLLATE "C";
ALTER TABLE data
    ALTER COLUMN board_id TYPE TEXT COLLATE "C",
    ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE requests ALTER COLUMN request_id TYPE TEXT COLLATE "C";
ALTER TABLE leases ALTER COLUMN name TYPE TEXT COLLATE "C";
