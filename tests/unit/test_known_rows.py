"""What a PostgreSQL replica keeps of its own commits: taken only for the boards asked,
dropped board by board, bounded, and never an absence."""

from __future__ import annotations

from quadro_server.core.records import TaskRecord, evolve
from quadro_server.storage.overlay import Keys, Loaded, Overlay
from quadro_server.storage.postgres.known_rows import ROW_LIMIT, KnownRows, task_size


def task(board: str, task_id: str, version: int = 1) -> TaskRecord:
    return TaskRecord(board, task_id, "t", "l", 5, "UNASSIGNED", "fast", "", "", (), {}, "",
                      0, version, False, None, 0, 0, None, "", "", "", 1)  # fmt: skip


def committed(known: KnownRows, revisions: dict[str, int], *tasks: TaskRecord) -> None:
    """A commit that read nothing and posted `tasks`."""
    overlay = Overlay(Loaded(), [])
    for t in tasks:
        overlay.insert_task(t)
    known.learn(revisions, overlay)


def test_kept_rows_are_taken_for_the_boards_asked_and_the_rest_is_read() -> None:
    known = KnownRows()
    committed(known, {"a": 4, "b": 7}, task("a", "x"), task("b", "y"))
    assert known.revision("a") == 4
    assert known.revision("b") == 7
    loaded = Loaded()
    keys = Keys(boards={"a", "b"}, tasks={("a", "x"), ("b", "y"), ("a", "new")})
    rest = known.take(keys, loaded, {"a"})
    assert loaded.tasks == {("a", "x"): task("a", "x")}
    assert rest.tasks == {("b", "y"), ("a", "new")}  # b not trusted; an absence not kept
    assert rest.boards == {"a", "b"}


def test_a_commit_keeps_what_it_wrote_over_what_it_read() -> None:
    known = KnownRows()
    loaded = Loaded(tasks={("a", "x"): task("a", "x", 1), ("a", "gone"): None})
    overlay = Overlay(loaded, [])
    overlay.update_task(task("a", "x", 2), task("a", "x", 1))
    known.learn({"a": 1}, overlay)
    found = Loaded()
    known.take(Keys(tasks={("a", "x"), ("a", "gone")}), found, {"a"})
    assert found.tasks == {("a", "x"): task("a", "x", 2)}


def test_rows_of_boards_not_held_are_not_kept() -> None:
    known = KnownRows()
    committed(known, {"a": 1}, task("a", "x"), task("other", "z"))
    found = Loaded()
    known.take(Keys(tasks={("other", "z")}), found, {"a", "other"})
    assert found.tasks == {}
    assert known.revision("other") is None


def test_forgetting_a_board_drops_its_rows_and_revision_only() -> None:
    known = KnownRows()
    committed(known, {"a": 1, "b": 1}, task("a", "x"), task("b", "y"))
    known.forget(["a"])
    assert known.revision("a") is None
    assert known.revision("b") == 1
    found = Loaded()
    known.take(Keys(tasks={("a", "x"), ("b", "y")}), found, {"a", "b"})
    assert list(found.tasks) == [("b", "y")]


def test_the_rows_written_least_recently_go_first() -> None:
    known = KnownRows(budget=3 * task_size(task("a", "0")))
    committed(known, {"a": 1}, *(task("a", str(i)) for i in range(3)))
    committed(known, {"a": 2}, task("a", "0", 2), task("a", "3"))  # 0 written again
    found = Loaded()
    known.take(Keys(tasks={("a", str(i)) for i in range(4)}), found, {"a"})
    assert sorted(k for _, k in found.tasks) == ["0", "2", "3"]
    assert found.tasks[("a", "0")] == task("a", "0", 2)


def test_a_large_row_is_read_back_rather_than_kept() -> None:
    known = KnownRows()
    large = evolve(task("a", "big"), output="x" * ROW_LIMIT)
    committed(known, {"a": 1}, large, task("a", "small"))
    found = Loaded()
    rest = known.take(Keys(tasks={("a", "big"), ("a", "small")}), found, {"a"})
    assert rest.tasks == {("a", "big")}
    assert known.tasks.used == task_size(task("a", "small"))
