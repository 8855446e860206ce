"""Property: a file built from the quirks of real Uniware exports, loaded through the real source
from the emulator into DuckDB, reads back cell for cell.

The files and the oracle are those of tests/unit/test_property_csv.py; here every example is a
job of the emulator whose file is exactly those bytes, loaded by a fresh pipeline of its own
(hypothesis runs every example within one call of the test, so a function-scoped `pipeline`
fixture would be shared by all of them). What landed is compared with the oracle: the rows as a
multiset (a table has no order), each value by the kind the destination column has; the
rejected rows with their lines; the audit row's counts.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
from hypothesis import HealthCheck, given, settings

from tests.conftest import audit, make_source, rows
from tests.unit.test_property_csv import PROPERTY, CsvCase, Outcome, csv_cases, expected, oracle
from uniware_source.emulator import Emulator, JobSpec
from uniware_source.typed_csv.kinds import KIND_OF_DLT_TYPE

MOVES = "Stock Moves"  # a report the catalogue does not know: no key, no hints
TABLE = "stock_moves"
DATASET = "uniware"


@contextmanager
def fresh_pipeline() -> Iterator[dlt.Pipeline]:
    with tempfile.TemporaryDirectory() as tmp:
        yield dlt.pipeline(
            pipeline_name=f"property_{uuid.uuid4().hex[:10]}",
            destination=dlt.destinations.duckdb(str(Path(tmp) / "warehouse.duckdb")),
            dataset_name=DATASET,
            pipelines_dir=str(Path(tmp) / "pipelines"),
        )


def key(value: Any) -> tuple[str, str]:
    """A sort key that equal values share: 12.50 and 12.5000, -0.00 and 0, instants in any zone."""
    if isinstance(value, Decimal):
        return "decimal", str((value + 0).normalize())
    if isinstance(value, datetime):
        return "datetime", value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return "date", value.isoformat()
    return type(value).__name__, repr(value)


def landed(pipeline: dlt.Pipeline, width: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The kinds of the table's first `width` columns (the file's, in its order) and its rows."""
    columns = list(pipeline.default_schema.tables[TABLE]["columns"].values())[:width]
    kinds = [KIND_OF_DLT_TYPE[c["data_type"]] for c in columns]
    names = ", ".join(f'"{c["name"]}"' for c in columns)
    return kinds, [tuple(r) for r in rows(pipeline, f"SELECT {names} FROM {TABLE}")]


def check_rows(case: CsvCase, want: Outcome, pipeline: dlt.Pipeline) -> None:
    kinds, got = landed(pipeline, case.width)
    for col, kind in zip(case.columns, kinds, strict=True):
        assert col.may_be(kind) or not want.rows, (col, kind)
    wanted = [tuple(expected(kind, raw) for kind, raw in zip(kinds, r, strict=True)) for r in want.rows]
    assert sorted(got, key=lambda r: [key(v) for v in r]) == sorted(wanted, key=lambda r: [key(v) for v in r])


def check_load(emulator: Emulator, case: CsvCase) -> None:
    want = oracle(case)
    code = emulator.add_job(JobSpec(report=MOVES, content=case.data))
    with fresh_pipeline() as pipeline:
        pipeline.run(make_source(emulator, [code], report=MOVES))
        job = audit(pipeline)[code]
        counts = (job["status"], job["rows_loaded"], job["rows_rejected"])
        assert counts == ("LOADED", len(want.rows), len(want.rejected)), job
        rejected = rows(
            pipeline, f"SELECT line_number, raw_line, reason FROM rejected_rows WHERE job_code = '{code}'"
        )
        assert sorted(rejected) == sorted(want.rejected)
        if want.rows:
            check_rows(case, want, pipeline)


@settings(
    PROPERTY,
    max_examples=20,
    suppress_health_check=[*PROPERTY.suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(case=csv_cases(max_rows=12, every_kind=True))
def test_every_generated_file_loads_cell_for_cell(emulator: Emulator, case: CsvCase) -> None:
    check_load(emulator, case)


def test_a_semicolon_file_ends_invalid_with_the_reason(emulator: Emulator) -> None:
    data = "\ufeffCode;Qty;Amount\r\nA1;3;10,5\r\nB2;4;7,25\r\n".encode()
    code = emulator.add_job(JobSpec(report=MOVES, content=data))
    with fresh_pipeline() as pipeline:
        pipeline.run(make_source(emulator, [code], report=MOVES))
        job = audit(pipeline)[code]
        assert job["status"] == "INVALID_FILE"
        assert "looks `;`-separated" in job["message"] and "comma-separated" in job["message"]
        assert TABLE not in pipeline.default_schema.tables or not rows(pipeline, f"SELECT * FROM {TABLE}")
