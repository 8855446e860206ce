"""Export jobs: what a status means, when to poll next, and polling many jobs at once.

`JobPoller.run()` takes any number of job codes and drives each one through
status → (done) download → type plan, with a bounded pool of worker threads. It yields every
job once, when it has reached its end: ready to load (a typed file on disk) or failed with a
reason. No job's failure stops the others; only a refused login does (it would fail them all).
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from uniware_source.api.client import StatusAnswer, UniwareClient
from uniware_source.api.errors import (
    ApiError,
    AuthError,
    CsvFormatError,
    DownloadError,
    JobNotFoundError,
    LinkExpiredError,
    TransportError,
    UniwareError,
)
from uniware_source.incremental.windows import Window
from uniware_source.typed_csv.chunks import Arrival

if TYPE_CHECKING:
    from uniware_source.typed_csv.rules import FilePlan

logger = logging.getLogger(__name__)

# Live tenants answer COMPLETE, the docs say SUCCESSFUL; both (and two more spellings seen in
# clients) mean done, but only together with a filePath.
DONE_STATUSES = frozenset({"COMPLETE", "COMPLETED", "SUCCESSFUL", "SUCCESS"})
FAILED_STATUSES = frozenset({"FAILED", "FAILURE"})
CANCELLED_STATUSES = frozenset({"CANCELLED", "CANCELED"})
KNOWN_WAITING_STATUSES = frozenset({"QUEUED", "PROCESSING", "RUNNING", "SCHEDULED", "PENDING", "IN_PROGRESS"})


class Phase(StrEnum):
    READY = "ready"  # done and a filePath to fetch
    WAITING = "waiting"  # poll again
    FAILED = "failed"
    CANCELLED = "cancelled"


def classify(status: str | None, file_path: str | None) -> Phase:
    """What a status answer means. Anything unrecognised keeps polling: never mistaken for done."""
    normalized = (status or "").strip().upper()
    if normalized in DONE_STATUSES:
        return Phase.READY if file_path else Phase.WAITING
    if normalized in FAILED_STATUSES:
        return Phase.FAILED
    if normalized in CANCELLED_STATUSES:
        return Phase.CANCELLED
    return Phase.WAITING


class Outcome(StrEnum):
    """The final word on a job in one run, as written to `export_jobs.status`."""

    LOADED = "LOADED"
    SKIPPED = "SKIPPED"  # loaded by an earlier run; nothing downloaded
    FAILED = "FAILED"  # Uniware says the export failed
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    NOT_FOUND = "NOT_FOUND"
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    INVALID_FILE = "INVALID_FILE"
    ERROR = "ERROR"
    CREATE_FAILED = "CREATE_FAILED"  # Uniware refused to create the window's job


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
        base = min(self.cap, self.initial * self.factor ** max(polls_done - 1, 0))
        noise = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + noise))

    def max_polls(self, seconds: float) -> int:
        """An upper bound of polls for a job that finishes after `seconds`: the smallest n whose
        shortest possible delays (all jitter negative) add up past `seconds`, plus the final poll."""
        elapsed, polls = 0.0, 1
        while elapsed < seconds:
            elapsed += min(self.cap, self.initial * self.factor ** (polls - 1)) * (1 - self.jitter)
            polls += 1
        return polls


@dataclass
class ExportJob:
    """One job code's journey through a run, and the audit row it becomes."""

    job_code: str
    report: str
    facility: str | None
    table_name: str
    outcome: Outcome | None = None
    server_status: str | None = None
    message: str | None = None
    errors: list[dict[str, Any]] | None = None
    polls: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    file_bytes: int | None = None
    file_sha256: str | None = None
    local_file: Path | None = None
    plan: FilePlan | None = None
    file_url: str | None = None
    window: Window | None = None  # the time window the job exports, when we created it
    attempt: int = 1
    row_tags: dict[str, str] = field(default_factory=dict)  # constant columns added to its rows

    def finish(self, outcome: Outcome, message: str | None = None) -> ExportJob:
        self.outcome = outcome
        if message is not None:
            self.message = message
        self.finished_at = datetime.now(UTC)
        return self

    def audit_row(self, run_started_at: datetime) -> dict[str, Any]:
        return {
            "job_code": self.job_code or None,
            "report": self.report,
            "facility": self.facility,
            "table_name": self.table_name,
            "status": (self.outcome or Outcome.ERROR).value,
            "server_status": self.server_status,
            "message": self.message,
            "errors": _errors_text(self.errors),
            "window_start": self.window.start if self.window else None,
            "window_end": self.window.end if self.window else None,
            "attempt": self.attempt,
            "polls": self.polls,
            "run_started_at": run_started_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "file_bytes": self.file_bytes,
            "file_sha256": self.file_sha256,
        }


def _errors_text(errors: list[dict[str, Any]] | None) -> str | None:
    if not errors:
        return None
    parts = []
    for error in errors:
        code, fld = error.get("code"), error.get("fieldName")
        text = str(error.get("message") or error.get("description") or "")
        parts.append(
            " ".join(
                p for p in (f"[{code}]" if code is not None else "", f"{fld}:" if fld else "", text) if p
            )
        )
    return "; ".join(parts)


@dataclass(frozen=True)
class PollSettings:
    backoff: Backoff = Backoff()
    job_timeout: float = 1800.0
    max_workers: int = 8
    download_attempts: int = 4
    max_status_errors: int = 5  # consecutive transport errors on one job before giving up on it


# types a job's file, reading it while it downloads (as it arrives)
Planner = Callable[[ExportJob, Path, Arrival], "FilePlan"]


class JobFeeder(Protocol):
    """Hands the poller jobs to start, one at a time, and hears how each one ended."""

    def take(self) -> ExportJob | None:
        """A job to start now (created on the server if need be), or None if none is ready."""

    def next_ready_at(self) -> float | None:
        """When `take` may next have a job (the poller's clock), or None when it never will."""

    def settle(self, job: ExportJob) -> None:
        """`job` ended (any outcome); the feeder may queue a retry."""


class JobPoller:
    """Polls many jobs concurrently, then downloads and plans each finished file."""

    def __init__(
        self,
        client: UniwareClient,
        settings: PollSettings,
        *,
        download_dir: Path,
        planner: Planner,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.download_dir = download_dir
        self.planner = planner
        self.clock = clock
        self._rng = random.Random()
        self._seen_unknown: set[str] = set()
        self._lock = threading.Lock()
        self._plans: ThreadPoolExecutor | None = None  # planning threads, during run()

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
        settings = self.settings
        cap = max_in_flight or float("inf")
        deadlines: dict[int, float] = {}
        last_chance: set[int] = set()  # jobs past their deadline, polled one last time
        errors_in_row: dict[int, int] = {}
        due: list[tuple[float, int, ExportJob]] = []
        sequence = 0
        running = 0  # jobs admitted whose server side has not ended yet
        in_flight: dict[Future[Any], tuple[str, ExportJob]] = {}

        def admit(job: ExportJob) -> None:
            nonlocal sequence, running
            now = self.clock()
            errors_in_row[id(job)] = 0
            job.started_at = job.started_at or datetime.now(UTC)
            sequence += 1
            running += 1
            heapq.heappush(due, (now, sequence, job))

        def schedule(job: ExportJob, delay: float) -> None:
            nonlocal sequence
            sequence += 1
            heapq.heappush(due, (self.clock() + delay, sequence, job))

        def ended(job: ExportJob) -> ExportJob:
            """The server side of `job` is over: free its slot."""
            nonlocal running
            running -= 1
            return job

        def settle(job: ExportJob) -> ExportJob:
            if feeder is not None:
                feeder.settle(job)
            return job

        for job in jobs:
            admit(job)
        # the planning pool outlives the fetching one, whose downloads may still hand it work
        with (
            ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="uniware-plan") as plans,
            ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="uniware") as pool,
        ):
            self._plans = plans
            try:
                while True:
                    while feeder is not None and running < cap:
                        fed = feeder.take()
                        if fed is None:
                            break
                        admit(fed)
                    feeder_wakes = feeder.next_ready_at() if feeder is not None else None
                    if not due and not in_flight and feeder_wakes is None:
                        break
                    now = self.clock()
                    while due and due[0][0] <= now and len(in_flight) < settings.max_workers * 2:
                        _, _, job = heapq.heappop(due)
                        # the clock runs from the first poll, not from time spent queued here
                        deadline = deadlines.setdefault(id(job), now + settings.job_timeout)
                        if now >= deadline:
                            # one last poll after the deadline: a job may have finished while its
                            # poll waited for a worker; if it is still not done, it has timed out
                            last_chance.add(id(job))
                        in_flight[pool.submit(self.client.export_job_status, job.job_code)] = ("status", job)
                    wakes = [t for t in (due[0][0] if due else None, feeder_wakes) if t is not None]
                    if feeder_wakes is not None and running >= cap:
                        wakes.remove(feeder_wakes)  # no slot for it anyway: wait for a job to end
                    if due and len(in_flight) >= settings.max_workers * 2:
                        wakes = []  # polls are due but every worker is busy: wait for one to finish
                    timeout = max(0.0, min(wakes) - self.clock()) if wakes else None
                    if not in_flight:
                        time.sleep(timeout or 0.0)
                        continue
                    done, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        kind, job = in_flight.pop(future)
                        if kind == "fetch":
                            yield settle(future.result())
                            continue
                        try:
                            answer: StatusAnswer = future.result()
                        except AuthError:
                            raise
                        except JobNotFoundError as exc:
                            job.errors = exc.errors
                            yield settle(ended(job).finish(Outcome.NOT_FOUND, str(exc)))
                            continue
                        except TransportError as exc:
                            errors_in_row[id(job)] += 1
                            if errors_in_row[id(job)] >= settings.max_status_errors:
                                yield settle(ended(job).finish(Outcome.ERROR, str(exc)))
                                continue
                            logger.warning(
                                "job %s: status call failed (%s); will poll again", job.job_code, exc
                            )
                            schedule(job, settings.backoff.delay(job.polls + 1, self._rng))
                            continue
                        except ApiError as exc:
                            job.errors = exc.errors
                            yield settle(ended(job).finish(Outcome.ERROR, str(exc)))
                            continue
                        errors_in_row[id(job)] = 0
                        job.polls += 1
                        job.server_status = answer.status
                        phase = classify(answer.status, answer.file_path)
                        if phase is Phase.READY:
                            job.file_url = answer.file_path
                            in_flight[pool.submit(self._fetch, ended(job))] = ("fetch", job)
                        elif phase in (Phase.FAILED, Phase.CANCELLED):
                            outcome = Outcome.FAILED if phase is Phase.FAILED else Outcome.CANCELLED
                            message = answer.message or f"Uniware reports {answer.status}"
                            yield settle(ended(job).finish(outcome, message))
                        elif id(job) in last_chance:
                            yield settle(
                                ended(job).finish(
                                    Outcome.TIMED_OUT,
                                    f"job {job.job_code} not done after {settings.job_timeout:g} s "
                                    f"({job.polls} polls, last status {job.server_status!r})",
                                )
                            )
                        else:
                            self._note_status(job, answer)
                            schedule(job, settings.backoff.delay(job.polls, self._rng))
            finally:
                for future in in_flight:
                    future.cancel()

    def _note_status(self, job: ExportJob, answer: StatusAnswer) -> None:
        status = (answer.status or "").strip().upper()
        if status in DONE_STATUSES:
            logger.info("job %s: status %s but no filePath yet; polling on", job.job_code, answer.status)
            return
        if status in KNOWN_WAITING_STATUSES:
            return
        with self._lock:
            if status not in self._seen_unknown:
                self._seen_unknown.add(status)
                logger.warning(
                    "job %s: status %r was never seen before; treating it as still running",
                    job.job_code,
                    answer.status,
                )

    def _fetch(self, job: ExportJob) -> ExportJob:
        """Download and plan one job's file, in a worker. Whatever goes wrong ends this job only,
        except a refused login, which would fail every job."""
        try:
            return self._download_and_plan(job)
        except AuthError:
            raise
        except Exception as exc:  # a bug or a library failure: recorded on the job, not fatal
            logger.exception("job %s: unexpected failure", job.job_code)
            return job.finish(Outcome.ERROR, f"job {job.job_code}: {type(exc).__name__}: {exc}")

    def _download_and_plan(self, job: ExportJob) -> ExportJob:
        """Download (fresh link on refusal, retry on truncation) and plan the file meanwhile: the
        planner reads the file as it arrives, on a thread of its own, so typing does not wait for
        the download to end. A failed download abandons its planning; the retry plans afresh."""
        dest = self.download_dir / f"{_safe_name(job.job_code)}.csv"
        last_error: DownloadError | None = None
        for attempt in range(1, self.settings.download_attempts + 1):
            try:
                if attempt > 1:
                    answer = self.client.export_job_status(job.job_code)
                    job.polls += 1
                    if classify(answer.status, answer.file_path) is not Phase.READY:
                        return job.finish(
                            Outcome.DOWNLOAD_FAILED,
                            f"{last_error}; asking for a fresh link answered status "
                            f"{answer.status!r} without a file",
                        )
                    job.file_url = answer.file_path
                assert job.file_url is not None
                arrival = Arrival()
                assert self._plans is not None
                planning = self._plans.submit(self.planner, job, dest, arrival)
                try:
                    result = self.client.download(
                        job.file_url, dest, job_code=job.job_code, progress=arrival.wrote
                    )
                except BaseException:
                    arrival.fail()
                    wait([planning])  # it stops at its next read; its error is this download's
                    raise
                arrival.finish()
                break
            except DownloadError as exc:
                last_error = exc
                level = logging.INFO if isinstance(exc, LinkExpiredError) else logging.WARNING
                logger.log(level, "%s (attempt %d of %d)", exc, attempt, self.settings.download_attempts)
            except AuthError:
                raise
            except UniwareError as exc:
                return job.finish(Outcome.DOWNLOAD_FAILED, f"job {job.job_code}: {exc}")
        else:
            dest.unlink(missing_ok=True)
            return job.finish(
                Outcome.DOWNLOAD_FAILED,
                f"{last_error} (gave up after {self.settings.download_attempts} attempts)",
            )
        job.local_file, job.file_bytes, job.file_sha256 = result.path, result.bytes, result.sha256
        try:
            job.plan = planning.result()
        except CsvFormatError as exc:
            dest.unlink(missing_ok=True)
            return job.finish(Outcome.INVALID_FILE, f"job {job.job_code}: {exc}")
        return job  # outcome decided when its rows have been handed to dlt


def _safe_name(job_code: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in job_code)[:120] or "job"
