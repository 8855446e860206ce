"""Status classification and the poll schedule: pure functions, no network."""

import random

import pytest

from uniware_source.jobs import Backoff, Phase, classify


@pytest.mark.parametrize(
    "status", ["COMPLETE", "SUCCESSFUL", "COMPLETED", "SUCCESS", "complete", " Complete "]
)
def test_done_needs_a_file_path(status: str) -> None:
    assert classify(status, "https://files.example/x.csv") is Phase.READY
    assert classify(status, None) is Phase.WAITING
    assert classify(status, "") is Phase.WAITING


@pytest.mark.parametrize(
    ("status", "phase"),
    [("FAILED", Phase.FAILED), ("CANCELLED", Phase.CANCELLED), ("CANCELED", Phase.CANCELLED)],
)
def test_terminal_failures_end_the_job_even_with_a_file(status: str, phase: Phase) -> None:
    assert classify(status, "https://files.example/x.csv") is phase


@pytest.mark.parametrize(
    "status", ["QUEUED", "RUNNING", "PROCESSING", "SCHEDULED", "VALIDATING", "", None, "DONE"]
)
def test_anything_else_keeps_polling(status: str | None) -> None:
    # an unknown status, even one that sounds final, is never mistaken for success
    assert classify(status, "https://files.example/x.csv") is Phase.WAITING


def test_backoff_grows_to_its_cap_with_bounded_jitter() -> None:
    backoff = Backoff(initial=2.0, cap=20.0, factor=1.5, jitter=0.2)
    rng = random.Random(1)
    delays = [backoff.delay(n, rng) for n in range(1, 30)]
    assert 1.6 <= delays[0] <= 2.4
    assert all(0.0 <= d <= 24.0 for d in delays)
    assert all(16.0 <= d <= 24.0 for d in delays[10:])  # capped (20 s ± 20 %)
    assert len(set(delays)) > 20  # jittered: pollers do not march in lockstep


def test_max_polls_bounds_the_schedule() -> None:
    backoff = Backoff(initial=2.0, cap=20.0)
    assert backoff.max_polls(0) == 1
    # a 2-minute export: the shortest delays are 1.6, 2.4, 3.6, 5.4, 8.1, 12.2, then 16 s (the cap
    # less its jitter); twelve of them pass 120 s, so at most 13 polls (a fixed 5 s poller makes 25)
    assert backoff.max_polls(120) == 13
    # the bound holds for any jitter draw: simulate the worst case of many random schedules
    rng = random.Random(7)
    for _ in range(200):
        elapsed, polls = 0.0, 1
        while elapsed < 120:
            elapsed += backoff.delay(polls, rng)
            polls += 1
        assert polls <= backoff.max_polls(120)


def test_a_job_polled_for_days_stays_at_the_cap() -> None:
    # 1.5**1751 is beyond a float: a day-long timeout at a 20 s cap polls ~4,300 times
    backoff = Backoff(initial=2.0, cap=20.0)
    assert 16.0 <= backoff.delay(5000, random.Random(3)) <= 24.0
    assert backoff.max_polls(86_400) > 4_000
