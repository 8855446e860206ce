"""Calls in flight on the worker threads, and the inbox they come back to.

The loop hands status calls and fetches to a thread pool and keeps at most `limit` of them in
flight (twice the workers: a queued call starts the moment a thread frees). A finished call
drops into the inbox and sets an event, which is what the loop's clock waits on: the loop sleeps
until a call ends or a poll falls due, whichever comes first, and never polls the futures.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from enum import Enum
from typing import Any

from uniware_source.jobs.clock import Clock
from uniware_source.jobs.job import PolledJob


class Kind(Enum):
    STATUS = "status"
    FETCH = "fetch"


@dataclass(frozen=True)
class Finished:
    kind: Kind
    polled: PolledJob
    future: Future[Any]


class Workers:
    def __init__(self, pool: Executor, limit: int) -> None:
        self._pool = pool
        self._limit = limit
        self._in_flight: dict[Future[Any], tuple[Kind, PolledJob]] = {}
        self._inbox: deque[Future[Any]] = deque()
        self._arrived = threading.Event()

    def submit(self, kind: Kind, polled: PolledJob, call: Callable[..., Any], *args: Any) -> None:
        future = self._pool.submit(call, *args)
        self._in_flight[future] = (kind, polled)
        future.add_done_callback(self._arrive)

    def _arrive(self, future: Future[Any]) -> None:  # on the worker's thread
        self._inbox.append(future)
        self._arrived.set()

    @property
    def full(self) -> bool:
        return len(self._in_flight) >= self._limit

    def __bool__(self) -> bool:
        return bool(self._in_flight)

    def wait(self, clock: Clock, timeout: float | None) -> None:
        """Until a call finishes or `timeout` passes; with nothing in flight, the time passes."""
        if not self._in_flight:
            clock.sleep(timeout or 0.0)
        elif not self._inbox:
            clock.wait(self._arrived, timeout)

    def finished(self) -> list[Finished]:
        """The calls that have finished since the last look, in the order they finished."""
        self._arrived.clear()  # before emptying the inbox: a call that lands after it sets it again
        done = []
        while self._inbox:
            future = self._inbox.popleft()
            kind, polled = self._in_flight.pop(future)
            done.append(Finished(kind, polled, future))
        return done

    def cancel(self) -> None:
        """Calls not yet started are dropped; running ones end on their own."""
        for future in self._in_flight:
            future.cancel()
