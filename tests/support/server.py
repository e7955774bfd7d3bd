"""A real `quadro serve` process on an ephemeral loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_READY = re.compile(r"quadro: serving on (\S+):(\d+)")


class ServerProcess:
    """Runs `quadro serve` in a subprocess against a given store (a SQLite path or a
    PostgreSQL URL); can be killed (SIGKILL) and restarted on the same store, keeping its
    port when possible."""

    def __init__(
        self,
        store: Path | str,
        *extra_args: str,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        """`credentials`: how to reach a TLS server for the health check."""
        self.credentials = credentials
        self.store = str(store)
        self.extra_args = extra_args
        self.env = env
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        if log_dir is None:
            log_dir = Path(store).parent if isinstance(store, Path) else Path(tempfile.mkdtemp())
        self.log_path = log_dir / f"server-{uuid.uuid4().hex[:6]}.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        args = [
            sys.executable,
            "-m",
            "quadro",
            "serve",
            "--store",
            str(self.store),
            "--port",
            str(self.port),
            "--shutdown-grace",
            "5",
            *self.extra_args,
        ]
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, **(self.env or {})},
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline()
        while line and not _READY.search(line) and time.monotonic() < deadline:
            line = self.process.stdout.readline()
        match = _READY.search(line or "")
        if match is None:
            self.process.kill()
            raise RuntimeError(f"server did not start; log: {self.log_path.read_text()[-2000:]}")
        self.port = int(match[2])
        self._wait_healthy(deadline)
        return self

    def _wait_healthy(self, deadline: float) -> None:
        channel = (
            grpc.insecure_channel(self.address)
            if self.credentials is None
            else grpc.secure_channel(self.address, self.credentials)
        )
        with channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no drain, no flush; what was acknowledged must already be durable."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def restart(self) -> ServerProcess:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        return self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.terminate(15)
            except subprocess.TimeoutExpired:
                self.kill()
