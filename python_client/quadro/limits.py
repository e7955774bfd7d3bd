"""Every size and count limit of the API, in one place, shared by the server (which
enforces them) and the clients. The protos quote these numbers in their field comments."""

from typing import Final

BOARD_ID_MAX: Final = 63
TASK_ID_MAX: Final = 64
AGENT_ID_MAX: Final = 128
DATA_KEY_MAX: Final = 256
TASK_TYPE_MAX: Final = 128
GLOB_MAX: Final = 128
STATUS_MAX: Final = 64
REQUEST_ID_MAX: Final = 128
DISPLAY_NAME_MAX: Final = 256
LABEL_MAX: Final = 1024
OUTPUT_MAX_BYTES: Final = 262_144
NOTE_MAX: Final = 8192
NOTES_PER_TASK_MAX: Final = 1000
# All notes of a task together, in UTF-8 bytes: keeps every task (and so every answer
# about one) well under the message limit.
NOTES_MAX_BYTES: Final = 1024 * 1024
LABELS_MAX: Final = 64
LABEL_KEY_MAX: Final = 63
LABEL_VALUE_MAX: Final = 256
CONTEXT_HASH_MAX: Final = 256
ETAG_MAX: Final = 64
DATA_VALUE_MAX_BYTES: Final = 262_144
VERSION_MAX: Final = 64
CAPABILITIES_MAX: Final = 64
CONCURRENCY_MAX: Final = 10_000
# TransitionTaskRequest.if_quiet_for: at most 30 days.
QUIET_FOR_MAX_SECONDS: Final = 30 * 24 * 3600
PRIORITY_MIN: Final = -1000
PRIORITY_MAX: Final = 1000
DEFAULT_PRIORITY: Final = 5
PROFILES_MAX: Final = 64
TRANSITIONS_PER_PROFILE_MAX: Final = 256
TASK_TYPE_RULES_MAX: Final = 256
FILTER_VALUES_MAX: Final = 64
EVENT_TYPES_FILTER_MAX: Final = 8
SUBSCRIPTION_BOARDS_MAX: Final = 16
# Items of one batch call (BatchPostTasks, BatchTransitionTasks).
BATCH_ITEMS_MAX: Final = 500
# Tasks a lineage answer holds beyond the one asked about (ancestors and descendants).
LINEAGE_TASKS_MAX: Final = 10_000
# A Chief's registration: the cadence text, and the counts of a cycle record.
CADENCE_MAX: Final = 128
CYCLE_COUNT_MAX: Final = 1_000_000
CYCLE_TASKS_MAX: Final = 1_000_000_000
CYCLE_DURATION_MAX_SECONDS: Final = 24 * 3600
PROGRESS_INTERVAL_DEFAULT_SECONDS: Final = 10
PROGRESS_INTERVAL_MAX_SECONDS: Final = 300
# Concurrent streams (subscriptions) one server serves, in all and per caller.
STREAMS_PER_SERVER_DEFAULT: Final = 4096
STREAMS_PER_PRINCIPAL_DEFAULT: Final = 2048
PAGE_SIZE_DEFAULT: Final = 100
PAGE_SIZE_MAX: Final = 1000
PAGE_TOKEN_MAX: Final = 1024
# gRPC message size accepted by the server and the clients.
MESSAGE_MAX_BYTES: Final = 4 * 1024 * 1024
# A listing page stops before its items pass this size (it then carries a page token),
# so that no answer exceeds the message limit whatever the page size.
PAGE_MAX_BYTES: Final = 3 * 1024 * 1024
# How long a request id is remembered for deduplication.
REQUEST_ID_RETENTION_SECONDS: Final = 24 * 3600
