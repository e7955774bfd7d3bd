"""Tasks over the wire: posting, compare-and-set, fencing, results, idempotent retries,
archiving, lineage fields and listings."""

from __future__ import annotations

import threading
import time

import pytest

import quadro
from quadro import errors
from quadro.v1 import event_pb2
from support.server import ServerProcess


@pytest.fixture
def worker(client: quadro.Client, board: str) -> str:
    client.register_agent(board, "worker-1", concurrency=100)
    return "worker-1"


def test_post_generates_short_ids_and_defaults(client: quadro.Client, board: str) -> None:
    response = client.post_task(board, "claim_intake", "Validate claim", notes=["from web"],
                                labels={"region": "north"})  # fmt: skip
    task = response.task
    task_id = quadro.names.last_segment(task.name)
    assert len(task_id) == 5
    assert task_id.isalnum()
    assert task_id == task_id.lower()
    assert (task.status, task.priority, task.profile) == ("UNASSIGNED", 5, "review_required")
    assert list(task.notes) == ["from web"]
    assert dict(task.labels) == {"region": "north"}
    assert task.origin_task == task.name
    assert quadro.event_type_name(response.event.type) == "task_posted"
    assert response.event.task == task.name


def test_caller_supplied_id_and_duplicates(client: quadro.Client, board: str) -> None:
    task = client.post_task(board, "t", "first", task_id="CLM-1042.a").task
    assert task.name == f"boards/{board}/tasks/CLM-1042.a"
    with pytest.raises(errors.AlreadyExists) as caught:
        client.post_task(board, "t", "second", task_id="CLM-1042.a")
    assert caught.value.reason == "TASK_EXISTS"


def test_parent_and_origin(client: quadro.Client, board: str, board_id: str) -> None:
    root = client.post_task(board, "t", "root").task
    child = client.post_task(board, "t", "child", parent_task=root.name).task
    grandchild = client.post_task(board, "t", "grandchild", parent_task=child.name).task
    assert (child.parent_task, child.origin_task) == (root.name, root.name)
    assert (grandchild.parent_task, grandchild.origin_task) == (child.name, root.name)
    with pytest.raises(errors.NotFound):
        client.post_task(board, "t", "orphan", parent_task=f"boards/{board_id}/tasks/nope")


def test_compare_and_set_on_status_and_etag(client: quadro.Client, board: str, worker: str) -> None:
    task = client.post_task(board, "t", "cas").task
    with pytest.raises(errors.CompareAndSetFailed) as wrong_status:
        client.transition_task(task.name, "IN_PROGRESS", assignee=worker,
                               expected_status="STALE")  # fmt: skip
    assert wrong_status.value.reason == "STATUS_MISMATCH"
    moved = client.transition_task(task.name, "IN_PROGRESS", assignee=worker, etag=task.etag).task
    assert moved.etag != task.etag
    with pytest.raises(errors.CompareAndSetFailed) as stale_etag:
        client.transition_task(task.name, "PENDING_REVIEW", etag=task.etag)
    assert stale_etag.value.reason == "ETAG_MISMATCH"
    assert stale_etag.value.metadata["current_etag"] == moved.etag


def test_attempt_fencing(client: quadro.Client, board: str, worker: str) -> None:
    """A worker whose attempt was superseded can neither heartbeat nor finish the task."""
    task = client.post_task(board, "t", "fenced").task.name
    first = client.transition_task(task, "IN_PROGRESS", assignee=worker).task.attempt
    client.transition_task(task, "STALE")
    client.transition_task(task, "UNASSIGNED")
    second = client.transition_task(task, "IN_PROGRESS", assignee=worker).task.attempt
    assert second == first + 1
    with pytest.raises(errors.CompareAndSetFailed) as zombie:
        client.post_result(task, "late", agent=worker, attempt=first)
    assert zombie.value.reason == "STALE_ATTEMPT"
    with pytest.raises(errors.CompareAndSetFailed):
        client.heartbeat(board, worker, task=task, attempt=first)
    assert client.post_result(task, "on time", agent=worker, attempt=second).task.status == (
        "PENDING_REVIEW"
    )


def test_a_stale_attempt_cannot_heartbeat_before_reassignment(
    client: quadro.Client, board: str, worker: str
) -> None:
    """Declared STALE, a task keeps its assignee and attempt on record, but a heartbeat
    from that attempt is refused and changes nothing: the task must not look alive."""
    task = client.post_task(board, "t", "stalled").task.name
    attempt = client.transition_task(task, "IN_PROGRESS", assignee=worker).task.attempt
    stale = client.transition_task(task, "STALE").task
    assert (stale.assigned_to, stale.attempt) == (worker, attempt)
    with pytest.raises(errors.CompareAndSetFailed) as late:
        client.heartbeat(board, worker, task=task, attempt=attempt)
    assert late.value.reason == "STALE_ATTEMPT"
    assert late.value.metadata["current_status"] == "STALE"
    after = client.get_task(task).task
    assert after.etag == stale.etag
    assert not after.HasField("heartbeat_time")
    assert [e.type for e in client.task_history(task)][-1] == event_pb2.EVENT_TYPE_TASK_STALE


def test_a_task_heard_of_recently_is_not_declared_stale(
    client: quadro.Client, board: str, worker: str
) -> None:
    """The liveness compare-and-set judges quiet by the server's clock: a heartbeat
    within the period keeps the task; a quiet task moves."""
    task = client.post_task(board, "t", "watched").task.name
    attempt = client.transition_task(task, "IN_PROGRESS", assignee=worker).task.attempt
    time.sleep(0.3)
    client.heartbeat(board, worker, task=task, attempt=attempt)
    with pytest.raises(errors.CompareAndSetFailed) as alive:
        client.transition_task(task, "STALE", expected_status="IN_PROGRESS", if_quiet_for=0.25)
    assert alive.value.reason == "TASK_ALIVE"
    assert client.get_task(task).task.status == "IN_PROGRESS"
    time.sleep(0.3)
    stale = client.transition_task(task, "STALE", expected_status="IN_PROGRESS", if_quiet_for=0.25)
    assert stale.task.status == "STALE"


def test_post_result_targets(client: quadro.Client, board_id: str) -> None:
    client.create_board(
        board_id,
        task_types={"quick": "fast", "custom": "ship"},
        profiles={"ship": [("UNASSIGNED", "packing"), ("packing", "shipped")]},
    )
    client.register_agent(board_id, "w", concurrency=10)
    reviewed = client.post_task(board_id, "slow", "review me").task.name
    quick = client.post_task(board_id, "quick", "no review").task.name
    custom = client.post_task(board_id, "custom", "ship it").task.name
    client.transition_task(reviewed, "IN_PROGRESS", assignee="w")
    client.transition_task(quick, "IN_PROGRESS", assignee="w")
    client.transition_task(custom, "packing", assignee="w")
    assert client.post_result(reviewed, "r").task.status == "PENDING_REVIEW"
    assert client.post_result(quick, "q").task.status == "COMPLETE"
    done = client.post_result(custom, "c", note="left the dock").task
    assert (done.status, done.output, list(done.notes)) == ("shipped", "c", ["left the dock"])
    with pytest.raises(errors.FailedPrecondition) as unassigned:
        client.post_result(client.post_task(board_id, "quick", "x").task.name, "too soon")
    assert unassigned.value.reason == "NO_RESULT_STATUS"


def test_result_from_someone_else_is_refused(
    client: quadro.Client, board: str, worker: str
) -> None:
    client.register_agent(board, "intruder")
    task = client.post_task(board, "t", "mine").task.name
    client.transition_task(task, "IN_PROGRESS", assignee=worker)
    with pytest.raises(errors.FailedPrecondition) as caught:
        client.post_result(task, "stolen", agent="intruder")
    assert caught.value.reason == "NOT_ASSIGNEE"
    assert client.get_task(task).task.status == "IN_PROGRESS"


def test_notes_append_and_output_kept(client: quadro.Client, board: str, worker: str) -> None:
    task = client.post_task(board, "t", "notes", notes=["a"]).task.name
    client.transition_task(task, "IN_PROGRESS", assignee=worker, note="b", output="draft")
    after = client.transition_task(task, "PENDING_REVIEW", note="c").task
    assert list(after.notes) == ["a", "b", "c"]
    assert after.output == "draft"
    history = client.task_history(task)
    assert [e.payload.fields["note"].string_value for e in history[1:]] == ["b", "c"]


def test_idempotent_retry_returns_first_answer(
    client: quadro.Client, board: str, worker: str
) -> None:
    first = client.post_task(board, "t", "once", request_id="post-once-1")
    again = client.post_task(board, "t", "once", request_id="post-once-1")
    assert again == first
    moved = client.transition_task(first.task.name, "IN_PROGRESS", assignee=worker,
                                   request_id="move-once-1")  # fmt: skip
    before = client.get_board(board).board.head_sequence
    retried = client.transition_task(first.task.name, "IN_PROGRESS", assignee=worker,
                                     request_id="move-once-1")  # fmt: skip
    assert retried == moved
    assert client.get_board(board).board.head_sequence == before
    assert len(client.task_history(first.task.name)) == 2
    assert client.get_agent(board, worker).agent.active_tasks == 1


def test_request_id_reused_for_another_request_is_aborted(
    client: quadro.Client, board: str
) -> None:
    client.post_task(board, "t", "first", request_id="shared-id-1")
    before = client.get_board(board).board.head_sequence
    with pytest.raises(errors.RequestIdConflict) as caught:
        client.post_task(board, "t", "different label", request_id="shared-id-1")
    assert caught.value.reason == "REQUEST_ID_CONFLICT"
    assert caught.value.code.name == "ABORTED"
    with pytest.raises(errors.RequestIdConflict):
        client.put_data(board, "k", 1, request_id="shared-id-1")
    assert client.get_board(board).board.head_sequence == before


def test_archive_only_terminal_tasks(client: quadro.Client, board: str, worker: str) -> None:
    task = client.post_task(board, "t", "archive me").task.name
    with pytest.raises(errors.FailedPrecondition) as early:
        client.archive_task(task)
    assert early.value.reason == "NOT_TERMINAL"
    client.transition_task(task, "ON_HOLD")
    archived = client.archive_task(task).task
    assert archived.archived
    assert archived.HasField("archive_time")
    assert task not in [t.name for t in client.iter_tasks(board)]
    assert client.get_task(task).task.archived
    assert [quadro.event_type_name(e.type) for e in client.task_history(task)] == [
        "task_posted",
        "task_failed",
    ]
    with pytest.raises(errors.FailedPrecondition) as frozen:
        client.transition_task(task, "HUMAN_REVIEW")
    assert frozen.value.reason == "TASK_ARCHIVED"


def test_list_filters(client: quadro.Client, board: str, worker: str) -> None:
    a = client.post_task(board, "intake_validate", "a").task.name
    b = client.post_task(board, "intake_check", "b").task.name
    c = client.post_task(board, "payment_batch", "c").task.name
    client.transition_task(b, "IN_PROGRESS", assignee=worker)

    def names(**filters: object) -> list[str]:
        return [t.name for t in client.iter_tasks(board, **filters)]  # type: ignore[arg-type]

    assert names() == [a, b, c]
    assert names(task_types=["intake_*"]) == [a, b]
    assert names(task_types=["payment_batch", "intake_v*"]) == [a, c]
    assert names(statuses=["IN_PROGRESS"]) == [b]
    assert names(statuses=["UNASSIGNED"], task_types=["intake_*"]) == [a]
    assert names(assigned_to=worker) == [b]


def test_pagination_is_stable_under_concurrent_posts(
    client: quadro.Client, board: str, server: ServerProcess
) -> None:
    initial = [client.post_task(board, "t", f"initial {i}").task.name for i in range(60)]
    stop = threading.Event()
    posted_meanwhile: list[str] = []

    def keep_posting() -> None:
        with quadro.Client(server.address) as other:
            while not stop.is_set():
                posted_meanwhile.append(other.post_task(board, "t", "meanwhile").task.name)

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        seen: list[str] = []
        token = ""
        while True:
            page = client.list_tasks(board, page_size=7, page_token=token)
            seen.extend(t.name for t in page.tasks)
            token = page.next_page_token
            if not token:
                break
    finally:
        stop.set()
        poster.join()
    assert len(seen) == len(set(seen)), "a task appeared on two pages"
    assert seen[: len(initial)] == initial, "the tasks posted before listing come first, in order"
    assert set(seen[len(initial) :]) <= set(posted_meanwhile)
    order = {name: i for i, name in enumerate(initial + posted_meanwhile)}
    assert [order[n] for n in seen] == sorted(order[n] for n in seen)


def test_page_token_of_another_listing_is_rejected(client: quadro.Client, board: str) -> None:
    for i in range(3):
        client.post_task(board, "t", f"{i}")
    token = client.list_tasks(board, page_size=1).next_page_token
    assert token
    with pytest.raises(errors.InvalidArgument) as caught:
        client.list_tasks(board, page_size=1, page_token=token, statuses=["COMPLETE"])
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    with pytest.raises(errors.InvalidArgument):
        client.list_tasks(board, page_token="not-a-token")


def test_listing_several_boards(client: quadro.Client, board: str) -> None:
    """Board by board in the order given, with filters, over pages of any size."""
    other, empty = f"{board}-b", f"{board}-c"
    client.create_board(other)
    client.create_board(empty)
    first = [client.post_task(board, "t", f"a{i}").task.name for i in range(3)]
    second = [client.post_task(other, "t", f"b{i}").task.name for i in range(4)]
    client.post_task(other, "skip", "filtered out")
    boards = [other, empty, board]
    for size in (1, 2, 3, 100):
        listed = [t.name for t in client.iter_tasks(boards, task_types=["t"], page_size=size)]
        assert listed == second + first, size
    page = client.list_tasks([board, other], page_size=4)
    assert [t.name for t in page.tasks] == first + second[:1]
    with pytest.raises(errors.InvalidArgument):  # a token of another listing
        client.list_tasks([other, board], page_size=4, page_token=page.next_page_token)
    with pytest.raises(errors.InvalidArgument) as twice:
        client.list_tasks([board, board])
    assert twice.value.field_violations[0][0] == "boards"
    with pytest.raises(errors.NotFound):
        client.list_tasks([board, f"{board}-nope"])


def test_status_filters_must_name_known_statuses(client: quadro.Client, board: str) -> None:
    with pytest.raises(errors.InvalidArgument) as tasks:
        client.list_tasks(board, statuses=["UNASSIGNED", "NOPE"])
    assert tasks.value.reason == "UNKNOWN_STATUS"
    assert tasks.value.field_violations[0][0] == "statuses[1]"
    with pytest.raises(errors.InvalidArgument) as events:
        client.list_events(board, statuses=["NOPE"])
    assert events.value.field_violations[0][0] == "filter.statuses[0]"


def test_page_token_positions_must_fit_64_bits(client: quadro.Client, board: str) -> None:
    import base64
    import json

    client.post_task(board, "t", "a")
    client.post_task(board, "t", "b")
    token = client.list_tasks(board, page_size=1).next_page_token
    body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body["p"] = 2**63
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    with pytest.raises(errors.InvalidArgument) as caught:
        client.list_tasks(board, page_size=1, page_token=forged)
    assert caught.value.reason == "INVALID_PAGE_TOKEN"


def test_pages_stop_before_the_message_limit(
    client: quadro.Client, board: str, worker: str
) -> None:
    big = "x" * quadro.limits.OUTPUT_MAX_BYTES
    names = []
    for i in range(20):
        task = client.post_task(board, "t", f"big {i}").task.name
        client.transition_task(task, "IN_PROGRESS", assignee=worker, output=big)
        names.append(task)
    first = client.list_tasks(board)
    assert 0 < len(first.tasks) < 20
    assert first.next_page_token
    assert [t.name for t in client.iter_tasks(board)] == names


def test_notes_are_bounded_in_bytes(client: quadro.Client, board: str, worker: str) -> None:
    wide = "\U0001f642" * quadro.limits.NOTE_MAX  # 4 bytes per character
    with pytest.raises(errors.InvalidArgument) as too_many:
        client.post_task(board, "t", "x", notes=[wide] * 40)
    assert too_many.value.field_violations[0][0] == "task.notes"
    task = client.post_task(board, "t", "notes", notes=[wide] * 31).task.name
    client.transition_task(task, "IN_PROGRESS", assignee=worker, note=wide)
    with pytest.raises(errors.FailedPrecondition) as full:
        client.transition_task(task, "PENDING_REVIEW", note=wide)
    assert full.value.reason == "TOO_MANY_NOTES"
    assert client.get_task(task).task.status == "IN_PROGRESS"


def test_dispatch_order_lists_by_priority_then_age(
    client: quadro.Client, board: str, worker: str
) -> None:
    """Priority first (lower sooner), then the order posted, over pages of any size, with
    the usual filters."""
    priorities = [5, 1, 9, 1, -3, 5, 9, 0]
    posted = [client.post_task(board, "t", f"p{p}", priority=p).task for p in priorities]
    client.post_task(board, "other", "filtered out", priority=-100)
    taken = posted[4]
    client.transition_task(taken.name, "IN_PROGRESS", assignee=worker)
    expected = [
        t.name
        for _, t in sorted(enumerate(posted), key=lambda it: (it[1].priority, it[0]))
        if t.name != taken.name
    ]
    for size in (1, 2, 3, 100):
        listed = client.iter_tasks(
            board, statuses=["UNASSIGNED"], task_types=["t"], order="dispatch", page_size=size
        )
        assert [t.name for t in listed] == expected, size
    first = client.list_tasks(board, order="dispatch", page_size=2)
    assert [t.priority for t in first.tasks] == [-100, -3]
    with pytest.raises(errors.InvalidArgument) as other_order:
        client.list_tasks(board, page_size=2, page_token=first.next_page_token)
    assert other_order.value.reason == "INVALID_PAGE_TOKEN"


def test_dispatch_order_takes_one_board(client: quadro.Client, board: str) -> None:
    client.create_board(f"{board}-b")
    with pytest.raises(errors.InvalidArgument) as several:
        client.list_tasks([board, f"{board}-b"], order="dispatch")
    assert several.value.field_violations[0][0] == "order"
    with pytest.raises(ValueError, match="order must be one of"):
        client.list_tasks(board, order="newest")
