-- Lineage: the task a task was handed off to (empty: none), and a task's children found
-- by their parent. Only tasks with a parent are indexed: root tasks, most of them, cost
-- their writes nothing more.
ALTER TABLE tasks ADD COLUMN successor_task TEXT NOT NULL DEFAULT '';
CREATE INDEX tasks_by_parent ON tasks (parent_task, create_time) WHERE parent_task <> '';
