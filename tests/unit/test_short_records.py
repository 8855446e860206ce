"""Records with a null last field: a short record is still found exactly, and a file whose last
column is merely empty is proven whole by its commas, without the exact (csv module) pass."""

from __future__ import annotations

import csv
import io
from concurrent.futures import Future
from pathlib import Path

import polars as pl
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
from hypothesis import example, given, settings
from hypothesis import strategies as st

from uniware_source.typed_csv import chunks as csv_chunks
from uniware_source.typed_csv.frames import Commas, _read, commas_between, frames
from uniware_source.typed_csv.profile import FileProfile
from uniware_source.typed_csv.reader import plan_file, read_batches, unify

NORMALIZE = NamingConvention().normalize_identifier
HEADER = "Code,Note,Amount,Last"


def write(tmp_path: Path, records: list[str]) -> Path:
    path = tmp_path / "f.csv"
    path.write_bytes(("\ufeff" + "".join(r + "\r\n" for r in [HEADER, *records])).encode())
    return path


def records(n: int) -> list[str]:
    """Quoted commas, doubled quotes, line breaks and non-ASCII text in values; the last field
    empty in most records, `-` in some."""
    out = []
    for i in range(n):
        note = f'"प्रिय, {i}\r\n""नमस्ते"", ok"' if i % 3 else f"plain {i}"
        last = "-" if i % 7 == 0 else ("x,y" if i % 11 == 0 else "")
        out.append(f"C{i},{note},{i}.50,{last if ',' not in last else chr(34) + last + chr(34)}")
    return out


def shape_of(path: Path) -> tuple[int, int, int]:
    """(records, maybe_short, short_unproven) as pass 1 counts them, commas counted per chunk."""
    cols = ["c0", "c1", "c2", "c3"]
    profile = FileProfile(cols, HEADER.split(","), [None] * 4, set(), "Asia/Kolkata")
    commas: list[Commas] = []
    for _, df, guard in frames(path, 4, 1 << 10, None, True, [], commas):
        profile.add(path, df, shape=True, guards=guard, commas=commas[-1])
    shape = profile.settle()
    return shape.records, shape.maybe_short, shape.short_unproven


@pytest.fixture
def small_chunks() -> object:
    previous = csv_chunks.CHUNK_BYTES
    csv_chunks.CHUNK_BYTES = 4 << 10  # many chunks: the proof is per chunk
    yield
    csv_chunks.CHUNK_BYTES = previous


@pytest.mark.usefixtures("small_chunks")
def test_empty_last_fields_are_proven_whole(tmp_path: Path) -> None:
    path = write(tmp_path, records(600))
    total, maybe_short, unproven = shape_of(path)
    assert total == 600 and maybe_short > 400
    assert unproven == 0
    plan = plan_file(path, normalize=NORMALIZE)
    assert plan.rows == 600 and plan.rejected == ()
    table = list(read_batches(path, plan, unify([plan])))
    last = [v for batch in table for v in batch.column("last").to_pylist()]
    assert last.count("x,y") == len([i for i in range(600) if i % 11 == 0 and i % 7 != 0])


@pytest.mark.usefixtures("small_chunks")
def test_a_short_record_among_empty_last_fields_is_rejected(tmp_path: Path) -> None:
    lines = records(600)
    lines[300] = 'C300,"प्रिय, short\r\nrecord",3.50'  # one field missing, commas quoted beside it
    path = write(tmp_path, lines)
    assert shape_of(path)[2] > 0  # its chunk is not proven: the exact pass runs
    plan = plan_file(path, normalize=NORMALIZE)
    assert [(r.raw_line, r.reason) for r in plan.rejected] == [
        ('C300,"प्रिय, short\r\nrecord",3.50', "expected 4 fields, found 3")
    ]
    assert plan.rows == 599


@pytest.mark.parametrize(
    "lines",
    [
        ["A,x,1,", "", "B,y,2,"],
        ["", "A,x,1,", "", "", "B,y,2,", ""],
        ['A,"x',  "", 'y",1,', "", "B,y,2,"],  # a blank line inside a quoted field is data
    ],
)  # fmt: skip
def test_blank_lines_keep_the_proof_and_are_no_rejects(tmp_path: Path, lines: list[str]) -> None:
    """A blank line beside records with an empty last field: polars reads it as a record of
    nulls, which is dropped, so it counts as a record with all its commas, and the chunk is still
    proven whole (a file with a mostly empty last column and one blank line took the exact csv
    pass over the whole file, 1 s for 175 MB)."""
    path = write(tmp_path, lines)
    assert shape_of(path)[2] == 0
    plan = plan_file(path, normalize=NORMALIZE)
    assert plan.rows == 2 and plan.rejected == ()


def test_a_short_record_beside_a_blank_line_is_still_found(tmp_path: Path) -> None:
    path = write(tmp_path, ["A,x,1,", "", "B,y,2", "C,z,3,"])
    assert shape_of(path)[2] > 0
    plan = plan_file(path, normalize=NORMALIZE)
    assert plan.rows == 2 and [r.line_number for r in plan.rejected] == [4]


_FIELD = st.text(alphabet=st.sampled_from(list('ab ,"\r\nप,')), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_FIELD, min_size=1, max_size=6), min_size=1, max_size=20))
def test_separators_are_the_commas_between_fields(rows: list[list[str]]) -> None:
    """chunks.separators counts the commas that separate fields, whatever the values hold (quoted
    commas, doubled quotes, line breaks): for records as Python's csv module writes them, one
    fewer than the fields of each record."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    assert csv_chunks.separators(out.getvalue().encode()) == sum(len(r) - 1 for r in rows)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.just(None), st.lists(_FIELD, min_size=3, max_size=3)), min_size=1, max_size=20),
    st.sampled_from(["\r\n", "\n"]),
)
def test_blank_lines_count_as_the_records_polars_reads_them_as(
    rows: list[list[str] | None], end: str
) -> None:
    """Records of three fields as Python's csv module writes them, and blank lines among them:
    with a blank line counted as two commas, the commas are two for every record polars reads
    (a blank line is one, of nulls)."""
    out = io.StringIO()
    for row in rows:
        if row is None:
            out.write(end)
        else:
            csv.writer(out, lineterminator=end).writerow(row)
    chunk = out.getvalue().encode()
    df, _ = _read(chunk, 3)
    assert csv_chunks.separators(chunk, 2) == 2 * df.height


_RAW_FIELD = st.text(alphabet=st.sampled_from(list('ab ,"\r\n')), max_size=6)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(_RAW_FIELD, min_size=1, max_size=5), min_size=1, max_size=12), st.booleans())
def test_separators_count_nothing_they_cannot_prove(rows: list[list[str]], quote: bool) -> None:
    """Fields written as they come, quoted or not: stray quotes in unquoted fields (`32" LED TV`),
    quoted fields with text after them. Where separators gives a count, it is the count a CSV
    reader finds; where it cannot tell, it gives None (and pass 1 takes the exact path)."""
    out = io.StringIO()
    for row in rows:
        fields = [f'"{f.replace(chr(34), chr(34) * 2)}"' if quote and "," in f else f for f in row]
        out.write(",".join(fields) + "\r\n")
    chunk = out.getvalue().encode()
    counted = csv_chunks.separators(chunk)
    if counted is not None:
        records = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
        assert counted == sum(max(len(r) - 1, 0) for r in records)  # a blank line reads as []


def test_a_chunk_holding_the_checks_markers_is_not_counted() -> None:
    """NUL and SOH mark the quoted parts in the check: a quoted chunk that holds either proves
    nothing (a chunk without quotes has only commas to count)."""
    assert csv_chunks.separators(b'a,"b,c",d\n') == 2
    assert csv_chunks.separators(b'a,"b\x01,c",d\n') is None
    assert csv_chunks.separators(b'a,"b\x00,c",d\n') is None
    assert csv_chunks.separators(b"a,b\x01,c\n") == 2


def test_a_stray_quote_does_not_hide_a_short_record(tmp_path: Path) -> None:
    """An inch mark in an unquoted field, then a quoted field with commas, then a short record in
    the same chunk: the commas prove nothing, and the short record is rejected."""
    path = tmp_path / "f.csv"
    path.write_bytes(
        b"sku,name,address,description\n"
        b'SKU1,32" LED TV,"Flat 5, Block A, Sector 62, Noida",32" LED TV Black\n'
        b"SKU2,Pen,Delhi\n"
    )
    plan = plan_file(path, normalize=NORMALIZE)
    assert plan.rows == 1
    assert [r.line_number for r in plan.rejected] == [3]


@pytest.mark.usefixtures("small_chunks")
def test_commas_are_counted_beside_the_reading_and_a_stopped_read_leaves_no_count_behind(
    tmp_path: Path,
) -> None:
    """The commas of a chunk are counted on a thread of their own (pass 1 needs them only at the
    end of the file): each chunk's count is there once the reading ends, in the order of the
    chunks; a reader that stops early does not wait for the counts it no longer needs."""
    path = write(tmp_path, records(600))
    commas: list[Commas] = []
    chunks = list(frames(path, 4, 1 << 10, None, True, [], commas))
    assert len(commas) == len(chunks) > 5
    counted = [c.result() if isinstance(c, Future) else c for c in commas]
    assert all(c == df.height * 3 for c, (_, df, _) in zip(counted, chunks, strict=True) if c)
    stopped: list[Commas] = []
    reading = frames(path, 4, 1 << 10, None, True, [], stopped)
    next(reading)
    reading.close()
    assert all(c.done() for c in stopped if isinstance(c, Future))


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(st.just(None), st.lists(_RAW_FIELD, min_size=1, max_size=5)), min_size=1, max_size=12),
    st.booleans(),
    st.sampled_from(["\r\n", "\n"]),
)
# what an unlucky draw of 500 may miss: a quote that closes nothing (`a",a"`), text after a
# closing quote (`""a",",,`), a quote after a bare CR, a closing quote before a CR LF, a quote
# that is never closed (polars refuses the chunk)
@example([['a"', 'a"']], False, "\r\n")
@example([['""a"', '"', "", ""]], False, "\n")
@example([['\r"', 'a"']], False, "\n")
@example([['""']], False, "\r\n")
@example([["a,b", 'c"d', "e"]], True, "\r\n")
@example([["a", '"b', "c"]], False, "\n")
def test_the_commas_are_the_bytes_own_count_whatever_polars_read(
    rows: list[list[str] | None], quote: bool, end: str
) -> None:
    """Records of one to five fields under a header of three, and blank lines, written as they
    come, quoted or not: stray quotes in unquoted fields (`32" LED TV`, `""a"`), quoted commas and
    line breaks, bare CRs. Whatever polars makes of them, commas_between gives the count that
    chunks.separators takes in the bytes with every blank line counted, None (prove nothing)
    exactly where it does: it looks for blank lines only where polars read a record of nulls."""
    out = io.StringIO()
    for row in rows:
        if row is None:
            out.write(end)
            continue
        fields = [f'"{f.replace(chr(34), chr(34) * 2)}"' if quote and ("," in f or not f) else f for f in row]
        out.write(",".join(fields) + end)
    chunk = out.getvalue().encode()
    try:
        df, overfull = _read(chunk, 3)
    except pl.exceptions.PolarsError:
        return  # a chunk polars refuses fails its job before any proof
    assert commas_between(chunk, df, 3, overfull) == csv_chunks.separators(chunk, 2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_FIELD, min_size=3, max_size=3).filter(any), max_size=20), st.booleans())
def test_records_quoted_as_a_csv_writer_quotes_them_are_proven_whole_without_the_bytes_split(
    rows: list[list[str]], quote_all: bool
) -> None:
    """Records of three fields as Python's csv module writes them (every field quoted, or only
    those that need it), one of them holding a NUL byte, which chunks.separators cannot count
    around (it marks the quoted parts with it): commas_between gives two commas a record. (A
    record of empty fields only is left out: polars reads it as a blank line, which takes the
    bytes' split.)"""
    out = io.StringIO()
    rows = [*rows, ['32" \x00', "c", "d"]]
    csv.writer(
        out, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    ).writerows(rows)
    chunk = out.getvalue().encode()
    df, overfull = _read(chunk, 3)
    assert csv_chunks.separators(chunk) is None
    assert commas_between(chunk, df, 3, overfull) == 2 * len(rows)
