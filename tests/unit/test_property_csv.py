"""Property: any file built from the quirks of real Uniware exports reads back cell for cell.

The files are generated column by column (`Col`: a header label, the raw text of each field, and
the kinds the reader may give the column), written as bytes (BOM or not, CRLF or LF, quoting
where needed and sometimes where not), and read with `plan_file` + `read_batches`, in chunks of
random size. The oracle parses the same bytes with Python's `csv` module and types every field
itself (`expected`): text exactly as written, numbers equal as Decimal, naive times the UTC
instant of the Asia/Kolkata wall time, null tokens null. A record with a value and the wrong
number of fields must be rejected with its line and text; a record without any value is dropped;
every other record loads.

Deterministic: `derandomize=True`, no example database.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import io
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from uniware_source.api.errors import CsvFormatError
from uniware_source.load.typed_files import RowGroups
from uniware_source.typed_csv import chunks as csv_chunks
from uniware_source.typed_csv import plan as csv_plan
from uniware_source.typed_csv.onepass import OnePass
from uniware_source.typed_csv.reader import FilePlan, plan_file, read_batches, unify

# hundreds of generated files: in `make test`, not in the quick unit tier (`make test-unit`)
pytestmark = pytest.mark.property

NORMALIZE = NamingConvention().normalize_identifier
KOLKATA = ZoneInfo("Asia/Kolkata")
NULLS = ("", "-", "na", "n/a", "null", "none")
TRUES, FALSES = ("true", "yes", "y", "1"), ("false", "no", "n", "0")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M")
TIME_FORMATS += ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")
DATE_FORMATS = ("%d-%m-%Y", "%Y-%m-%d", "%d/%m/%Y")
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- the oracle ---------------------------------------------------------------------------------------


def is_null(raw: str) -> bool:
    return raw.strip().lower() in NULLS


def unguard(value: str) -> str:
    """Without the Excel text guard ('2320617, '-7, '1.5E+3): the reader strips it from any column
    holding one, before a value of digits (and the dots, dashes, slashes, colons, spaces of numbers
    and dates), perhaps signed, or before a number with an exponent."""
    if not value.startswith("'"):
        return value
    guarded = value[1:]
    body = guarded[1:] if guarded[:1] in ("+", "-") else guarded
    if not body or body[0] not in "0123456789":
        return value
    plain = set(body) <= set("0123456789./: -")
    return guarded if plain or re.fullmatch(r"[0-9](\.[0-9]+)?[eE][+-]?[0-9]{1,4}", body) else value


def expected(kind: str, raw: str) -> Any:
    """The value of field `raw` in a column the reader typed as `kind`."""
    if is_null(raw):
        return None
    value = unguard(raw.strip())
    if kind == "text":
        return unguard(raw)  # exactly as written, spaces kept
    if kind == "integer":  # (by Decimal: 1E+2 too, should a column of them ever be one)
        number = Decimal(value)
        assert number == number.to_integral_value(), raw
        return int(number)
    if kind == "decimal":
        return Decimal(value)
    if kind == "boolean":
        return value.lower() in TRUES
    for fmt in DATE_FORMATS + TIME_FORMATS:
        with contextlib.suppress(ValueError):
            naive = dt.datetime.strptime(value, fmt)
            if kind == "date":
                return naive.date()
            return naive.replace(tzinfo=KOLKATA).astimezone(dt.UTC)
    raise AssertionError(f"{raw!r} is no {kind}")


def scale(raw: str) -> int:
    """The places of a number as its plain decimal writes them: `1.5E+3` none, `0E-7` seven."""
    exponent = Decimal(unguard(raw.strip())).as_tuple().exponent
    assert isinstance(exponent, int), raw
    return max(0, -exponent)


# -- the generated columns ----------------------------------------------------------------------------
TEXT_CHARS = "abcXYZ019 ,\"'-/.:&%()\r\n\t\u00a0éüआदित्य🚚💰"
LABEL_CHARS = "abcXYZ019 ,;|\t\"'-/.:&%()#éüआदित्य🚚"
SEPARATORS = {";": "`;`", "\t": "tab", "|": "`|`"}
ANCHORS = ("SO-77", "Müller, Hans", 'say "hi"', "आदित्य", "🚚 shipped", "a\r\nb", "x\ny", "O'Neil", "'quoted")


@dataclass(frozen=True)
class Col:
    label: str
    values: tuple[str, ...]  # the raw text of the field in each row
    kinds: tuple[str, ...]  # the kinds the reader may give it

    def may_be(self, kind: str) -> bool:
        return kind in self.kinds or not any(not is_null(v) for v in self.values)


def cased(words: tuple[str, ...]) -> st.SearchStrategy[str]:
    """One of `words`, each letter in either case."""
    flips = st.lists(st.booleans(), min_size=8, max_size=8)
    return st.builds(lambda w, up: "".join(c.upper() if u else c for c, u in zip(w, up, strict=False)),
                     st.sampled_from(words), flips)  # fmt: skip


def padded(value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """`value`, sometimes with spaces around it (a no-break space too), which typed kinds trim."""
    pad = st.sampled_from(["", "", "", " ", "  ", "\u00a0"])
    return st.builds(lambda a, v, b: a + v + b, pad, value, pad)


def null_token() -> st.SearchStrategy[str]:
    return padded(cased(NULLS))


@st.composite
def column_values(draw: st.DrawFn, rows: int, value: st.SearchStrategy[str], anchor: str | None) -> list[str]:
    """`rows` values, some of them null tokens; `anchor`, if given, in one row (it decides the kind)."""
    values = draw(st.lists(st.one_of(value, value, null_token()), min_size=rows, max_size=rows))
    if anchor is not None and rows:
        values[draw(st.integers(0, rows - 1))] = anchor
    return values


def any_label() -> st.SearchStrategy[str]:
    common = ["Name", "Status", "Created", "", " ", "Order Date as dd/mm/yyyy hh:MM:ss"]
    return st.one_of(st.sampled_from(common), st.text(LABEL_CHARS, max_size=14))


def labelled(words: list[str], prefix_chars: str) -> st.SearchStrategy[str]:
    """A label ending in one of `words` after a prefix of `prefix_chars` (which cannot change what
    the label names), or just the word: columns of the same word get duplicate labels."""
    prefixed = st.builds(lambda p, w: f"{p} {w}", st.text(prefix_chars, max_size=8), st.sampled_from(words))
    return st.one_of(st.sampled_from(words), prefixed)


@st.composite
def gen_text(draw: st.DrawFn, rows: int) -> Col:
    value = st.one_of(st.text(TEXT_CHARS, max_size=12), st.sampled_from(ANCHORS))
    anchor = draw(st.sampled_from(ANCHORS))
    return Col(draw(any_label()), tuple(draw(column_values(rows, value, anchor))), ("text",))


@st.composite
def gen_identifier(draw: st.DrawFn, rows: int) -> Col:
    """Codes, pincodes, phone numbers: text by their label, leading zeros and Excel guards kept/stripped."""
    digits = st.text("0123456789", min_size=1, max_size=20)
    value = st.one_of(digits, st.builds("0{}".format, digits), st.builds("'{}".format, digits),
                      st.builds("SO-{}".format, digits))  # fmt: skip
    label = draw(labelled(["Code", "Pincode", "Phone", "Item SKU Code", "Invoice No."], "0123 -.#आदि"))
    return Col(label, tuple(draw(column_values(rows, padded(value), None))), ("text",))


MEASURES = ["Amount", "Qty", "Selling Price", "Tax %", "Weight (kg)", "MRP"]


def spoiler(draw: st.DrawFn, values: list[str]) -> str | None:
    """Now and then, one of `values`: a value that keeps its column from being a number or a date."""
    return draw(st.sampled_from(values)) if draw(st.integers(0, 7)) == 0 else None


@st.composite
def gen_integer(draw: st.DrawFn, rows: int) -> Col:
    """Whole numbers, negative ones, padded, some with an Excel guard; one of 16+ digits, with a
    leading zero or with a plus sign makes the column text (an identifier, whatever its label)."""
    number = st.integers(-(10**15) + 1, 10**15 - 1)
    value = st.one_of(number.map(str), st.integers(-(10**6), 10**6).map("'{}".format))
    anchor = spoiler(draw, ["1000000000000000", "98765432109876543210", "007001", "-01", "+7"])
    values = tuple(draw(column_values(rows, padded(value), anchor)))
    return Col(draw(labelled(MEASURES, LABEL_CHARS)), values, ("text",) if anchor else ("integer",))


@st.composite
def gen_decimal(draw: st.DrawFn, rows: int) -> Col:
    """Decimals of varying scale, -0.00, and sometimes Java BigDecimal exponent forms (0E-7,
    1.5E+3): numbers, exactly, and a column holding one is a decimal (with the scale of the plain
    numbers), never an integer. A leading zero or a stray point makes the column text."""
    whole = st.integers(-(10**12), 10**12)
    decimal = st.builds(lambda n, s: f"{Decimal(n).scaleb(-s):f}", whole, st.integers(0, 8))
    value = st.one_of(decimal, decimal, st.sampled_from(["-0.00", "0.0", "'-7.25", "'12.50", "3"]))
    exponent = (
        draw(st.sampled_from(["0E-7", "1.5E+3", "-2.50E-2", "1E+2", "1.0E10"]))
        if draw(st.booleans())
        else None
    )
    spoil = spoiler(draw, ["00.5", "1.2.3", "12.", ".5", "1,234.50", "+7.25", "2E10", "24E1"])
    values = tuple(draw(column_values(rows, padded(value), spoil or exponent)))
    if spoil or exponent:
        kinds: tuple[str, ...] = ("text",) if spoil else ("decimal",)
    else:  # without a value with a point: whole numbers
        kinds = ("decimal",) if any("." in v for v in values if not is_null(v)) else ("integer",)
    return Col(draw(labelled(MEASURES, LABEL_CHARS)), values, kinds)


@st.composite
def gen_boolean(draw: st.DrawFn, rows: int) -> Col:
    token = padded(cased(TRUES + FALSES))
    anchor = draw(cased(("true", "yes", "y", "false", "no", "n")))
    return Col(draw(any_label()), tuple(draw(column_values(rows, token, anchor))), ("boolean",))


@st.composite
def gen_temporal(draw: st.DrawFn, rows: int, dates_only: bool) -> Col:
    """Mixed formats in one column; date-only values only: a date column."""
    formats = DATE_FORMATS if dates_only else DATE_FORMATS + TIME_FORMATS * 3
    when = st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2099, 12, 31, 23, 59, 59))
    value = st.builds(lambda w, f: w.strftime(f), when, st.sampled_from(formats))
    anchor = None if dates_only else draw(when).strftime(draw(st.sampled_from(TIME_FORMATS)))
    kinds = ("date",) if dates_only else ("timestamp",)
    if spoil := spoiler(draw, ["30-02-2024", "2024-13-01 10:00:00", "31/04/2024 10:00", "2024-06-01 24:00"]):
        anchor, kinds = spoil, ("text",)
    values = tuple(draw(column_values(rows, padded(value), anchor)))
    return Col(draw(any_label()), values, kinds)


def gen_date(rows: int) -> st.SearchStrategy[Col]:
    return gen_temporal(rows, dates_only=True)


def gen_timestamp(rows: int) -> st.SearchStrategy[Col]:
    return gen_temporal(rows, dates_only=False)


GENERATORS = [gen_text, gen_identifier, gen_integer, gen_decimal, gen_boolean, gen_date, gen_timestamp]


# -- the file -----------------------------------------------------------------------------------------
def field_text(value: str, quote: bool, sep: str = ",") -> str:
    """RFC-4180: quoted when it must be, and sometimes when it need not (never an empty field)."""
    if any(c in value for c in sep + '"\r\n') or (quote and value):
        return '"' + value.replace('"', '""') + '"'
    return value


@dataclass(frozen=True)
class CsvCase:
    columns: tuple[Col, ...]
    records: tuple[tuple[str, ...], ...]  # the data records' fields as written (ragged ones too)
    texts: tuple[str, ...]  # header and data records as written, without their line breaks
    data: bytes
    sep: str = ","

    @property
    def width(self) -> int:
        return len(self.columns)


@st.composite
def ragged(draw: st.DrawFn, fields: list[str]) -> list[str]:
    """The record with fields missing or (perhaps empty) fields too many."""
    if len(fields) > 1 and draw(st.booleans()):
        return fields[: draw(st.integers(1, len(fields) - 1))]
    return fields + draw(st.lists(st.sampled_from(["", "", "x", "7", "a,b"]), min_size=1, max_size=3))


def plain_label(col: Col, chars: str) -> Col:
    """`col` with none of `chars` in its label (none of them changes what a label names)."""
    return replace(col, label=col.label.translate({ord(c): None for c in chars}))


@st.composite
def csv_cases(
    draw: st.DrawFn, max_rows: int = 25, max_width: int = 6, sep: str = ",", every_kind: bool = False
) -> CsvCase:
    """A comma-separated file with ragged records (copies of others) here and there; or one
    separated by `sep` without them, whose header is one field when read with commas. With
    `every_kind`, one column of each generator, in any order (for tests of few examples)."""
    rows = draw(st.integers(0, max_rows))
    some = st.lists(st.sampled_from(GENERATORS), min_size=1, max_size=max_width)
    generators = draw(st.permutations(GENERATORS) if every_kind else some)
    columns = tuple(draw(gen(rows)) for gen in generators)
    if sep != ",":
        others = ",".join(SEPARATORS).replace(sep, "")  # labels the other separators split too
        columns = tuple(plain_label(c, others) for c in columns)
        assume(sum(1 for c in columns if c.label.strip()) >= 2)
    elif len(columns) == 1:  # a one-column file whose label splits by `;` may be refused: test_separators
        columns = (plain_label(columns[0], "".join(SEPARATORS)),)
    assume(any(c.label.strip() for c in columns))  # else no header: a test of its own
    whole = [[c.values[r] for c in columns] for r in range(rows)]
    records = list(whole)
    for _ in range(draw(st.integers(0, 3)) if rows and sep == "," else 0):  # ragged copies, anywhere
        fields = draw(ragged(list(draw(st.sampled_from(whole)))))
        records.insert(draw(st.integers(0, len(records))), fields)
    quote = st.booleans() if draw(st.booleans()) else st.just(False)
    lines = [[c.label for c in columns], *records]
    texts = [sep.join(field_text(f, draw(quote), sep) for f in fields) for fields in lines]
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    body = eol.join(texts) + (eol if draw(st.booleans()) or not texts[-1] else "")
    bom = "\ufeff" if draw(st.booleans()) else ""
    return CsvCase(columns, tuple(map(tuple, records)), tuple(texts), (bom + body).encode(), sep)


@dataclass(frozen=True)
class Outcome:
    rows: list[tuple[str, ...]]  # the records that load, their fields as the csv module reads them
    rejected: list[tuple[int, str, str]]


def oracle(case: CsvCase) -> Outcome:
    """What must load and what must be rejected, from the bytes as Python's csv module reads them."""
    parsed = list(csv.reader(io.StringIO(case.data.decode("utf-8-sig"), newline="")))
    assert parsed[0] == [c.label for c in case.columns] and len(parsed) == len(case.records) + 1
    out = Outcome([], [])
    line = 1 + len(re.findall(r"\r\n|\r|\n", case.texts[0])) + 1
    for fields, text in zip(parsed[1:], case.texts[1:], strict=True):
        if any(fields) and len(fields) != case.width:
            out.rejected.append((line, text, f"expected {case.width} fields, found {len(fields)}"))
        elif any(fields):
            out.rows.append(tuple(fields))
        line += len(re.findall(r"\r\n|\r|\n", text)) + 1
    return out


# -- reading it ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def chunked(size: int | None) -> Iterator[None]:
    """Chunks of about `size` bytes (the first one too), or the reader's own sizes."""
    saved = csv_chunks.CHUNK_BYTES, csv_plan.FIRST_CHUNK_BYTES
    if size:
        csv_chunks.CHUNK_BYTES = csv_plan.FIRST_CHUNK_BYTES = size
    try:
        yield
    finally:
        csv_chunks.CHUNK_BYTES, csv_plan.FIRST_CHUNK_BYTES = saved


def read(data: bytes, chunk: int | None, batch: int) -> tuple[FilePlan, pa.Table]:
    with tempfile.TemporaryDirectory() as tmp, chunked(chunk):
        path = Path(tmp) / "export.csv"
        path.write_bytes(data)
        plan = plan_file(path, normalize=NORMALIZE)
        schema = unify([plan])
        batches = list(read_batches(path, plan, schema, batch_size=batch))
        table = pa.concat_tables(batches) if batches else schema.arrow_schema().empty_table()
        check_one_pass(path, plan, table)
    assert all(b.schema == schema.arrow_schema() for b in batches)
    return plan, table


def check_one_pass(path: Path, plan: FilePlan, table: pa.Table) -> None:
    """The same plan when pass 1 types the rows too, and if it kept its typed file, the same rows
    as pass 2's, of the same types."""
    onepass = OnePass(path.with_name("typed.parquet"), RowGroups, constants={})
    fused = plan_file(path, normalize=NORMALIZE, onepass=onepass)
    assert dataclasses.replace(fused, typed=None, retyped="") == plan
    assert (fused.typed is None) == bool(fused.retyped)  # given up, and why
    if fused.typed is None:
        assert not path.with_name("typed.parquet").exists()  # given up: deleted
        return
    typed = pq.read_table(fused.typed.path)
    assert [(f.name, f.type) for f in typed.schema] == [(f.name, f.type) for f in table.schema]
    assert typed.num_rows == fused.typed.rows == table.num_rows
    assert typed.equals(table.cast(typed.schema))


def check_columns(case: CsvCase, plan: FilePlan, rows: list[tuple[str, ...]]) -> None:
    """Labels, unique names, and a kind each column may have (with the scale its values need)."""
    assert [c.label for c in plan.columns] == [c.label for c in case.columns]
    names = [c.name for c in plan.columns]
    assert len(set(names)) == len(names), names
    for i, (col, got) in enumerate(zip(case.columns, plan.columns, strict=True)):
        assert col.may_be(got.kind) or not any(not is_null(r[i]) for r in rows), (col, got.kind)
        if got.kind == "decimal" and col.kinds == ("decimal",):
            assert got.scale == max(scale(r[i]) for r in rows if not is_null(r[i]))


def check_cells(case: CsvCase, plan: FilePlan, table: pa.Table, rows: list[tuple[str, ...]]) -> None:
    for i, got in enumerate(plan.columns):
        want = [expected(got.kind, r[i]) for r in rows]
        assert table.column(i).to_pylist() == want, (case.columns[i], got)


def check(case: CsvCase, chunk: int | None = None, batch: int = 100_000) -> None:
    want = oracle(case)
    plan, table = read(case.data, chunk, batch)
    assert [(r.line_number, r.raw_line, r.reason) for r in plan.rejected] == want.rejected
    assert plan.rows == table.num_rows == len(want.rows)
    check_columns(case, plan, want.rows)
    check_cells(case, plan, table, want.rows)


CHUNKS = st.sampled_from([None, 64, 200, 4096])
BATCHES = st.sampled_from([1, 3, 100_000])


@settings(PROPERTY, max_examples=200)
@given(case=csv_cases(), chunk=CHUNKS, batch=BATCHES)
def test_every_generated_file_reads_back_cell_for_cell(case: CsvCase, chunk: int | None, batch: int) -> None:
    check(case, chunk, batch)


@settings(PROPERTY, max_examples=60)
@given(case=st.sampled_from(sorted(SEPARATORS)).flatmap(lambda sep: csv_cases(max_rows=10, sep=sep)))
def test_a_file_separated_otherwise_is_refused_whatever_it_holds(case: CsvCase) -> None:
    with pytest.raises(CsvFormatError, match=f"looks {re.escape(SEPARATORS[case.sep])}-separated"):
        read(case.data, None, 100_000)


# -- what the property found: minimal examples ---------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "rejected", "rows"),
    [
        # a field too many, empty, then a value: polars' extra column held the empty field (null),
        # truncate_ragged_lines dropped the value, and the record loaded as `d,e,f`, `x` lost
        (b"A,B,C\r\na,b,c\r\nd,e,f,,x\r\n", [(3, "d,e,f,,x")], [("a", "b", "c")]),
        # empty fields too many: loaded, or rejected if another record of the file was ragged
        (b"A,B,C\na,b,c\nd,e,f,,\n", [(3, "d,e,f,,")], [("a", "b", "c")]),
        (b"A,B,C\na,b,c\nd,e,f,,\nx,y\n", [(3, "d,e,f,,"), (4, "x,y")], [("a", "b", "c")]),
        # two fields too many in the first record of a chunk: polars took that record's width as
        # the chunk's and refused the whole file ("not a CSV we can read": INVALID_FILE)
        (b"Name\r\nSO-77,,\r\nSO-77\r\n", [(2, "SO-77,,")], [("SO-77",)]),
        (b"A,B\r\nx,y,z,w\r\np,q\r\n", [(2, "x,y,z,w")], [("p", "q")]),
        # a record of nothing but commas carries nothing: dropped, not rejected only when some
        # other record of the file happened to be ragged
        (b"A,B,C\na,b,c\n,\nx,y\n", [(4, "x,y")], [("a", "b", "c")]),
        (b"A,B,C\na,b,c\n,,,,\nx,y\n", [(4, "x,y")], [("a", "b", "c")]),
        (b"A,B,C\na,b,c\n,,,,\n", [], [("a", "b", "c")]),
    ],
)
def test_ragged_records_are_rejected_whatever_else_the_file_holds(
    data: bytes, rejected: list[tuple[int, str]], rows: list[tuple[str, ...]]
) -> None:
    for chunk in (None, 8):
        plan, table = read(data, chunk, 100_000)
        assert [(r.line_number, r.raw_line) for r in plan.rejected] == rejected
        assert [tuple(r.values()) for r in table.to_pylist()] == rows
