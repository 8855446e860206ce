"""Pass 1 types the rows as it profiles them (typed_csv/onepass.py): the typed file it keeps is
exactly pass 2's, and any file whose column types move on the way falls back to pass 2, with its
typed file deleted. The property test (test_property_csv.py) checks the first over generated files."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_source.api.errors import CsvFormatError
from uniware_source.emulator import write_sale_orders_csv
from uniware_source.load.keys import KeyHashes, key_hashes
from uniware_source.load.typed_files import RowGroups
from uniware_source.reports import report_spec
from uniware_source.typed_csv import chunks as csv_chunks
from uniware_source.typed_csv import plan as csv_plan
from uniware_source.typed_csv.kinds import Kind
from uniware_source.typed_csv.model import FilePlan
from uniware_source.typed_csv.onepass import OnePass
from uniware_source.typed_csv.reader import plan_file, read_batches, unify

NORMALIZE = NamingConvention().normalize_identifier
MONEY: dict[str, Kind] = {"CESS": "decimal", "Total": "decimal"}
DATES = [f"2026-11-{1 + i % 28:02d},n{i}" for i in range(400)]
CONSTANTS = {"_uniware_job_code": "EXP-1", "_uniware_window": "WH-BLR|2026-11-01"}


@contextlib.contextmanager
def chunks_of(size: int) -> Iterator[None]:
    """Chunks of about `size` bytes, the first one too: a type can then change after the first."""
    saved = csv_chunks.CHUNK_BYTES, csv_plan.FIRST_CHUNK_BYTES
    csv_chunks.CHUNK_BYTES = csv_plan.FIRST_CHUNK_BYTES = size
    try:
        yield
    finally:
        csv_chunks.CHUNK_BYTES, csv_plan.FIRST_CHUNK_BYTES = saved


def both_ways(
    path: Path, hints: dict[str, Kind] | None = None, required: tuple[str, ...] = ()
) -> tuple[FilePlan, OnePass, pa.Table]:
    """The plan with a OnePass, the OnePass, and pass 2's rows of the plan (text as views). The
    `required` columns (a merge key) are hashed as the loader has them hashed."""
    out = path.with_suffix(".typed.parquet")
    onepass = OnePass(out, RowGroups, constants=CONSTANTS, required=required, open_keys=KeyHashes)
    plan = plan_file(path, normalize=NORMALIZE, hints=hints, onepass=onepass)
    batches = read_batches(path, plan, unify([plan]), constants=CONSTANTS, views=True)
    schema = unify([plan]).arrow_schema(list(CONSTANTS), views=True)
    return plan, onepass, pa.Table.from_batches([b for t in batches for b in t.to_batches()], schema)


def write(tmp_path: Path, header: str, rows: list[str]) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([header, *rows]) + "\r\n").encode())
    return path


def test_a_sale_orders_export_is_typed_in_one_pass_exactly_as_pass_2_types_it(tmp_path: Path) -> None:
    path = tmp_path / "sale_orders.csv"
    write_sale_orders_csv(path, 3000, seed=5)
    spec = report_spec("Sale Orders")
    with chunks_of(16 << 10):
        plan, onepass, pass_2 = both_ways(path, dict(spec.hints), required=("sale_order_item_code",))
    assert onepass.given_up is None and plan.typed is not None
    typed = pq.read_table(plan.typed.path)
    assert plan.typed.rows == typed.num_rows == pass_2.num_rows == 3000
    assert plan.typed.schema.field("sale_order_item_code").nullable is False
    assert [(f.name, f.type) for f in plan.typed.schema] == [(f.name, f.type) for f in pass_2.schema]
    assert typed.equals(pass_2.cast(typed.schema))
    assert dict(plan.typed.constants) == CONSTANTS
    assert_keys_hashed(plan, pass_2, ["sale_order_item_code"])


def assert_keys_hashed(plan: FilePlan, pass_2: pa.Table, key: list[str]) -> None:
    """The typed file's key hashes are those the key tracker takes of pass 2's rows, row for row:
    a key repeated across jobs typed either way is seen to repeat."""
    assert plan.typed is not None and plan.typed.keys is not None
    hashes = pq.read_table(plan.typed.keys).column("h").combine_chunks()
    assert hashes.equals(key_hashes(pass_2.select(key)).cast(pa.uint64()))
    assert hashes.null_count == 0 and len(hashes) == pass_2.num_rows


def test_a_key_of_two_columns_is_hashed_as_the_tracker_hashes_it(tmp_path: Path) -> None:
    rows = [f"SO-{i % 50},{i // 50},{i}.5" for i in range(400)]
    with chunks_of(512):
        plan, onepass, pass_2 = both_ways(write(tmp_path, "Code,Line,Qty", rows), required=("code", "line"))
    assert onepass.given_up is None
    assert_keys_hashed(plan, pass_2, ["code", "line"])
    assert len(set(pq.read_table(plan.typed.keys).column("h").to_pylist())) == 400  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("header", "rows", "hints", "why"),
    [
        # whole numbers, then a word: integer -> text
        ("Qty,Name", [f"{i},n{i}" for i in range(400)] + ["many,x"], None, "qty"),
        # dates, then a date with a time: date -> timestamp
        ("Delivery Date,Name", [*DATES, "2026-11-02 10:00:00,x"], None, "delivery_date"),
        # a column with a value that is only a null token, then numbers is no sparse column:
        # whole numbers and a date, both after the first rows
        ("Qty,Name", [f"{i % 3},n{i}" for i in range(400)] + ["2026-11-02,x"], None, "qty"),
    ],
)  # fmt: skip
def test_a_type_that_changes_after_the_first_chunk_falls_back_to_pass_2(
    tmp_path: Path, header: str, rows: list[str], hints: dict[str, Kind] | None, why: str
) -> None:
    path = write(tmp_path, header, rows)
    with chunks_of(512):
        plan, onepass, pass_2 = both_ways(path, hints)
    assert plan.typed is None and onepass.given_up is not None and why in onepass.given_up
    assert plan.retyped == onepass.given_up  # what the loader tells at -v
    assert not onepass.out.exists() and not list(tmp_path.glob("*.keys"))
    assert pass_2.num_rows == plan.rows == len(rows)


@pytest.mark.parametrize(
    ("header", "rows", "hints", "kinds"),
    [
        # money of 2 places, then one of 11: decimal(38,9) -> decimal(38,11), never rounded
        ("Total,Name", [f"{i}.25,n{i}" for i in range(400)] + ["1.12345678912,x"], MONEY,
         ["decimal", "text"]),
        # whole numbers, then one with places, in the middle and in the last row
        ("Weight,Name", [f"{i},n{i}" for i in range(200)] + ["-0.5,x"] + [f"{i},m" for i in range(200)],
         None, ["decimal", "text"]),
        ("Weight,Name", [f"{i},n{i}" for i in range(400)] + ["2.125,x"], None, ["decimal", "text"]),
        # a decimal of 1 place, then of 2, then an exponent of 7 (BigDecimal's zero), and whole
        # numbers of 12 digits before them
        ("Rate,Units", [f"{i}.5,{10**11 + i}" for i in range(300)] + ["99.99,1.5", "0E-7,7"]
         + [f"{i}.5,{i}" for i in range(100)], None, ["decimal", "decimal"]),
    ],
)  # fmt: skip
def test_numbers_that_widen_exactly_keep_the_typed_file(
    tmp_path: Path, header: str, rows: list[str], hints: dict[str, Kind] | None, kinds: list[str]
) -> None:
    """Whole numbers that meet a decimal, or a decimal that meets more places: the rows typed so
    far are cast in a copy, equal, value for value, to what pass 2 parses from their text."""
    path = write(tmp_path, header, rows)
    with chunks_of(512):
        plan, onepass, pass_2 = both_ways(path, hints)
    assert onepass.given_up is None and plan.typed is not None and plan.retyped == ""
    assert [c.kind for c in plan.columns] == kinds
    typed = pq.read_table(plan.typed.path)
    assert [(f.name, f.type) for f in plan.typed.schema] == [(f.name, f.type) for f in pass_2.schema]
    assert typed.num_rows == pass_2.num_rows == len(rows)
    assert typed.equals(pass_2.cast(typed.schema))
    assert not list(tmp_path.glob("*.retype"))


def test_a_key_that_widens_falls_back_to_pass_2(tmp_path: Path) -> None:
    """The hashes of a merge key's rows typed so far were taken of the narrower values."""
    rows = [f"{i},n{i}" for i in range(400)] + ["400.5,x"]
    with chunks_of(512):
        plan, onepass, pass_2 = both_ways(write(tmp_path, "Line,Name", rows), required=("line",))
    assert plan.typed is None and "line" in str(onepass.given_up)
    assert [c.kind for c in plan.columns] == ["decimal", "text"] and pass_2.num_rows == len(rows)


def test_a_ragged_record_or_a_missing_key_falls_back_to_pass_2(tmp_path: Path) -> None:
    rows = [f"SO-{i},{i}" for i in range(400)]
    with chunks_of(512):
        ragged, onepass, _ = both_ways(write(tmp_path, "Code,Qty", [*rows, "SO-x,1,extra"]))
        assert ragged.typed is None and "ragged" in str(onepass.given_up) and not onepass.out.exists()
        keyless, onepass, _ = both_ways(write(tmp_path, "Code,Qty", [*rows, ",5"]), required=("code",))
        assert keyless.typed is None and "required" in str(onepass.given_up) and not onepass.out.exists()
        assert not list(tmp_path.glob("*.keys"))  # the hashes of the rows before it are gone too
        missing, onepass, _ = both_ways(write(tmp_path, "Code,Qty", rows), required=("sku",))
        assert missing.typed is None and "required" in str(onepass.given_up)


def test_money_empty_at_first_keeps_its_type_and_the_typed_file(tmp_path: Path) -> None:
    rows = [f"SO-{i},," for i in range(400)] + ["SO-x,0E-7,12.5"]
    with chunks_of(512):
        plan, onepass, pass_2 = both_ways(write(tmp_path, "Code,CESS,Total", rows), MONEY)
        assert onepass.given_up is None and plan.typed is not None
        assert pass_2.schema.field("cess").type == pa.decimal128(38, 9)
        typed = pq.read_table(plan.typed.path)
        assert typed.equals(pass_2.cast(typed.schema))
        # a file where the money column has no value at all types it the same: one type for all
        empty, _, _ = both_ways(write(tmp_path, "Code,CESS,Total", rows[:5]), MONEY)
    assert [c.scale for c in empty.columns if c.name == "cess"] == [9]


def test_a_file_pass_1_refuses_leaves_no_typed_file(tmp_path: Path) -> None:
    path = tmp_path / "semicolons.csv"
    path.write_bytes(b"Code;Qty\r\n" + b"".join(b"SO-%d;%d\r\n" % (i, i) for i in range(50)))
    onepass = OnePass(path.with_suffix(".typed.parquet"), RowGroups, constants=CONSTANTS)
    with pytest.raises(CsvFormatError):
        plan_file(path, normalize=NORMALIZE, onepass=onepass)
    assert not onepass.out.exists()


def sparse_rows(columns: int, empty_for: int, starts: list[int] | None = None) -> tuple[str, list[str]]:
    """A key, then `columns` columns empty in the first rows, each starting to hold values (whole
    numbers, money, dates and times in turn) `empty_for` rows after the one before (or at the rows
    `starts`, with `empty_for` rows after the last)."""
    shapes = ["{}", "{}.25", "2026-11-{:02d}", "2026-11-01 10:{:02d}:00"]
    starts = starts or [empty_for * (c + 1) for c in range(columns)]
    header = ",".join(["Code", *[f"Field {c}" for c in range(columns)]])
    rows = []
    for i in range(starts[-1] + empty_for):
        values = [shapes[c % 4].format(1 + i % 28) if i >= starts[c] else "" for c in range(columns)]
        rows.append(",".join([f"C-{i:05d}", *values]))
    return header, rows


def test_sparse_columns_typed_at_their_first_values_keep_the_typed_file(tmp_path: Path) -> None:
    """A column with no value in the first chunks has a default kind (text) until its first values:
    the rows typed so far hold only nulls for it, so they are copied anew with its new type, and
    the file keeps its one pass: equal, value for value, to pass 2's."""
    header, rows = sparse_rows(3, 200)
    path = write(tmp_path, header, rows)
    with chunks_of(512):
        plan, onepass, pass_2 = both_ways(path, required=("code",))
    assert onepass.given_up is None and plan.typed is not None and plan.retyped == ""
    assert [c.kind for c in plan.columns] == ["text", "integer", "decimal", "date"]
    typed = pq.read_table(plan.typed.path)
    assert [(f.name, f.type) for f in plan.typed.schema] == [(f.name, f.type) for f in pass_2.schema]
    assert typed.num_rows == pass_2.num_rows == len(rows)
    assert typed.equals(pass_2.cast(typed.schema))
    assert plan.typed.schema.field("code").nullable is False
    assert not list(tmp_path.glob("*.retype"))
    assert_keys_hashed(plan, pass_2, ["code"])  # the copies keep the hashes of the rows they copy


def test_many_sparse_columns_keep_the_typed_file_while_their_copies_cost_little(tmp_path: Path) -> None:
    """Five columns getting their first values through the file: five copies, of fewer rows in
    all than three times the file's."""
    header, rows = sparse_rows(5, 150)
    path = write(tmp_path, header, rows)
    with chunks_of(512):
        plan, onepass, pass_2 = both_ways(path)
    assert onepass.given_up is None and plan.typed is not None
    assert [c.kind for c in plan.columns] == ["text", "integer", "decimal", "date", "timestamp", "integer"]
    typed = pq.read_table(plan.typed.path)
    assert typed.equals(pass_2.cast(typed.schema))


def test_copies_beyond_three_times_the_rows_fall_back_to_pass_2(tmp_path: Path) -> None:
    """Each copy reads and writes the rows typed so far: columns getting their first values one
    after another near the end would copy the file again and again, so once the rows copied in
    all would pass three times the rows typed, pass 2 types the file as before."""
    header, rows = sparse_rows(5, 30, starts=[600, 630, 660, 690, 700])
    path = write(tmp_path, header, rows)
    with chunks_of(512):
        plan, onepass, pass_2 = both_ways(path)
    assert plan.typed is None and "field_3" in str(onepass.given_up) and plan.retyped == onepass.given_up
    assert not onepass.out.exists() and not list(tmp_path.glob("*.retype"))
    assert pass_2.num_rows == plan.rows == len(rows)


@pytest.mark.parametrize("body", ["\r\n", "\r\n\r\n", ",\r\n", ",\r\n\r\n,\r\n"])
def test_a_body_of_blank_records_keeps_no_typed_file(tmp_path: Path, body: str) -> None:
    """Blank or all-empty records are no rows: a typed file of none would give the table the
    default types of columns without values (text) before any file had a say."""
    path = tmp_path / "export.csv"
    path.write_bytes(("\ufeffQty,Name\r\n" + body).encode())
    onepass = OnePass(path.with_suffix(".typed.parquet"), RowGroups, constants=CONSTANTS)
    plan = plan_file(path, normalize=NORMALIZE, onepass=onepass)
    assert plan.rows == 0 and plan.typed is None and "no rows" in plan.retyped
    assert not onepass.out.exists()


def test_a_column_named_as_a_constant_leaves_the_file_to_pass_2(tmp_path: Path) -> None:
    """The typed layout cannot hold a file column named like a constant column (the job code):
    the one pass gives up, and pass 1 ends as without it, for pass 2 to report the clash."""
    path = write(tmp_path, "Code,_uniware_job_code", ["A1,x", "A2,y"])
    onepass = OnePass(path.with_suffix(".typed.parquet"), RowGroups, constants=CONSTANTS)
    plan = plan_file(path, normalize=NORMALIZE, onepass=onepass)
    assert plan == dataclasses.replace(plan_file(path, normalize=NORMALIZE), retyped=plan.retyped)
    assert plan.typed is None and "clash" in plan.retyped and not onepass.out.exists()
    with pytest.raises(ValueError, match="clash"):
        list(read_batches(path, plan, unify([plan]), constants=CONSTANTS, views=True))
