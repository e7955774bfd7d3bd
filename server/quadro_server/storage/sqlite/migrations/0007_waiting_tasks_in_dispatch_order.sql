-- The tasks waiting for an agent, in dispatch order (priority, then posted): a Chief
-- reads the head of its backlog every cycle, and without this index each read sorted
-- every waiting task of the board. Only waiting tasks are indexed, so a task costs the
-- index one entry, when it starts waiting, whatever its history. Listings in dispatch
-- order repeat this condition word for word (storage/base.py), which is how both
-- databases know that the index holds every row they ask for.
CREATE INDEX tasks_waiting ON tasks (board_id, priority, created_sequence)
    WHERE archived = 0 AND status IN ('UNASSIGNED', 'PENDING_REVIEW', 'REVISION_NEEDED', 'STALE');
