"""What the poller asks of the world outside it: the HTTP side, a feeder of jobs, a planner of files.

`UniwareClient` is the HTTP side of real runs; a test may hand in any object with these methods.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from uniware_source.api.budget import RetryBudget
from uniware_source.api.client import DownloadResult, StatusAnswer
from uniware_source.jobs.job import ExportJob

if TYPE_CHECKING:
    from uniware_source.typed_csv.chunks import Arrival
    from uniware_source.typed_csv.rules import FilePlan


class ExportApi(Protocol):
    """The two calls a job needs once it exists, and how often they may be tried."""

    @property
    def budget(self) -> RetryBudget: ...

    def export_job_status(self, job_code: str) -> StatusAnswer: ...

    def download(
        self, url: str, dest: Path, *, job_code: str, progress: Callable[[int], None] | None = None
    ) -> DownloadResult: ...


class JobFeeder(Protocol):
    """Hands the poller jobs to start, one at a time, and hears how each one ended."""

    def take(self) -> ExportJob | None:
        """A job to start now (created on the server if need be), or None if none is ready."""

    def next_ready_at(self) -> float | None:
        """When `take` may next have a job (the poller's clock), or None when it never will."""

    def settle(self, job: ExportJob) -> None:
        """`job` ended (any outcome); the feeder may queue a retry."""


# types a job's file, reading it while it downloads (as it arrives)
Planner = Callable[[ExportJob, Path, "Arrival"], "FilePlan"]
