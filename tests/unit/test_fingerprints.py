"""A command's fingerprint: what its request id stands for. Request records outlive a
server version (a day by default), and replicas of two versions share one database
during an upgrade, so the digest of a command must not change with the code that
computes it."""

from __future__ import annotations

import dataclasses

from quadro_server.core import commands as c


def test_fingerprints_are_those_stored_by_earlier_versions() -> None:
    result = c.PostResult(
        request_id="r1", principal="p", board_id="b", task_id="t1", output="done",
        agent="w1", attempt=2,
    )  # fmt: skip
    post = c.PostTask(
        request_id="r2", board_id="b", task_type="noop", label="x", labels=(("k", "v"),),
        notes=("n",),
    )  # fmt: skip
    assert result.fingerprint() == "edbb58f0b20634f44fb69eedaa1a2d9b"
    assert post.fingerprint() == "8b32cb53f65a8294d27ab19ff0090f3e"


def test_a_fingerprint_leaves_out_who_asked_and_the_request_id_only() -> None:
    first = c.TransitionTask(
        request_id="a", principal="p", board_id="b", task_id="t", to_status="DONE"
    )
    assert (
        first.fingerprint()
        == dataclasses.replace(first, request_id="z", principal="q").fingerprint()
    )
    for changed in ({"task_id": "u"}, {"to_status": "STALE"}, {"note": "n"}, {"attempt": 3}):
        assert dataclasses.replace(first, **changed).fingerprint() != first.fingerprint()
    # Two kinds of command with the same fields never share a digest.
    assert (
        c.DeleteData(board_id="b", key="k").fingerprint()
        != c.PutData(board_id="b", key="k", value_json="").fingerprint()
    )
