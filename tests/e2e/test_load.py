"""Job codes → emulator over HTTP → typed rows in a real DuckDB: what landed is what was exported."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import dlt
import pyarrow.parquet as pq
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from filelock import FileLock

from tests.conftest import audit, fetch_export, item_codes, make_source, parse_export, rows
from uniware_source import UniwareCredentials
from uniware_source.emulator import ALL_SALE_ORDER_KEYS, DEFAULT_SALE_ORDER_COLUMNS, Emulator, JobSpec
from uniware_source.load.typed_files import ROW_GROUP_COLUMNS, ROW_GROUP_ROWS
from uniware_source.process_settings import DUCKDB_CONFIG_VARIABLE
from uniware_source.run_lock import RunLocked, lock_path

NULLS = {"", "-", "NA", "N/A", "null", "None", "NULL"}
IST = timedelta(hours=5, minutes=30)


def _null(value: str | None) -> str | None:
    return None if value is None or value.strip() in NULLS else value


def test_sale_orders_land_typed_and_complete(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=3000))
    oracle = parse_export(fetch_export(emulator, code))
    assert len(oracle) == 3000

    info = pipeline.run(make_source(emulator, [code]))
    assert not info.has_failed_jobs

    columns = pipeline.default_schema.tables["sale_orders"]["columns"]
    types = {name: column.get("data_type") for name, column in columns.items()}
    assert types["sale_order_item_code"] == "text"
    assert types["sale_order_code"] == "text"
    assert types["shipping_address_pincode"] == "text"
    assert types["shipping_address_phone"] == "text"
    assert types["selling_price"] == "decimal"
    assert types["mrp"] == "decimal"
    assert types["created"] == "timestamp"
    assert types["updated"] == "timestamp"
    assert types["cod"] == "bool"
    assert types["_job_code"] == "text"

    landed = {
        r[0]: r[1:]
        for r in rows(
            pipeline,
            "SELECT sale_order_item_code, sale_order_code, shipping_address_pincode, selling_price, created "
            "FROM sale_orders",
        )
    }
    assert len(landed) == len(oracle)
    for row in oracle:
        code_, pincode, price, created = landed[row["Sale Order Item Code"]]
        assert code_ == _null(row["Sale Order Code"])
        assert pincode == _null(row["Shipping Address Pincode"])  # leading zeros kept
        expected_price = _null(row["Selling Price"])
        assert price == (Decimal(expected_price) if expected_price else None)  # exact, not float
        expected_created = datetime.strptime(row["Created"], "%Y-%m-%d %H:%M:%S") - IST
        assert created == expected_created.replace(tzinfo=UTC)  # IST wall clock -> UTC instant

    # unique keys: the destination is spared its deduplication pass
    assert pipeline.default_schema.tables["sale_orders"]["x-stage-data-deduplicated"] is True
    job = audit(pipeline)[code]
    assert job["status"] == "LOADED"
    assert job["rows_loaded"] == 3000
    assert job["rows_rejected"] == 0
    assert job["report"] == "Sale Orders"
    assert job["polls"] >= 1
    assert job["file_bytes"] > 0 and len(job["file_sha256"]) == 64
    assert job["started_at"] <= job["finished_at"]


def test_text_round_trips_exactly(emulator, pipeline) -> None:
    """Quotes, commas, newlines and non-ASCII text come out exactly as exported."""
    code = emulator.add_job(JobSpec(rows=2000))
    oracle = parse_export(fetch_export(emulator, code))
    pipeline.run(make_source(emulator, [code]))
    text_columns = [
        label
        for label in oracle[0]
        if any(
            ("\n" in (r[label] or "")) or ('"' in (r[label] or "")) or not (r[label] or "").isascii()
            for r in oracle
        )
    ]
    assert text_columns, "the emulator should export quoted newlines, quotes and non-ASCII text"
    naming = pipeline.default_schema.naming
    for label in text_columns:
        name = naming.normalize_identifier(label)
        landed = dict(rows(pipeline, f"SELECT sale_order_item_code, {name} FROM sale_orders"))
        for row in oracle:
            assert landed[row["Sale Order Item Code"]] == _null(row[label]), label


def test_identifier_numeric_for_40k_rows_then_not_stays_text(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=45_000))
    pipeline.run(make_source(emulator, [code]))
    ((numeric, other, total),) = rows(
        pipeline,
        "SELECT count(*) FILTER (WHERE regexp_full_match(sale_order_code, '[0-9]+')), "
        "count(*) FILTER (WHERE NOT regexp_full_match(sale_order_code, '[0-9]+')), count(*) FROM sale_orders",
    )
    assert total == 45_000
    assert numeric >= 30_000 and other > 0


def test_typed_files_reach_the_load_package_as_written(emulator, pipeline, caplog) -> None:
    """Typed rows go to a parquet file of ours that dlt imports untouched: one Arrow schema for the
    whole table (key non-null, as dlt declares it), row groups of DuckDB's own row group size
    whatever the batches (tests/unit/test_typed_files.py), and none of the dictionary encoding
    dlt's own writer would have used. Small jobs share one file: one
    load job for them all; a large one streams to its own."""
    caplog.set_level(logging.DEBUG, logger="uniware_source")
    codes = [emulator.add_job(JobSpec(rows=n, seed=n)) for n in (700, 1300, 60_000)]
    pipeline.extract(make_source(emulator, codes, batch_size=250))
    # the catalogue's types hold for all three files: each job's rows were typed as it downloaded
    assert _typed_in(caplog) == {code: "one pass" for code in codes}
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    jobs = pipeline.get_load_package_info(load_id).jobs["new_jobs"]
    files = [Path(job.file_path) for job in jobs if job.job_file_info.table_name == "sale_orders"]
    schemas, count = set(), 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        count += meta.num_rows
        schemas.add(pq.read_schema(path).remove_metadata().to_string())
        for group in range(meta.num_row_groups):
            last = group == meta.num_row_groups - 1
            assert meta.row_group(group).num_rows == ROW_GROUP_ROWS or last
            for column in range(meta.num_columns):
                assert not any("DICTIONARY" in e for e in meta.row_group(group).column(column).encodings)
    assert count == 62_000
    # the two small jobs share a file; the large one (over SMALL_JOB_BYTES) has its own
    sizes = sorted(n for path in files if (n := pq.ParquetFile(path).metadata.num_rows))
    assert sizes == [2000, 60_000]
    assert len(schemas) == 1, schemas
    assert "sale_order_item_code: string not null" in schemas.pop()


def test_a_wide_tables_row_groups_follow_duckdbs_memory_setting(emulator, tmp_path, monkeypatch) -> None:
    """Beyond 32 columns, a destination with DuckDB's defaults (no memory limit, insertion order
    kept, as a library user has them) gets row groups of DuckDB's own size, which it inserts
    fastest and in the least memory; one with a memory limit gets a row group a batch, which its
    parquet reader holds per thread (tests/unit/test_typed_files.py). Two small jobs share one
    file: one row group for both, or one each. The rows are the same either way."""
    extra = [key for key in ALL_SALE_ORDER_KEYS if key not in DEFAULT_SALE_ORDER_COLUMNS][:12]
    columns = [*DEFAULT_SALE_ORDER_COLUMNS, *extra]
    codes = [emulator.add_job(JobSpec(rows=800, seed=n, columns=columns)) for n in (1, 2)]
    groups, landed = {}, {}
    for name, config in (("defaults", None), ("bounded", '{"memory_limit": "1GB"}')):
        if config is not None:
            monkeypatch.setenv(DUCKDB_CONFIG_VARIABLE, config)
        pipeline = dlt.pipeline(
            pipeline_name=f"row_groups_{name}",
            destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
            dataset_name="uniware",
            pipelines_dir=str(tmp_path / name),
        )
        pipeline.extract(make_source(emulator, codes))
        pipeline.normalize()
        (load_id,) = pipeline.list_normalized_load_packages()
        jobs = pipeline.get_load_package_info(load_id).jobs["new_jobs"]
        (path,) = [Path(job.file_path) for job in jobs if job.job_file_info.table_name == "sale_orders"]
        meta = pq.ParquetFile(path).metadata
        assert meta.num_columns > ROW_GROUP_COLUMNS
        groups[name] = [meta.row_group(group).num_rows for group in range(meta.num_row_groups)]
        pipeline.load()
        landed[name] = rows(
            pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders"
        )
    assert groups == {"defaults": [1600], "bounded": [800, 800]}
    assert landed["defaults"] == landed["bounded"] and landed["defaults"][0][0] > 800


def test_rejected_rows_are_visible_and_the_rest_loads(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=500, malformed_rows=(10, 250)))
    data = fetch_export(emulator, code)
    pipeline.run(make_source(emulator, [code]))
    rejected = rows(
        pipeline, "SELECT job_code, line_number, raw_line, reason FROM rejected_rows ORDER BY line_number"
    )
    assert len(rejected) == 2
    lines = data.decode("utf-8-sig").replace("\r\n", "\n").split("\n")
    for job_code, line_number, raw_line, reason in rejected:
        assert job_code == code
        assert "field" in reason
        assert lines[line_number - 1] == raw_line.replace("\r\n", "\n").split("\n")[0]
    ((loaded,),) = rows(pipeline, "SELECT count(*) FROM sale_orders")
    assert loaded == 498
    job = audit(pipeline)[code]
    assert (job["rows_loaded"], job["rows_rejected"], job["status"]) == (498, 2, "LOADED")


def test_empty_and_header_only_files_load_zero_rows_and_are_recorded(emulator, pipeline) -> None:
    header_only = emulator.add_job(JobSpec(rows=0, empty=True))
    empty_body = emulator.add_job(JobSpec(rows=0, empty_body=True))
    some = emulator.add_job(JobSpec(rows=10))
    pipeline.run(make_source(emulator, [header_only, empty_body, some]))
    jobs = audit(pipeline)
    for code in (header_only, empty_body):
        assert jobs[code]["status"] == "LOADED"
        assert jobs[code]["rows_loaded"] == 0
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(10,)]


def test_rerun_downloads_nothing_and_duplicates_nothing(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=800))
    pipeline.run(make_source(emulator, [code]))
    downloads = sum(1 for r in emulator.requests if r.server == "file")
    pipeline.run(make_source(emulator, [code]))
    assert sum(1 for r in emulator.requests if r.server == "file") == downloads
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(800,)]
    assert audit(pipeline)[code]["status"] == "SKIPPED"
    assert rows(pipeline, "SELECT count(*) FROM export_jobs") == [(2,)]  # one row per job per run

    pipeline.run(make_source(emulator, [code], force_reload=True))
    assert sum(1 for r in emulator.requests if r.server == "file") == downloads + 1
    assert rows(pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (800, 800)
    ]
    assert audit(pipeline)[code]["status"] == "LOADED"


def test_unknown_report_appends_per_job_and_force_reload_replaces_that_job(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=120, report="Gatepass"))
    source_args = {"report": "Gatepass"}
    pipeline.run(make_source(emulator, [code], **source_args))
    pipeline.run(make_source(emulator, [code], force_reload=True, **source_args))
    assert rows(pipeline, "SELECT count(*) FROM gatepass") == [(120,)]
    assert pipeline.default_schema.tables["gatepass"].get("write_disposition") == "merge"


def _schemata(pipeline) -> set[str]:
    with pipeline.sql_client() as client:
        return {name for (name,) in client.execute_sql("SELECT schema_name FROM information_schema.schemata")}


def test_first_load_goes_straight_in_and_a_table_with_rows_is_merged(emulator, pipeline, tmp_path) -> None:
    code = emulator.add_job(JobSpec(rows=600, seed=3))
    pipeline.run(make_source(emulator, [code]))
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(600,)]
    assert "uniware_staging" not in _schemata(pipeline)  # no staging copy for an empty table

    # a pipeline that never saw the table, writing into the same dataset, finds rows there: merges
    other = dlt.pipeline(
        pipeline_name="uniware_other",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="uniware",
        pipelines_dir=str(tmp_path / "other"),
    )
    other.run(make_source(emulator, [code]))
    assert audit(other)[code]["status"] == "LOADED"
    assert rows(other, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (600, 600)
    ]
    assert "uniware_staging" in _schemata(other)


def test_a_table_name_dlt_normalizes_still_merges(emulator, pipeline) -> None:
    """The loader looks for the table by the name dlt gives it ("Orders Copy" -> orders_copy):
    otherwise every run would count as the first and append its rows again."""
    first, second = (emulator.add_job(JobSpec(rows=300, seed=5)) for _ in range(2))  # the same rows
    pipeline.run(make_source(emulator, [first], table_name="Orders Copy"))
    pipeline.run(make_source(emulator, [second], table_name="Orders Copy"))
    assert rows(pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM orders_copy") == [
        (300, 300)
    ]


def _typed_in(caplog) -> dict[str, str]:
    """How each job's rows were typed, from the loader's -v log: while the file downloaded (one
    pass), or by reading the file again with the table's types (a second pass)."""
    how = {}
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith("job ") and message.endswith("(one pass)"):
            how[message.split()[1].rstrip(":")] = "one pass"
        elif message.startswith("job ") and ": typed again: " in message:
            how[message.split()[1].rstrip(":")] = "second pass"
    return how


def test_rows_typed_while_downloading_take_the_tables_layout(emulator, pipeline, caplog) -> None:
    """Jobs of one table that asked for different columns (in one run): each file's rows are typed
    as it downloads, and laid out as the table's columns (the ones a file has not are null), a
    large job's and a small one's; every row lands whole, next to the other jobs' rows."""
    caplog.set_level(logging.DEBUG, logger="uniware_source")
    fewer = ["soicode", "displayorderCode", "sellingPrice", "created", "skuCode"]
    # four facilities: four sets of keys (a job's rows start at the facility's first order)
    full_small = emulator.add_job(JobSpec(rows=900, facility="WH-A"))
    full_large = emulator.add_job(JobSpec(rows=60_000, facility="WH-B"))
    narrow_small = emulator.add_job(JobSpec(rows=800, facility="WH-C", columns=fewer))
    narrow_large = emulator.add_job(JobSpec(rows=55_000, facility="WH-D", columns=fewer))
    codes = [full_small, narrow_small, full_large, narrow_large]
    oracle = {code: parse_export(fetch_export(emulator, code)) for code in codes}

    info = pipeline.run(make_source(emulator, codes))
    assert not info.has_failed_jobs
    assert _typed_in(caplog) == dict.fromkeys(codes, "one pass")
    for code in codes:
        assert audit(pipeline)[code]["rows_loaded"] == len(oracle[code])
        expected = sum(Decimal(v) for r in oracle[code] if (v := _null(r["Selling Price"])) is not None)
        ((count, total, keys),) = rows(
            pipeline,
            "SELECT count(*), sum(selling_price), count(DISTINCT sale_order_item_code) FROM sale_orders "
            f"WHERE _job_code = '{code}'",
        )
        assert (count, total, keys) == (len(oracle[code]), expected, len(oracle[code]))
    # the narrow jobs have no value in the columns they did not ask for; the full ones have theirs
    ((narrow_mrp, full_mrp, narrow_extra),) = rows(
        pipeline,
        f"SELECT count(mrp) FILTER (WHERE _job_code IN ('{narrow_small}', '{narrow_large}')), "
        f"count(mrp) FILTER (WHERE _job_code IN ('{full_small}', '{full_large}')), "
        f"count(item_details) FILTER (WHERE _job_code IN ('{narrow_small}', '{narrow_large}')) "
        "FROM sale_orders",
    )
    assert narrow_mrp == 0
    assert full_mrp == sum(1 for code in (full_small, full_large) for r in oracle[code] if _null(r["MRP"]))
    narrow_details = sum(
        1 for code in (narrow_small, narrow_large) for r in oracle[code] if _null(r["Item Details"])
    )
    assert narrow_extra == narrow_details > 0  # the column real tenants add unasked, in the narrow files only


def test_a_job_whose_types_are_not_the_tables_is_read_again(emulator, pipeline, caplog) -> None:
    """Rows typed while a file downloads are used only where the table's types are the file's.
    Another job of the run whose `Delivery Date` has a value that is not a date makes the table's
    column text: the job whose dates were typed as dates is read again, as text, value for value."""
    caplog.set_level(logging.DEBUG, logger="uniware_source")
    dated = emulator.add_job(JobSpec(rows=2000, facility="WH-A"))
    source = emulator.add_job(JobSpec(rows=300, facility="WH-B"))
    records = parse_export(fetch_export(emulator, source))
    records[150]["Delivery Date"] = "to be confirmed"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(records)
    odd = emulator.add_job(JobSpec(content=out.getvalue().encode()))
    oracle = parse_export(fetch_export(emulator, dated))

    info = pipeline.run(make_source(emulator, [dated, odd]))
    assert not info.has_failed_jobs
    assert _typed_in(caplog) == {dated: "second pass", odd: "one pass"}
    assert pipeline.default_schema.tables["sale_orders"]["columns"]["delivery_date"]["data_type"] == "text"
    landed = dict(
        rows(
            pipeline,
            f"SELECT sale_order_item_code, delivery_date FROM sale_orders WHERE _job_code = '{dated}'",
        )
    )
    assert landed == {r["Sale Order Item Code"]: _null(r["Delivery Date"]) for r in oracle}
    assert rows(
        pipeline,
        f"SELECT delivery_date FROM sale_orders WHERE _job_code = '{odd}' AND sale_order_item_code = "
        f"'{records[150]['Sale Order Item Code']}'",
    ) == [("to be confirmed",)]
    assert audit(pipeline)[odd]["rows_loaded"] == 300


def test_a_file_of_blank_records_decides_no_column_type(emulator, pipeline) -> None:
    """A file with a header and only blank or empty records loads no row and creates no table: the
    first file with values types the columns (Delivery Date, typed from its values, is a date)."""
    header = "Sale Order Item Code,Sale Order Code,Selling Price,Delivery Date\r\n"
    blank = emulator.add_job(JobSpec(content=(header + "\r\n,,,\r\n\r\n").encode()))
    pipeline.run(make_source(emulator, [blank]))
    assert audit(pipeline)[blank]["rows_loaded"] == 0
    assert "sale_orders" not in pipeline.default_schema.data_table_names()

    full = emulator.add_job(JobSpec(rows=40, seed=12))
    pipeline.run(make_source(emulator, [full]))
    assert pipeline.default_schema.tables["sale_orders"]["columns"]["delivery_date"]["data_type"] == "date"
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(40,)]


def test_a_file_column_named_as_the_job_code_column_is_an_invalid_file(emulator, pipeline) -> None:
    """A column of the file that the job code column would overwrite, or that would take over one
    of dlt's own: the job ends INVALID_FILE, naming the clash, and none of its rows load; the
    run's other jobs load."""
    clash = emulator.add_job(JobSpec(content=b"Sale Order Item Code,_job_code\r\nA1,x\r\nA2,y\r\n"))
    dlts = emulator.add_job(JobSpec(content=b"Sale Order Item Code,_dlt_load_id,_DLT_ID\nA1,x,y\n"))
    other = emulator.add_job(JobSpec(rows=25, seed=13))
    pipeline.run(make_source(emulator, [clash, dlts, other]))
    jobs = audit(pipeline)
    assert jobs[clash]["status"] == "INVALID_FILE" and "clash" in jobs[clash]["message"]
    assert jobs[dlts]["status"] == "INVALID_FILE" and "'_dlt_load_id', '_DLT_ID'" in jobs[dlts]["message"]
    assert jobs[other]["status"] == "LOADED"
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(25,)]


def test_keys_repeated_across_jobs_typed_in_one_pass_are_deduplicated(emulator, pipeline, caplog) -> None:
    """A job typed while it downloaded hands the key tracker the hashes it took of its keys then
    (a large job's and a small one's, held for the shared file, alike). A key two such jobs share
    is seen to repeat: the destination is told to deduplicate, and each order item lands once.
    (tests/unit/test_onepass.py: those hashes are the ones the tracker takes of rows typed again.)"""
    caplog.set_level(logging.DEBUG, logger="uniware_source")
    # one facility: each job's rows start at its first order, so the small job repeats large's keys
    large = emulator.add_job(JobSpec(rows=60_000, facility="WH-A", seed=3))
    small = emulator.add_job(JobSpec(rows=900, facility="WH-A", seed=4))
    info = pipeline.run(make_source(emulator, [large, small]))
    assert not info.has_failed_jobs
    assert _typed_in(caplog) == dict.fromkeys([large, small], "one pass")
    expected = item_codes(emulator, large, small)
    assert len(expected) < 60_000 + 900
    assert rows(pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (len(expected), len(expected))
    ]
    assert pipeline.default_schema.tables["sale_orders"]["x-stage-data-deduplicated"] is False


def test_a_key_repeated_without_an_updated_column_is_told_with_its_count(emulator, pipeline, caplog) -> None:
    """Two rows of one file share an order item code and the file has no Updated column to tell
    which is current: the table keeps one row per key, and the run says, as a warning, how many
    rows repeat a key and that any one of them may stay. With an Updated column the latest wins,
    and the count is told at INFO."""
    caplog.set_level(logging.INFO, logger="uniware_source")
    plain = b"Sale Order Item Code,Item SKU Code,MRP\nA1,first,1\nA1,second,3\nA2,x,2\nA2,y,2\nA3,z,5\n"
    code = emulator.add_job(JobSpec(report="Sale Orders", content=plain))
    assert not pipeline.run(make_source(emulator, [code])).has_failed_jobs
    assert rows(pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (3, 3)
    ]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "repeat the key" in r.message]
    assert len(warned) == 1 and "2 row(s)" in warned[0].message and "any one of them" in warned[0].message
    caplog.clear()
    dated = (
        b"Sale Order Item Code,Item SKU Code,Updated\n"
        b"B1,old,2024-03-01 10:00:00\nB1,new,2024-03-02 10:00:00\n"
    )
    code = emulator.add_job(JobSpec(report="Sale Orders", content=dated))
    assert not pipeline.run(make_source(emulator, [code])).has_failed_jobs
    told = [r for r in caplog.records if "repeat the key" in r.message]
    assert [r.levelno for r in told] == [logging.INFO] and "the latest by updated" in told[0].message
    assert rows(pipeline, "SELECT item_sku_code FROM sale_orders WHERE sale_order_item_code = 'B1'") == [
        ("new",)
    ]


def test_an_updated_column_loaded_as_text_does_not_pick_the_row_that_stays(
    emulator, pipeline, caplog
) -> None:
    """One value of Updated is no time (31 February), so the column loads as text: ordered as text,
    '2024-03-10 ...' would beat '20-03-2024 ...' and the older row would stay, said to be the
    latest. Instead the run warns that Updated cannot tell, naming the column."""
    caplog.set_level(logging.INFO, logger="uniware_source")
    older = b"Sale Order Item Code,Selling Price,Updated\nSOI-9,100.00,2024-03-10 10:00:00\n"
    newer = (
        b"Sale Order Item Code,Selling Price,Updated\n"
        b"SOI-9,200.00,20-03-2024 10:00\nSOI-8,1,31-02-2024 10:00\n"
    )
    codes = [emulator.add_job(JobSpec(report="Sale Orders", content=body)) for body in (older, newer)]
    assert not pipeline.run(make_source(emulator, codes)).has_failed_jobs
    assert rows(pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (2, 2)
    ]
    told = [r for r in caplog.records if "repeat the key" in r.message]
    assert [r.levelno for r in told] == [logging.WARNING], [r.message for r in told]
    assert "updated loaded as string" in told[0].message and "latest by" not in told[0].message


def test_a_second_run_of_a_pipeline_from_code_is_refused_while_one_runs(emulator, pipeline) -> None:
    """Two runs at once of one pipeline from a user's own code would both append to tables that
    were empty (every row twice): the second, finding the pipeline's run lock held, fails before
    it creates or reads anything; the lock goes with the end of a run."""
    code = emulator.add_job(JobSpec(rows=40))
    path = lock_path(pipeline.pipelines_dir, pipeline.pipeline_name)
    requests = len(emulator.requests)
    with FileLock(path, timeout=0), pytest.raises(PipelineStepFailed) as refused:
        pipeline.run(make_source(emulator, [code]))
    assert isinstance(refused.value.exception.__cause__, RunLocked), refused.value.exception
    assert "another run of pipeline" in str(refused.value.exception)
    assert len(emulator.requests) == requests  # nothing asked of the tenant

    pipeline.drop_pending_packages()
    pipeline.run(make_source(emulator, [code]))
    assert rows(pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (40, 40)
    ]
    with FileLock(path, timeout=0):  # let go at the end of the run
        pass

    # read outside a run, or in a run dlt does not trace, no end would let it go: not taken
    assert len(list(make_source(emulator, [code], force_reload=True))) > 0
    untraced = dlt.pipeline(
        pipeline_name=pipeline.pipeline_name + "_untraced",
        destination=dlt.destinations.duckdb(str(Path(pipeline.pipelines_dir).parent / "untraced.duckdb")),
        pipelines_dir=pipeline.pipelines_dir,
    )
    untraced.config.enable_runtime_trace = False
    untraced.run(make_source(emulator, [code]))
    for name in (pipeline.pipeline_name, untraced.pipeline_name):
        with FileLock(lock_path(pipeline.pipelines_dir, name), timeout=0):
            pass


def _pending_package(emulator, pipeline) -> str:
    """A pipeline whose last run was killed after normalize: the code of the job whose package is
    pending (an earlier run made the dataset, so that dlt keeps the working folder)."""
    zero, first = emulator.add_job(JobSpec(rows=10, seed=5)), emulator.add_job(JobSpec(rows=30))
    pipeline.run(make_source(emulator, [zero]))
    pipeline.extract(make_source(emulator, [first]))
    pipeline.normalize()  # killed here
    assert pipeline.list_normalized_load_packages()
    return str(first)


def test_a_run_that_finds_a_pending_package_waits_for_the_lock_before_loading_it(emulator, pipeline) -> None:
    """A run from code that finds a package an interrupted run left loads it and reads no source
    (dlt's rule), so the source never takes the lock: beside the command loading the same package,
    its rows landed two to four times. The run takes the lock as its trace starts, waits while
    another run holds it, and says that the jobs it was given are not read."""
    import threading

    first, second = _pending_package(emulator, pipeline), emulator.add_job(JobSpec(rows=20, seed=3))

    waiting = threading.Event()
    told: list[str] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            told.append(record.getMessage())
            if "waiting for it to end" in record.getMessage():
                waiting.set()

    watch = Watch(logging.WARNING)
    logging.getLogger("uniware_source").addHandler(watch)
    holder = FileLock(lock_path(pipeline.pipelines_dir, pipeline.pipeline_name))
    holder.acquire(timeout=0)  # another run, as the command holds it
    outcome: list[dlt.common.pipeline.LoadInfo] = []
    run = threading.Thread(target=lambda: outcome.append(pipeline.run(make_source(emulator, [second]))))
    try:
        run.start()
        assert waiting.wait(120), told  # the run waits: the package is not loaded beside the other run
        assert pipeline.list_normalized_load_packages()
    finally:
        holder.release()
        run.join(300)
        logging.getLogger("uniware_source").removeHandler(watch)
    assert outcome and not outcome[0].has_failed_jobs
    assert any("reads no Uniware job" in m and "run it again" in m for m in told), told
    loaded = dict(rows(pipeline, "SELECT _job_code, count(*) FROM sale_orders GROUP BY 1"))
    assert loaded[first] == 30 and second not in loaded  # the package, once; not the jobs given
    assert rows(pipeline, "SELECT count(*) = count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (True,)
    ]
    with FileLock(lock_path(pipeline.pipelines_dir, pipeline.pipeline_name), timeout=0):
        pass  # let go at the end of that run

    pipeline.run(make_source(emulator, [second]))  # run again: the jobs it was given
    assert dict(rows(pipeline, "SELECT _job_code, count(*) FROM sale_orders GROUP BY 1"))[second] == 20


ATTACH_AND_LOAD = """
import logging, sys
import dlt
import uniware_source  # makes no source: the package's import watches the runs
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
pipeline = dlt.attach(
    pipeline_name=sys.argv[1], pipelines_dir=sys.argv[2], destination=dlt.destinations.duckdb(sys.argv[3])
)
pipeline.load()
print("loaded", flush=True)
"""


def test_a_process_that_attaches_and_loads_a_pending_package_waits_for_the_lock(emulator, pipeline) -> None:
    """An orchestrator's task that attaches to the pipeline and loads what is pending makes no
    source at all: importing the package is enough for it to take the run lock, waiting."""
    import subprocess
    import sys

    first = _pending_package(emulator, pipeline)
    database = str(Path(pipeline.pipelines_dir).parent / "warehouse.duckdb")
    holder = FileLock(lock_path(pipeline.pipelines_dir, pipeline.pipeline_name))
    holder.acquire(timeout=0)
    loader = subprocess.Popen(
        [sys.executable, "-c", ATTACH_AND_LOAD, pipeline.pipeline_name, pipeline.pipelines_dir, database],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert loader.stderr is not None
        seen = []
        for line in loader.stderr:  # until it says it waits (or ends, having not waited)
            seen.append(line)
            if "waiting for it to end" in line:
                break
        assert seen and "waiting for it to end" in seen[-1], "".join(seen)
        assert pipeline.list_normalized_load_packages()  # not loaded while the lock is held
    finally:
        holder.release()
    out, err = loader.communicate(timeout=300)
    assert loader.returncode == 0 and "loaded" in out, err
    assert dict(rows(pipeline, "SELECT _job_code, count(*) FROM sale_orders GROUP BY 1"))[first] == 30


def test_a_second_tenant_into_a_dataset_that_holds_another_is_refused(
    emulator, tmp_path_factory, tmp_path
) -> None:
    """Their keys (and job codes) repeat across tenants: a second tenant's rows would replace the
    first's, and the job ledger would mix their jobs. The dataset is marked as the first tenant's;
    a run of another into it, from a pipeline of its own, fails before it asks its tenant anything,
    and loads into a dataset of its own."""

    def tenant_pipeline(name: str, dataset: str) -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=name,
            destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
            dataset_name=dataset,
            pipelines_dir=str(tmp_path / "pipelines"),
        )

    first = tenant_pipeline("tenant_a", "shared")
    code = emulator.add_job(JobSpec(rows=30))
    # an address that answers nothing (a typo): no job loads, so the dataset is nobody's yet
    first.run(make_source(emulator, [code], base_url="http://127.0.0.1:9"))
    assert audit(first)[code]["status"] != "LOADED"
    first.run(make_source(emulator, [code]))
    assert rows(first, "SELECT tenant FROM _uniware_tenant") == [(urlsplit(emulator.base_url).netloc,)]
    cache = tmp_path_factory.getbasetemp() / "emulator-cache"
    with Emulator(username="u", password="p", default_job_delay=0.1, seed=8, cache_dir=cache) as other:
        code = other.add_job(JobSpec(rows=20))
        source = make_source(other, [code], credentials=UniwareCredentials(username="u", password="p"))
        with pytest.raises(PipelineStepFailed) as refused:
            tenant_pipeline("tenant_b", "shared").run(source)
        said = str(refused.value.exception.__cause__)
        assert f"holds the data of Uniware tenant {urlsplit(emulator.base_url).netloc}" in said
        assert f"not {urlsplit(other.base_url).netloc}" in said
        assert not [r for r in other.requests if r.server == "api"]  # its tenant was asked nothing
        assert rows(first, "SELECT count(*) FROM sale_orders") == [(30,)]

        own = tenant_pipeline("tenant_b", "tenant_b_data")
        own.drop_pending_packages()
        own.run(make_source(other, [code], credentials=UniwareCredentials(username="u", password="p")))
        assert rows(own, "SELECT count(*) FROM sale_orders") == [(20,)]


@pytest.mark.parametrize("disposition", ["replace", "merge"])
def test_a_write_disposition_given_to_the_run_is_refused_not_ignored(emulator, pipeline, disposition) -> None:
    """Each table's write disposition is the connector's own: one given to pipeline.run was
    quietly lost (a 'replace' merged instead). It is refused before the tenant is asked anything."""
    code = emulator.add_job(JobSpec(rows=10))
    requests = len(emulator.requests)
    with pytest.raises(PipelineStepFailed) as refused:
        pipeline.run(make_source(emulator, [code]), write_disposition=disposition)
    said = str(refused.value.exception.__cause__)
    assert f"write_disposition={disposition!r} was given to pipeline.run" in said and "refresh=" in said
    assert len(emulator.requests) == requests
