"""The same job codes into a real PostgreSQL (127.0.0.1:5432, database `test`): types and merges,
through dlt's ADBC copy of our parquet files (adbc-driver-postgresql, in the `postgres` extra)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import dlt
import psycopg2
import pytest

from tests.conftest import audit, item_codes, make_source, rows
from uniware_source.emulator import JobSpec

DSN = os.environ.get(
    "UNIWARE_TEST_POSTGRES", "postgresql://postgres:unused-with-trust-auth@127.0.0.1:5432/test"
)


@pytest.fixture()
def pg_pipeline(tmp_path):
    dataset = f"uniware_test_{uuid.uuid4().hex[:8]}"
    pipeline = dlt.pipeline(
        pipeline_name=f"pg_{dataset}",
        destination=dlt.destinations.postgres(DSN),
        dataset_name=dataset,
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    yield pipeline
    with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
        for suffix in ("", "_staging"):
            cursor.execute(f'DROP SCHEMA IF EXISTS "{dataset}{suffix}" CASCADE')


def test_postgres_gets_exact_types_and_merges_without_duplicates(emulator, pg_pipeline) -> None:
    first = emulator.add_job(JobSpec(rows=1500))
    overlapping = emulator.add_job(JobSpec(rows=900, seed=3))  # the same order items, other content
    pg_pipeline.run(make_source(emulator, [first, overlapping]))

    types = {
        name: column.get("data_type")
        for name, column in pg_pipeline.default_schema.tables["sale_orders"]["columns"].items()
    }
    assert types["selling_price"] == "decimal" and types["created"] == "timestamp"
    assert types["shipping_address_pincode"] == "text" and types["cod"] == "bool"
    with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'sale_orders' AND column_name IN ('selling_price', 'created') "
            "ORDER BY column_name",
            (pg_pipeline.dataset_name,),
        )
        assert [t for (t,) in cursor.fetchall()] == ["timestamp with time zone", "numeric"]

    expected = item_codes(emulator, first, overlapping)
    assert rows(pg_pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (len(expected), len(expected))
    ]
    (price,) = rows(pg_pipeline, "SELECT selling_price FROM sale_orders LIMIT 1")[0]
    assert isinstance(price, Decimal)
    jobs = audit(pg_pipeline)
    assert jobs[first]["status"] == jobs[overlapping]["status"] == "LOADED"

    pg_pipeline.run(make_source(emulator, [first], force_reload=True))
    assert rows(pg_pipeline, "SELECT count(*) FROM sale_orders") == [(len(expected),)]


# Sale Orders as a file of our own: ids with leading zeros, money with 4 places and 20 digits
# before the point, negative, zero, IST wall-clock times, dates, and one row without its key
FIRST = (
    b"Sale Order Item Code,Sale Order Code,Shipping Address Pincode,Selling Price,Created,Invoice Date\n"
    b"000101,007,011001,12345678901234567890.1234,2024-01-05 23:45:00,2024-01-05\n"
    b"000102,0008,560001,-0.0001,2024-03-31 00:10:00,2024-03-31\n"
    b"000103,9,110001,0,2024-12-31 18:29:59,\n"
    b",010,400001,1.5,2024-02-01 10:00:00,2024-02-01\n"
)
SECOND = (
    b"Sale Order Item Code,Sale Order Code,Shipping Address Pincode,Selling Price,Created,Invoice Date\n"
    b"000102,0008,560001,5.5,2024-04-01 05:30:00,2024-04-01\n"
    b"000104,00,000001,99.99,2024-04-02 12:00:00,2024-04-02\n"
    b"000105,01,000002,12222.00,2024-04-02 12:00:01,2024-04-02\n"
)


def _formats(info: Any, table: str) -> set[str]:
    return {
        job.job_file_info.file_format
        for package in info.load_packages
        for job in package.jobs["completed_jobs"]
        if job.job_file_info.table_name == table
    }


def test_typed_parquet_goes_in_through_adbc_exactly_and_merges(emulator, pg_pipeline) -> None:
    """With adbc-driver-postgresql installed, dlt copies our parquet files in as they are (no csv
    rewrite), for the first load (straight into the table) and for a merge (into the staging
    table): every value and type exactly as the files say; rejected rows and audit rows land too."""
    first = emulator.add_job(JobSpec(content=FIRST))
    info = pg_pipeline.run(make_source(emulator, [first]))
    assert _formats(info, "sale_orders") == {"parquet"}  # straight into the empty table
    second = emulator.add_job(JobSpec(content=SECOND))
    info = pg_pipeline.run(make_source(emulator, [second]))
    assert _formats(info, "sale_orders") == {"parquet", "sql"}  # into staging, then dlt's merge

    columns = pg_pipeline.default_schema.tables["sale_orders"]["columns"]
    with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'sale_orders'",
            (pg_pipeline.dataset_name,),
        )
        real = {name: (kind, precision, scale) for name, kind, precision, scale in cursor.fetchall()}
    price = columns["selling_price"]
    assert real["selling_price"] == ("numeric", price["precision"], price["scale"]) and price["scale"] >= 4
    assert real["created"][0] == "timestamp with time zone"
    assert real["invoice_date"][0] == "date"
    for name in ("sale_order_item_code", "sale_order_code", "shipping_address_pincode"):
        assert real[name][0] == "character varying", name

    landed = rows(
        pg_pipeline,
        "SELECT sale_order_item_code, sale_order_code, shipping_address_pincode, selling_price, created, "
        "invoice_date, _job_code FROM sale_orders ORDER BY sale_order_item_code",
    )
    utc = UTC
    assert landed == [
        ("000101", "007", "011001", Decimal("12345678901234567890.1234"),
         datetime(2024, 1, 5, 18, 15, tzinfo=utc), date(2024, 1, 5), first),
        ("000102", "0008", "560001", Decimal("5.5"), datetime(2024, 4, 1, 0, 0, tzinfo=utc),
         date(2024, 4, 1), second),
        ("000103", "9", "110001", Decimal("0"), datetime(2024, 12, 31, 12, 59, 59, tzinfo=utc), None, first),
        ("000104", "00", "000001", Decimal("99.99"), datetime(2024, 4, 2, 6, 30, tzinfo=utc),
         date(2024, 4, 2), second),
        ("000105", "01", "000002", Decimal("12222.00"), datetime(2024, 4, 2, 6, 30, 1, tzinfo=utc),
         date(2024, 4, 2), second),
    ]  # fmt: skip
    assert rows(pg_pipeline, "SELECT job_code, reason FROM rejected_rows") == [
        (first, "empty key Sale Order Item Code: a row without its key cannot be merged")
    ]
    jobs = audit(pg_pipeline)
    one, two = jobs[first], jobs[second]
    assert (one["status"], one["rows_loaded"], one["rows_rejected"]) == ("LOADED", 3, 1)
    assert (two["status"], two["rows_loaded"]) == ("LOADED", 3)
