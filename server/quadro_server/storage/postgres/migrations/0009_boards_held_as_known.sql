-- Lock boards (given in key order) for a batch decided on what the replica's batches in
-- flight leave, and check that each is as the batch was decided on: its revision, head
-- sequence and head time. If one is not, someone else wrote the board, or a batch
-- before this one did not commit, and the transaction fails (serialization_failure)
-- before it writes anything.
CREATE FUNCTION quadro_hold_boards(
    board_ids TEXT[], revisions BIGINT[], heads BIGINT[], head_times BIGINT[]
) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    found boards%ROWTYPE;
BEGIN
    FOR i IN 1 .. coalesce(array_length(board_ids, 1), 0) LOOP
        SELECT * INTO found FROM boards WHERE board_id = board_ids[i] FOR UPDATE;
        IF found.revision IS DISTINCT FROM revisions[i]
            OR found.head_sequence IS DISTINCT FROM heads[i]
            OR found.head_time IS DISTINCT FROM head_times[i] THEN
            RAISE EXCEPTION 'board % is not as this batch was decided on', board_ids[i]
                USING ERRCODE = 'serialization_failure';
        END IF;
    END LOOP;
END;
$$;
