"""A PostgreSQL server of a test's own (initdb into a temporary folder, its own port), for
tests that stop or restart the database. The shared server is never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path(os.environ.get("QUADRO_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(*args: str) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


class PrivatePostgres:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="quadro-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(
            _as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                         "postgres", "--no-sync"),
            check=True, capture_output=True,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(
                str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
                "-w", "-t", "60", *args,
            ),
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> PrivatePostgres:
        self._ctl("start")
        return self

    def restart(self) -> None:
        """Stop at once (open connections are cut, like a crash) and start again."""
        self._ctl("restart", "-m", "immediate")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
