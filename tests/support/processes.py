"""Long-running `quadro` commands (worker, chief, ombudsman) as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path


class QuadroProcess:
    """`python -m quadro ARGS...`, its output collected in the background; `start()`
    returns once it printed a line containing `ready`."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "quadro", *args]
        self.cwd = cwd
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._ready_text = ""

    def start(self, ready: str, timeout: float = 30) -> QuadroProcess:
        self._ready_text = ready
        self.process = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()
        if not self._ready.wait(timeout):
            self.kill()
            raise AssertionError(f"{self.args[3:5]} did not start:\n{self.output}")
        return self

    def _collect(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if self._ready_text in line:
                self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait: the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
