"""Files shaped like real tenants' exports, served byte for byte by the emulator (JobSpec.content)
and loaded by the real client into DuckDB: each column's type, and sums and counts that show no
value changed on the way. Then two files of one report, 12 rows and 2,000, whose values alone
would type them apart, in one table with one type per column, in one run or in two."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import pytest

from tests.conftest import audit, make_source, rows
from uniware_source.emulator import JobSpec

TALLY = "Tally GST Report"
ZEROS = ["0E-7"] * 18


def _csv(header: list[str], body: list[list[str]]) -> bytes:
    """LF line ends, no BOM, minimal quoting: as Uniware writes its files."""
    return ("\n".join(",".join(row) for row in [header, *body]) + "\n").encode()


def _types(pipeline: dlt.Pipeline, table: str) -> dict[str, str]:
    """Each column's type as the destination holds it."""
    with pipeline.sql_client() as client:
        found = client.execute_sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            pipeline.dataset_name,
            table,
        )
    return {name: kind for name, kind in found}


def _no_variants(pipeline: dlt.Pipeline) -> None:
    with pipeline.sql_client() as client:
        names = client.execute_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s",
            pipeline.dataset_name,
        )
    assert names and not [n for (n,) in names if "__v_" in n]


TALLY_HEADER = [
    "Voucher Type Name ",  # a trailing space, as a real file has it
    "Order Number",
    "Qty",
    "Total",
    "Voucher Date",
    "Updated",
    "Narration",
    "Delivery Time",
    "Delivery Time",  # a custom field repeating a standard label
    "Huge",
]
TALLY_BODY = [
    ["Sales", "221030023", "1", "952.0000000", "15-03-2024", "2024-03-15 05:30:00", "1234", "-", "x"],
    [
        "Sales",
        "221030-023-089506",
        "1.0000",
        "1.00000",
        "2024-03-16 10:20:30",
        "2024-03-16 00:00:00",
        "",
        "a",
        "b",
    ],
    ["Credit Note", "0042", "2", "-1.23E-5", "17-03-2024", "2024-03-17 05:30:00", "ok", "c", "d"],
    ["Sales", "221031", "3", "1.5E+3", "18-03-2024", "2024-03-18 00:00:00", "7", "e", "f"],
] + [
    ["Sales", f"9{i:05d}", "1", "0E-7", "19-03-2024", "2024-03-19 05:30:00", str(i), "g", "h"]
    for i in range(18)
]
TALLY_ROWS = [[*row, "1.5E+40" if i == 0 else str(i)] for i, row in enumerate(TALLY_BODY)]


def test_real_shapes_load_exact_and_by_name(emulator: Any, pipeline: dlt.Pipeline, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="uniware_source")
    # the columns come reordered against the catalogue's list, an unknown one among them
    code = emulator.add_job(JobSpec(report=TALLY, content=_csv(TALLY_HEADER, TALLY_ROWS)))
    overrides = {
        "Narration": "text",
        "Narraton": "integer",  # a typo
        "Shipping Pincode": "text",  # close to nothing here
        "Delivery Type": "text",  # another report's label, close to 'Delivery Time'
    }
    info = pipeline.run(make_source(emulator, [code], report=TALLY, column_types=overrides))
    assert not info.has_failed_jobs
    assert audit(pipeline)[code]["status"] == "LOADED"

    types = _types(pipeline, "tally_gst_report")
    assert types["voucher_type_name"] == "VARCHAR"
    assert types["order_number"] == "VARCHAR"  # digits on one row, 221030-023-089506 on the next
    assert types["qty"] == types["total"] == "DECIMAL(38,9)"  # the catalogue's money and quantity
    assert types["voucher_date"] == "TIMESTAMP WITH TIME ZONE"  # dates among times
    assert types["updated"] == "TIMESTAMP WITH TIME ZONE"
    assert types["narration"] == "VARCHAR"  # column_types over the values (numbers but one)
    assert types["delivery_time"] == types["delivery_time_2"] == "VARCHAR"  # both kept
    assert types["huge"] == "VARCHAR"  # 41 digits: no decimal holds it, and it is not rounded
    _no_variants(pipeline)

    (landed,) = rows(
        pipeline,
        "SELECT count(*), sum(total), sum(qty), count(DISTINCT order_number), "
        "count(*) FILTER (WHERE total = 0), min(huge), string_agg(delivery_time_2, '' ORDER BY total) "
        "FROM tally_gst_report",
    )
    written = [Decimal(r[3]) for r in TALLY_ROWS]
    assert landed[0] == len(TALLY_ROWS)
    assert landed[1] == sum(written)  # 0E-7, 1.5E+3, -1.23E-5 and 952.0000000 among them
    assert landed[2] == sum(Decimal(r[2]) for r in TALLY_ROWS)
    assert landed[3] == len(TALLY_ROWS)
    assert landed[4] == 18  # every 0E-7 is zero
    assert landed[5] == "1" and ("1.5E+40",) in rows(pipeline, "SELECT huge FROM tally_gst_report")
    # instants: a date alone is midnight IST; 05:30 IST is a UTC midnight; 00:00 IST is 18:30 UTC
    when = dict(
        rows(
            pipeline,
            "SELECT order_number, strftime(timezone('UTC', voucher_date), '%Y-%m-%d %H:%M') || ' / ' || "
            "strftime(timezone('UTC', updated), '%Y-%m-%d %H:%M') FROM tally_gst_report",
        )
    )
    assert when["221030023"] == "2024-03-14 18:30 / 2024-03-15 00:00"
    assert when["221030-023-089506"] == "2024-03-16 04:50 / 2024-03-15 18:30"

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"job {code}" in m and "'huge' ('Huge'): its numbers need 41 digits" in m for m in warnings)
    assert any(
        "'voucher_date' ('Voucher Date'): 21 of its 22 values are dates without a time" in m for m in warnings
    )
    assert any("'delivery_time_2' ('Delivery Time'): the label repeats column 8's" in m for m in warnings)
    (typo,) = [m for m in warnings if "column_types names" in m]  # the typo, not the other report's key
    assert "column_types names 'Narraton', which no file has; did you mean 'Narration'?" in typo
    (table,) = [r.getMessage() for r in caplog.records if "the type of each column" in r.getMessage()]
    assert "  narration " in table and "column_types 'Narration'" in table
    assert "decimal(38,9)   catalogue    'Total'" in table


def test_a_note_many_files_share_is_one_warning_naming_every_job(
    emulator: Any, pipeline: dlt.Pipeline, caplog: Any
) -> None:
    """Four windows of one report whose files have the same dates among times: one warning naming
    the first job, then one naming the three others, each of which is told at INFO (-v); a note
    only one file has (the 41-digit column) stays that file's own warning."""
    caplog.set_level(logging.INFO, logger="uniware_source")
    timed = TALLY_ROWS[1]  # the one value with a time: each file gets one of its own
    files = [[[timed[0], f"T{i}", *timed[2:]], *TALLY_ROWS[i::4][1:]] for i in range(4)]
    files[0].append(TALLY_ROWS[0])  # 1.5E+40
    codes = [emulator.add_job(JobSpec(report=TALLY, content=_csv(TALLY_HEADER, body))) for body in files]
    info = pipeline.run(make_source(emulator, codes, report=TALLY))
    assert not info.has_failed_jobs
    assert {audit(pipeline)[c]["status"] for c in codes} == {"LOADED"}
    assert rows(pipeline, "SELECT count(*) FROM tally_gst_report") == [(sum(map(len, files)),)]

    def told(level: int, words: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == level and words in r.getMessage()]

    dates = "'voucher_date' ('Voucher Date'):"
    (first,) = told(logging.WARNING, "values are dates without a time")  # the first file's, with its counts
    (job,) = [c for c in codes if f"job {c}," in first]
    assert dates in first
    (again,) = told(logging.WARNING, f"{dates} the same note in 3 more job(s) of this run")
    assert sorted(c for c in codes if c in again) == sorted(set(codes) - {job})
    assert len(told(logging.INFO, "values are dates without a time")) == 3
    assert len(told(logging.WARNING, "its numbers need 41 digits")) == 1  # only the first file has it
    assert not told(logging.WARNING, "'huge' ('Huge'): the same note")


def _invoice(rows_: int, wide: bool) -> bytes:
    """An Invoice file: `wide` writes places and exponents where the other writes whole numbers,
    and the unknown `Custom Score` column is then decimal instead of integer."""
    header = ["Invoice Code", "Sale Order Code", "Qty", "Total", "CGST", "Custom Score", "Invoice Date"]
    body = []
    for i in range(rows_):
        if wide:
            body.append(
                [f"INV-{i}", f"221030-023-{i:06d}", "1.0000", f"{i}.1250000", "0E-7", f"{i}.5", "2024-03-15"]
            )
        else:
            body.append([f"S{i}", str(221030 + i), "1", str(100 + i), "2", str(i), "2024-03-15"])
    return _csv(header, body)


SMALL, LARGE = 12, 2000
EXPECTED_TYPES = {
    "invoice_code": "VARCHAR",
    "sale_order_code": "VARCHAR",
    "qty": "DECIMAL(38,9)",
    "total": "DECIMAL(38,9)",
    "cgst": "DECIMAL(38,9)",
    "custom_score": "DECIMAL(38,1)",  # unknown to the catalogue: the narrowest type holding both files
    "invoice_date": "DATE",
}


def _check_invoices(pipeline: dlt.Pipeline) -> None:
    types = _types(pipeline, "invoice")
    assert {name: types[name] for name in EXPECTED_TYPES} == EXPECTED_TYPES
    _no_variants(pipeline)
    (landed,) = rows(
        pipeline, "SELECT count(*), sum(qty), sum(total), sum(cgst), sum(custom_score) FROM invoice"
    )
    assert landed == (
        SMALL + LARGE,
        SMALL + LARGE,
        sum(Decimal(100 + i) for i in range(SMALL)) + sum(Decimal(f"{i}.125") for i in range(LARGE)),
        Decimal(2 * SMALL),
        sum(Decimal(i) for i in range(SMALL)) + sum(Decimal(f"{i}.5") for i in range(LARGE)),
    )


@pytest.mark.parametrize("runs", [1, 2])
def test_a_small_and_a_large_job_of_a_report_share_one_table(
    emulator: Any, tmp_path: Path, runs: int
) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"shapes_stable_{runs}",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="uniware",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    small = emulator.add_job(JobSpec(report="Invoice", content=_invoice(SMALL, wide=False)))
    large = emulator.add_job(JobSpec(report="Invoice", content=_invoice(LARGE, wide=True)))
    batches = [[small, large]] if runs == 1 else [[small], [large]]
    for codes in batches:
        info = pipeline.run(make_source(emulator, codes, report="Invoice"))
        assert not info.has_failed_jobs
    jobs = audit(pipeline)
    assert jobs[small]["status"] == jobs[large]["status"] == "LOADED"
    _check_invoices(pipeline)


COLLIDING = b"Code,Tax %,Tax#,Gift Wrap,gift wrap,Gift Wrap\nA1,18,GSTX,WRAP,RED PAPER,BOW\n"


@pytest.mark.parametrize("fresh_machine", [False, True])
def test_labels_that_name_one_column_alike_keep_their_own_columns_in_every_file(
    emulator: Any, pipeline: dlt.Pipeline, tmp_path: Path, fresh_machine: bool
) -> None:
    """`Tax %` and `Tax#` both normalise to `taxx`, `Gift Wrap` and `gift wrap` to `gift_wrap`: one
    file has them all (and `Gift Wrap` twice), the others some, in another order. Each label's
    values stay in one column of its own, in the same run and in a later one, on the same machine
    or on a fresh one that knows the table only from the destination. (Which of two such labels
    gets the plain name depends on which file is typed first.)"""
    report = "Adv Collide"
    first = emulator.add_job(JobSpec(report=report, content=COLLIDING))
    second = emulator.add_job(JobSpec(report=report, content=b"Code,gift wrap,Tax#\nA2,BLUE PAPER,GSTY\n"))
    assert not pipeline.run(make_source(emulator, [first, second], report=report)).has_failed_jobs
    later = pipeline
    if fresh_machine:
        later = dlt.pipeline(
            pipeline_name=pipeline.pipeline_name,
            destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
            dataset_name=pipeline.dataset_name,
            pipelines_dir=str(tmp_path / "elsewhere"),
        )
    third = emulator.add_job(
        JobSpec(report=report, content=b"Gift Wrap,Code,Tax#,Gift Wrap\nGREEN,A3,GSTZ,KNOT\n")
    )
    assert not later.run(make_source(emulator, [third], report=report)).has_failed_jobs
    columns = later.default_schema.tables["adv_collide"]["columns"]
    column_of = {c["x-uniware-label"]: name for name, c in columns.items() if "x-uniware-label" in c}
    assert len(set(column_of.values())) == len(column_of) == 6  # Code, 2 x Tax, 3 x Gift Wrap

    def values(label: str) -> list[tuple[Any, ...]]:
        return rows(later, f"SELECT code, {column_of[label]} FROM adv_collide ORDER BY code")

    assert values("Tax %") == [("A1", 18), ("A2", None), ("A3", None)]
    assert values("Tax#") == [("A1", "GSTX"), ("A2", "GSTY"), ("A3", "GSTZ")]
    assert values("gift wrap") == [("A1", "RED PAPER"), ("A2", "BLUE PAPER"), ("A3", None)]
    assert values("Gift Wrap") == [("A1", "WRAP"), ("A2", None), ("A3", "GREEN")]
    assert values("Gift Wrap\n2") == [("A1", "BOW"), ("A2", None), ("A3", "KNOT")]


def test_a_file_that_reads_two_ways_fails_its_job_saying_where_and_why(
    emulator: Any, pipeline: dlt.Pipeline
) -> None:
    """Text after a closing quote, and a bare carriage return in an unquoted field beside a ragged
    record: each job is INVALID_FILE, and its audit message names the line or the cause, in the
    audit's words (neither polars' nor the deleted download's path). An inch mark in an unquoted
    field reads one way, as Excel reads it: its job loads, and says how it was read."""
    inch = emulator.add_job(JobSpec(report="Adv", content=b'Code,Name,Amt\nA1,5" screen,1.5\nA2,y,2\n'))
    after = emulator.add_job(JobSpec(report="Adv", content=b'Code,Name,Amt\nB1,"5" screen,1.5\nB2,y,2\n'))
    bare_cr = emulator.add_job(
        JobSpec(report="Adv", content=b"Code,Name,Amt\nA1,p,1\nA2,x\ry,2\nA3,t,3,extra\n")
    )
    pipeline.run(make_source(emulator, [inch, after, bare_cr], report="Adv"))
    jobs = audit(pipeline)
    assert jobs[after]["status"] == jobs[bare_cr]["status"] == "INVALID_FILE"
    assert jobs[after]["message"].startswith(
        f"job {after}: line 2: text after the quote that closes a field ('B1,\"5\" screen,1.5')"
    )
    assert jobs[bare_cr]["message"].startswith(f"job {bare_cr}: record boundaries are ambiguous")
    assert "carriage return" in jobs[bare_cr]["message"]
    for job in (after, bare_cr):
        assert "uniware-" not in jobs[job]["message"] and "malformed" not in jobs[job]["message"]
    assert (jobs[inch]["status"], jobs[inch]["rows_loaded"]) == ("LOADED", 2)
    assert jobs[inch]["message"].startswith(
        "line 2: a quote inside a field that does not start with one ('A1,5\" screen,1.5'): read as text"
    )
    assert sorted(rows(pipeline, "SELECT code, name, amt FROM adv WHERE code LIKE 'A%'")) == [
        ("A1", '5" screen', Decimal("1.5")),
        ("A2", "y", Decimal("2")),
    ]


def test_column_types_by_name_or_label_win_over_the_catalogue(emulator: Any, pipeline: dlt.Pipeline) -> None:
    """The user's column_types, keyed by a column's name as well as by its label, win over the
    catalogue's hint of that label (money as text, a pincode as a number)."""
    header = ["Sale Order Item Code", "Updated", "Total Price", "Shipping Address Pincode", "Selling Price"]
    body = [["A1", "2025-12-31 10:00:00", "952.0000000", "560001", "0E-7"]]
    code = emulator.add_job(JobSpec(content=_csv(header, body)))
    overrides = {"total_price": "text", "shipping_address_pincode": "integer", "Selling Price": "text"}
    info = pipeline.run(make_source(emulator, [code], column_types=overrides))
    assert not info.has_failed_jobs
    types = _types(pipeline, "sale_orders")
    assert types["total_price"] == types["selling_price"] == "VARCHAR"
    assert types["shipping_address_pincode"] == "BIGINT"
    assert rows(pipeline, "SELECT total_price, shipping_address_pincode, selling_price FROM sale_orders") == [
        ("952.0000000", 560001, "0E-7")  # as written
    ]


def test_column_types_integer_on_codes_with_leading_zeros_keeps_every_row_as_written(
    emulator: Any, pipeline: dlt.Pipeline, caplog: Any
) -> None:
    """column_types makes the key and the pincode integers, but `000101` and `101` are two codes:
    as numbers they would be one key (one row merged away) and `011001` would lose its zero. Both
    columns load as text, as written, each with a warning naming the job."""
    caplog.set_level(logging.WARNING, logger="uniware_source")
    header = ["Sale Order Item Code", "Shipping Address Pincode", "Selling Price", "Updated"]
    body = [
        ["000101", "011001", "1", "2024-03-15 10:00:00"],
        ["101", "560001", "2", "2024-03-15 11:00:00"],
        ["0102", "0", "3", "2024-03-15 11:00:00"],
    ]
    code = emulator.add_job(JobSpec(content=_csv(header, body)))
    overrides = {"Sale Order Item Code": "integer", "shipping_address_pincode": "integer"}
    info = pipeline.run(make_source(emulator, [code], column_types=overrides))
    assert not info.has_failed_jobs and audit(pipeline)[code]["status"] == "LOADED"
    types = _types(pipeline, "sale_orders")
    assert types["sale_order_item_code"] == types["shipping_address_pincode"] == "VARCHAR"
    landed = rows(
        pipeline, "SELECT sale_order_item_code, shipping_address_pincode FROM sale_orders ORDER BY 1"
    )
    assert landed == [("000101", "011001"), ("0102", "0"), ("101", "560001")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name, zeros in (("sale_order_item_code", 2), ("shipping_address_pincode", 1)):
        assert any(
            f"job {code}" in m and f"'{name}'" in m and f"{zeros} of its values have a leading zero" in m
            for m in warnings
        )
