"""Type drift across jobs, into a real DuckDB and a real PostgreSQL: a later file whose values do
not fit a column's type widens the column; no load fails, no value changes, no variant column.

Each case loads a first file, then a second whose values the column's type cannot hold, either in
a later run (the destination column is widened) or in the same run as the first (the table is
created wide enough). Every value is compared with what the file says.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from tests.conftest import audit, make_source, rows
from uniware_source import MissingJobsError
from uniware_source.emulator import JobSpec

DSN = os.environ.get(
    "UNIWARE_TEST_POSTGRES", "postgresql://postgres:unused-with-trust-auth@127.0.0.1:5432/test"
)
MOVES = "Stock Moves"


def _pipeline(kind: str, tmp_path: Path, dataset: str, name: str | None = None) -> dlt.Pipeline:
    destination: Any = (
        dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb"))
        if kind == "duckdb"
        else dlt.destinations.postgres(DSN)
    )
    return dlt.pipeline(
        pipeline_name=name or f"drift_{dataset}",
        destination=destination,
        dataset_name=dataset,
        pipelines_dir=str(tmp_path / "pipelines"),
    )


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dlt.Pipeline]:
    dataset = f"drift_{uuid.uuid4().hex[:8]}"
    yield _pipeline(request.param, tmp_path, dataset)
    if request.param == "postgres":
        with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
            for suffix in ("", "_staging"):
                cursor.execute(f'DROP SCHEMA IF EXISTS "{dataset}{suffix}" CASCADE')


def _run(emulator: Any, pipeline: dlt.Pipeline, *contents: bytes, report: str = MOVES) -> list[str]:
    codes = [emulator.add_job(JobSpec(report=report, content=content)) for content in contents]
    pipeline.run(make_source(emulator, codes, report=report))
    return codes


def _values(pipeline: dlt.Pipeline, table: str, key: str, column: str) -> dict[str, Any]:
    return dict(rows(pipeline, f"SELECT {key}, {column} FROM {table}"))


def _storage_type(pipeline: dlt.Pipeline, table: str, column: str) -> tuple[str, int | None]:
    """The column's real type in the destination, as dlt reads it back: (data_type, scale)."""
    with pipeline.destination_client() as client:
        found = client.get_storage_table(table)[1][column]  # type: ignore[attr-defined]
    return found["data_type"], found.get("scale")


def _assert_no_variants(pipeline: dlt.Pipeline) -> None:
    with pipeline.sql_client() as client:
        names = client.execute_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s",
            pipeline.dataset_name,
        )
    assert names and not [n for (n,) in names if "__v_" in n]
    for table in pipeline.default_schema.data_tables():
        assert not [n for n in table["columns"] if "__v_" in n], table["name"]


# name: first file, second file, column, the values by code, old type, new type, values named
CASES: dict[str, tuple[bytes, bytes, str, dict[str, Any], str, str, str]] = {
    "text_in_integers": (
        b"code,qty\nA,1\nB,-7\n",
        b"code,qty\nC,abc\nD,5\n",
        "qty",
        {"A": "1", "B": "-7", "C": "abc", "D": "5"},
        "bigint",
        "text",
        "'abc'",
    ),
    "more_decimal_places": (
        b"code,amount\nA,1.12\nB,-0.5\n",
        b"code,amount\nC,1.12345\n",
        "amount",
        {"A": Decimal("1.12"), "B": Decimal("-0.5"), "C": Decimal("1.12345")},
        "decimal(38,2)",
        "decimal(38,5)",
        "'1.12345'",
    ),
    "decimals_in_integers": (
        b"code,qty\nA,1\nB,900719925474099\n",
        b"code,qty\nC,2.5\n",
        "qty",
        {"A": Decimal(1), "B": Decimal(900719925474099), "C": Decimal("2.5")},
        "bigint",
        "decimal(38,1)",
        "'2.5'",
    ),
    # the rows loaded before read as the wall clock of the report's zone, as the file wrote them,
    # not as UTC instants in another form beside the next files' IST times
    "text_in_times": (
        b"code,moved\nA,2024-01-05 10:30:00\nB,2024-01-04 23:45:10\n",
        b"code,moved\nC,pending\n",
        "moved",
        {"A": "2024-01-05 10:30:00", "B": "2024-01-04 23:45:10", "C": "pending"},
        "timestamp",
        "text",
        "'pending'",
    ),
    "text_in_dates": (
        b"code,moved\nA,2024-01-05\n",
        b"code,moved\nC,n/a yet\n",
        "moved",
        {"A": "2024-01-05", "C": "n/a yet"},
        "date",
        "text",
        "'n/a yet'",
    ),
    "times_in_dates": (  # a date is midnight in the report's zone (IST), as a file's date loads
        b"code,moved\nA,2024-01-05\n",
        b"code,moved\nB,2024-01-05 10:30:00\n",
        "moved",
        {"A": datetime(2024, 1, 4, 18, 30, tzinfo=UTC), "B": datetime(2024, 1, 5, 5, 0, tzinfo=UTC)},
        "date",
        "timestamp",
        "'2024-01-05 10:30:00'",
    ),
}
NEW_TYPE = {"text": ("text", None), "decimal(38,5)": ("decimal", 5), "decimal(38,1)": ("decimal", 1)}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("together", [False, True], ids=["later_run", "one_run"])
def test_a_drifting_file_widens_the_column_and_keeps_every_value(
    emulator: Any, warehouse: dlt.Pipeline, case: str, together: bool
) -> None:
    first, second, column, expected, old, new, values = CASES[case]
    if together:
        codes = _run(emulator, warehouse, first, second)
    else:
        codes = _run(emulator, warehouse, first) + _run(emulator, warehouse, second)

    assert _values(warehouse, "stock_moves", "code", column) == expected
    assert _storage_type(warehouse, "stock_moves", column) == NEW_TYPE.get(new, (new, None))
    _assert_no_variants(warehouse)
    jobs = audit(warehouse)
    assert [jobs[code]["status"] for code in codes] == ["LOADED", "LOADED"]
    assert jobs[codes[0]]["message"] is None
    if together:  # a new table: nothing widened in the destination, but the note says why
        note = f"column {column} typed {new} in table stock_moves, where this run's other files give {old}"
    else:
        note = f"column {column} widened from {old} to {new} in table stock_moves"
    assert jobs[codes[1]]["message"] == f"{note} (values {values})"


def test_drift_within_a_run_into_an_existing_table(emulator: Any, warehouse: dlt.Pipeline) -> None:
    """An earlier run made the table; one run then brings a file that fits and one that does not."""
    (first,) = _run(emulator, warehouse, b"code,qty,amount\nA,1,1.25\n")
    fits, drifts = _run(emulator, warehouse, b"code,qty,amount\nB,2,2.5\n", b"code,qty,amount\nC,x,3.125\n")
    assert _values(warehouse, "stock_moves", "code", "qty") == {"A": "1", "B": "2", "C": "x"}
    amounts = _values(warehouse, "stock_moves", "code", "amount")
    assert amounts == {"A": Decimal("1.25"), "B": Decimal("2.5"), "C": Decimal("3.125")}
    assert _storage_type(warehouse, "stock_moves", "amount") == ("decimal", 3)
    _assert_no_variants(warehouse)
    jobs = audit(warehouse)
    assert {jobs[code]["status"] for code in (first, fits, drifts)} == {"LOADED"}
    assert jobs[fits]["message"] is None
    assert jobs[drifts]["message"] == (
        "column qty widened from bigint to text in table stock_moves (values 'x'); "
        "column amount widened from decimal(38,2) to decimal(38,3) in table stock_moves (values '3.125')"
    )


# `Custom Price`: a tenant's custom field, typed from its values (the catalogue's `Selling Price` is
# decimal(38,9) in every file, and would need no widening)
SALE_ORDERS = b"Sale Order Item Code,Custom Price,COD,Item Count\n"


@pytest.mark.parametrize("together", [False, True], ids=["later_run", "one_run"])
def test_a_merged_report_widens_its_table_and_its_staging_table(
    emulator: Any, warehouse: dlt.Pipeline, together: bool
) -> None:
    """Sale Orders merge on their key: a second run merges through the staging table, which keeps
    the old types unless it is widened too. COD is a boolean by the catalogue's hint."""
    _run(emulator, warehouse, SALE_ORDERS + b"SOI-1,10.50,true,1\nSOI-2,3.25,false,2\n", report="Sale Orders")
    update = SALE_ORDERS + b"SOI-2,3.50,false,2\n"
    drift = SALE_ORDERS + b"SOI-3,3.12345,partial,two\nSOI-4,1,true,4\n"
    if together:
        update_code, drift_code = _run(emulator, warehouse, update, drift, report="Sale Orders")
    else:
        (update_code,) = _run(emulator, warehouse, update, report="Sale Orders")
        (drift_code,) = _run(emulator, warehouse, drift.replace(b"SOI-3", b"SOI-2"), report="Sale Orders")

    got = rows(warehouse, "SELECT sale_order_item_code, custom_price, cod, item_count FROM sale_orders")
    changed = "SOI-3" if together else "SOI-2"
    expected = {
        "SOI-1": (Decimal("10.50"), "true", "1"),
        "SOI-2": (Decimal("3.50"), "false", "2"),
        changed: (Decimal("3.12345"), "partial", "two"),
        "SOI-4": (Decimal(1), "true", "4"),
    }
    assert {key: tuple(rest) for key, *rest in got} == expected
    assert len(got) == len(expected)  # merged, not appended
    _assert_no_variants(warehouse)
    jobs = audit(warehouse)
    assert jobs[update_code]["status"] == jobs[drift_code]["status"] == "LOADED"
    assert jobs[drift_code]["message"] == (
        "column custom_price widened from decimal(38,2) to decimal(38,5) in table sale_orders "
        "(values '3.12345'); column cod widened from bool to text in table sale_orders (values 'partial'); "
        "column item_count widened from bigint to text in table sale_orders (values 'two')"
    )
    if not together:  # the staging table had the old types: it was widened with the table
        with warehouse.sql_client() as client, client.with_staging_dataset():
            staged = client.make_qualified_table_name("sale_orders")
            assert client.execute_sql(f"SELECT count(*) FROM {staged}")[0][0] >= 1


@pytest.mark.parametrize("together", [False, True], ids=["later_run", "one_run"])
def test_a_flag_written_as_words_then_as_digits_stays_boolean(
    emulator: Any, warehouse: dlt.Pipeline, together: bool
) -> None:
    """A column outside the catalogue: Yes/No in one file, 1/0 in another (on its own a column of
    1 and 0 is an integer). Both are booleans: the column stays boolean, whichever file comes
    first in one run, and when the digits come in a later run; no note, nothing widened. A later
    2 is no boolean: the column then becomes text, with a note."""
    words = b"code,gift\nA,Yes\nB,No\n"
    digits = b"code,gift\nC,1\nD,0\n"
    if together:
        codes = _run(emulator, warehouse, digits, words)
    else:
        codes = _run(emulator, warehouse, words) + _run(emulator, warehouse, digits)
    assert _storage_type(warehouse, "stock_moves", "gift")[0] == "bool"
    assert _values(warehouse, "stock_moves", "code", "gift") == {"A": True, "B": False, "C": True, "D": False}
    jobs = audit(warehouse)
    assert [(jobs[c]["status"], jobs[c]["message"]) for c in codes] == [("LOADED", None), ("LOADED", None)]

    (other,) = _run(emulator, warehouse, b"code,gift\nE,2\n")
    assert _storage_type(warehouse, "stock_moves", "gift")[0] == "text"
    assert "column gift widened from bool to text" in audit(warehouse)[other]["message"]
    _assert_no_variants(warehouse)


def test_a_flag_written_as_digits_then_as_words_in_a_later_run_becomes_boolean(
    emulator: Any, warehouse: dlt.Pipeline
) -> None:
    """The other order across runs: a first run's 1 and 0 made a bigint column; a later run's
    Yes/No turns it boolean (1 is true), as the same files loaded in one run do, with a note; a
    bigint column holding another number stays a number, and becomes text."""
    digits, words = b"code,gift,qty\nC,1,1\nD,0,2\n", b"code,gift,qty\nA,Yes,No\nB,No,Yes\n"
    codes = _run(emulator, warehouse, digits) + _run(emulator, warehouse, words)
    assert _storage_type(warehouse, "stock_moves", "gift")[0] == "bool"
    assert _values(warehouse, "stock_moves", "code", "gift") == {"A": True, "B": False, "C": True, "D": False}
    assert _storage_type(warehouse, "stock_moves", "qty")[0] == "text"
    assert _values(warehouse, "stock_moves", "code", "qty") == {"A": "No", "B": "Yes", "C": "1", "D": "2"}
    message = audit(warehouse)[codes[1]]["message"]
    assert (
        "column gift widened from bigint to bool" in message
        and "column qty widened from bigint to text" in message
    )
    _assert_no_variants(warehouse)


# a first window with no e-way bill, no return and no custom amount yet: those columns are empty
VALUELESS = b"Sale Order Item Code,Updated,EWayBill Date,Return Date,Gift Amount,Never Filled\n"


def test_a_column_empty_in_the_first_run_takes_the_type_of_its_first_values(
    emulator: Any, warehouse: dlt.Pipeline
) -> None:
    """A column with no value in the first run's files is created as text. When a later run's
    files give it values, it takes their type (a date, a time, an amount), as it would have if
    both files had loaded in one run, in the table and in its staging table; a column still
    empty stays text, and one that got text values first keeps them."""
    first = VALUELESS + b"SOI-1,2025-12-30 10:00:00,,,,\nSOI-2,2025-12-30 11:00:00,,-,NA,\n"
    _run(emulator, warehouse, first, report="Sale Orders")
    assert _storage_type(warehouse, "sale_orders", "e_way_bill_date")[0] == "text"

    later = VALUELESS + (
        b"SOI-2,2025-12-31 10:00:00,31-12-2025,2025-12-31 23:59:00,0E-7,\n"
        b"SOI-3,2025-12-31 10:30:00,01-01-2026,2026-01-01 00:15:00,1250.50,\n"
    )
    (code,) = _run(emulator, warehouse, later, report="Sale Orders")

    assert audit(warehouse)[code]["status"] == "LOADED"
    assert _storage_type(warehouse, "sale_orders", "e_way_bill_date")[0] == "date"
    assert _storage_type(warehouse, "sale_orders", "return_date")[0] == "timestamp"
    assert _storage_type(warehouse, "sale_orders", "gift_amount") == ("decimal", 7)  # 0E-7: scale 7
    assert _storage_type(warehouse, "sale_orders", "never_filled")[0] == "text"
    got = rows(
        warehouse,
        "SELECT sale_order_item_code, e_way_bill_date, return_date, gift_amount FROM sale_orders",
    )
    ist_midnight_utc = datetime(2025, 12, 31, 18, 45, tzinfo=UTC)
    expected = {
        "SOI-1": (None, None, None),
        "SOI-2": ("2025-12-31", datetime(2025, 12, 31, 18, 29, tzinfo=UTC), Decimal("0")),
        "SOI-3": ("2026-01-01", ist_midnight_utc, Decimal("1250.50")),
    }
    assert {key: (str(d) if d else None, _utc(t), a) for key, d, t, a in got} == expected
    _assert_no_variants(warehouse)

    # a third run with text in a column that got dates: widened to text, every value as written
    (third,) = _run(
        emulator, warehouse, VALUELESS + b"SOI-4,2026-01-02 09:00:00,pending,,,x\n", report="Sale Orders"
    )
    assert _storage_type(warehouse, "sale_orders", "e_way_bill_date")[0] == "text"
    assert "column e_way_bill_date widened from date to text" in audit(warehouse)[third]["message"]


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _block_type_changes(pipeline: dlt.Pipeline, kind: str) -> None:
    """Something of the user's that depends on stock_moves.qty: the destination then refuses to
    change its type (a view in PostgreSQL, an index in DuckDB)."""
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("stock_moves")
        if kind == "postgres":
            view = client.make_qualified_table_name("stock_moves_qty")
            client.execute_sql(f"CREATE VIEW {view} AS SELECT qty FROM {table}")
        else:
            client.execute_sql(f"CREATE INDEX stock_moves_qty ON {table} (qty)")


def test_a_change_the_destination_refuses_sends_that_job_to_quarantine(
    emulator: Any, warehouse: dlt.Pipeline
) -> None:
    (first,) = _run(emulator, warehouse, b"code,qty\nA,1\n")
    _block_type_changes(warehouse, warehouse.destination.destination_name)
    drifts, fits = _run(emulator, warehouse, b"code,qty\nC,abc\nD, 5 \n", b"code,qty\nE,7\n")

    assert _values(warehouse, "stock_moves", "code", "qty") == {"A": 1, "E": 7}
    assert _storage_type(warehouse, "stock_moves", "qty") == ("bigint", 0)
    held = rows(warehouse, "SELECT code, qty, _job_code FROM stock_moves__quarantine ORDER BY code")
    assert held == [("C", "abc", drifts), ("D", " 5 ", drifts)]  # as written, every column text
    _assert_no_variants(warehouse)
    jobs = audit(warehouse)
    # done (its rows are in the destination, not fetched again), but not in its table: listed by
    # the README's query of the jobs that ended without their data
    assert [jobs[code]["status"] for code in (first, drifts, fits)] == ["LOADED", "QUARANTINED", "LOADED"]
    assert jobs[fits]["message"] is None
    message = jobs[drifts]["message"]
    assert message.startswith(
        "rows loaded into table stock_moves__quarantine as text, not into stock_moves: column qty is "
        "bigint there, values such as 'abc' need text, and the destination refused the change ("
    )
    assert jobs[drifts]["rows_loaded"] == 2

    # by default, pipeline.run raises once everything has loaded, naming the job
    again = emulator.add_job(JobSpec(report=MOVES, content=b"code,qty\nF,xyz\n"))
    with pytest.raises(PipelineStepFailed) as failed:
        warehouse.run(make_source(emulator, [again], report=MOVES, fail_on_missing_jobs=True))
    assert isinstance(failed.value.exception, MissingJobsError)
    assert failed.value.exception.jobs == [(again, "QUARANTINED", MOVES, "WH-BLR")]
    assert ("F", "xyz", again) in rows(warehouse, "SELECT code, qty, _job_code FROM stock_moves__quarantine")


def test_a_run_that_died_after_widening_is_repaired_by_the_next(emulator: Any, tmp_path: Path) -> None:
    """The ALTER happens while the run extracts; a run killed before its load leaves the column
    widened but dlt's stored schema (and the job's state) as before. With the working folder
    lost too, the next run restores dlt's schema from the destination, reads the column's real
    type, and loads."""
    pipeline = _pipeline("duckdb", tmp_path, "drift", name="drift_crash")
    _run(emulator, pipeline, b"code,qty\nA,1\n")
    drift = emulator.add_job(JobSpec(report=MOVES, content=b"code,qty\nB,abc\n"))
    pipeline.extract(make_source(emulator, [drift], report=MOVES))
    assert _storage_type(pipeline, "stock_moves", "qty") == ("text", None)  # widened already
    shutil.rmtree(tmp_path / "pipelines")

    again = _pipeline("duckdb", tmp_path, "drift", name="drift_crash")
    again.run(make_source(emulator, [drift], report=MOVES))
    assert again.default_schema.tables["stock_moves"]["columns"]["qty"]["data_type"] == "text"
    assert _values(again, "stock_moves", "code", "qty") == {"A": "1", "B": "abc"}
    _assert_no_variants(again)
    job = audit(again)[drift]
    assert job["status"] == "LOADED"
    assert job["message"] == "column qty widened from bigint to text in table stock_moves (values 'abc')"


def test_a_destination_without_sql_sends_a_drifting_job_to_quarantine(emulator: Any, tmp_path: Path) -> None:
    """A filesystem destination has no column type to change: the drifting job's rows go to the
    quarantine table, the other job's into the table."""
    pipeline = dlt.pipeline(
        pipeline_name="drift_files",
        destination=dlt.destinations.filesystem(bucket_url=str(tmp_path / "lake")),
        dataset_name="drift",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    first = emulator.add_job(JobSpec(report=MOVES, content=b"code,qty\nA,1\n"))
    pipeline.run(make_source(emulator, [first], report=MOVES), loader_file_format="parquet")
    drifts = emulator.add_job(JobSpec(report=MOVES, content=b"code,qty\nB,abc\n"))
    fits = emulator.add_job(JobSpec(report=MOVES, content=b"code,qty\nC,3\n"))
    pipeline.run(make_source(emulator, [drifts, fits], report=MOVES), loader_file_format="parquet")

    assert sorted(rows(pipeline, "SELECT code, qty FROM stock_moves")) == [("A", 1), ("C", 3)]
    assert rows(pipeline, "SELECT code, qty, _job_code FROM stock_moves__quarantine") == [
        ("B", "abc", drifts)
    ]
    jobs = audit(pipeline)
    assert (jobs[drifts]["status"], jobs[fits]["status"]) == ("QUARANTINED", "LOADED")
    assert jobs[fits]["message"] is None
    assert jobs[drifts]["message"] == (
        "rows loaded into table stock_moves__quarantine as text, not into stock_moves: column qty is "
        "bigint there, values such as 'abc' need text, and this destination's column types cannot be "
        "changed (only DuckDB's and PostgreSQL's can)"
    )
