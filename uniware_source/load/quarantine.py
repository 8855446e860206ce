"""Where a job's rows go when its table cannot take them: `<table>__quarantine`.

When a file's values do not fit a column's type and the destination cannot widen the column (a
destination without SQL we can change types with, or a change the destination refuses, such as
a column a view depends on in PostgreSQL), that job's rows, and no other job's, load into the
table's quarantine table instead: every column as text, exactly as written in the file (an empty
field is null), plus `_job_code` and the job's other row tags. The job ends QUARANTINED (done,
as LOADED, but counted with the jobs that ended without their data), and its
`export_jobs.message` says where its rows went and why. Rows of a job loaded again replace that
job's (or that window's) earlier rows there; rows that later load into the table itself are not
removed from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

import dlt

from uniware_source.jobs import ExportJob
from uniware_source.settings import SourceSettings
from uniware_source.typed_csv.model import TableSchema
from uniware_source.typed_csv.reader import read_batches

SUFFIX = "quarantine"


def quarantine_table(table: str, naming: Any) -> str:
    """`stock_moves` -> `stock_moves__quarantine`, in the schema's naming convention."""
    return str(naming.make_path(table, SUFFIX))


def quarantine_items(
    job: ExportJob, table: str, settings: SourceSettings, tag_column: str, job_code_column: str
) -> Generator[Any, None, int]:
    """The job's rows as text, for `table` (the quarantine table), in batches; returns their count.
    They replace the earlier rows of the same `tag_column` value (the job's code, or its window)."""
    assert job.plan is not None and job.local_file is not None
    raw = tuple(
        dataclasses.replace(c, kind="text", scale=0, formats=(), null_tokens=0, guarded=False)
        for c in job.plan.columns
    )
    constants = {job_code_column: job.job_code, **job.row_tags}
    merge_key = tag_column if tag_column in constants else job_code_column
    hints = dlt.mark.make_hints(
        table_name=table,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key=merge_key,
    )
    rows = 0
    plan = dataclasses.replace(job.plan, columns=raw)
    for batch in read_batches(
        job.local_file,
        plan,
        TableSchema(raw),
        timezone=settings.timezone,
        batch_size=settings.batch_size,
        constants=constants,
    ):
        rows += batch.num_rows
        yield dlt.mark.with_hints(batch, hints, create_table_variant=True)
    return rows
