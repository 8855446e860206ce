"""Job codes into dlt's filesystem destination, a local folder as the bucket: plain parquet files,
and Delta tables partitioned by the IST day of an order's creation, merged on the key. Read back
with deltalake, pyarrow and DuckDB, each value compared with what the export says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable

from tests.conftest import fetch_export, make_source, parse_export

IST = timedelta(hours=5, minutes=30)


def _pipeline(tmp_path: Path, name: str) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.filesystem(bucket_url=str(tmp_path / "lake")),
        dataset_name="uniware",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def _oracle(emulator, *codes: str) -> dict[str, dict[str, str]]:
    """The latest exported row of each order item, by its code (later jobs win, as a merge does)."""
    latest: dict[str, dict[str, str]] = {}
    for code in codes:
        for row in parse_export(fetch_export(emulator, code)):
            latest[row["Sale Order Item Code"]] = row
    return latest


def _check_values(table: pa.Table, oracle: dict[str, dict[str, str]]) -> None:
    assert table.num_rows == len(oracle)
    for row in table.select(
        ["sale_order_item_code", "shipping_address_pincode", "selling_price", "created"]
    ).to_pylist():
        exported = oracle[row["sale_order_item_code"]]
        assert row["shipping_address_pincode"] == (exported["Shipping Address Pincode"] or None)
        assert row["selling_price"] == Decimal(exported["Selling Price"])
        created = datetime.strptime(exported["Created"], "%Y-%m-%d %H:%M:%S") - IST
        assert row["created"] == created.replace(tzinfo=UTC)


def test_delta_tables_partitioned_by_ist_day_and_merged_on_the_key(emulator, tmp_path: Path) -> None:
    from uniware_source.emulator import JobSpec

    pipeline = _pipeline(tmp_path, "lake_delta")
    first = emulator.add_job(JobSpec(rows=600))
    second = emulator.add_job(JobSpec(rows=400, seed=3))  # the same order items, other content
    pipeline.run(make_source(emulator, [first]), table_format="delta")
    pipeline.run(make_source(emulator, [second]), table_format="delta")
    oracle = _oracle(emulator, first, second)

    folder = tmp_path / "lake" / "uniware" / "sale_orders"
    delta = DeltaTable(str(folder))
    assert delta.metadata().partition_columns == ["created_date_ist"]
    table = delta.to_pyarrow_table()
    types = {field.name: field.type for field in table.schema}
    assert pa.types.is_decimal(types["selling_price"]) and types["selling_price"].precision == 38
    assert types["created"] == pa.timestamp("us", tz="UTC")
    assert types["sale_order_item_code"] in (pa.string(), pa.large_string(), pa.string_view())
    assert types["created_date_ist"] == pa.date32()
    _check_values(table, oracle)  # one row per order item: the second job's rows replaced the first's
    for row in table.select(["created", "created_date_ist"]).to_pylist():
        assert row["created_date_ist"] == (row["created"] + IST).date()
    days = {row["created_date_ist"] for row in table.select(["created_date_ist"]).to_pylist()}
    assert {p.name for p in folder.glob("created_date_ist=*")} == {f"created_date_ist={d}" for d in days}

    # DuckDB reads the table's current files (its delta extension is downloaded on first use:
    # this machine has no network, so the files Delta lists are read as parquet)
    files = delta.file_uris()
    (count, keys, day_count) = duckdb.sql(
        f"SELECT count(*), count(DISTINCT sale_order_item_code), count(DISTINCT created_date_ist) "
        f"FROM read_parquet({files!r}, hive_partitioning = true)"
    ).fetchone()  # type: ignore[misc]
    assert (count, keys, day_count) == (len(oracle), len(oracle), len(days))
    audit_rows = DeltaTable(str(folder.parent / "export_jobs")).to_pyarrow_table().to_pylist()
    assert {(r["job_code"], r["status"], r["rows_loaded"]) for r in audit_rows} == {
        (first, "LOADED", 600),
        (second, "LOADED", 400),
    }


def test_plain_parquet_files_hold_every_row_typed(emulator, tmp_path: Path) -> None:
    from uniware_source.emulator import JobSpec

    pipeline = _pipeline(tmp_path, "lake_parquet")
    code = emulator.add_job(JobSpec(rows=800))
    pipeline.run(make_source(emulator, [code]), loader_file_format="parquet")
    oracle = _oracle(emulator, code)

    folder = tmp_path / "lake" / "uniware" / "sale_orders"
    table = ds.dataset(str(folder), format="parquet").to_table()
    assert "created_date_ist" not in table.column_names  # no table format: no partitions
    assert table.schema.field("created").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_decimal(table.schema.field("selling_price").type)
    _check_values(table, oracle)
    ((count,),) = duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet')").fetchall()
    assert count == len(oracle)


def test_delta_keeps_one_row_per_key_when_jobs_of_one_run_share_keys(emulator, tmp_path: Path) -> None:
    """Delta merges only by upsert, which fails on a key twice in one load: the rows of the run
    are cut to one per key first, the latest by Updated (the later job's on a tie), as dlt's
    merge deduplicates them in a database."""
    from uniware_source.emulator import JobSpec

    pipeline = _pipeline(tmp_path, "lake_repeats")
    codes = [emulator.add_job(JobSpec(rows=300, seed=seed)) for seed in (3, 4)]
    pipeline.run(make_source(emulator, codes), table_format="delta")

    chosen: dict[str, dict[str, str]] = {}
    for code in codes:
        for row in parse_export(fetch_export(emulator, code)):
            have = chosen.get(row["Sale Order Item Code"])
            if have is None or row["Updated"] >= have["Updated"]:
                chosen[row["Sale Order Item Code"]] = row
    assert len(chosen) < 600, "the two jobs should share order items"
    table = DeltaTable(str(tmp_path / "lake" / "uniware" / "sale_orders")).to_pyarrow_table()
    _check_values(table, chosen)
    for row in table.select(["sale_order_item_code", "updated"]).to_pylist():
        updated = datetime.strptime(chosen[row["sale_order_item_code"]]["Updated"], "%Y-%m-%d %H:%M:%S")
        assert row["updated"] == (updated - IST).replace(tzinfo=UTC)
