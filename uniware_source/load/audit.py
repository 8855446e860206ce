"""The audit table's rows: one per job per run, in `export_jobs`.

Kept apart from the loading code, which needs polars and pyarrow: a run with nothing new to load
yields only these rows, and imports neither.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dlt

if TYPE_CHECKING:
    from uniware_source.jobs import ExportJob

# one line per job at its end, for logs and `--log-file` (the same facts as its audit row)
job_logger = logging.getLogger("uniware_source.jobs")

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
    {"name": "superseded", "data_type": "bool"},  # a later attempt in the run took over its window
]


_DLT_COLUMNS: list[dict[str, Any]] = [
    {"name": "_dlt_load_id", "data_type": "text", "nullable": False},
    {"name": "_dlt_id", "data_type": "text", "nullable": False, "unique": True, "row_key": True},
]


# the load package's own state keeps the audit rows it carries: if the destination refuses the
# package for good, the run can still say which jobs it gave up on (load/unattended.py)
PACKAGE_JOBS = "uniware_jobs"


def audit_item(
    jobs: Sequence[ExportJob], run_started_at: datetime, *, fail_on_missing: bool = False, zone: str = "UTC"
) -> Any:
    """The `export_jobs` rows of `jobs`, one per job, marked for their table; noted in the load
    package's state as well. `fail_on_missing`: a job that ended without its data makes the
    load of this package end with `MissingJobsError` (load/missing.py)."""
    rows = [job.audit_row(run_started_at) for job in jobs]
    for job in jobs:
        job_logger.info(job_line(job, run_started_at, zone))
    package: dict[str, Any]
    try:
        package = dlt.current.load_package_state()["state"]  # type: ignore[assignment]
    except Exception:  # iterated outside a pipeline's extract: no package to note them in
        package = {}
    package.setdefault(PACKAGE_JOBS, []).extend(rows)
    if fail_on_missing:
        _check_after_load(jobs)
    return dlt.mark.with_hints(rows, audit_hints(), create_table_variant=True)


def job_line(job: ExportJob, run_started_at: datetime, zone: str) -> str:
    """`job=... report=... facility=... window=... seconds=... rows=... rejected=... outcome=...`:
    one job's end, as key=value pairs (values with spaces quoted)."""
    window = job.window.label(zone) + f" {zone}" if job.window else "-"
    ended = job.finished_at or run_started_at
    seconds = (ended - (job.started_at or run_started_at)).total_seconds()
    fields = {
        "job": job.job_code or "(not created)",
        "report": job.report,
        "facility": job.facility or "-",
        "window": window,
        "seconds": f"{max(seconds, 0.0):.1f}",
        "rows": job.rows_loaded,
        "rejected": job.rows_rejected,
        "outcome": str(job.outcome or "ERROR"),
    }
    return " ".join(f"{key}={_quoted(value)}" for key, value in fields.items())


def _quoted(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if " " in text else text


def _check_after_load(jobs: Sequence[ExportJob]) -> None:
    from uniware_source.load.missing import check_after_load, missing_jobs

    missing = missing_jobs(jobs)
    if not missing:
        return
    try:
        pipeline = dlt.current.pipeline()
        load_id = dlt.current.load_package_state()["load_id"]
    except Exception:  # iterated outside a pipeline: nothing loads, nothing to raise after
        return
    check_after_load(pipeline, load_id, missing)


def audit_hints() -> Any:
    return dlt.mark.make_hints(table_name=AUDIT_TABLE, write_disposition="append", columns=_AUDIT_COLUMNS)


def empty_tables(*, with_audit_rows: bool) -> Iterator[Any]:
    """`export_jobs` and `rejected_rows` with no rows, for a run in which they do not exist yet:
    from a pipeline's first run on, the monitoring queries find them (a run with nothing to do
    otherwise leaves them uncreated). Once they exist, nothing is yielded, and pyarrow is not
    imported. `with_audit_rows`: this run yields audit rows, which create `export_jobs` anyway."""
    from dlt.common.schema.utils import has_table_seen_data

    schema = dlt.current.source_schema()
    tables = (REJECTED_TABLE,) if with_audit_rows else (AUDIT_TABLE, REJECTED_TABLE)
    missing = [t for t in tables if not has_table_seen_data(schema.tables.get(t, {}))]
    if not missing:
        return
    import pyarrow as pa

    from uniware_source.load.rejected import REJECTED_SCHEMA, rejected_hints
    from uniware_source.typed_csv.kinds import KIND_OF_DLT_TYPE, arrow_type

    # the columns dlt adds to the audit rows (dicts) when it normalizes them, which it does not add
    # to an Arrow table: declared here, so that the first run's table has them as later ones do
    audit = pa.schema(
        [
            pa.field(c["name"], arrow_type(KIND_OF_DLT_TYPE[c["data_type"]]), c.get("nullable", True))
            for c in [*_AUDIT_COLUMNS, *_DLT_COLUMNS]
        ]
    )
    for table, arrow_schema, hints in (
        (AUDIT_TABLE, audit, audit_hints()),
        (REJECTED_TABLE, REJECTED_SCHEMA, rejected_hints()),
    ):
        if table in missing:
            yield dlt.mark.with_hints(arrow_schema.empty_table(), hints, create_table_variant=True)
