"""An export job: its record through a run (the audit row it becomes), and its timer while polled."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniware_source.api.envelope import errors_text
from uniware_source.incremental.windows import Window
from uniware_source.jobs.status import Outcome

if TYPE_CHECKING:
    from uniware_source.typed_csv.rules import FilePlan


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
    # a later attempt in the same run took over this job's window (a retry or a split): its
    # failure leaves nothing missing by itself
    superseded: bool = False

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
            "errors": errors_text(self.errors),
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
            "superseded": self.superseded,
        }


@dataclass(eq=False)
class PolledJob:
    """A job while the poller watches it: its own deadline, and its streak of failed status calls.

    The deadline runs from the first poll, not from the time the job spent queued for a worker.
    A job past its deadline gets one last poll: it may have finished while that poll waited for a
    worker; if it still is not done, it has timed out.
    """

    job: ExportJob
    deadline: float | None = None  # on the poller's clock
    last_chance: bool = False
    status_errors: int = 0  # failed status calls in a row

    def polling(self, now: float, timeout: float) -> None:
        """A status call for this job leaves now."""
        if self.deadline is None:
            self.deadline = now + timeout
        if now >= self.deadline:
            self.last_chance = True

    def answered(self) -> None:
        self.status_errors = 0

    def failed(self) -> int:
        """A status call failed: the failures in a row so far."""
        self.status_errors += 1
        return self.status_errors
