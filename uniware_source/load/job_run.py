"""The load loop that job codes and scheduled exports share: from job codes to table rows.

`JobRun` is one run's temporary download folder and its loaders, one per destination table.
`fetch` drives every job to its end with the poller (status, download, and the type plan made
while the file downloads); `load` then loads one table: one Arrow schema for all of its files,
each job's rows, and the table's final hints. A job that loaded is recorded in the resource's
dlt state, which dlt commits together with the data: a crash never marks a job loaded whose rows
did not land.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from uniware_source import library_pages, process_settings
from uniware_source.jobs import ExportJob, JobFeeder, JobPoller
from uniware_source.jobs.status import LANDED
from uniware_source.load.keys import KeyTracker
from uniware_source.load.scratch import scratch_dir
from uniware_source.reports import ReportSpec
from uniware_source.settings import SourceSettings

if TYPE_CHECKING:
    from uniware_source.load.table_loader import TableLoader
    from uniware_source.typed_csv.chunks import Arrival
    from uniware_source.typed_csv.reader import FilePlan

logger = logging.getLogger(__name__)


def record_loaded(loaded: dict[str, dict[str, Any]], job: ExportJob) -> None:
    """Remember in the resource state that `job` loaded (the same record for every resource)."""
    loaded[job.job_code] = {
        "loaded_at": job.finished_at.isoformat() if job.finished_at else None,
        "rows": job.rows_loaded,
        "sha256": job.file_sha256,
    }


class JobRun:
    """One run's jobs: fetched into a temporary folder, then loaded table by table."""

    def __init__(self, settings: SourceSettings, tracker: KeyTracker, started: datetime) -> None:
        self.settings = settings
        self.tracker = tracker
        self.started = started
        self._loaders: dict[str, TableLoader] = {}
        self._directory: Path | None = None

    def __enter__(self) -> JobRun:
        process_settings.tell_once()  # what a library user may want to set, once per process
        process_settings.freeze_at_exit()  # the interpreter's last collections, skipped
        self._directory = scratch_dir("", self.settings.download_dir)  # and a killed run's go
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
        library_pages.give_back_typing_pages()  # every file is typed: the command's load needs less

    def add_table(
        self, report: ReportSpec, table: str, *, tag_column: str | None = None, replace: bool = False
    ) -> None:
        """The loader of `table`; polars and pyarrow load with the first one."""
        from uniware_source.load.table_loader import TableLoader

        options: dict[str, Any] = {"replace": replace}
        if tag_column is not None:
            options["tag_column"] = tag_column
        self._loaders[table] = TableLoader(
            self.settings, report, table, tracker=self.tracker, run_started_at=self.started, **options
        )

    def fetch(
        self,
        jobs: Sequence[ExportJob] = (),
        *,
        client: Any = None,
        feeder: JobFeeder | None = None,
        max_in_flight: int | None = None,
        expected: int | None = None,
    ) -> list[ExportJob]:
        """Every job driven to its end: a typed file waiting to load (`outcome` None) or an outcome.
        `expected`: how many jobs the feeder plans (for the progress view)."""
        assert self._directory is not None, "use JobRun as a context manager"
        poller = JobPoller(
            client or self.settings.client(),
            self.settings.poll,
            download_dir=self._directory,
            planner=self._plan,
        )
        ended = []
        progress = _collector()
        _announce(progress, len(jobs) + (expected or 0))
        for job in poller.run(jobs, feeder=feeder, max_in_flight=max_in_flight):
            _log_progress(job)
            ended.append(job)
            _count(progress, job)
        return ended

    def load(self, table: str, jobs: Sequence[ExportJob], loaded: dict[str, dict[str, Any]]) -> Iterator[Any]:
        """Load the downloaded `jobs` of one table, and record the ones that loaded."""
        ready = [job for job in jobs if job.outcome is None]
        if not ready:
            return
        loader = self._loaders[table]
        schema = loader.table_schema(ready)
        for job in ready:
            yield from loader.load(job, schema)
            if job.outcome in LANDED:
                record_loaded(loaded, job)
        yield from loader.finish()

    def _plan(self, job: ExportJob, path: Path, arrival: Arrival) -> FilePlan:
        return self._loaders[job.table_name].plan(job, path, arrival)


def _collector() -> Any:
    """The running pipeline's progress collector (`dlt.pipeline(progress=...)`), if any."""
    try:
        import dlt

        return dlt.current.pipeline().collector
    except Exception:  # iterated outside a pipeline
        return None


_JOBS_ENDED = "Uniware jobs ended"


def _announce(progress: Any, expected: int) -> None:
    """Add this resource's jobs to the total of the jobs-ended counter (the source's resources
    share it): created with a total of 0, so that each can add to it."""
    if progress is None:
        return
    progress.update(_JOBS_ENDED, inc=0, total=0)
    if expected:
        progress.update(_JOBS_ENDED, inc=0, inc_total=expected)


def _count(progress: Any, job: ExportJob) -> None:
    """Jobs ended (of how many), jobs without data, rows typed and kB downloaded, on dlt's collector."""
    if progress is None:
        return
    progress.update(_JOBS_ENDED, inc=1)
    if job.outcome is not None:
        progress.update("Uniware jobs without data", inc=1)
        return
    if job.plan is not None:
        progress.update("Uniware rows typed", inc=job.plan.rows)
    if job.file_bytes:
        progress.update("Uniware kB downloaded", inc=job.file_bytes // 1000)


def _log_progress(job: ExportJob) -> None:
    if job.outcome is None:
        plan = job.plan
        logger.info(
            "job %s: downloaded %s bytes, %s rows to load, %s rejected",
            job.job_code,
            job.file_bytes,
            plan.rows if plan else 0,
            len(plan.rejected) if plan else 0,
        )
    else:
        logger.warning("job %s: %s: %s", job.job_code, job.outcome.value, job.message)
