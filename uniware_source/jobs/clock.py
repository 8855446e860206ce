"""The poller's time: what time it is, and how it waits.

The loop never reads `time` itself: it asks its `Clock`. The real one is the monotonic clock; a
test hands in one it drives, whose sleeps move its hands at once, so a 30-minute job timeout
takes no time at all to test.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on this clock (only differences mean anything)."""

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass: nothing is running that could end sooner."""

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Wait until `event` is set (work in flight has ended) or `timeout` seconds have passed
        (None: no limit); whether it was set."""


class MonotonicClock:
    """Wall time, for real runs: `time.monotonic`, `time.sleep` and `Event.wait`."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)
