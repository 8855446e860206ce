"""CSV typing rules: every test writes real bytes (BOM, CRLF) and reads them through both passes."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_source.api.errors import CsvFormatError
from uniware_source.typed_csv.reader import (
    ColumnPlan,
    FilePlan,
    Kind,
    TableSchema,
    plan_file,
    read_batches,
    unify,
)
from uniware_source.typed_csv.records import stray_quote

NORMALIZE = NamingConvention().normalize_identifier
UTC = dt.UTC


def write(tmp_path: Path, lines: list[str], name: str = "f.csv", bom: bool = True) -> Path:
    path = tmp_path / name
    path.write_bytes((("\ufeff" if bom else "") + "".join(line + "\r\n" for line in lines)).encode())
    return path


def load(
    path: Path, hints: dict[str, Kind] | None = None, batch_size: int = 100_000, **kw: Any
) -> tuple[FilePlan, pa.Table]:
    plan = plan_file(path, normalize=NORMALIZE, hints=hints)
    schema = unify([plan])
    batches = list(read_batches(path, plan, schema, batch_size=batch_size, **kw))
    target = schema.arrow_schema(list(kw.get("constants") or {}))
    for batch in batches:
        assert batch.schema == target
    table = pa.concat_tables(batches) if batches else target.empty_table()
    assert table.num_rows == plan.rows
    return plan, table


def kinds(plan: FilePlan) -> dict[str, str]:
    return {c.name: c.kind for c in plan.columns}


def test_bom_crlf_header_and_names(tmp_path: Path) -> None:
    path = write(tmp_path, ["Sale Order Code,Tax %,A,A,a", "x,1.5,1,2,3"])
    plan, table = load(path)
    assert [c.label for c in plan.columns] == ["Sale Order Code", "Tax %", "A", "A", "a"]
    assert table.column_names == ["sale_order_code", "taxx", "a", "a_2", "a_3"]
    assert table.to_pylist() == [{"sale_order_code": "x", "taxx": Decimal("1.5"), "a": 1, "a_2": 2, "a_3": 3}]


def test_identifiers_stay_text(tmp_path: Path) -> None:
    lines = ["Pin,Phone Number,Big,Amount,Item SKU Code,Invoice Amount"]
    lines += ["007001,9876543210,12345678901234567890,5,123,10", "110001,9123456789,1,6,456,20.5"]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan) == {
        "pin": "text",
        "phone_number": "text",
        "big": "text",
        "amount": "integer",
        "item_sku_code": "text",
        "invoice_amount": "decimal",
    }
    assert table.column("pin").to_pylist() == ["007001", "110001"]
    assert table.column("big").to_pylist() == ["12345678901234567890", "1"]


def test_code_numeric_for_40k_rows_then_text(tmp_path: Path) -> None:
    lines = ["Order,Qty"] + [f"{1000000 + i},{i}" for i in range(40_000)] + ["SO-77,1"]
    plan, table = load(write(tmp_path, lines), batch_size=7_000)
    assert kinds(plan) == {"order": "text", "qty": "integer"}
    values = table.column("order").to_pylist()
    assert values[:2] == ["1000000", "1000001"] and values[-1] == "SO-77" and len(values) == 40_001


def test_decimals_exact(tmp_path: Path) -> None:
    lines = ["Price,Rate,Whole", "158400.000,12.0000,3", "-50.0000,3.0,-4", "0.1,-0.00005,7"]
    plan, table = load(write(tmp_path, lines))
    by = {c.name: c for c in plan.columns}
    assert (by["price"].kind, by["price"].scale) == ("decimal", 4)
    assert (by["rate"].kind, by["rate"].scale) == ("decimal", 5)
    assert by["whole"].kind == "integer"
    assert table.schema.field("price").type == pa.decimal128(38, 4)
    assert table.column("price").to_pylist() == [Decimal("158400"), Decimal("-50"), Decimal("0.1")]
    assert table.column("rate").to_pylist() == [Decimal("12"), Decimal("3"), Decimal("-0.00005")]
    assert table.column("whole").to_pylist() == [3, -4, 7]


def test_values_no_program_writes_as_numbers_stay_text(tmp_path: Path) -> None:
    """Java writes no plus sign before a number, and an exponent only after one digit: signed
    (BigDecimal's 1.5E+3) or after a fraction (Double's 1.0E10). A phone under a label that does
    not say so, and codes that look like exponents, keep every character."""
    lines = [
        "WhatsApp,Style,Delta,Double,Guarded",
        "+919810012345,2E10,+5,1.0E10,'-7",
        "9810012347,24E1,3,2.5E-3,'1.5E+3",
    ]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan) == {
        "whats_app": "text", "style": "text", "delta": "text", "double": "decimal", "guarded": "decimal"
    }  # fmt: skip
    assert table.column("whats_app").to_pylist() == ["+919810012345", "9810012347"]
    assert table.column("style").to_pylist() == ["2E10", "24E1"]
    assert table.column("delta").to_pylist() == ["+5", "3"]
    assert table.column("double").to_pylist() == [Decimal("1.0E10"), Decimal("0.0025")]
    assert table.column("guarded").to_pylist() == [Decimal("-7"), Decimal("1500")]


def test_mixed_timestamp_formats_to_utc(tmp_path: Path) -> None:
    lines = [
        "Created,Day,Mixed",
        "2026-09-07 13:17:29,2026-09-07,2026-09-07",
        "07-09-2026 13:17,07-09-2026,2026-09-07 05:30:00",
        "07/09/2026 13:17:29,07/09/2026,",
        "07/09/2026 13:17,-,",
        "2026-09-07T13:17:29Z,NA,",
        "2026-09-07T13:17:29+05:30,,",
        "07-09-2026 13:17:29,,",
        "2026-09-07 13:17,,",
    ]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan) == {"created": "timestamp", "day": "date", "mixed": "timestamp"}
    assert table.schema.field("created").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("day").type == pa.date32()
    ist = dt.datetime(2026, 9, 7, 7, 47, 29, tzinfo=UTC)
    assert table.column("created").to_pylist() == [
        ist,
        ist.replace(second=0),
        ist,
        ist.replace(second=0),
        dt.datetime(2026, 9, 7, 13, 17, 29, tzinfo=UTC),
        ist,
        ist,
        ist.replace(second=0),
    ]
    assert table.column("day").to_pylist() == [dt.date(2026, 9, 7)] * 3 + [None] * 5
    midnight = dt.datetime(2026, 9, 6, 18, 30, tzinfo=UTC)
    assert table.column("mixed").to_pylist()[:2] == [midnight, dt.datetime(2026, 9, 7, 0, 0, tzinfo=UTC)]


def test_seconds_with_and_without_a_fraction_in_one_column(tmp_path: Path) -> None:
    """Two formats (the fast fixed one, and one with a fraction) that together cover the column."""
    lines = ["Updated,Stamp", "2026-09-07 13:17:29,2026-09-07T13:17:29Z", "2026-09-07 13:17:29.250,"]
    lines += ["2026-09-07 13:17:29.000001,2026-09-07T13:17:29.5+05:30", "2026-9-7 1:02:03,"]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan) == {"updated": "timestamp", "stamp": "timestamp"}
    ist = dt.datetime(2026, 9, 7, 7, 47, 29, tzinfo=UTC)
    assert table.column("updated").to_pylist() == [
        ist,
        ist.replace(microsecond=250_000),
        ist.replace(microsecond=1),
        dt.datetime(2026, 9, 6, 19, 32, 3, tzinfo=UTC),
    ]
    assert table.column("stamp").to_pylist() == [
        dt.datetime(2026, 9, 7, 13, 17, 29, tzinfo=UTC),
        None,
        ist.replace(microsecond=500_000),
        None,
    ]


def test_values_with_spaces_around_are_trimmed_for_every_typed_kind(tmp_path: Path) -> None:
    """No null token anywhere: only the surrounding spaces stand between these values and their
    types, and they must still be trimmed (text keeps its spaces)."""
    lines = ["Qty,Price,Paid,Day,Note", '3," 12.50",true,2026-09-07, a ']
    lines.append('" 4",7.25," false"," 2026-09-08",b')
    plan, table = load(write(tmp_path, lines))
    expected = {"qty": "integer", "price": "decimal", "paid": "boolean", "day": "date", "note": "text"}
    assert kinds(plan) == expected
    assert table.column("qty").to_pylist() == [3, 4]
    assert table.column("price").to_pylist() == [Decimal("12.50"), Decimal("7.25")]
    assert table.column("paid").to_pylist() == [True, False]
    assert table.column("day").to_pylist() == [dt.date(2026, 9, 7), dt.date(2026, 9, 8)]
    assert table.column("note").to_pylist() == [" a ", "b"]


def test_timezone_parameter(tmp_path: Path) -> None:
    path = write(tmp_path, ["T", "2026-01-01 00:00:00"])
    plan = plan_file(path, normalize=NORMALIZE, timezone="UTC")
    (table,) = read_batches(path, plan, unify([plan]), timezone="UTC")
    assert table.column("t").to_pylist() == [dt.datetime(2026, 1, 1, tzinfo=UTC)]


def test_one_bad_date_makes_text(tmp_path: Path) -> None:
    plan, table = load(write(tmp_path, ["D,E", "2026-09-07,2026-02-28", "2026-09-08,2026-02-30", "soon,"]))
    assert kinds(plan) == {"d": "text", "e": "text"}
    assert table.column("e").to_pylist() == ["2026-02-28", "2026-02-30", None]


def test_booleans(tmp_path: Path) -> None:
    lines = ["COD,Flag,Bits,Forced", "true,Yes,1,1", "FALSE,n,0,0", "-,y,1,"]
    plan, table = load(write(tmp_path, lines), hints={"Forced": "boolean"})
    assert kinds(plan) == {"cod": "boolean", "flag": "boolean", "bits": "integer", "forced": "boolean"}
    assert table.column("cod").to_pylist() == [True, False, None]
    assert table.column("flag").to_pylist() == [True, False, True]
    assert table.column("forced").to_pylist() == [True, False, None]


def test_hint_that_cannot_hold_falls_back_to_text(tmp_path: Path) -> None:
    hints: dict[str, Kind] = {"a": "integer", "B": "date", "c": "decimal", "Empty": "timestamp"}
    plan, table = load(
        write(tmp_path, ["A,B,C,Empty", "1,2026-01-01 10:00,x,", "2.5,2026-01-02,1.5,"]), hints=hints
    )
    assert kinds(plan) == {"a": "text", "b": "text", "c": "text", "empty": "timestamp"}
    assert table.column("a").to_pylist() == ["1", "2.5"]


def test_null_tokens_and_text_kept_exactly(tmp_path: Path) -> None:
    lines = ["T,N", " a b ,1", "-,NA", "n/a,N/A", "NULL, none ", "None,", '"",null', "x-y,2"]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan) == {"t": "text", "n": "integer"}
    assert table.column("t").to_pylist() == [" a b ", None, None, None, None, None, "x-y"]
    assert table.column("n").to_pylist() == [1, None, None, None, None, None, 2]


def test_quoting_and_unicode_round_trip(tmp_path: Path) -> None:
    lines = ["Name,Note,Qty", '"Müller, Hans","say ""hi""\r\nline2",1', 'आदित्य,"a\nb",2', '"x",plain,3']
    plan, table = load(write(tmp_path, lines))
    assert table.column("name").to_pylist() == ["Müller, Hans", "आदित्य", "x"]
    assert table.column("note").to_pylist() == ['say "hi"\r\nline2', "a\nb", "plain"]
    assert plan.rejected == ()


def test_apostrophe_guard_stripped(tmp_path: Path) -> None:
    lines = ["Voucher,Qty,Note,Item Code", "'2320617,'5,'quoted,'007001", "2320618,6,it's,AB-1"]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan) == {"voucher": "integer", "qty": "integer", "note": "text", "item_code": "text"}
    assert table.column("voucher").to_pylist() == [2320617, 2320618]
    assert table.column("note").to_pylist() == ["'quoted", "it's"]
    assert table.column("item_code").to_pylist() == ["007001", "AB-1"]


def test_empty_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    plan, table = load(empty)
    assert (plan.rows, plan.columns, table.num_rows) == (0, (), 0)
    plan, table = load(write(tmp_path, ["A,B"]))
    assert plan.rows == 0 and [c.name for c in plan.columns] == ["a", "b"] and table.num_rows == 0
    plan, _ = load(write(tmp_path, ["A,B"], name="bare.csv", bom=False))
    assert plan.rows == 0


def test_not_a_csv(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 50)
    with pytest.raises(CsvFormatError, match="garbage.bin"):
        plan_file(garbage, normalize=NORMALIZE)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"a,b\r\n" + b"1,\xe9t\xe9\r\n" * 10)
    with pytest.raises(CsvFormatError, match="latin.csv"):
        plan_file(latin, normalize=NORMALIZE)
    headless = tmp_path / "headless.csv"
    headless.write_bytes(b",,\r\n1,2,3\r\n")
    with pytest.raises(CsvFormatError, match="headless.csv"):
        plan_file(headless, normalize=NORMALIZE)


def test_ragged_rows_rejected_with_physical_lines(tmp_path: Path) -> None:
    lines = [
        "A,B,C",  # line 1
        '1,"multi\r\nline",3',  # lines 2-3
        "2,x,4,extra",  # line 4: too many
        "3,y,5",  # line 5
        '4,"q',  # line 6 starts a record spanning 6-7 with too few fields
        'z"',
        "",  # line 8: blank, skipped
        "5,w,",  # line 9: empty last field is fine
        "6,v",  # line 10: too few
    ]
    plan, table = load(write(tmp_path, lines), batch_size=1)
    assert [(r.line_number, r.raw_line, r.reason) for r in plan.rejected] == [
        (4, "2,x,4,extra", "expected 3 fields, found 4"),
        (6, '4,"q\r\nz"', "expected 3 fields, found 2"),
        (10, "6,v", "expected 3 fields, found 2"),
    ]
    assert plan.rows == 3
    assert kinds(plan) == {"a": "integer", "b": "text", "c": "integer"}
    assert table.to_pylist() == [
        {"a": 1, "b": "multi\r\nline", "c": 3},
        {"a": 3, "b": "y", "c": 5},
        {"a": 5, "b": "w", "c": None},
    ]


def test_rejected_rows_do_not_decide_types(tmp_path: Path) -> None:
    plan, table = load(write(tmp_path, ["A,B", "1,2", "x,y,z", "3,4"]))
    assert kinds(plan) == {"a": "integer", "b": "integer"}
    assert table.column("a").to_pylist() == [1, 3]


def test_many_batches_one_schema_and_constants(tmp_path: Path) -> None:
    lines = ["Id,Price,When"] + [f"A{i},{i}.5,2026-09-07 10:{i % 60:02d}" for i in range(1000)]
    path = write(tmp_path, lines)
    plan = plan_file(path, normalize=NORMALIZE)
    schema = unify([plan])
    batches = list(read_batches(path, plan, schema, batch_size=64, constants={"_job_code": "JOB1"}))
    assert len(batches) > 10
    target = schema.arrow_schema(["_job_code"])
    assert target.field("_job_code").type == pa.string() and target.names[-1] == "_job_code"
    assert all(b.schema == target for b in batches)
    assert sum(b.num_rows for b in batches) == 1000
    assert set(pa.concat_tables(batches).column("_job_code").to_pylist()) == {"JOB1"}


def test_unify_widens_and_fills_missing(tmp_path: Path) -> None:
    one = write(tmp_path, ["Qty,When,Only One,Mixed,Empty", "1,2026-09-07,a,1,"], name="one.csv")
    two = write(
        tmp_path, ["Qty,When,Mixed,Empty,Only Two", "1.25,2026-09-07 10:00:00,x,2026-01-01,7"], name="two.csv"
    )
    plans = [plan_file(p, normalize=NORMALIZE) for p in (one, two)]
    schema = unify(plans)
    assert [(c.name, c.kind, c.scale) for c in schema.columns] == [
        ("qty", "decimal", 2),
        ("when", "timestamp", 0),
        ("only_one", "text", 0),
        ("mixed", "text", 0),
        ("empty", "date", 0),
        ("only_two", "integer", 0),
    ]
    rows = [
        r
        for p, plan in zip((one, two), plans, strict=True)
        for b in read_batches(p, plan, schema)
        for r in b.to_pylist()
    ]
    assert rows[0] == {
        "qty": Decimal("1"),
        "when": dt.datetime(2026, 9, 6, 18, 30, tzinfo=UTC),
        "only_one": "a",
        "mixed": "1",
        "empty": None,
        "only_two": None,
    }
    assert rows[1]["only_one"] is None and rows[1]["qty"] == Decimal("1.25") and rows[1]["only_two"] == 7


def test_unify_respects_existing_destination_types() -> None:
    def col(name: str, kind: Kind, values: int = 1) -> ColumnPlan:
        return ColumnPlan(name, name, kind, values=values)

    plan = FilePlan(
        Path("x.csv"),
        (col("a", "integer"), col("b", "date"), col("c", "integer"), col("d", "text", 0)),
        1,
        (),
    )
    schema = unify([plan], existing={"a": "decimal", "b": "timestamp", "c": "text", "d": "bigint"})
    assert [c.kind for c in schema.columns] == ["decimal", "timestamp", "text", "integer"]
    assert isinstance(schema, TableSchema)


def test_date_format_shapes_exclude_each_other() -> None:
    """Pass 1 counts a column's known formats with one combined pattern: that equals the sum of
    the per-format counts only while no value has the shape of two formats."""
    import re

    from uniware_source.typed_csv.temporal import ALL_FORMATS, FORMAT_REGEXES

    samples = [
        "2024-06-01", "01-06-2024", "01/06/2024", "2024-06-01 13:05:09", "2024-06-01 13:05:09.123",
        "2024-06-01 13:05", "2024-06-01T13:05:09", "2024-06-01T13:05", "01-06-2024 13:05:09",
        "01-06-2024 13:05", "01/06/2024 13:05:09", "01/06/2024 13:05", "2024-06-01T13:05:09+05:30",
        "2024-06-01T13:05:09.5Z", "2024-06-01 13:05:09-0700", "2024-06-01T13:05Z", "2024-06-01T13:05+05",
        "2024-06-01T13:05:09.250", "2024-06-01 13:05:09.125+05:30",
    ]  # fmt: skip
    matched_formats = set()
    for value in samples:
        hits = [f for f in ALL_FORMATS if re.search(FORMAT_REGEXES[f], value)]
        assert len(hits) == 1, (value, hits)
        matched_formats.update(hits)
    assert matched_formats == set(ALL_FORMATS)


def test_prefetched_keeps_order_raises_the_producers_error_and_stops_early() -> None:
    import threading

    from uniware_source.typed_csv.chunks import prefetched

    assert list(prefetched(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        raise CsvFormatError("line 7: broken")

    got = []
    with pytest.raises(CsvFormatError, match="line 7"):
        for item in prefetched(failing()):
            got.append(item)
    assert got == [1]

    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    items = prefetched(endless())
    assert next(items) == 1
    items.close()  # the consumer stops: the producer is stopped and its generator closed
    assert closed.is_set()
    assert not any(t.name == "uniware-prefetch" for t in threading.enumerate())


def test_chunks_that_may_hold_an_excel_guard_are_never_missed() -> None:
    from uniware_source.typed_csv.chunks import may_hold_guard

    for chunk in [
        b"'2320617,x\n",  # the first field of the chunk
        b"a,'5\n",
        b'a,"\'5"\n',  # quoted
        b"a,  '5\n",  # after spaces, which typing trims
        b"a,\t'5\n",
        "a,\u00a0'5\n".encode(),  # after a no-break space
        b"a,b\r\n'7,c\r\n",  # at the start of a later record
        b"x" + b"O'Neil," * 30_000 + b"\n",  # too many apostrophes to look at: said to hold one
    ]:
        assert may_hold_guard(chunk), chunk[:40]
    for chunk in [b"a,b\n", b"Jos\xc3\xa9 D'Souza,it's,rock 'n' roll\n", b"a,b'c\n"]:
        assert not may_hold_guard(chunk), chunk


def test_an_excel_guard_far_into_a_file_is_still_stripped(tmp_path: Path) -> None:
    """Chunks with no field that can start with an apostrophe skip the guard check: the one
    chunk that holds a guard, deep in the file, must still be found."""
    from uniware_source.typed_csv import chunks as csv_chunks

    lines = ["Item Code,Name"] + [f"{n:06d}X,D'Souza {n}" for n in range(80_000)] + ["'007001,O'Neil"]
    path = write(tmp_path, lines)
    previous = csv_chunks.CHUNK_BYTES
    csv_chunks.CHUNK_BYTES = 64 << 10  # many chunks
    try:
        plan, table = load(path)
    finally:
        csv_chunks.CHUNK_BYTES = previous
    assert plan.columns[0].guarded
    assert table.column("item_code").to_pylist()[-1] == "007001"
    assert table.column("name").to_pylist()[-1] == "O'Neil"


def test_batches_as_string_views_hold_the_same_values(tmp_path: Path) -> None:
    lines = ["Item Code,Qty,Note", "'007001,3, a ", "AB-1,4,NA", "X,,é"]
    path = write(tmp_path, lines)
    plan = plan_file(path, normalize=NORMALIZE)
    schema = unify([plan])
    (plain,) = read_batches(path, plan, schema, constants={"_job_code": "J1"})
    (views,) = read_batches(path, plan, schema, constants={"_job_code": "J1"}, views=True)
    assert views.schema.field("item_code").type == pa.string_view()
    assert views.schema.field("_job_code").type == pa.string_view()
    assert views.schema.field("qty").type == pa.int64()
    assert views.cast(plain.schema).equals(plain)


def test_a_local_time_the_zone_skips_makes_the_column_text(tmp_path: Path) -> None:
    """Naive times are local to the configured zone; one that the zone's clocks skipped does not
    exist, and its column stays text. Asia/Kolkata has no gap since 1970 (pass 1 counts its times
    without the zone), but had one on 1942-09-01 00:00-01:00, which must still be found."""
    cases = [
        ("Europe/London", "2024-03-31 01:30:00", "text"),  # daylight saving starts
        ("Asia/Kolkata", "1942-09-01 00:30:00", "text"),
        ("Asia/Kolkata", "1942-09-01 01:30:00", "timestamp"),
        ("Asia/Kolkata", "2099-12-31 23:59:59", "timestamp"),
    ]
    for zone, value, kind in cases:
        path = write(tmp_path, ["Created", "2024-06-01 10:00:00", value], name=f"{kind}-{value[:4]}.csv")
        plan = plan_file(path, normalize=NORMALIZE, timezone=zone)
        assert kinds(plan) == {"created": kind}, (zone, value)
        (table,) = read_batches(path, plan, unify([plan]), timezone=zone)
        assert table.column("created").null_count == 0
    (table,) = read_batches(path, plan, unify([plan]), timezone="Asia/Kolkata")
    assert table.column("created").to_pylist()[1] == dt.datetime(2099, 12, 31, 18, 29, 59, tzinfo=UTC)


def test_a_file_is_typed_while_it_downloads_and_abandoned_if_the_download_fails(tmp_path: Path) -> None:
    """pass 1 reads the file as it arrives (records cut anywhere by the writes), and ends only
    once the download has; a download that fails stops it."""
    import threading
    import time

    from uniware_source.typed_csv.chunks import Arrival, DownloadAborted

    lines = ["Item Code,Qty,Created"] + [f"A{n:07d},{n},2026-09-07 13:17:29" for n in range(200_000)]
    data = ("\n".join(lines) + "\n").encode()
    whole = write(tmp_path, lines, name="whole.csv", bom=False)
    expected = plan_file(whole, normalize=NORMALIZE)

    def download(dest: Path, arrival: Arrival, fail_at: int | None) -> None:
        with dest.open("wb") as out:
            for start in range(0, len(data), 300_001):  # pieces that cut records anywhere
                if fail_at is not None and start >= fail_at:
                    arrival.fail()
                    return
                out.write(data[start : start + 300_001])
                out.flush()
                arrival.wrote(min(len(data), start + 300_001))
                time.sleep(0.01)
        arrival.finish()

    for fail_at in (None, 2_000_000):
        dest, arrival = tmp_path / f"arriving-{fail_at}.csv", Arrival()
        writer = threading.Thread(target=download, args=(dest, arrival, fail_at))
        writer.start()
        try:
            if fail_at is None:
                plan = plan_file(dest, normalize=NORMALIZE, arrival=arrival)
                assert plan.columns == expected.columns and plan.rows == 200_000
            else:
                with pytest.raises(DownloadAborted):
                    plan_file(dest, normalize=NORMALIZE, arrival=arrival)
        finally:
            writer.join()


def test_a_year_zero_date_does_not_break_the_plan(tmp_path: Path) -> None:
    """polars parses year 0, which no Python datetime holds: pass 1 must not fetch such a value."""
    path = write(
        tmp_path, ["Created,Day", "2024-06-01 10:00:00,2024-06-01", "0000-01-01 10:00:00,0000-01-01"]
    )
    plan = plan_file(path, normalize=NORMALIZE)
    (table,) = read_batches(path, plan, unify([plan]))
    for column in plan.columns:  # whatever the kind, every value is still there
        assert table.column(column.name).null_count == 0, column


@pytest.mark.parametrize("digits", ["२", "١٢", "１２", "௫"])  # Devanagari, Arabic-Indic, fullwidth, Tamil
def test_digits_of_other_scripts_make_a_column_text_as_written(tmp_path: Path, digits: str) -> None:
    """A number is written in ASCII digits. Regex `\\d` also matches the digits of other scripts,
    which no cast to a number takes: a column with one of them was typed integer or decimal, and
    its file then failed to convert as a whole. It is text, every value as written; a column the
    catalogue calls money says why; an apostrophe before such a digit is no Excel guard."""
    lines = ["Code,Qty,Amount,Note", "A1,1,10.5,'12", f"A2,{digits},{digits}.5,'{digits}", "A3,3,7,x"]
    plan, table = load(write(tmp_path, lines), hints={"Amount": "decimal"})
    assert kinds(plan) == {"code": "text", "qty": "text", "amount": "text", "note": "text"}
    assert table.column("qty").to_pylist() == ["1", digits, "3"]
    assert table.column("amount").to_pylist() == ["10.5", f"{digits}.5", "7"]
    assert table.column("note").to_pylist() == ["12", f"'{digits}", "x"]  # the ASCII one was guarded
    assert "not every value is one" in next(c.note for c in plan.columns if c.name == "amount")


def test_a_quote_inside_a_header_label_ends_with_its_line(tmp_path: Path) -> None:
    """`Size (in")` is a label with an inch mark, as Python's csv module reads it: the header ends
    with its line, and every record after it loads (the quote once made the header run on until
    the next quote, and the records before it were lost)."""
    lines = ['Key Code,Size (in"),N', "A1,32,1", "A2,40,2", "A3,50,3"]
    plan, table = load(write(tmp_path, lines))
    assert [c.label for c in plan.columns] == ["Key Code", 'Size (in")', "N"]
    assert plan.rows == 3 and plan.rejected == ()
    assert table.column("key_code").to_pylist() == ["A1", "A2", "A3"]
    assert table.column(1).to_pylist() == [32, 40, 50]


def test_a_quoted_header_label_may_hold_commas_quotes_and_line_breaks(tmp_path: Path) -> None:
    lines = ['"Note, long","Say ""hi""\nagain",N', "x,y,1"]
    plan, table = load(write(tmp_path, lines))
    assert [c.label for c in plan.columns] == ["Note, long", 'Say "hi"\nagain', "N"]
    assert plan.rows == 1 and table.column(2).to_pylist() == [1]


def test_line_ends_of_a_carriage_return_alone_are_refused(tmp_path: Path) -> None:
    """A file whose lines end in CR alone (or CR CR LF) is refused, naming the line ends: read as
    LF lines, its whole content would be one header and no row would load."""
    for data in (b"Code,Qty\r1,2\r3,4\r", b"Code,Qty\r\r\n1,2\r\r\n"):
        path = tmp_path / "cr.csv"
        path.write_bytes(data)
        with pytest.raises(CsvFormatError, match="carriage return that ends no line"):
            load(path)


def test_text_that_starts_with_an_apostrophe_and_a_digit_keeps_it(tmp_path: Path) -> None:
    """Only a value that is all digits (a code, a number, a date) after the apostrophe has an Excel
    guard to strip; text such as `'90s Retro Tee` is loaded as written."""
    lines = ["Item Code,Name,Qty", "'007001,'90s Retro Tee,'5", "'12-34,'2024-01-05 10:30,6"]
    plan, table = load(write(tmp_path, lines))
    assert table.column("item_code").to_pylist() == ["007001", "12-34"]
    assert table.column("name").to_pylist() == ["'90s Retro Tee", "2024-01-05 10:30"]
    assert table.column("qty").to_pylist() == [5, 6]


def test_fractions_of_a_second_beyond_microseconds_are_not_cut(tmp_path: Path) -> None:
    """A timestamp holds microseconds: a value with nanoseconds would lose three digits, so its
    column loads as text, exactly as written; microseconds load as a timestamp."""
    lines = ["Code,At,Micro", "A,2024-03-15 10:20:30.123456789,2024-03-15 10:20:30.123456"]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan)["at"] == "text" and kinds(plan)["micro"] == "timestamp"
    assert table.column("at").to_pylist() == ["2024-03-15 10:20:30.123456789"]
    assert table.column("micro").to_pylist() == [dt.datetime(2024, 3, 15, 4, 50, 30, 123456, tzinfo=dt.UTC)]


def test_a_date_column_with_an_impossible_date_loads_as_text_and_says_so(tmp_path: Path) -> None:
    """Every value has a date's shape, one is no date (31-02-2024): the column loads as text, as
    written, and its note (a warning of the load) says why."""
    lines = [
        "Invoice Code,Invoice Date,At",
        "I1,15-03-2024,2024-03-15 10:00:00",
        "I2,31-02-2024,2024-03-15 25:00:00",
    ]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan)["invoice_date"] == "text" and kinds(plan)["at"] == "text"
    assert table.column("invoice_date").to_pylist() == ["15-03-2024", "31-02-2024"]
    for name in ("invoice_date", "at"):
        (col,) = [c for c in plan.columns if c.name == name]
        assert "not every one is a valid one" in col.note
    (code,) = [c for c in plan.columns if c.name == "invoice_code"]
    assert code.note == ""


@pytest.mark.parametrize("first", [True, False], ids=["in_the_first_chunk", "chunks_later"])
def test_an_inch_mark_in_an_unquoted_field_is_text_as_excel_reads_it(tmp_path: Path, first: bool) -> None:
    """A quote inside a field that does not start with one (with no second one to balance it):
    the quote is text, as Excel and Python's csv module read it; the file is read again with its
    quotes written as CSV writes them, and the plan says which line made it so."""
    before = [f'A{i},"quoted, {i}",{i}' for i in range(3 if first else 30_000)]
    records = ["Code,Name,N", *before, 'B1,Samsung 32" LED TV,100', 'B2,"multi\nline ""x""",2', "B3,Plain,3"]
    plan, table = load(write(tmp_path, records, bom=False))
    assert plan.rows == len(before) + 3 and kinds(plan) == {"code": "text", "name": "text", "n": "integer"}
    names = table.column("name").to_pylist()
    assert names[-3:] == ['Samsung 32" LED TV', 'multi\nline "x"', "Plain"] and names[0] == "quoted, 0"
    line = len(before) + 2
    assert plan.note.startswith(f"line {line}: a quote inside a field that does not start with one (")
    assert "read as text" in plan.note


def test_an_inch_mark_in_a_file_with_a_bom_and_quoted_labels_keeps_the_first_label(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes('\ufeff"Code","Name","N"\r\nA1,"quoted",1\r\nA2,5" screen,2\r\n'.encode())
    plan, table = load(path)
    assert table.column_names == ["code", "name", "n"] and plan.note
    assert table.column("code").to_pylist() == ["A1", "A2"]
    assert table.column("name").to_pylist() == ["quoted", '5" screen']


@pytest.mark.parametrize(
    ("records", "line"),
    [
        (['A1,"abc"def,1'], 3),
        (['A1,"abc" ,1'], 3),
        (['A1,32" TV,1', "A2,ok,2", 'A3,"abc"def,3'], 5),  # an inch mark first: read again, then this
    ],
)
def test_text_after_a_closing_quote_fails_the_file_naming_its_line(
    tmp_path: Path, records: list[str], line: int
) -> None:
    """Text after the quote that closes a field reads two ways (`"abc"def`): the file cannot be
    read as CSV, and the error says which line and why."""
    path = write(tmp_path, ["Code,Name,N", 'A0,"fine, quoted",1', *records, "A9,Plain,9"], bom=False)
    with pytest.raises(CsvFormatError, match=f"line {line}: ") as raised:
        load(path)
    assert "not a CSV we can read" in str(raised.value)


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (b"B7,caf\xe9,7", "not UTF-8 text (invalid continuation byte"),
        (b'B7,"never closed,7', "a quoted field that never ends"),
        # a later field's opening quote closes it, with text after: still this line's quote
        (b'B7,"never closed,7\r\nC0,"Road 5, Pune",0', "a quoted field that never ends"),
    ],
)
@pytest.mark.parametrize("first", [True, False], ids=["in_the_first_chunk", "chunks_later"])
def test_an_unreadable_file_fails_naming_its_line_and_why(
    tmp_path: Path, record: bytes, why: str, first: bool
) -> None:
    """A byte that is no UTF-8, or a quoted field whose closing quote is missing, anywhere in the
    file: the error names its physical line and what is wrong, not polars' words."""
    before = 3 if first else 40_000
    body = b"".join(b"A%d,plain text,%d\r\n" % (i, i) for i in range(before))
    path = tmp_path / "broken.csv"
    path.write_bytes(b"Code,Name,N\r\n" + body + record + b"\r\nC1,after,1\r\n")
    with pytest.raises(CsvFormatError, match=rf"line {before + 2}: {re.escape(why)}") as raised:
        load(path)
    said = str(raised.value).removeprefix(f"{path}: ")
    assert "polars" not in said and "could not parse" not in said and "sequence" not in said


def test_stray_quotes_are_told_from_quoting() -> None:
    assert stray_quote(b'a,"b,c",d\r\n"x""y",""\n') is None
    assert stray_quote(b'a,b"c,d\n') == 3
    assert stray_quote(b'a,"b"c,d\n') == 4
    assert stray_quote(b'a,"b\nc"\nd,e\n') is None  # the quoted field spans the line break


def test_product_and_shipment_numbers_are_identifiers(tmp_path: Path) -> None:
    lines = [
        "GTIN,Waybill,Consignment,ISBN,Weight",
        "8901234567890,123456789012,123456789012345,9780306406157,2",
    ]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan) == {
        "gtin": "text",
        "waybill": "text",
        "consignment": "text",
        "isbn": "text",
        "weight": "integer",
    }
    assert table.column("consignment").to_pylist() == ["123456789012345"]


def test_a_contact_number_keeps_its_plus_sign(tmp_path: Path) -> None:
    """A column labelled as a contact (`Contact`, `Telephone`) is an identifier, as a
    phone or mobile one is: `+919876543210` keeps its plus sign. So does any value written with
    one: no program writes a number so."""
    lines = [
        "Code,Contact,Telephone,Delta",
        "A,+919812345678,+14155550100,+7.25",
        "B,9876543210,+919876543210,-1.5",
    ]
    plan, table = load(write(tmp_path, lines))
    assert kinds(plan) == {"code": "text", "contact": "text", "telephone": "text", "delta": "text"}
    assert table.column("delta").to_pylist() == ["+7.25", "-1.5"]
    assert table.column("contact").to_pylist() == ["+919812345678", "9876543210"]
    assert table.column("telephone").to_pylist() == ["+14155550100", "+919876543210"]


def test_a_hinted_time_column_with_an_impossible_time_says_so_once(tmp_path: Path) -> None:
    lines = ["Code,Created", "A,2024-03-15 10:00:00", "B,2024-03-15 25:00:00"]
    plan, _ = load(write(tmp_path, lines), hints={"Created": "timestamp"})
    (created,) = [c for c in plan.columns if c.name == "created"]
    assert created.kind == "text"
    assert created.note == "hinted timestamp, but not every value is one: loads as text, as written"
