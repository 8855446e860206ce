"""Report tables partitioned by day, for destinations that keep tables as files (Delta, Iceberg).

A report whose main timestamp is known gets one more column, `<timestamp>_date_ist`: the
calendar day of that instant in India Standard Time (UTC+05:30, no daylight saving), declared
to dlt as the table's partition column. A reader that filters on the day reads only that day's
files. The day of an order's creation never changes, so a merge (upsert on the key) that
updates an order rewrites files of the day it was created in, whatever day its update comes.

Only where the table is kept in a table format (`table_format="delta"` or `"iceberg"`): in a
database, or as plain parquet files, the column would only add width.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# the report's timestamp each partition is the IST day of, by report name (labels as exported)
PARTITION_TIMESTAMP = {"Sale Orders": "Created"}
SUFFIX = "date_ist"
IST = timedelta(hours=5, minutes=30)
TABLE_FORMATS = ("delta", "iceberg")


def partition_column(report: str, naming: Any) -> tuple[str, str] | None:
    """(timestamp column, partition column) of `report` in the schema's naming, if it has one."""
    label = PARTITION_TIMESTAMP.get(report)
    if label is None:
        return None
    source = naming.normalize_identifier(label)
    return source, naming.normalize_identifier(f"{source}_{SUFFIX}")


def table_format() -> str | None:
    """The table format the running resource's tables are kept in (None outside a pipeline)."""
    import dlt

    try:
        return dlt.current.resource().compute_table_schema().get("table_format")
    except Exception:
        return None


def with_partition(batch: pa.Table, source: str, target: str) -> pa.Table:
    """`batch` with `target`, the IST day of the UTC instants of `source` (null where it is)."""
    column = batch.column(source) if source in batch.column_names else None
    if column is None or not pa.types.is_timestamp(column.type):  # no timestamp here: no day
        days = pa.nulls(batch.num_rows, pa.date32())
    else:
        shifted = pc.add(column.cast(pa.timestamp("us")), pa.scalar(IST, pa.duration("us")))
        days = shifted.cast(pa.date32())
    return batch.append_column(pa.field(target, pa.date32()), days)
