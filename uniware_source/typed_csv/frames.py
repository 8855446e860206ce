"""A file's data records as polars frames of raw strings, one frame per byte chunk; both passes
read a file this way.

How polars' CSV reader is used, and why:
- `has_header=False` on chunks that start after the header, with our own column names `c0..cN`,
  plus one extra column `cN+1`: a record with too many fields fills it (`truncate_ragged_lines`
  drops the rest). A chunk is first read strictly, with the header's width: polars refuses a
  record with a field too many, even an empty one, which the extra column cannot show (an empty
  field is null, like a missing one: `a,b,c,,x` under three labels would load as `a,b,c`). Only
  a chunk it refuses is read again with the extra column, and is reported as `overfull`, which
  makes pass 1 find its ragged records exactly. (A chunk whose first record has two fields too
  many or more needs `extra_columns="ignore"` too: polars takes that record's width for the
  chunk's, and refused the whole file.)
- `empty_string_is_null=True`: an unquoted empty field and a missing field are both null, so a
  record with too few fields has a null last column. That is ambiguous with a legitimately empty
  last field, so such records are checked exactly by the `csv` pass (records.py, only if there are any).
- Blank lines (and records whose every field is empty, however many) carry nothing and are
  dropped silently.
- CR LF inside a quoted field is kept as written; the record's own CR LF is not part of the data.
- Malformed quoting that polars refuses (a bare quote inside an unquoted field) raises CsvFormatError.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from uniware_source.api.errors import CsvFormatError, QuoteInFieldError
from uniware_source.typed_csv import chunks as csv_chunks
from uniware_source.typed_csv.chunks import (
    Arrival,
    byte_chunks,
    may_hold_guard,
    prefetched,
    separators,
)
from uniware_source.typed_csv.records import header_end, quote_problem

_ROW_INDEX = "__record"


INCH_MARK = "a quote inside a field that does not start with one"


def unreadable(path: Path, exc: pl.exceptions.PolarsError, where: str = "") -> CsvFormatError:
    """The error to raise (from `exc`) for a file polars cannot read or profile; `where` names the
    record that is the likely cause and why, if known (then polars' own words are left out)."""
    if where:
        return CsvFormatError(f"{path}: {where}")
    return CsvFormatError(f"{path}: not a CSV we can read: {exc}".splitlines()[0])


def _unreadable_line(path: Path, position: int, chunk: bytes) -> tuple[str, bool]:
    """Where the chunk at byte `position` of `path`, which polars could not read, goes wrong: its
    line, why and its text, for the error message ("" if that is not found); and whether that is
    an inch mark (a quote inside a field that does not start with one)."""
    at, why, advice = _cause(chunk)
    if at is None:
        return "", False
    lines = chunk.count(b"\n", 0, at) + 1
    with path.open("rb") as fh:
        left = position
        while left > 0 and (block := fh.read(min(left, 1 << 20))):
            lines += block.count(b"\n")
            left -= len(block)
    begin = chunk.rfind(b"\n", 0, at) + 1
    text = chunk[begin : begin + 80].split(b"\n")[0].decode("utf-8", "replace").rstrip("\r")
    return f"line {lines}: {why} ({text!r}): not a CSV we can read ({advice})", why == INCH_MARK


def _cause(chunk: bytes) -> tuple[int | None, str, str]:
    """The offset in `chunk` of what makes it no CSV, what that is and what a CSV would have
    (None: not found)."""
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start, f"not UTF-8 text ({exc.reason})", "an export is written in UTF-8"
    problem = quote_problem(chunk)
    if problem is None:
        return None, "", ""
    kind, at = problem
    if kind == "unclosed":
        return at, "a quoted field that never ends", "its closing quote is missing"
    why = INCH_MARK if kind == "inch" else "text after the quote that closes a field"
    return at, why, "CSV quotes a field holding a quote, and doubles it"


def _scan(source: bytes, width: int, lenient: bool) -> pl.LazyFrame:
    """Strict: exactly `width` columns, a record with more fields is an error. Lenient: the
    extra column too, the fields past it dropped."""
    return pl.scan_csv(
        source,
        has_header=False,
        schema={f"c{i}": pl.String for i in range(width + 1 if lenient else width)},
        separator=",",
        quote_char='"',
        encoding="utf8",
        empty_string_is_null=True,
        truncate_ragged_lines=lenient,
        extra_columns="ignore" if lenient else "raise",
        missing_columns="insert",
        raise_if_empty=False,
        low_memory=True,
    )


def _read(source: bytes, width: int) -> tuple[pl.DataFrame, bool]:
    """The chunk's records as columns c0..cN+1, and whether some record has more fields than the
    header. Raises PolarsError if the chunk is no CSV polars can read."""
    try:
        df = _scan(source, width, lenient=False).collect()
    except pl.exceptions.PolarsError:  # a record with too many fields (or unreadable: raised below)
        return _scan(source, width, lenient=True).collect(), True
    return df.with_columns(pl.lit(None, dtype=pl.String).alias(f"c{width}")), False


def frames(
    path: Path,
    width: int,
    first: int = 0,
    arrival: Arrival | None = None,
    guards: bool = False,
    overfull: list[int] | None = None,
    commas: list[Commas] | None = None,
) -> Iterator[tuple[int, pl.DataFrame, bool]]:
    """Every data record (header excluded) as raw String columns c0..cN+1, chunk by chunk, each
    with the 0-based index of its first record and whether a field of it may start with an Excel
    guard (looked for only with `guards`; True otherwise). The first chunk holds about `first`
    bytes. The next chunk is read and parsed on a worker thread while the caller works on the
    current one. With `arrival`, the file may still be downloading (see byte_chunks). The index
    of the first record of each chunk that holds a record with more fields than the header is
    appended to `overfull`, if given: cN+1 shows only those whose first field too many is not empty.
    The commas between fields of each chunk (not those inside quoted values; None where its
    quoting does not let them be told apart, 0 where no record has a null last field, which is all
    pass 1 asks of them) are appended to `commas`, if given, before the chunk is yielded (pass 1
    tells with them that no record is short). They are counted (commas_between) on a thread of
    their own (a Future, then), while the next chunk is read and parsed: pass 1 needs them only
    at the end of the file. At most PROVING chunks wait for theirs."""
    offset = 0
    with _Proofs() if commas is not None else contextlib.nullcontext() as proofs:
        for df, guard, over, between in prefetched(_parsed(path, width, first, arrival, guards, proofs)):
            if over and overfull is not None:
                overfull.append(offset)
            if commas is not None:
                commas.append(between)
            yield offset, df, guard
            offset += df.height


# chunks whose commas may be waiting to be counted (each holds its bytes until then)
PROVING = 2
Commas = int | None | Future[int | None]


class _Proofs:
    """The thread the commas of chunks are counted on, at most PROVING chunks waiting for it."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="uniware-commas")
        self._slots = threading.BoundedSemaphore(PROVING)

    def __enter__(self) -> _Proofs:
        return self

    def __exit__(self, failed: type[BaseException] | None, *exc: object) -> None:
        # every count done, for pass 1 to settle; none still to start if the reading stopped early
        self._pool.shutdown(wait=True, cancel_futures=failed is not None)

    def count(self, chunk: bytes, df: pl.DataFrame, width: int, overfull: bool) -> Future[int | None]:
        self._slots.acquire()
        try:
            future = self._pool.submit(commas_between, chunk, df, width, overfull)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future


def commas_between(chunk: bytes, df: pl.DataFrame, width: int, overfull: bool) -> int | None:
    """The commas between the fields of the records of `chunk`: the count chunks.separators takes
    in the bytes (blank lines counted as records of the header's width), None where it gives None
    (except for a NUL or SOH byte, its own markers, which the way below does not need).

    Where polars read no record of nulls only, and so the chunk has no blank line, the count is
    taken without holding the GIL: all the commas of the bytes, less those inside the values
    polars read. That is the bytes' own count once every quote is at the edge of a field
    (`_quotes_at_edges`): polars' reader then takes the same quoted stretches as the bytes'
    quote parity, and so does the csv module, which a quote inside a field would have made read
    otherwise (`""a",",,` is one field and two empty ones for polars, two fields for it).
    Least CPU of 5 runs, in ms a MB: 2.95 against 4.8 for the bytes' split at their quotes (which
    holds the GIL) on a file quoted in every record, 2.8 against 3.6 on a 139-column file quoted
    now and then. A chunk read leniently (`overfull`: polars dropped the fields past the extra
    column) or with a record of nulls only is counted in the bytes."""
    nulls = pl.all_horizontal(pl.col(f"c{i}").is_null() for i in range(width))
    if overfull or df.select(nulls.any()).item():
        return separators(chunk, width - 1)
    data = _bytes_of(chunk)
    commas = int(data.eq(_COMMA).sum())
    if b'"' not in chunk:
        return commas
    if not _quotes_at_edges(data):
        return None
    # each column's values joined into one text first: counted value by value, the commas of a
    # 139-column file's chunk cost 2.8 ms a MB, joined 1.75 (messy file: 1.8 and 1.2)
    inside = df.select(
        pl.sum_horizontal(pl.all().str.join("").str.count_matches(",", literal=True).cast(pl.Int64))
    )
    return commas - int(inside.item())


_COMMA, _QUOTE = ord(","), ord('"')
# chunks' rule of a quote at a field's edge, with a doubled quote's two halves: the quote that
# closed the field's text before it (before an opening one) and the one after it (after a closing one)
_BEFORE_OPENING = list(csv_chunks.BEFORE_OPENING_QUOTE + b'"')
_AFTER_CLOSING = list(csv_chunks.AFTER_CLOSING_QUOTE + b'"')


def _bytes_of(chunk: bytes) -> pl.Series:
    """The chunk as a polars series of its bytes (UInt8)."""
    return pl.Series(pa.Array.from_buffers(pa.uint8(), len(chunk), [None, pa.py_buffer(chunk)]))


def _quotes_at_edges(data: pl.Series) -> bool:
    """Whether every quote of the chunk (`data`, its bytes; it starts outside any quote) opens or
    closes a quoted field, taking them in turn as opening and closing: an even number of them,
    each opening one at the start of the chunk or after a byte of _BEFORE_OPENING, each closing
    one at the end or before a byte of _AFTER_CLOSING."""
    quotes = data.eq(_QUOTE).arg_true().cast(pl.Int64)
    if len(quotes) % 2:
        return False
    opening, closing = quotes.gather_every(2), quotes.gather_every(2, offset=1)
    # clipped at the chunk's edges, an edge quote is compared with itself, which both lists allow
    before = data.gather((opening - 1).clip(lower_bound=0))
    after = data.gather((closing + 1).clip(upper_bound=len(data) - 1))
    return bool(before.is_in(_BEFORE_OPENING).all() and after.is_in(_AFTER_CLOSING).all())


def _parsed(
    path: Path, width: int, first: int, arrival: Arrival | None, guards: bool, proofs: _Proofs | None
) -> Iterator[tuple[pl.DataFrame, bool, bool, Commas]]:
    # the size is read at each call, not imported: tests shrink CHUNK_BYTES to get many chunks
    size = csv_chunks.chunk_bytes(width)
    position = header_end(path)
    for chunk in byte_chunks(path, position, size, first, arrival):
        try:
            df, overfull = _read(chunk, width)
        except pl.exceptions.PolarsError as exc:
            where, inch_mark = _unreadable_line(path, position, chunk)
            error = unreadable(path, exc, where)
            raise (QuoteInFieldError(str(error)) if inch_mark else error) from exc
        position += len(chunk)
        # the commas are read only where pass 1 may need them: a record whose last field is null
        between: Commas = 0
        if proofs is not None and df.get_column(f"c{width - 1}").null_count():
            between = proofs.count(chunk, df, width, overfull)
        yield df, may_hold_guard(chunk) if guards else True, overfull, between


def filtered(
    df: pl.DataFrame, offset: int, width: int, skip: Sequence[int], drop_empty: bool
) -> pl.DataFrame:
    """The chunk without its rejected records (global indexes `skip`) and, if asked, all-empty ones."""
    local = [i - offset for i in skip if offset <= i < offset + df.height]
    if local:
        df = df.with_row_index(_ROW_INDEX).filter(~pl.col(_ROW_INDEX).is_in(local)).drop(_ROW_INDEX)
    if drop_empty:
        df = df.filter(pl.any_horizontal([pl.col(f"c{i}").is_not_null() for i in range(width + 1)]))
    return df


def select_row(path: Path, df: pl.DataFrame, exprs: Sequence[pl.Expr]) -> dict[str, Any]:
    """The one row of aggregations `exprs` over `df`, by name."""
    try:
        return df.select(exprs).row(0, named=True)
    except pl.exceptions.PolarsError as exc:
        raise unreadable(path, exc) from exc
