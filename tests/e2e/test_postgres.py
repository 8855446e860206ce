"""The same job codes into a real PostgreSQL (127.0.0.1:5432, database `test`): types and merges."""

from __future__ import annotations

import os
import uuid
from decimal import Decimal

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
