"""Creating the windows' export jobs as the poller has room, and deciding what a failure means.

The feeder hands the poller one job at a time (`take`), creating it on the tenant first, or
re-attaching to an earlier run's job. Every created job is written to the ledger the moment
Uniware accepts it. When a job ends (`settle`), a failed window is queued again after a
cooldown, split in halves after repeated failures (down to the export's minimum window), or
given up after its attempts; a collision (the same export still running on the tenant) is asked
again later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from uniware_source.api.client import UniwareClient
from uniware_source.api.errors import ApiError, NoAnswer, TenantUnreachable, TransportError, UniwareError
from uniware_source.incremental.plan import WINDOW_COLUMN, WindowTask, grid_cell
from uniware_source.jobs import ExportJob, Outcome
from uniware_source.jobs.ledger import WRITE_PATIENCE, JobLedger, LedgerEntry
from uniware_source.settings import SyncSettings

logger = logging.getLogger(__name__)

COLLISION_CODE = "100014"
UNANSWERED_CREATES = 2  # creates in a row without an answer before the tenant is unreachable


class WindowFeeder:
    """Creates (or re-attaches to) the job of each window task, as the poller has room."""

    def __init__(
        self,
        client: UniwareClient,
        tasks: Sequence[WindowTask],
        ledger: JobLedger,
        settings: SyncSettings,
        *,
        zone: str,
        clock: Callable[[], float] = time.monotonic,
        stop_after: float | None = None,
    ) -> None:
        self.client = client
        self.queue: list[WindowTask] = list(tasks)
        self.ledger = ledger
        self.settings = settings
        self.zone = zone
        self.clock = clock
        self.jobs: list[ExportJob] = []  # every job this run started or failed to create
        self.task_of: dict[str, WindowTask] = {}
        self.creates_unanswered = 0  # creates in a row that the network failed
        # no new job after this (on `clock`): what is left waits for the next run
        self.stop_at = (
            clock() + stop_after if stop_after is not None else None
        )  # by job code: the tenant gives each job its own

    # -- JobFeeder --------------------------------------------------------------------------------
    def take(self) -> ExportJob | None:
        now = self.clock()
        if self.stopped(now):
            return None
        for task in list(self.queue):
            if task.ready_at > now:
                continue
            self.queue.remove(task)
            job = self._start(task)
            if job is not None:
                return job
        return None

    def next_ready_at(self) -> float | None:
        if self.stopped(self.clock()):
            return None
        return min((task.ready_at for task in self.queue), default=None)

    def stopped(self, now: float) -> bool:
        """Past the run's time for creating jobs: the queue is left for the next run."""
        return self.stop_at is not None and now >= self.stop_at

    def settle(self, job: ExportJob) -> None:
        task = self.task_of[job.job_code]
        if job.outcome is None:  # downloaded and typed: it loads
            task.fetched = job
            return
        # a job that timed out still runs on Uniware, which refuses a new job of the same window as a
        # duplicate: it stays in the ledger, and the next run polls it again
        timed_out = job.outcome is Outcome.TIMED_OUT
        if job.job_code and not timed_out:
            self.ledger.drop([job.job_code])
        if task.reattached and job.outcome in (Outcome.NOT_FOUND, Outcome.FAILED, Outcome.CANCELLED):
            # a job of an earlier run that Uniware no longer has: create the window afresh
            task.reattached = False
            job.superseded = True
            self.queue.append(task)
            return
        task.failures += 1
        if task.failures >= self.settings.split_after and self._can_split(task):
            job.superseded = True
            self._split(task)
        elif task.failures < task.spec.max_attempts and not timed_out:
            job.superseded = True
            task.ready_at = self.clock() + self.settings.retry_cooldown
            self.queue.append(task)
        else:
            note = (
                "(still running on Uniware: the next run polls it again)"
                if timed_out
                else f"(window given up after {task.failures} failed attempts)"
            )
            job.message = f"{job.message or ''} {note}".strip()

    @staticmethod
    def _can_split(task: WindowTask) -> bool:
        window = task.window
        return window is not None and window.halves()[0].end - window.start >= task.spec.min_window

    def _split(self, task: WindowTask) -> None:
        assert task.window is not None
        first, second = (
            WindowTask(task.spec, task.facility, half, full=task.full) for half in task.window.halves()
        )
        task.split_into = (first, second)
        self.queue.extend((first, second))
        logger.warning("%s failed %d times: splitting it in halves", task.describe(self.zone), task.failures)

    # -- creating ---------------------------------------------------------------------------------
    def _start(self, task: WindowTask) -> ExportJob | None:
        """The task's job, created (or re-attached to); None if it could not be created now."""
        spec = task.spec
        job = ExportJob(
            job_code=task.reattach or "",
            report=spec.report.name,
            facility=task.facility,
            table_name=spec.table_name,
            window=task.window,
            attempt=task.attempts + 1,
        )
        if not spec.report.key and task.window is not None:
            # every piece of one grid cell tags its rows alike, so a re-read replaces them all
            cell = grid_cell(spec, task.window.start, self.zone)
            job.row_tags[WINDOW_COLUMN] = f"{task.facility}|{cell.isoformat()}"
        task.reattached = bool(task.reattach)
        if task.reattach:
            logger.info("re-attaching to job %s for %s", task.reattach, task.describe(self.zone))
            task.reattach = None
        elif not self._create(task, job):
            return None
        self.jobs.append(job)
        self.task_of[job.job_code] = task
        return job

    def _create(self, task: WindowTask, job: ExportJob) -> bool:
        """Create the job on the tenant and write it to the ledger at once. False if Uniware
        refused (a collision is asked again later) or the network failed: create is not
        idempotent, so after a failure we cannot know whether it happened, and do not retry."""
        spec = task.spec
        try:
            job.job_code = self.client.create_export_job(
                report=spec.report.name,
                columns=spec.columns,
                filters=spec.filters_for(task.window.date_range() if task.window else None),
                facility=task.facility,
            )
        except ApiError as exc:
            if not self._collided(task, exc):
                self._give_up(task, job, exc)
            return False
        except TransportError as exc:
            if isinstance(exc, NoAnswer):
                self._unanswered(exc)
            self._give_up(task, job, exc)
            if not isinstance(exc, NoAnswer):
                # Uniware answered (a 5xx, a 429 after its retries): it did not create the job,
                # so asking again later cannot make a second one
                self._retry_later(task, job)
            return False
        self.creates_unanswered = 0
        entry = LedgerEntry(
            job_code=job.job_code,
            export=spec.key,
            facility=task.facility,
            window=task.window.to_state() if task.window else None,
            created_at=datetime.now(UTC).isoformat(),
            attempt=job.attempt,
        )
        try:
            self.ledger.add(entry)
        except Exception as exc:  # the destination stayed away (JobLedger's store waited for it)
            raise UniwareError(
                f"job {job.job_code} ({task.describe(self.zone)}) was created on Uniware, but the job "
                f"ledger in the destination could not record it ({type(exc).__name__}, for "
                f"{WRITE_PATIENCE:.0f} s): the next run creates its window again"
            ) from exc
        task.attempts += 1
        return True

    def _unanswered(self, exc: NoAnswer) -> None:
        """Creates that got no answer at all, in a row (an HTTP error is an answer): past
        UNANSWERED_CREATES the tenant is taken to be unreachable, and the run stops at once
        instead of failing every window in turn (a year of windows took 18 minutes); the windows
        wait for the next run."""
        self.creates_unanswered += 1
        if self.creates_unanswered >= UNANSWERED_CREATES:
            raise TenantUnreachable(
                f"Uniware at {self.client.base_url} did not answer {self.creates_unanswered} creates in a "
                f"row (last: {exc}); check the tenant URL, the network and Uniware's status. Nothing was "
                "lost: the windows wait for the next run"
            )

    def _collided(self, task: WindowTask, exc: ApiError) -> bool:
        """Whether Uniware refused the create because the same export is still running there;
        if so (and not too often) the task is asked again after `collision_wait`."""
        if str(exc.code) != COLLISION_CODE and "collision" not in str(exc).lower():
            return False
        task.collisions += 1
        if task.collisions > task.spec.max_attempts * 4:
            return False
        logger.info("%s: Uniware reports a collision; asking again later", task.describe(self.zone))
        task.ready_at = self.clock() + self.settings.collision_wait
        self.queue.append(task)
        return True

    def _retry_later(self, task: WindowTask, job: ExportJob) -> None:
        task.failures += 1
        if task.failures < task.spec.max_attempts:
            job.superseded = True
            task.ready_at = self.clock() + self.settings.retry_cooldown
            self.queue.append(task)

    def _give_up(self, task: WindowTask, job: ExportJob, exc: Exception) -> None:
        job.errors = getattr(exc, "errors", None)
        job.finish(Outcome.CREATE_FAILED, f"{task.describe(self.zone)}: {exc}")
        self.jobs.append(job)
        logger.warning("could not create %s: %s", task.describe(self.zone), exc)
