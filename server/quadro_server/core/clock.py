"""Wall-clock time as the board records it: integer microseconds since the Unix epoch."""

import time


def now_us() -> int:
    return time.time_ns() // 1000
