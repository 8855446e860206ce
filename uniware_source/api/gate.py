"""The host gate: a 429 with Retry-After pauses every call of the client to that host.

dlt's retrying session waits out a Retry-After for the one request that was answered with it;
the client's other calls, on other threads (the other jobs' status calls), would go on at once
and be refused in turn. One `HostGate` is shared by every session of a `UniwareClient` (REST
calls, token requests, downloads): each try of each request waits at the gate of its origin
before it is sent (`GatedAdapter`), and an answer 429 or 503 with a Retry-After closes that
origin's gate until then, for at most `max_pause` seconds (`request_max_retry_delay`). The
refused request is still retried by dlt's session as before: the gate makes no request of its
own and adds no attempt to the `RetryBudget`.

The gate takes its time from `clock` and its waiting from `sleep`, so tests drive it without
waiting on a wall clock; `wall` (the epoch clock) only reads a Retry-After given as a date.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.requests.session import Session
from requests.adapters import HTTPAdapter

from uniware_source.api.urls import origin, origin_text

logger = logging.getLogger(__name__)

Origin = tuple[str, str, int | None]

PAUSING_STATUSES = frozenset({429, 503})
_SECONDS = re.compile(r"^\d+(\.\d+)?$")


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """The pause a Retry-After value asks for: delta-seconds, or an HTTP date (`now` being the
    epoch time). None when it asks for none or cannot be read."""
    text = (value or "").strip()
    if not text:
        return None
    if _SECONDS.match(text):
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": a date in UTC
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return seconds if seconds > 0 else None


class HostGate:
    """Per origin, the time before which no request may be sent; thread-safe."""

    def __init__(
        self,
        *,
        max_pause: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.max_pause = max_pause
        self.clock = clock
        self.wall = wall
        self._sleep = sleep
        self._lock = threading.Lock()
        self._until: dict[Origin, float] = {}

    def pause(self, key: Origin, seconds: float) -> float:
        """Close `key`'s gate for `seconds` from now (at most `max_pause`); when it opens again.
        A pause never shortens one already running."""
        seconds = min(max(0.0, seconds), self.max_pause)
        with self._lock:
            until = max(self._until.get(key, float("-inf")), self.clock() + seconds)
            self._until[key] = until
        return until

    def paused_until(self, key: Origin) -> float | None:
        """When `key`'s gate opens, or None when it is open."""
        with self._lock:
            until = self._until.get(key)
            return until if until is not None and self.clock() < until else None

    def wait(self, key: Origin) -> float:
        """Return once `key`'s gate is open, after as long as a pause asks; the seconds waited.
        A pause made while waiting is waited out too."""
        started = self.clock()
        while (until := self.paused_until(key)) is not None:
            self._sleep(max(0.0, until - self.clock()))
        return self.clock() - started

    def note(self, key: Origin, status: int, headers: Mapping[str, str]) -> float | None:
        """Pause `key` if an answer `status` with these headers asks for it; the seconds paused."""
        if status not in PAUSING_STATUSES:
            return None
        seconds = retry_after_seconds(headers.get("Retry-After"), self.wall())
        if seconds is None:
            return None
        self.pause(key, seconds)
        return min(seconds, self.max_pause)


class GatedAdapter(HTTPAdapter):
    """requests' transport, with every request passing `gate` first and every answer shown to it.

    At this level each try of dlt's retrying session, and each hop of a followed redirect, is
    one `send`."""

    def __init__(self, gate: HostGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        key = origin(url)
        waited = self.gate.wait(key)
        if waited > 0:
            logger.debug("waited %.1f s for the pause of %s to end", waited, origin_text(url))
        response = super().send(request, *args, **kwargs)
        paused = self.gate.note(key, response.status_code, response.headers)
        if paused is not None:
            logger.info(
                "%s answered HTTP %d with Retry-After: every call to it waits %.1f s",
                origin_text(url),
                response.status_code,
                paused,
            )
        return response


class GatedClient(Client):
    """dlt's retrying `Client` whose sessions, one per thread, all send through one `GatedAdapter`."""

    def __init__(self, gate: HostGate, *, max_connections: int, **settings: Any) -> None:
        super().__init__(max_connections=max_connections, **settings)
        self.adapter = GatedAdapter(gate, pool_maxsize=max_connections)

    def _make_session(self) -> Session:
        session = super()._make_session()
        session.mount("http://", self.adapter)
        session.mount("https://", self.adapter)
        return session


def gated_session(gate: HostGate) -> requests.Session:
    """A plain requests session (no retries of its own) whose requests pass `gate`."""
    session = requests.Session()
    adapter = GatedAdapter(gate)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
