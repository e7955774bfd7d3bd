#!/usr/bin/env bash
# Starts a board server on the embedded SQLite store, walks one task through its
# lifecycle from the command line, prints the event log, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/quadro ] || { python3 -m venv .venv && .venv/bin/python -m pip install -q -e ".[dev]"; }
export PATH="$PWD/.venv/bin:$PATH"

work=$(mktemp -d)
quadro serve --port 0 --store "$work/quadro.db" > "$work/serve.out" 2> "$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "serving on" "$work/serve.out" && break; sleep 0.1; done
addr=$(sed -n 's/.*serving on \([^ ]*\) .*/\1/p' "$work/serve.out")
echo "server on $addr"

call() { grpcurl -plaintext -d "$2" "$addr" "quadro.v1.$1"; }
call BoardService/CreateBoard '{"board_id": "quickstart"}' > /dev/null
call AgentService/RegisterAgent '{"parent": "boards/quickstart", "agent_id": "alice"}' > /dev/null
task=$(call TaskService/PostTask \
  '{"parent": "boards/quickstart", "task": {"task_type": "claim_intake", "label": "Validate claim 1042"}}' \
  | sed -n 's/.*"name": "\(boards\/quickstart\/tasks\/[^"]*\)".*/\1/p' | head -1)
echo "posted $task"
call TaskService/TransitionTask "{\"name\": \"$task\", \"to_status\": \"IN_PROGRESS\", \"assignee\": \"alice\"}" > /dev/null
call TaskService/PostResult "{\"name\": \"$task\", \"output\": \"policy valid\", \"agent\": \"alice\"}" > /dev/null
call TaskService/TransitionTask "{\"name\": \"$task\", \"to_status\": \"IN_PROGRESS\", \"assignee\": \"alice\"}" > /dev/null
call TaskService/TransitionTask "{\"name\": \"$task\", \"to_status\": \"APPROVED\"}" > /dev/null
call TaskService/TransitionTask "{\"name\": \"$task\", \"to_status\": \"COMPLETE\"}" > /dev/null
echo "event log:"
call EventService/ListEvents '{"parent": "boards/quickstart"}' \
  | grep -E '"(sequence|type|fromStatus|toStatus)"'
