"""Generate the blocking client (`quadro/_sync_client.py`) from the asyncio one.

    python python_client/generate_sync_client.py           # write it
    python python_client/generate_sync_client.py --check   # fail if it is stale

The two clients never drift: the sync one is the async source with `async`/`await`
removed and the asyncio names swapped for their blocking twins (unasync, as psycopg and
httpcore do it), then formatted with ruff.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

PACKAGE = Path(__file__).resolve().parent / "quadro"
SOURCE = PACKAGE / "_async_client.py"
TARGET = PACKAGE / "_sync_client.py"

RENAMES = {
    "_async_io": "_sync_io",
    "AsyncClient": "Client",
    "AsyncSubscription": "Subscription",
    "AsyncAssignments": "Assignments",
    "_AsyncResumable": "_Resumable",
    "__aiter__": "__iter__",
    "AsyncIterator": "Iterator",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
}
HEADER_OLD = '''"""The asyncio client. `quadro.Client`, the blocking client, is generated from this file
(python_client/generate_sync_client.py): change this one, then regenerate."""'''
HEADER_NEW = '''"""The blocking client. GENERATED from _async_client.py by
python_client/generate_sync_client.py: do not edit; change the async client and
regenerate."""'''


def render() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        rule = unasync.Rule(str(PACKAGE), tmp, additional_replacements=RENAMES)
        unasync.unasync_files([str(SOURCE)], [rule])
        text = (Path(tmp) / SOURCE.name).read_text()
        text = text.replace(HEADER_OLD, HEADER_NEW)
        out = Path(tmp) / TARGET.name
        out.write_text(text)
        ruff = Path(sys.executable).parent / "ruff"
        config = ["--config", str(PACKAGE.parent.parent / "pyproject.toml")]
        subprocess.run(
            [str(ruff), "check", *config, "--select", "I", "--fix", "-q", str(out)], check=True
        )
        subprocess.run([str(ruff), "format", *config, "-q", str(out)], check=True)
        return out.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description="generate quadro/_sync_client.py")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(
                f"{TARGET.name} is stale; run python python_client/generate_sync_client.py",
                file=sys.stderr,
            )
            return 1
        print(f"{TARGET.name} is up to date")
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
