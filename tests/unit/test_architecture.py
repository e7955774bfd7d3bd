"""Structural rules of the code base: the core stays free of gRPC and drivers, and the
dependencies between the packages point one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_imports_no_grpc_and_no_driver() -> None:
    probe = (
        "import sys\n"
        "import quadro_server.core.engine, quadro_server.core.lifecycle\n"
        "import quadro_server.core.taxonomy, quadro_server.core.commands\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'grpc', 'grpc_status', 'sqlite3', 'psycopg'})\n"
        "print(','.join(bad))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def imported_roots(folder: Path) -> set[str]:
    roots: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots.add(node.module.split(".")[0])
    return roots


def test_client_package_imports_nothing_above_it() -> None:
    roots = imported_roots(ROOT / "python_client" / "quadro")
    assert not roots & {"quadro_server", "quadro_chiefs", "quadro_workers"}


def test_runtimes_never_import_the_server() -> None:
    """Chiefs and Workers talk to the board through the client library only."""
    for folder in (ROOT / "workers" / "quadro_workers", ROOT / "chiefs" / "quadro_chiefs"):
        if folder.exists():
            assert "quadro_server" not in imported_roots(folder), folder
    assert "quadro" in imported_roots(ROOT / "workers" / "quadro_workers")


def test_generated_code_is_fresh() -> None:
    for script in ("protos/generate.py", "python_client/generate_sync_client.py"):
        result = subprocess.run(
            [sys.executable, script, "--check"], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
