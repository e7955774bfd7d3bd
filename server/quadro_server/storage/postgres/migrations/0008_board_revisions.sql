-- How many transactions have written a board's tasks, agents or data. Every batch that
-- writes them holds the board's row locked and moves this on, so a replica that finds
-- the revision its own last commit left knows that no one else has written the board
-- since: the rows it kept of that commit are still the rows in the table.
ALTER TABLE boards ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
