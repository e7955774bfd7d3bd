#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then runs every check.
#   bash tests/run.sh            # everything
#   bash tests/run.sh -k events  # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL: the tests use the server at QUADRO_TEST_POSTGRES (default the local one on
# 127.0.0.1:5432, trust auth). On a machine without one, install and start Debian's.
ensure_postgres() {
  [ -n "${QUADRO_TEST_POSTGRES:-}" ] && return
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "== installing PostgreSQL"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -n | tail -1)
  # Tests connect over loopback as the postgres role without a password.
  local hba=/etc/postgresql/$version/main/pg_hba.conf
  grep -q "^host all all 127.0.0.1/32 trust" "$hba" || \
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || \
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
  for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  echo "PostgreSQL did not start" >&2
  exit 1
}
ensure_postgres

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
