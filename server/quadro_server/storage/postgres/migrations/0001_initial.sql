-- Boards, tasks, the event log, agents, data, idempotency records and leases.
-- Times are microseconds since the Unix epoch (UTC), as BIGINT. Columns mirror the
-- SQLite schema, so both stores share one mapping between rows and records.

CREATE TABLE boards (
    board_id      TEXT PRIMARY KEY,
    spec          TEXT NOT NULL,      -- JSON: display name, profiles, rules, default profile
    scope         TEXT NOT NULL,
    create_time   BIGINT NOT NULL,
    -- The last event's sequence and time. Writers lock this row to append events, which
    -- is what makes sequences gapless and in commit order across replicas.
    head_sequence BIGINT NOT NULL DEFAULT 0,
    head_time     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX boards_in_order ON boards (create_time, board_id);

CREATE TABLE tasks (
    board_id              TEXT NOT NULL REFERENCES boards (board_id),
    task_id               TEXT NOT NULL,
    created_sequence      BIGINT NOT NULL,
    task_type             TEXT NOT NULL,
    label                 TEXT NOT NULL,
    priority              INTEGER NOT NULL,
    status                TEXT NOT NULL,
    profile               TEXT NOT NULL,
    assigned_to           TEXT NOT NULL,
    output                TEXT NOT NULL,
    notes                 TEXT NOT NULL,  -- JSON array
    labels                TEXT NOT NULL,  -- JSON object
    context_snapshot_hash TEXT NOT NULL,
    attempt               BIGINT NOT NULL,
    version               BIGINT NOT NULL,
    archived              INTEGER NOT NULL,
    heartbeat_time        BIGINT,
    create_time           BIGINT NOT NULL,
    update_time           BIGINT NOT NULL,
    archive_time          BIGINT,
    scope                 TEXT NOT NULL,
    parent_task           TEXT NOT NULL,
    origin_task           TEXT NOT NULL,
    PRIMARY KEY (board_id, task_id)
);
CREATE UNIQUE INDEX tasks_listed ON tasks (board_id, archived, created_sequence);
CREATE INDEX tasks_by_status ON tasks (board_id, status, created_sequence);
CREATE INDEX tasks_by_assignee ON tasks (board_id, assigned_to, created_sequence);
CREATE INDEX tasks_by_type ON tasks (board_id, task_type, created_sequence);

CREATE TABLE events (
    board_id    TEXT NOT NULL,
    sequence    BIGINT NOT NULL,
    task_id     TEXT NOT NULL,
    task_type   TEXT NOT NULL,
    type        TEXT NOT NULL,
    agent       TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    payload     TEXT NOT NULL,  -- JSON object
    request_id  TEXT NOT NULL,
    principal   TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    attempt     BIGINT NOT NULL,
    scope       TEXT NOT NULL,
    PRIMARY KEY (board_id, sequence)
);
CREATE INDEX events_by_task ON events (board_id, task_id, sequence);
CREATE INDEX events_by_agent ON events (board_id, agent, sequence);

-- The event log is immutable: the database itself refuses to change or remove an event.
CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is immutable';
END;
$$;
CREATE TRIGGER events_are_immutable BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
CREATE TRIGGER events_are_never_truncated BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

CREATE TABLE agents (
    board_id       TEXT NOT NULL REFERENCES boards (board_id),
    agent_id       TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    capabilities   TEXT NOT NULL,  -- JSON array
    version        TEXT NOT NULL,
    concurrency    INTEGER NOT NULL,
    active_tasks   INTEGER NOT NULL,
    register_time  BIGINT NOT NULL,
    last_seen_time BIGINT NOT NULL,
    scope          TEXT NOT NULL,
    PRIMARY KEY (board_id, agent_id)
);
CREATE INDEX agents_in_order ON agents (board_id, register_time, agent_id);

CREATE TABLE data (
    board_id    TEXT NOT NULL REFERENCES boards (board_id),
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,  -- JSON
    update_time BIGINT NOT NULL,
    PRIMARY KEY (board_id, key)
);

CREATE TABLE requests (
    id          BIGSERIAL PRIMARY KEY,
    request_id  TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    result      TEXT NOT NULL,  -- JSON of the first answer
    create_time BIGINT NOT NULL
);
CREATE INDEX requests_by_age ON requests (create_time);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
