"""What a job's status means: the phase it puts the job in, and the outcome a job ends with.

Uniware's spelling of a status varies between tenants and its docs, so statuses are read as sets,
and anything unrecognised keeps polling: a status is never mistaken for done.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum

logger = logging.getLogger(__name__)

# Live tenants answer COMPLETE, the docs say SUCCESSFUL; both (and two more spellings seen in
# clients) mean done, but only together with a filePath.
DONE_STATUSES = frozenset({"COMPLETE", "COMPLETED", "SUCCESSFUL", "SUCCESS"})
FAILED_STATUSES = frozenset({"FAILED", "FAILURE"})
CANCELLED_STATUSES = frozenset({"CANCELLED", "CANCELED"})
KNOWN_WAITING_STATUSES = frozenset({"QUEUED", "PROCESSING", "RUNNING", "SCHEDULED", "PENDING", "IN_PROGRESS"})


class Outcome(StrEnum):
    """The final word on a job in one run, as written to `export_jobs.status`."""

    LOADED = "LOADED"
    # its rows loaded, as text, into the table's quarantine table: the table could not take them
    # (export_jobs.message says why); done, as LOADED, but its data is not in its table
    QUARANTINED = "QUARANTINED"
    SKIPPED = "SKIPPED"  # loaded by an earlier run; nothing downloaded
    FAILED = "FAILED"  # Uniware says the export failed
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    NOT_FOUND = "NOT_FOUND"
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    INVALID_FILE = "INVALID_FILE"
    ERROR = "ERROR"
    CREATE_FAILED = "CREATE_FAILED"  # Uniware refused to create the window's job


# the outcomes whose rows are in the destination: the job code is not fetched again, its window is done
LANDED = frozenset({Outcome.LOADED, Outcome.QUARANTINED})


class Phase(StrEnum):
    READY = "ready"  # done and a filePath to fetch
    WAITING = "waiting"  # poll again
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def outcome(self) -> Outcome | None:
        """The outcome this phase ends a job with, when it ends it on the server's word."""
        return _PHASE_OUTCOMES.get(self)


_PHASE_OUTCOMES = {Phase.FAILED: Outcome.FAILED, Phase.CANCELLED: Outcome.CANCELLED}


def classify(status: str | None, file_path: str | None) -> Phase:
    """What a status answer means. Anything unrecognised keeps polling: never mistaken for done."""
    normalized = _normal(status)
    if normalized in DONE_STATUSES:
        return Phase.READY if file_path else Phase.WAITING
    if normalized in FAILED_STATUSES:
        return Phase.FAILED
    if normalized in CANCELLED_STATUSES:
        return Phase.CANCELLED
    return Phase.WAITING


class WaitingLog:
    """Says why a job is still waiting, when that is worth saying: a done status without its file
    each time, a status never seen before once per poller (not once per poll or per job)."""

    def __init__(self) -> None:
        self._seen_unknown: set[str] = set()
        self._lock = threading.Lock()

    def note(self, job_code: str, status: str | None) -> None:
        normalized = _normal(status)
        if normalized in DONE_STATUSES:
            logger.info("job %s: status %s but no filePath yet; polling on", job_code, status)
            return
        if normalized in KNOWN_WAITING_STATUSES:
            return
        with self._lock:
            if normalized in self._seen_unknown:
                return
            self._seen_unknown.add(normalized)
        logger.warning(
            "job %s: status %r was never seen before; treating it as still running", job_code, status
        )


def _normal(status: str | None) -> str:
    return (status or "").strip().upper()
