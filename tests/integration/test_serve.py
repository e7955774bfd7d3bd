"""`quadro serve`: defaults, environment variables, and the loopback-only rule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import quadro
from support.server import ServerProcess


def test_refuses_a_public_address_without_auth(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "quadro", "serve", "--host", "0.0.0.0", "--port", "0",
         "--store", str(tmp_path / "q.db")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to bind 0.0.0.0" in result.stderr
    assert not (tmp_path / "q.db").exists(), "nothing is opened before the check"


@pytest.mark.parametrize("flag", ["--max-batch", "--pipeline-depth", "--ahead-min"])
def test_a_commit_size_or_depth_below_one_is_refused(tmp_path: Path, flag: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "quadro", "serve", "--port", "0", flag, "0",
         "--store", str(tmp_path / "q.db")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{flag} must be at least 1" in result.stderr
    assert not (tmp_path / "q.db").exists(), "nothing is opened before the check"


def test_public_address_with_explicit_flag_warns(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "q.db", "--host", "0.0.0.0", "--allow-remote-without-auth")
    server.start()
    try:
        with quadro.Client(server.address) as client:
            client.create_board("open")
        assert "WITHOUT authentication" in server.log_path.read_text()
    finally:
        server.stop()


def test_environment_variables_configure_the_server(tmp_path: Path) -> None:
    store = tmp_path / "from-env.db"
    env = {"QUADRO_STORE": str(store), "QUADRO_DURABILITY": "fast"}
    process = subprocess.Popen(
        [sys.executable, "-m", "quadro", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, **env}, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"store {store}" in line
        assert "durability fast" in line
    finally:
        process.terminate()
        assert process.wait(30) == 0
    assert store.exists()


def test_health_watch_follows_the_server_until_it_drains(tmp_path: Path) -> None:
    """The standard health service streams too: SERVING while up, NOT_SERVING once SIGTERM
    starts the drain."""
    server = ServerProcess(tmp_path / "q.db").start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=30
            )
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            statuses = [reply.status for reply in _until_closed(watch)]
            assert statuses[:1] == [health_pb2.HealthCheckResponse.NOT_SERVING]
        assert server.process.wait(30) == 0
    finally:
        server.stop()


def _until_closed(
    watch: Iterator[health_pb2.HealthCheckResponse],
) -> list[health_pb2.HealthCheckResponse]:
    replies = []
    try:
        for reply in watch:
            replies.append(reply)
    except grpc.RpcError:
        pass  # the draining server ends the stream
    return replies
