#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then runs every check.
#   bash tests/run.sh            # everything
#   bash tests/run.sh -k events  # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"

echo "== lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
(cd protos && ../.venv/bin/buf lint)
echo "== generated code"
.venv/bin/python protos/generate.py --check
.venv/bin/python python_client/generate_sync_client.py --check

echo "== tests"
.venv/bin/pytest "$@"
