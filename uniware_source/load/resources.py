"""The job-codes resource: export jobs someone else created, given by their codes.

One resource yields to three tables (dlt table variants): the report's rows, `rejected_rows` and,
once every job has ended, `export_jobs`. The codes that loaded are kept in the resource's dlt
state, which dlt commits together with the data: a crash never marks a job loaded whose rows did
not land, and a re-run downloads nothing that already landed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from uniware_source.jobs import ExportJob, JobPoller, Outcome
from uniware_source.load.audit import audit_item
from uniware_source.load.keys import KeyTracker
from uniware_source.reports import ReportSpec
from uniware_source.settings import SourceSettings

logger = logging.getLogger(__name__)


def export_job_resource(
    settings: SourceSettings,
    job_codes: Sequence[str],
    spec: ReportSpec,
    table_name: str,
    tracker: KeyTracker,
) -> DltResource:
    """The resource for one report: its name is the report table's name."""
    codes = list(dict.fromkeys(code.strip() for code in job_codes if code and code.strip()))

    @dlt.resource(name=table_name, max_table_nesting=0)
    def export_job_rows() -> Iterator[Any]:
        yield from _load_job_codes(settings, codes, spec, table_name, tracker)

    return export_job_rows()


def _load_job_codes(
    settings: SourceSettings, codes: Sequence[str], spec: ReportSpec, table: str, tracker: KeyTracker
) -> Iterator[Any]:
    started = datetime.now(UTC)
    loaded: dict[str, dict[str, Any]] = dlt.current.resource_state().setdefault("loaded_jobs", {})
    jobs = [ExportJob(code, spec.name, settings.facility, table) for code in codes]
    pending: list[ExportJob] = []
    for job in jobs:
        previous = loaded.get(job.job_code)
        if previous and not settings.force_reload:
            job.file_sha256 = previous.get("sha256")
            job.finish(
                Outcome.SKIPPED, f"already loaded at {previous.get('loaded_at')}; force_reload to load again"
            )
        else:
            pending.append(job)

    if pending:
        # imported here: typing needs polars and pyarrow, and a run with nothing new does not
        from uniware_source.load.table_loader import TableLoader

        loader = TableLoader(settings, spec, table, tracker=tracker, run_started_at=started)
        download_dir = Path(tempfile.mkdtemp(prefix="uniware-", dir=settings.download_dir))
        try:
            poller = JobPoller(
                settings.client(), settings.poll, download_dir=download_dir, planner=loader.plan
            )
            fetched = []
            for job in poller.run(pending):
                _log_progress(job)
                if job.outcome is None:
                    fetched.append(job)
            table_schema = loader.table_schema(fetched)
            for job in fetched:
                yield from loader.load(job, table_schema)
                if job.outcome is Outcome.LOADED:
                    loaded[job.job_code] = {
                        "loaded_at": job.finished_at.isoformat() if job.finished_at else None,
                        "rows": job.rows_loaded,
                        "sha256": job.file_sha256,
                    }
            yield from loader.finish()
        finally:
            shutil.rmtree(download_dir, ignore_errors=True)
    if jobs:
        yield audit_item(jobs, started)


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
