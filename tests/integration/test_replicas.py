"""Several server replicas on one PostgreSQL database: one gapless log seen identically
through every replica; a replica killed mid-load loses nothing acknowledged and creates
no duplicate while clients move to the others; a database restarted mid-load is
recovered from by the servers on their own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import quadro
from quadro import errors
from support import postgres
from support.private_postgres import PrivatePostgres
from support.server import ServerProcess

ROUND_ROBIN = [("grpc.lb_policy_name", "round_robin")]
PATIENT = quadro.RetryPolicy(max_attempts=40, initial_backoff=0.05, max_backoff=0.5)


@pytest.fixture
def database_url(postgres_database: str) -> str:
    return postgres.new_schema_url(postgres_database)


@pytest.fixture
def replicas(database_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    servers = [ServerProcess(database_url, log_dir=tmp_path).start() for _ in range(3)]
    yield servers
    for server in servers:
        server.stop()


def all_of(servers: list[ServerProcess]) -> str:
    return "ipv4:" + ",".join(s.address for s in servers)


@dataclass
class Writer:
    """Posts tasks until stopped, each with its own request id, and keeps the ids the
    server acknowledged."""

    target: str
    name: str
    acknowledged: list[str] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    def run(self, board: str, stop: threading.Event) -> None:
        client = quadro.Client(self.target, retry=PATIENT, timeout=10,
                               channel_options=ROUND_ROBIN)  # fmt: skip
        with client:
            n = 0
            while not stop.is_set():
                n += 1
                request_id = f"{self.name}-{n}"
                try:
                    client.post_task(board, "t", request_id, request_id=request_id)
                except errors.Unavailable:
                    continue  # not acknowledged; a later request carries on
                except BaseException as exc:
                    self.failures.append(exc)
                    return
                self.acknowledged.append(request_id)


class Follower:
    """A subscriber (resuming on its own) from the start of a board's log."""

    def __init__(self, target: str, board: str) -> None:
        self.client = quadro.Client(target, channel_options=ROUND_ROBIN)
        self.subscription = self.client.subscribe(board, after_sequence=0, progress_interval=1)
        self.received: list[int] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for event in self.subscription:
            self.received.append(event.sequence)

    def wait_for(self, head: int, timeout: float = 60) -> list[int]:
        deadline = time.monotonic() + timeout
        while len(self.received) < head and time.monotonic() < deadline:
            time.sleep(0.05)
        self.subscription.close()
        self.thread.join(10)
        self.client.close()
        return self.received


def check_log(target: str, board: str, acknowledged: list[str]) -> int:
    """Every acknowledged post is on the board exactly once; the log is gapless."""
    with quadro.Client(target, channel_options=ROUND_ROBIN) as client:
        labels = [t.label for t in client.iter_tasks(board, page_size=1000)]
        head = client.get_board(board).board.head_sequence
        sequences = [e.sequence for e in client.iter_events(board, page_size=1000)]
    assert len(labels) == len(set(labels)), "a retried request created a second task"
    missing = set(acknowledged) - set(labels)
    assert not missing, f"{len(missing)} acknowledged posts were lost"
    assert sequences == list(range(1, head + 1))
    assert head == len(labels)
    return head


def test_three_replicas_one_gapless_log_seen_alike(replicas: list[ServerProcess]) -> None:
    with quadro.Client(replicas[0].address) as client:
        client.create_board("shared")
    followers = [Follower(r.address, "shared") for r in replicas]
    stop = threading.Event()
    writers = [Writer(replicas[i % 3].address, f"w{i}") for i in range(6)]
    threads = [threading.Thread(target=w.run, args=("shared", stop)) for w in writers]
    for thread in threads:
        thread.start()
    time.sleep(4)
    stop.set()
    for thread in threads:
        thread.join()
    assert not [f for w in writers for f in w.failures]
    head = check_log(replicas[0].address, "shared", [a for w in writers for a in w.acknowledged])
    assert head > 100
    for follower in followers:
        got = follower.wait_for(head)
        assert got == list(range(1, head + 1)), "every replica delivers the same gapless log"


def test_a_replica_killed_mid_load_loses_nothing(replicas: list[ServerProcess]) -> None:
    target = all_of(replicas)
    with quadro.Client(target, channel_options=ROUND_ROBIN) as client:
        client.create_board("failover")
    followers = [Follower(target, "failover") for _ in range(2)]
    stop = threading.Event()
    writers = [Writer(target, f"w{i}") for i in range(6)]
    threads = [threading.Thread(target=w.run, args=("failover", stop)) for w in writers]
    for thread in threads:
        thread.start()
    time.sleep(2)
    replicas[1].kill()
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join()
    assert not [f for w in writers for f in w.failures]
    survivors = all_of([replicas[0], replicas[2]])
    head = check_log(survivors, "failover", [a for w in writers for a in w.acknowledged])
    for follower in followers:
        got = follower.wait_for(head)
        assert got == list(range(1, head + 1)), "subscribers resumed elsewhere, missing nothing"


@pytest.fixture
def private_database() -> Iterator[PrivatePostgres]:
    database = PrivatePostgres().start()
    yield database
    database.stop()


def test_servers_recover_from_a_database_restart(
    private_database: PrivatePostgres, tmp_path: Path
) -> None:
    servers = [ServerProcess(private_database.url, log_dir=tmp_path).start() for _ in range(2)]
    try:
        target = all_of(servers)
        with quadro.Client(target, channel_options=ROUND_ROBIN) as client:
            client.create_board("restart")
        stop = threading.Event()
        writers = [Writer(target, f"w{i}") for i in range(4)]
        threads = [threading.Thread(target=w.run, args=("restart", stop)) for w in writers]
        for thread in threads:
            thread.start()
        time.sleep(2)
        before = sum(len(w.acknowledged) for w in writers)
        private_database.restart()
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join()
        after = sum(len(w.acknowledged) for w in writers)
        assert not [f for w in writers for f in w.failures]
        assert after > before + 20, "writes went on after the restart, through the same servers"
        for server in servers:
            assert server.process is not None
            assert server.process.poll() is None, "no server had to be restarted"
        check_log(target, "restart", [a for w in writers for a in w.acknowledged])
    finally:
        for server in servers:
            server.stop()
