"""When to poll a job next, and the poller's settings.

How often a failing request, download or status check is tried again is not here: that is the
HTTP side's `RetryBudget` (`uniware_source.api.budget`), which the poller reads from its client.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Poll delays: `initial * factor**n`, capped at `cap`, each with ±`jitter` relative noise.

    The promise the poller keeps: a job that runs T seconds on the server is polled at most
    `max_polls(T)` times.
    """

    initial: float = 2.0
    cap: float = 20.0
    factor: float = 1.5
    jitter: float = 0.2

    def delay(self, polls_done: int, rng: random.Random | None = None) -> float:
        base = self._capped(max(polls_done - 1, 0))
        noise = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + noise))

    def max_polls(self, seconds: float) -> int:
        """An upper bound of polls for a job that finishes after `seconds`: the smallest n whose
        shortest possible delays (all jitter negative) add up past `seconds`, plus the final poll."""
        elapsed, polls = 0.0, 1
        while elapsed < seconds:
            elapsed += self._capped(polls - 1) * (1 - self.jitter)
            polls += 1
        return polls

    def _capped(self, steps: int) -> float:
        """`initial * factor**steps`, capped."""
        try:
            return min(self.cap, self.initial * self.factor**steps)
        except OverflowError:  # factor**steps beyond a float (~1,750 polls at 1.5): long at the cap
            return self.cap


@dataclass(frozen=True)
class PollSettings:
    backoff: Backoff = Backoff()
    job_timeout: float = 1800.0  # from a job's first poll; one more poll is made after it passes
    max_workers: int = 8  # threads for status calls and downloads, and as many for typing files
