"""Rows that cannot load, made visible: the `rejected_rows` table.

A row is rejected when its record has the wrong number of fields (found by the typed-CSV reader,
with its line) or when its merge key is empty (found here: a row without its key cannot be
merged). Each rejected row keeps its raw text and the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from uniware_source.load.audit import REJECTED_TABLE
from uniware_source.typed_csv.model import plain_strings

Rejected = tuple[int | None, str, str]  # line number (None: not known), raw text, reason

REJECTED_SCHEMA = pa.schema(
    [
        ("job_code", pa.string()),
        ("table_name", pa.string()),
        ("line_number", pa.int64()),
        ("raw_line", pa.string()),
        ("reason", pa.string()),
        ("run_started_at", pa.timestamp("us", tz="UTC")),
    ]
)
_CHUNK = 10_000


def without_empty_keys(
    batch: pa.Table, key: Sequence[str], labels: Sequence[str], skip: str, rejected: list[Rejected]
) -> pa.Table:
    """`batch` less its rows with an empty key column, which go to `rejected` (their values joined
    by commas, less the `skip` column)."""
    valid = pc.is_valid(batch.column(key[0]))
    for name in key[1:]:
        valid = pc.and_(valid, pc.is_valid(batch.column(name)))
    if pc.all(valid).as_py():
        return batch
    reason = f"empty key {', '.join(labels)}: a row without its key cannot be merged"
    # pyarrow (26) cannot filter string_view columns: filtered as plain strings, then cast back
    plain = batch.cast(plain_strings(batch.schema))
    for row in plain.filter(pc.invert(valid)).to_pylist():
        values = ("" if v is None else str(v) for name, v in row.items() if name != skip)
        rejected.append((None, ",".join(values), reason))
    return plain.filter(valid).cast(batch.schema)


def rejected_hints() -> Any:
    return dlt.mark.make_hints(table_name=REJECTED_TABLE, write_disposition="append")


def rejected_items(
    job_code: str, table: str, started_at: datetime, rejected: Sequence[Rejected]
) -> Iterator[Any]:
    """The `rejected_rows` rows of one job, in Arrow tables of at most _CHUNK rows."""
    hints = rejected_hints()
    for start in range(0, len(rejected), _CHUNK):
        chunk = rejected[start : start + _CHUNK]
        table_rows = pa.table(
            [
                pa.array([job_code] * len(chunk), pa.string()),
                pa.array([table] * len(chunk), pa.string()),
                pa.array([line for line, _, _ in chunk], pa.int64()),
                pa.array([raw for _, raw, _ in chunk], pa.string()),
                pa.array([reason for _, _, reason in chunk], pa.string()),
                pa.array([started_at] * len(chunk), REJECTED_SCHEMA.field("run_started_at").type),
            ],
            schema=REJECTED_SCHEMA,
        )
        yield dlt.mark.with_hints(table_rows, hints, create_table_variant=True)
