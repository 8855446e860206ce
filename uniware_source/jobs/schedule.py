"""The poll timetable: which job is due for its next status call, and when."""

from __future__ import annotations

import heapq
import itertools
from typing import Generic, TypeVar

T = TypeVar("T")


class Schedule(Generic[T]):
    """Items due at times of the poller's clock, earliest first; equal times in order of entry."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()

    def at(self, when: float, item: T) -> None:
        heapq.heappush(self._heap, (when, next(self._order), item))

    def next_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> T | None:
        """The earliest item due by `now`, taken off the timetable; None if none is due."""
        if not self._heap or self._heap[0][0] > now:
            return None
        return heapq.heappop(self._heap)[2]

    def __bool__(self) -> bool:
        return bool(self._heap)
