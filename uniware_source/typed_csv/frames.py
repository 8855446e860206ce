"""A file's data records as polars frames of raw strings, one frame per byte chunk; both passes
read a file this way.

How polars' CSV reader is used, and why:
- `has_header=False` on chunks that start after the header, with our own column names `c0..cN`,
  plus one extra column `cN+1`: a record with too many fields fills it (`truncate_ragged_lines`
  drops the rest).
- `empty_string_is_null=True`: an unquoted empty field and a missing field are both null, so a
  record with too few fields has a null last column. That is ambiguous with a legitimately empty
  last field, so such records are checked exactly by the `csv` pass (records.py, only if there are any).
- Blank lines (and records whose every field is empty) carry nothing and are dropped silently.
- CR LF inside a quoted field is kept as written; the record's own CR LF is not part of the data.
- Malformed quoting that polars refuses (a bare quote inside an unquoted field) raises CsvFormatError.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from uniware_source.api.errors import CsvFormatError
from uniware_source.typed_csv import chunks as csv_chunks
from uniware_source.typed_csv.chunks import Arrival, byte_chunks, header_end, may_hold_guard, prefetched

_ROW_INDEX = "__record"


def unreadable(path: Path, exc: pl.exceptions.PolarsError) -> CsvFormatError:
    """The error to raise (from `exc`) for a file polars cannot read or profile."""
    return CsvFormatError(f"{path}: not a CSV we can read: {exc}".splitlines()[0])


def _scan(source: bytes, width: int) -> pl.LazyFrame:
    return pl.scan_csv(
        source,
        has_header=False,
        schema={f"c{i}": pl.String for i in range(width + 1)},
        separator=",",
        quote_char='"',
        encoding="utf8",
        empty_string_is_null=True,
        truncate_ragged_lines=True,
        missing_columns="insert",
        raise_if_empty=False,
        low_memory=True,
    )


def frames(
    path: Path, width: int, first: int = 0, arrival: Arrival | None = None, guards: bool = False
) -> Iterator[tuple[int, pl.DataFrame, bool]]:
    """Every data record (header excluded) as raw String columns c0..cN+1, chunk by chunk, each
    with the 0-based index of its first record and whether a field of it may start with an Excel
    guard (looked for only with `guards`; True otherwise). The first chunk holds about `first`
    bytes. The next chunk is read and parsed on a worker thread while the caller works on the
    current one. With `arrival`, the file may still be downloading (see byte_chunks)."""
    offset = 0
    for df, guard in prefetched(_parsed(path, width, first, arrival, guards)):
        yield offset, df, guard
        offset += df.height


def _parsed(
    path: Path, width: int, first: int, arrival: Arrival | None, guards: bool
) -> Iterator[tuple[pl.DataFrame, bool]]:
    # CHUNK_BYTES is read at each call, not imported: tests shrink it to get many chunks
    for chunk in byte_chunks(path, header_end(path), csv_chunks.CHUNK_BYTES, first, arrival):
        try:
            df = _scan(chunk, width).collect()
        except pl.exceptions.PolarsError as exc:
            raise unreadable(path, exc) from exc
        yield df, may_hold_guard(chunk) if guards else True


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
