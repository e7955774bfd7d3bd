"""Fresh request ids: never repeated within a process, nor by a forked child, and within
the server's limit."""

from __future__ import annotations

import os

import quadro
from quadro import limits


def test_fresh_request_ids_never_repeat_and_fit_the_limit() -> None:
    made = [quadro.new_request_id() for _ in range(100_000)]
    assert len(set(made)) == len(made)
    assert max(map(len, made)) <= limits.REQUEST_ID_MAX
    assert all(m.isalnum() for m in made)


def test_a_forked_child_draws_its_own() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, " ".join(quadro.new_request_id() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    mine = [quadro.new_request_id() for _ in range(3)]
    assert len(child) == 3
    assert not set(child) & set(mine)
    assert child[0][:24] != mine[0][:24]
