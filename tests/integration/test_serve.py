"""`quadro serve`: defaults, environment variables, and the loopback-only rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
