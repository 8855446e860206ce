"""The dlt resource: job codes in; report rows, `export_jobs` and `rejected_rows` out.

One resource yields to three tables (dlt table variants), because the audit of a job can only be
written once its rows have gone through. The job codes that loaded are kept in the resource's dlt
state, which dlt commits together with the data: a crash never marks a job loaded whose rows
did not land.
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
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema import Schema
from dlt.extract.resource import DltResource

from uniware_source.csv_reader import FilePlan, TableSchema, plan_file, read_batches, unify
from uniware_source.errors import UniwareError
from uniware_source.jobs import ExportJob, JobPoller, Outcome
from uniware_source.reports import ReportSpec
from uniware_source.settings import SourceSettings

logger = logging.getLogger(__name__)

AUDIT_TABLE = "export_jobs"
REJECTED_TABLE = "rejected_rows"
JOB_CODE_COLUMN = "_job_code"

_AUDIT_COLUMNS: list[dict[str, Any]] = [
    {"name": "job_code", "data_type": "text"},  # empty only when a window's job could not be created
    {"name": "report", "data_type": "text"},
    {"name": "facility", "data_type": "text"},
    {"name": "table_name", "data_type": "text"},
    {"name": "status", "data_type": "text", "nullable": False},
    {"name": "server_status", "data_type": "text"},
    {"name": "message", "data_type": "text"},
    {"name": "errors", "data_type": "text"},
    {"name": "window_start", "data_type": "timestamp"},
    {"name": "window_end", "data_type": "timestamp"},
    {"name": "attempt", "data_type": "bigint"},
    {"name": "polls", "data_type": "bigint"},
    {"name": "run_started_at", "data_type": "timestamp"},
    {"name": "started_at", "data_type": "timestamp"},
    {"name": "finished_at", "data_type": "timestamp"},
    {"name": "rows_loaded", "data_type": "bigint"},
    {"name": "rows_rejected", "data_type": "bigint"},
    {"name": "file_bytes", "data_type": "bigint"},
    {"name": "file_sha256", "data_type": "text"},
]
_REJECTED_SCHEMA = pa.schema(
    [
        ("job_code", pa.string()),
        ("table_name", pa.string()),
        ("line_number", pa.int64()),
        ("raw_line", pa.string()),
        ("reason", pa.string()),
        ("run_started_at", pa.timestamp("us", tz="UTC")),
    ]
)
_REJECTED_CHUNK = 10_000


def audit_item(jobs: Sequence[ExportJob], run_started_at: datetime) -> Any:
    """The `export_jobs` rows of `jobs`, one per job, marked for their table."""
    return dlt.mark.with_hints(
        [job.audit_row(run_started_at) for job in jobs],
        dlt.mark.make_hints(table_name=AUDIT_TABLE, write_disposition="append", columns=_AUDIT_COLUMNS),
        create_table_variant=True,
    )


def export_job_resource(
    settings: SourceSettings,
    job_codes: Sequence[str],
    spec: ReportSpec,
    table_name: str,
) -> DltResource:
    """The resource for one report: its name is the report table's name."""

    @dlt.resource(name=table_name, max_table_nesting=0)
    def export_job_rows() -> Iterator[Any]:
        yield from _JobRun(settings, job_codes, spec, table_name).rows()

    return export_job_rows()


class _JobRun:
    def __init__(
        self, settings: SourceSettings, job_codes: Sequence[str], spec: ReportSpec, table: str
    ) -> None:
        self.settings = settings
        self.job_codes = list(dict.fromkeys(code.strip() for code in job_codes if code and code.strip()))
        self.spec = spec
        self.table = table
        self.started_at = datetime.now(UTC)
        self.schema: Schema = dlt.current.source_schema()
        self.naming = self.schema.naming
        self.key = [self.naming.normalize_identifier(label) for label in spec.key]
        self.job_code_column = self.naming.normalize_identifier(JOB_CODE_COLUMN)
        self.report_hints = dlt.mark.make_hints(
            table_name=table,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            # with a natural key a row replaces its earlier version; without one, a job's rows
            # replace that same job's rows from an earlier (forced) load, never anything else
            primary_key=self.key or None,
            merge_key=None if self.key else self.job_code_column,
            columns=[{"name": name, "nullable": False} for name in self.key] or None,
        )

    def rows(self) -> Iterator[Any]:
        state = dlt.current.resource_state()
        loaded: dict[str, dict[str, Any]] = state.setdefault("loaded_jobs", {})
        jobs = [
            ExportJob(code, self.spec.name, self.settings.facility, self.table) for code in self.job_codes
        ]
        pending: list[ExportJob] = []
        for job in jobs:
            previous = loaded.get(job.job_code)
            if previous and not self.settings.force_reload:
                job.file_sha256 = previous.get("sha256")
                job.finish(
                    Outcome.SKIPPED,
                    f"already loaded at {previous.get('loaded_at')}; force_reload to load again",
                )
            else:
                pending.append(job)

        if pending:
            download_dir = Path(tempfile.mkdtemp(prefix="uniware-", dir=self.settings.download_dir))
            try:
                poller = JobPoller(
                    self.settings.client(),
                    self.settings.poll,
                    download_dir=download_dir,
                    planner=self._plan,
                )
                fetched = []
                for job in poller.run(pending):
                    self._log_progress(job)
                    if job.outcome is None:
                        fetched.append(job)
                table_schema = self._table_schema(fetched)
                for job in fetched:
                    yield from self._load(job, table_schema)
                    if job.outcome is Outcome.LOADED:
                        loaded[job.job_code] = {
                            "loaded_at": job.finished_at.isoformat() if job.finished_at else None,
                            "rows": job.rows_loaded,
                            "sha256": job.file_sha256,
                        }
            finally:
                shutil.rmtree(download_dir, ignore_errors=True)

        audit = [job.audit_row(self.started_at) for job in jobs]
        if audit:
            yield dlt.mark.with_hints(
                audit,
                dlt.mark.make_hints(
                    table_name=AUDIT_TABLE, write_disposition="append", columns=_AUDIT_COLUMNS
                ),
                create_table_variant=True,
            )

    # -- stages ---------------------------------------------------------------------------------
    def _plan(self, job: ExportJob, path: Path) -> FilePlan:
        return plan_file(
            path,
            normalize=self.naming.normalize_identifier,
            hints=self.spec.hints,
            timezone=self.settings.timezone,
        )

    def _table_schema(self, jobs: list[ExportJob]) -> TableSchema:
        """One Arrow schema for every batch of the table, also agreeing with what already landed."""
        for job in jobs:
            assert job.plan is not None
            names = {column.name for column in job.plan.columns}
            missing = [
                label for label, name in zip(self.spec.key, self.key, strict=True) if name not in names
            ]
            if missing and job.plan.columns:
                job.finish(
                    Outcome.INVALID_FILE,
                    f"job {job.job_code}: the file has no {', '.join(map(repr, missing))} column, the key of "
                    f"{self.spec.name!r}; its columns are {', '.join(c.label for c in job.plan.columns)}",
                )
        existing = {
            name: column["data_type"]
            for name, column in self.schema.tables.get(self.table, {}).get("columns", {}).items()
            if column.get("data_type")
        }
        return unify([job.plan for job in jobs if job.outcome is None and job.plan is not None], existing)

    def _load(self, job: ExportJob, table_schema: TableSchema) -> Iterator[Any]:
        if job.outcome is not None or job.plan is None or job.local_file is None:
            return
        plan = job.plan
        rejected: list[tuple[int | None, str, str]] = [
            (r.line_number, r.raw_line, r.reason) for r in plan.rejected
        ]
        try:
            if plan.columns:
                batches = read_batches(
                    job.local_file,
                    plan,
                    table_schema,
                    timezone=self.settings.timezone,
                    batch_size=self.settings.batch_size,
                    constants={self.job_code_column: job.job_code, **job.row_tags},
                )
                for batch in batches:
                    batch = self._drop_empty_keys(batch, rejected)
                    if batch.num_rows:
                        job.rows_loaded += batch.num_rows
                        yield dlt.mark.with_hints(batch, self.report_hints, create_table_variant=True)
        except Exception as exc:  # this job's file only: the other jobs still load
            if not isinstance(exc, UniwareError):
                logger.exception("job %s: unexpected failure while reading its file", job.job_code)
            message = f"job {job.job_code}: {exc if isinstance(exc, UniwareError) else repr(exc)}"
            if job.rows_loaded:
                message += f" ({job.rows_loaded} rows were already handed over and will load)"
            job.finish(Outcome.INVALID_FILE, message)
        else:
            job.finish(Outcome.LOADED, None)
        finally:
            job.local_file.unlink(missing_ok=True)
        job.rows_rejected = len(rejected)
        for start in range(0, len(rejected), _REJECTED_CHUNK):
            chunk = rejected[start : start + _REJECTED_CHUNK]
            yield dlt.mark.with_hints(
                pa.table(
                    [
                        pa.array([job.job_code] * len(chunk), pa.string()),
                        pa.array([self.table] * len(chunk), pa.string()),
                        pa.array([line for line, _, _ in chunk], pa.int64()),
                        pa.array([raw for _, raw, _ in chunk], pa.string()),
                        pa.array([reason for _, _, reason in chunk], pa.string()),
                        pa.array(
                            [self.started_at] * len(chunk), _REJECTED_SCHEMA.field("run_started_at").type
                        ),
                    ],
                    schema=_REJECTED_SCHEMA,
                ),
                dlt.mark.make_hints(table_name=REJECTED_TABLE, write_disposition="append"),
                create_table_variant=True,
            )

    def _drop_empty_keys(self, batch: pa.Table, rejected: list[tuple[int | None, str, str]]) -> pa.Table:
        """A row without its merge key cannot be merged: it is rejected, visibly, not loaded."""
        if not self.key:
            return batch
        valid = pc.is_valid(batch.column(self.key[0]))
        for name in self.key[1:]:
            valid = pc.and_(valid, pc.is_valid(batch.column(name)))
        if pc.all(valid).as_py():
            return batch
        for row in batch.filter(pc.invert(valid)).to_pylist():
            raw = ",".join(
                "" if value is None else str(value)
                for name, value in row.items()
                if name != self.job_code_column
            )
            rejected.append(
                (None, raw, f"empty key {', '.join(self.spec.key)}: a row without its key cannot be merged")
            )
        return batch.filter(valid)

    def _log_progress(self, job: ExportJob) -> None:
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
