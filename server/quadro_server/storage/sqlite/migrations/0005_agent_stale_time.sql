-- When a task of an agent was last declared STALE (0: never): an agent not seen since
-- is OFFLINE.
ALTER TABLE agents ADD COLUMN stale_time BIGINT NOT NULL DEFAULT 0;
