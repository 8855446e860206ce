"""The fetch step: a finished job's file downloaded and typed, the typing reading it as it arrives.

The planner runs on a thread of its own and reads the file while it downloads, so typing does not
wait for the download to end. A download refused or cut short is tried again, up to the budget's
`download_attempts`, each retry after asking the status call for a fresh link (a pre-signed link
expires); a failed download abandons its planning, and the retry plans afresh.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import Executor, Future, wait
from pathlib import Path
from typing import TYPE_CHECKING

from uniware_source.api.download import DownloadResult
from uniware_source.api.errors import AuthError, CsvFormatError, DownloadError, LinkExpiredError, UniwareError
from uniware_source.jobs.job import ExportJob
from uniware_source.jobs.ports import ExportApi, Planner
from uniware_source.jobs.status import Outcome, Phase, classify
from uniware_source.typed_csv.chunks import Arrival

if TYPE_CHECKING:
    from uniware_source.typed_csv.rules import FilePlan

logger = logging.getLogger(__name__)


class Fetcher:
    """Downloads and plans one job's file, in a worker; planning on the `plans` executor."""

    def __init__(self, client: ExportApi, planner: Planner, download_dir: Path, plans: Executor) -> None:
        self.client = client
        self.planner = planner
        self.download_dir = download_dir
        self.plans = plans

    def __call__(self, job: ExportJob) -> ExportJob:
        """The job with its typed file (`outcome` still None), or ended with the reason it has none.
        Whatever goes wrong ends this job only, except a refused login, which would fail every job."""
        try:
            return self._fetch(job)
        except AuthError:
            raise
        except Exception as exc:  # a bug or a library failure: recorded on the job, not fatal
            logger.exception("job %s: unexpected failure", job.job_code)
            return job.finish(Outcome.ERROR, f"job {job.job_code}: {type(exc).__name__}: {exc}")

    def _fetch(self, job: ExportJob) -> ExportJob:
        dest = self.download_dir / download_name(job.job_code)
        attempts = self.client.budget.download_attempts
        last_error: DownloadError | None = None
        for attempt in range(1, attempts + 1):
            try:
                if attempt > 1:
                    refusal = self._fresh_link(job, last_error)
                    if refusal is not None:
                        return job.finish(Outcome.DOWNLOAD_FAILED, refusal)
                result, planning = self._download_planning(job, dest)
            except DownloadError as exc:
                last_error = exc
                level = logging.INFO if isinstance(exc, LinkExpiredError) else logging.WARNING
                logger.log(level, "%s (attempt %d of %d)", exc, attempt, attempts)
            except AuthError:
                raise
            except UniwareError as exc:
                return job.finish(Outcome.DOWNLOAD_FAILED, f"job {job.job_code}: {exc}")
            else:
                return _planned(job, dest, result, planning)
        dest.unlink(missing_ok=True)
        return job.finish(Outcome.DOWNLOAD_FAILED, f"{last_error} (gave up after {attempts} attempts)")

    def _fresh_link(self, job: ExportJob, last_error: DownloadError | None) -> str | None:
        """Ask the status call for a new link; why the job cannot be fetched if it gives none."""
        answer = self.client.export_job_status(job.job_code)
        job.polls += 1
        if classify(answer.status, answer.file_path) is not Phase.READY:
            return f"{last_error}; asking for a fresh link answered status {answer.status!r} without a file"
        job.file_url = answer.file_path
        return None

    def _download_planning(self, job: ExportJob, dest: Path) -> tuple[DownloadResult, Future[FilePlan]]:
        """Download the file while the planner reads it; the planning is still running after."""
        assert job.file_url is not None
        arrival = Arrival()
        planning = self.plans.submit(self.planner, job, dest, arrival)
        try:
            result = self.client.download(job.file_url, dest, job_code=job.job_code, progress=arrival.wrote)
        except BaseException:
            arrival.fail()
            if not planning.cancel():  # still waiting for its turn: it never starts
                wait([planning])  # it stops at its next read; its error is this download's
            raise
        arrival.finish()
        return result, planning


def _planned(job: ExportJob, dest: Path, result: DownloadResult, planning: Future[FilePlan]) -> ExportJob:
    job.local_file, job.file_bytes, job.file_sha256 = result.path, result.bytes, result.sha256
    try:
        job.plan = planning.result()
    except CsvFormatError as exc:
        dest.unlink(missing_ok=True)
        # the download's path, deleted with it, says nothing to the reader of the audit
        reason = str(exc).removeprefix(f"{dest}: ")
        return job.finish(Outcome.INVALID_FILE, f"job {job.job_code}: {reason}")
    return job  # outcome decided when its rows have been handed to dlt


def download_name(job_code: str) -> str:
    """The file name of a job's download: its own whatever the code holds.

    A readable part (ASCII letters, digits, `-` and `_` of the code, at most 60) and 16 hex digits
    of the SHA-256 of the exact code: codes that differ in any way, `E/1` and `E_1`, or `e1` and
    `E1` on a filesystem blind to case, get different names. At most 81 bytes, no path separator,
    no leading dot."""
    readable = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in job_code)[:60]
    digest = hashlib.sha256(job_code.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{readable or 'job'}-{digest}.csv"
