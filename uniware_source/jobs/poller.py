"""Polling many export jobs at once: the poller that the load stages drive.

`JobPoller.run()` takes any number of job codes and drives each one through
status → (done) download → type plan, with a bounded pool of worker threads. It yields every
job once, when it has reached its end: ready to load (a typed file on disk) or failed with a
reason. No job's failure stops the others; only a refused login does (it would fail them all).

The parts are this folder's modules: what a status means (`status`), a job and its timer (`job`),
when to poll next (`backoff`), the clock the loop waits on (`clock`), the timetable (`schedule`),
the in-flight cap (`tracker`), the worker threads (`workers`), the fetch step (`fetch`) and the
loop that ties them together (`loop`). How often a failing call is tried is the client's
`RetryBudget`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from uniware_source.jobs.backoff import Backoff, PollSettings
from uniware_source.jobs.clock import Clock, MonotonicClock
from uniware_source.jobs.fetch import Fetcher
from uniware_source.jobs.job import ExportJob
from uniware_source.jobs.loop import PollLoop
from uniware_source.jobs.ports import ExportApi, JobFeeder, Planner
from uniware_source.jobs.status import Outcome, Phase, WaitingLog, classify
from uniware_source.jobs.tracker import ServerSlots
from uniware_source.jobs.workers import Workers

__all__ = [
    "Backoff",
    "ExportJob",
    "JobFeeder",
    "JobPoller",
    "Outcome",
    "Phase",
    "Planner",
    "PollSettings",
    "classify",
]


# files typed at once. Typing one file keeps both cores of a small machine busy by itself (the
# reader, pass 1 and the conversion each on a thread, polars on all cores), and holds a few chunks
# of that file: two or more at once only add their memory. Measured with three 1M-row Sale Orders
# jobs in one run of the command: 8 at once 26.8 s and 1,066 MB, one at a time 26.3 s and 628 MB.
# The other files download meanwhile, and are typed from disk when their turn comes.
PLAN_WORKERS = 1


class JobPoller:
    """Polls many jobs concurrently, then downloads and plans each finished file."""

    def __init__(
        self,
        client: ExportApi,
        settings: PollSettings,
        *,
        download_dir: Path,
        planner: Planner,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.download_dir = download_dir
        self.planner = planner
        self.clock: Clock = clock or MonotonicClock()
        self._rng = random.Random()
        self._waiting_log = WaitingLog()  # an unknown status is logged once per poller

    def run(
        self,
        jobs: Sequence[ExportJob] = (),
        *,
        feeder: JobFeeder | None = None,
        max_in_flight: int | None = None,
    ) -> Iterator[ExportJob]:
        """Yield each job once it has ended: with a planned file (`outcome` still None) or an outcome.

        `jobs` exist on the server already and all start at once. A `feeder` hands out more jobs
        (creating them) while fewer than `max_in_flight` are running on the server; it hears of
        every job that ended, and may hand out a retry.
        """
        workers = self.settings.max_workers
        # the planning pool outlives the fetching one, whose downloads may still hand it work; it
        # types one file at a time (PLAN_WORKERS) while any number download
        with (
            ThreadPoolExecutor(max_workers=PLAN_WORKERS, thread_name_prefix="uniware-plan") as plans,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="uniware") as pool,
        ):
            loop = PollLoop(
                self.client,
                self.settings,
                workers=Workers(pool, limit=workers * 2),
                fetcher=Fetcher(self.client, self.planner, self.download_dir, plans),
                clock=self.clock,
                slots=ServerSlots(max_in_flight),
                feeder=feeder,
                rng=self._rng,
                waiting_log=self._waiting_log,
            )
            yield from loop.run(jobs)
