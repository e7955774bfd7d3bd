#!/usr/bin/env bash
# The first five minutes: start a board server on the embedded SQLite store, walk one
# task through its lifecycle with the `quadro` command, show the event log, and stop.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/quadro ] || { python3 -m venv .venv && .venv/bin/python -m pip install -q -e .; }
export PATH="$PWD/.venv/bin:$PATH"

work=$(mktemp -d)
quadro serve --port 0 --store "$work/quadro.db" > "$work/serve.out" 2> "$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "serving on" "$work/serve.out" && break; sleep 0.1; done
export QUADRO_SERVER=$(sed -n 's/.*serving on \([^ ]*\) .*/\1/p' "$work/serve.out")
echo "== a server on $QUADRO_SERVER, store $work/quadro.db"

run() { echo; printf '$'; printf ' %q' "$@"; echo; "$@"; }
run quadro boards create claims --display-name "Motor claims"
run quadro agents register claims alice --capability 'claim_*'
run quadro agents register claims bob --capability 'claim_*'
run quadro tasks post claims claim_intake "Validate claim 1042" --id c1042 --priority 2
run quadro tasks move claims/c1042 IN_PROGRESS --assignee alice --expect-status UNASSIGNED
run quadro agents ls claims
run quadro tasks result claims/c1042 "policy valid, documents complete" --agent alice
run quadro tasks move claims/c1042 IN_PROGRESS --assignee bob --note "reviewing"
run quadro tasks move claims/c1042 APPROVED
run quadro tasks move claims/c1042 COMPLETE
echo; echo "\$ quadro tasks move claims/c1042 IN_PROGRESS   # not allowed: COMPLETE is terminal"
quadro tasks move claims/c1042 IN_PROGRESS || echo "(exit code $?)"
run quadro tasks get claims/c1042
run quadro events ls claims
