"""The in-flight cap: how many jobs may run on the server at once.

A job takes a slot when the poller admits it (it exists on the server, or is about to) and frees
it when its server side has ended: done with a file to fetch, failed, cancelled, timed out or
given up. Downloading and typing a finished file does not hold a slot, since the server is no
longer busy with it. Without a cap every job given is admitted at once.
"""

from __future__ import annotations


class ServerSlots:
    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap or None  # 0 or None: no cap
        self.running = 0

    def has_room(self) -> bool:
        return self.cap is None or self.running < self.cap

    def take(self) -> None:
        self.running += 1

    def free(self) -> None:
        self.running -= 1
