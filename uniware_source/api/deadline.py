"""The deadline of one download attempt, kept even by a host that trickles a byte at a time.

requests' timeout bounds each wait for a byte, not a download: a host that sends one byte every
few seconds keeps a read going forever. When the deadline passes, a timer thread shuts down the
socket of the response being read (urllib3's `HTTPResponse.shutdown`, made for this), so that a
read blocked in another thread returns at once and the download fails. With a urllib3 too old
to shut a response down, the deadline is still checked between the pieces that arrive.
"""

from __future__ import annotations

import contextlib
import threading
import time
from types import TracebackType

import requests


class DownloadDeadline:
    """Started on entry, disarmed on exit; `watch` names the response it may shut down."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._fired = False
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.name = "uniware-download-deadline"

    def __enter__(self) -> DownloadDeadline:
        self._timer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()
        with self._lock:
            self._response = None  # never shut down a connection that went back to the pool

    @property
    def fired(self) -> bool:
        """Whether the deadline passed and the response was (or would have been) cut."""
        with self._lock:
            return self._fired

    def passed(self) -> bool:
        return self.fired or time.monotonic() >= self._ends

    def watch(self, response: requests.Response) -> None:
        with self._lock:
            self._response = response
            if self._fired:
                _shut_down(response)

    def _fire(self) -> None:
        with self._lock:  # held while shutting down: `__exit__` waits, the connection stays ours
            self._fired = True
            if self._response is not None:
                _shut_down(self._response)


def _shut_down(response: requests.Response) -> None:
    shutdown = getattr(response.raw, "shutdown", None)  # urllib3 >= 2.3
    if shutdown is None:
        return
    with contextlib.suppress(ValueError, RuntimeError, OSError):
        shutdown()  # raises when closed or released to the pool: then nothing is read from it


def received_bytes(response: requests.Response, written: int) -> int:
    """Bytes that arrived: the wire count where urllib3 keeps one (it includes a piece cut short
    that was never handed out), never fewer than were written."""
    tell = getattr(response.raw, "tell", None)
    try:
        wire = int(tell()) if tell is not None else 0
    except (TypeError, ValueError, OSError):
        wire = 0
    return max(written, wire)
