-- The task's etag after each event, so that a follower of the log can move a task it
-- knows only from its events (a Chief between reads). Events written before this have
-- none: the log is immutable, and those who need an etag read the task.
ALTER TABLE events ADD COLUMN etag TEXT NOT NULL DEFAULT '';
