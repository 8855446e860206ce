"""The poll loop of one run: admit jobs, poll each when due, fetch each that is done, hand each back.

Each turn of the loop: take jobs from the feeder while the in-flight cap has room; stop when
nothing is left to poll, fetch or feed; send the status calls that are due (as many as the workers
take); wait, on the clock, for a call to finish or the next poll to fall due; then read the calls
that finished. A job leaves the loop once, when it has ended: with a typed file to load, or with
an outcome. Only a refused login stops the loop (it would fail every job).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime

from uniware_source.api.client import StatusAnswer
from uniware_source.api.errors import ApiError, AuthError, JobNotFoundError, TransportError
from uniware_source.jobs.backoff import PollSettings
from uniware_source.jobs.clock import Clock
from uniware_source.jobs.fetch import Fetcher
from uniware_source.jobs.job import ExportJob, PolledJob
from uniware_source.jobs.ports import ExportApi, JobFeeder
from uniware_source.jobs.schedule import Schedule
from uniware_source.jobs.status import Outcome, Phase, WaitingLog, classify
from uniware_source.jobs.tracker import ServerSlots
from uniware_source.jobs.workers import Finished, Kind, Workers

logger = logging.getLogger(__name__)


class PollLoop:
    def __init__(
        self,
        client: ExportApi,
        settings: PollSettings,
        *,
        workers: Workers,
        fetcher: Fetcher,
        clock: Clock,
        slots: ServerSlots,
        feeder: JobFeeder | None = None,
        rng: random.Random | None = None,
        waiting_log: WaitingLog | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.workers = workers
        self.fetcher = fetcher
        self.clock = clock
        self.slots = slots
        self.feeder = feeder
        self.rng = rng or random.Random()
        self.waiting_log = waiting_log or WaitingLog()
        self.schedule: Schedule[PolledJob] = Schedule()

    def run(self, jobs: Sequence[ExportJob] = ()) -> Iterator[ExportJob]:
        """Each job once it has ended, `jobs` first admitted all at once, then the feeder's."""
        for job in jobs:
            self._admit(job)
        try:
            while True:
                self._feed()
                feeder_wakes = self.feeder.next_ready_at() if self.feeder is not None else None
                if not self.schedule and not self.workers and feeder_wakes is None:
                    return
                self._send_due_polls()
                self.workers.wait(self.clock, self._timeout(feeder_wakes))
                for finished in self.workers.finished():
                    ended = self._read(finished)
                    if ended is not None:
                        yield self._settle(ended)
        finally:
            self.workers.cancel()

    # -- admitting --------------------------------------------------------------------------------
    def _admit(self, job: ExportJob) -> None:
        job.started_at = job.started_at or datetime.now(UTC)
        self.slots.take()
        self.schedule.at(self.clock.now(), PolledJob(job))

    def _feed(self) -> None:
        while self.feeder is not None and self.slots.has_room():
            job = self.feeder.take()
            if job is None:
                return
            self._admit(job)

    def _settle(self, job: ExportJob) -> ExportJob:
        if self.feeder is not None:
            self.feeder.settle(job)
        return job

    # -- waiting ----------------------------------------------------------------------------------
    def _send_due_polls(self) -> None:
        now = self.clock.now()
        while not self.workers.full and (polled := self.schedule.pop_due(now)) is not None:
            polled.polling(now, self.settings.job_timeout)
            self.workers.submit(Kind.STATUS, polled, self.client.export_job_status, polled.job.job_code)

    def _timeout(self, feeder_wakes: float | None) -> float | None:
        """How long to wait for a call to finish before something else is due; None: no limit."""
        if self.schedule and self.workers.full:
            return None  # polls are due but every worker is busy: wait for one to finish
        if not self.slots.has_room():
            feeder_wakes = None  # no slot for the feeder's job anyway: wait for a job to end
        wakes = [t for t in (self.schedule.next_at(), feeder_wakes) if t is not None]
        return max(0.0, min(wakes) - self.clock.now()) if wakes else None

    def _poll_later(self, polled: PolledJob, delay: float) -> None:
        self.schedule.at(self.clock.now() + delay, polled)

    # -- reading what finished --------------------------------------------------------------------
    def _read(self, finished: Finished) -> ExportJob | None:
        """The job, if this call has ended it; None if it goes on (polled again, or fetched)."""
        if finished.kind is Kind.FETCH:
            fetched: ExportJob = finished.future.result()  # only a refused login raises here
            return fetched
        return self._read_status(finished.polled, finished.future)

    def _read_status(self, polled: PolledJob, future: Future[StatusAnswer]) -> ExportJob | None:
        job = polled.job
        try:
            answer = future.result()
        except AuthError:
            raise
        except JobNotFoundError as exc:
            job.errors = exc.errors
            return self._end(polled, Outcome.NOT_FOUND, str(exc))
        except TransportError as exc:
            return self._status_failed(polled, exc)
        except ApiError as exc:
            job.errors = exc.errors
            return self._end(polled, Outcome.ERROR, str(exc))
        return self._answered(polled, answer)

    def _status_failed(self, polled: PolledJob, exc: TransportError) -> ExportJob | None:
        if polled.failed() >= self.client.budget.status_errors:
            return self._end(polled, Outcome.ERROR, str(exc))
        logger.warning("job %s: status call failed (%s); will poll again", polled.job.job_code, exc)
        self._poll_later(polled, self.settings.backoff.delay(polled.job.polls + 1, self.rng))
        return None

    def _answered(self, polled: PolledJob, answer: StatusAnswer) -> ExportJob | None:
        job = polled.job
        polled.answered()
        job.polls += 1
        job.server_status = answer.status
        phase = classify(answer.status, answer.file_path)
        if phase is Phase.READY:
            job.file_url = answer.file_path
            self.slots.free()  # the server is done with it; the download is ours
            self.workers.submit(Kind.FETCH, polled, self.fetcher, job)
            return None
        if phase.outcome is not None:
            return self._end(polled, phase.outcome, answer.message or f"Uniware reports {answer.status}")
        if polled.last_chance:
            return self._end(
                polled,
                Outcome.TIMED_OUT,
                f"job {job.job_code} not done after {self.settings.job_timeout:g} s "
                f"({job.polls} polls, last status {job.server_status!r})",
            )
        self.waiting_log.note(job.job_code, answer.status)
        self._poll_later(polled, self.settings.backoff.delay(job.polls, self.rng))
        return None

    def _end(self, polled: PolledJob, outcome: Outcome, message: str) -> ExportJob:
        """The job's server side is over without a file: its slot is free, its outcome known."""
        self.slots.free()
        return polled.job.finish(outcome, message)
