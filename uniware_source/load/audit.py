"""The audit table's rows: one per job per run, in `export_jobs`.

Kept apart from the loading code, which needs polars and pyarrow: a run with nothing new to load
yields only these rows, and imports neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dlt

if TYPE_CHECKING:
    from uniware_source.jobs import ExportJob

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


def audit_item(jobs: Sequence[ExportJob], run_started_at: datetime) -> Any:
    """The `export_jobs` rows of `jobs`, one per job, marked for their table."""
    return dlt.mark.with_hints(
        [job.audit_row(run_started_at) for job in jobs],
        dlt.mark.make_hints(table_name=AUDIT_TABLE, write_disposition="append", columns=_AUDIT_COLUMNS),
        create_table_variant=True,
    )
