"""Rows written for a task or an agent that changed: its key and what changed, stored
as a full row stores it."""

from __future__ import annotations

from quadro_server.core.records import AgentRecord, TaskRecord, evolve
from quadro_server.storage import rows

POSTED = TaskRecord(
    board_id="b", task_id="t1", task_type="noop", label="x", priority=5,
    status="UNASSIGNED", profile="fast", assigned_to="", output="", notes=(), labels={},
    context_snapshot_hash="", attempt=0, version=1, archived=False, heartbeat_time=None,
    create_time=10, update_time=10, archive_time=None, scope="", parent_task="",
    origin_task="boards/b/tasks/t1", created_sequence=1,
)  # fmt: skip


def test_a_move_writes_its_key_and_the_columns_it_changed() -> None:
    moved = evolve(POSTED, status="IN_PROGRESS", assigned_to="w1", version=2, update_time=11)
    row, changed = rows.task_update(moved, POSTED)
    assert changed == ("status", "assigned_to", "version", "update_time")
    assert row == {
        "board_id": "b", "task_id": "t1", "status": "IN_PROGRESS", "assigned_to": "w1",
        "version": 2, "update_time": 11,
    }  # fmt: skip


def test_changed_columns_are_stored_as_a_full_row_stores_them() -> None:
    changed_task = evolve(POSTED, notes=("first",), labels={"k": "v"}, archived=True)
    row, changed = rows.task_update(changed_task, POSTED)
    full = rows.task_to_row(changed_task)
    assert set(changed) == {"notes", "labels", "archived"}
    assert row == {c: full[c] for c in ("board_id", "task_id", *changed)}
    assert (row["archived"], row["notes"]) == (1, '["first"]')


def test_a_task_not_known_before_is_written_whole() -> None:
    row, changed = rows.task_update(POSTED, None)
    assert changed == rows.TASK_COLUMNS
    assert row == rows.task_to_row(POSTED)
    assert rows.task_update(POSTED, POSTED) == ({"board_id": "b", "task_id": "t1"}, ())


def test_an_agent_update_writes_its_key_and_encodes_its_lists_as_a_full_row_does() -> None:
    agent = AgentRecord(
        board_id="b", agent_id="w1", display_name="", capabilities=("a*",), version="",
        concurrency=4, active_tasks=0, register_time=1, last_seen_time=1, scope="",
    )  # fmt: skip
    busier = evolve(agent, active_tasks=2, capabilities=("a*", "b"))
    row, changed = rows.agent_update(busier, agent)
    assert set(changed) == {"active_tasks", "capabilities"}
    full = rows.agent_to_row(busier)
    assert row == {c: full[c] for c in ("board_id", "agent_id", *changed)}
    assert row["capabilities"] == '["a*","b"]'
    assert rows.agent_update(busier, None) == (full, rows.AGENT_COLUMNS)
