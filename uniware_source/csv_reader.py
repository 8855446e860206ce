"""CSV file -> typed Arrow batches + rejected rows.

Two passes over a file, both streamed by polars with every field read as String:

1. `plan_file` profiles every column over *all* rows in one aggregation (numbers, leading zeros,
   booleans, date shapes, ragged records), then parses the date-like columns with every accepted
   format to decide date / timestamp / text. Ragged records are located (physical line, raw text)
   with Python's `csv` module only when polars saw some, which is rare.
2. `read_batches` casts the strings to the decided types batch by batch; every batch is a
   `pyarrow.Table` with exactly the table's schema.

How polars' CSV reader is used, and why:
- `has_header=False, skip_rows=1` with our own column names `c0..cN`, plus one extra column `cN+1`:
  a record with too many fields fills it (`truncate_ragged_lines` drops the rest).
- `empty_string_is_null=True`: an unquoted empty field and a missing field are both null, so a
  record with too few fields has a null last column. That is ambiguous with a legitimately empty
  last field, so such records are checked exactly by the `csv` pass (only if there are any).
- Blank lines (and records whose every field is empty) carry nothing and are dropped silently.
- CR LF inside a quoted field is kept as written; the record's own CR LF is not part of the data.
- Malformed quoting that polars refuses (a bare quote inside an unquoted field) raises CsvFormatError.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow as pa

from uniware_source.errors import CsvFormatError
from uniware_source.type_plan import (
    ALL_FORMATS,
    KINDS,
    ColumnPlan,
    FilePlan,
    Kind,
    Profile,
    RejectedRow,
    TableSchema,
    classify,
    classify_temporal,
    convert_expr,
    format_match_exprs,
    polars_type,
    profile_exprs,
    temporal_parse_expr,
    typed_expr,
    unify,
)

__all__ = [
    "ColumnPlan",
    "FilePlan",
    "Kind",
    "RejectedRow",
    "TableSchema",
    "plan_file",
    "read_batches",
    "unify",
]

_SNIFF_BYTES = 1 << 16
_ROW_INDEX = "__record"
_ENGINE: Literal["streaming"] = "streaming"


# -- raw file access ----------------------------------------------------------------------------------
def _check_text(path: Path) -> None:
    """Refuse files that are not UTF-8 text (looking at the start; polars checks the rest)."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise CsvFormatError(f"{path}: not a text file (NUL bytes); expected a UTF-8 CSV")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _records(path: Path) -> Iterator[tuple[int, int, str]]:
    """Every record of the file as (first physical line, field count, raw text without line break).

    The header is the first record. A blank line is a record of 0 fields. Lines without a quote are
    counted by their commas; a line with a quote goes through `csv.reader`, which pulls the further
    lines of a quoted multi-line field itself."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lines = iter(fh)
        lineno = 0
        pending: list[str] = []
        consumed: list[str] = []

        def feed() -> Iterator[str]:
            nonlocal lineno
            while True:
                if pending:
                    line = pending.pop()
                else:
                    nxt = next(lines, None)
                    if nxt is None:
                        return
                    lineno += 1
                    line = nxt
                consumed.append(line)
                yield line

        reader = csv.reader(feed(), strict=False)
        for line in lines:
            lineno += 1
            if '"' not in line:
                body = line.rstrip("\r\n")
                yield lineno, (body.count(",") + 1 if body else 0), body
                continue
            start = lineno
            pending.append(line)
            consumed.clear()
            try:
                row = next(reader)
            except (csv.Error, StopIteration) as exc:
                raise CsvFormatError(f"{path}: line {start}: unreadable CSV record ({exc})") from exc
            raw = "".join(consumed)
            yield start, len(row), raw[:-2] if raw.endswith("\r\n") else raw.rstrip("\r\n")


def _read_header(path: Path) -> list[str]:
    first = next(_records(path), None)
    if first is None:
        return []
    row = next(csv.reader([first[2]], strict=False), [])
    return [label.lstrip("\ufeff") for label in row]


def _scan(path: Path, width: int) -> pl.LazyFrame:
    return pl.scan_csv(
        path,
        has_header=False,
        skip_rows=1,
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


def _filtered(lf: pl.LazyFrame, width: int, skip: Sequence[int], drop_empty: bool) -> pl.LazyFrame:
    if skip:
        lf = lf.with_row_index(_ROW_INDEX).filter(~pl.col(_ROW_INDEX).is_in(list(skip))).drop(_ROW_INDEX)
    if drop_empty:
        lf = lf.filter(pl.any_horizontal([pl.col(f"c{i}").is_not_null() for i in range(width + 1)]))
    return lf


def _collect(path: Path, lf: pl.LazyFrame) -> dict[str, int | None]:
    try:
        df = lf.collect(engine=_ENGINE)
    except pl.exceptions.PolarsError as exc:
        raise CsvFormatError(f"{path}: not a CSV we can read: {exc}".splitlines()[0]) from exc
    return df.row(0, named=True)


# -- names --------------------------------------------------------------------------------------------
def column_names(labels: Sequence[str], normalize: Callable[[str], str]) -> list[str]:
    """Normalised, unique names: a later label that normalises to a taken name gets _2, _3, ..."""
    taken: set[str] = set()
    out: list[str] = []
    for i, label in enumerate(labels):
        base = normalize(label if label.strip() else f"column_{i + 1}")
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        out.append(name)
    return out


def _forced(hints: Mapping[str, Kind] | None, label: str, name: str) -> Kind | None:
    if not hints:
        return None
    kind = hints.get(label, hints.get(name))
    if kind is not None and kind not in KINDS:
        raise ValueError(f"type hint for {label!r} is {kind!r}, not one of {KINDS}")
    return kind


# -- pass 1 -------------------------------------------------------------------------------------------
def _locate_rejects(path: Path, width: int) -> tuple[list[RejectedRow], list[int], int]:
    rejected: list[RejectedRow] = []
    indexes: list[int] = []
    count = -1
    for count, (line, fields, raw) in enumerate(_records(path)):
        if count and fields and fields != width:
            rejected.append(RejectedRow(line, raw, f"expected {width} fields, found {fields}"))
            indexes.append(count - 1)
    return rejected, indexes, max(count, 0)


def _profile(
    path: Path, lf: pl.LazyFrame, cols: Sequence[str], guarded: set[str], extra: Sequence[pl.Expr] = ()
) -> dict[str, int | None]:
    """One streaming pass: every column through typed_expr once, then all aggregations."""
    typed = lf.with_columns([typed_expr(c, c in guarded).alias(f"t{c}") for c in cols])
    return _collect(path, typed.select([*extra, *(e for c in cols for e in profile_exprs(c, f"t{c}"))]))


def _temporal_formats(
    path: Path, lf: pl.LazyFrame, cols: Sequence[str], guarded: set[str], nn: Mapping[str, int], timezone: str
) -> dict[str, tuple[str, ...]]:
    """The formats of the date-like columns whose every value parses (within the zone); others absent.

    Regexes pick each column's formats first (cheap); only those formats are then parsed."""
    typed = lf.with_columns([typed_expr(c, c in guarded).alias(f"t{c}") for c in cols])
    shapes = _collect(path, typed.select([e for c in cols for e in format_match_exprs(c, f"t{c}")]))
    candidates: dict[str, tuple[str, ...]] = {}
    for c in cols:
        counts = [int(shapes[f"{c}:f{i}"] or 0) for i in range(len(ALL_FORMATS))]
        if sum(counts) >= nn[c]:
            candidates[c] = tuple(f for f, n in zip(ALL_FORMATS, counts, strict=True) if n)
    if not candidates:
        return {}
    checks = [temporal_parse_expr(c, f"t{c}", fmts, timezone) for c, fmts in candidates.items()]
    parsed = _collect(path, typed.select(checks))
    return {c: fmts for c, fmts in candidates.items() if int(parsed[f"{c}:parsed"] or 0) == nn[c]}


def plan_file(
    path: Path,
    *,
    normalize: Callable[[str], str],
    hints: Mapping[str, Kind] | None = None,
    timezone: str = "Asia/Kolkata",
) -> FilePlan:
    """Pass 1 over the whole file: the kind of every column, the rows that will load, the rejects.

    `hints` maps a header label (or normalised name) to a forced kind; a forced kind that some value
    cannot satisfy falls back to text."""
    path = Path(path)
    if path.stat().st_size == 0:
        return FilePlan(path, (), 0, ())
    _check_text(path)
    try:
        labels = _read_header(path)
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not any(label.strip() for label in labels):
        raise CsvFormatError(f"{path}: no header row (the first line holds no column labels)")
    width = len(labels)
    names = column_names(labels, normalize)
    forced = [_forced(hints, label, name) for label, name in zip(labels, names, strict=True)]
    cols = [f"c{i}" for i in range(width)]
    extra, last = pl.col(f"c{width}"), pl.col(cols[-1])
    any_value = pl.any_horizontal([pl.col(c).is_not_null() for c in cols])
    shape = [
        pl.len().alias(":records"),
        extra.is_not_null().sum().alias(":too_many"),
        (last.is_null() & any_value).sum().alias(":maybe_short"),
        (~any_value & extra.is_null()).sum().alias(":empty"),
    ]

    lf = _scan(path, width)
    stats = _profile(path, lf, cols, set(), shape)
    records, empty = int(stats[":records"] or 0), int(stats[":empty"] or 0)
    rows = records - empty
    rejected: list[RejectedRow] = []
    skip: list[int] = []
    if stats[":too_many"] or stats[":maybe_short"]:
        rejected, skip, seen = _locate_rejects(path, width)
        if seen != records:
            raise CsvFormatError(
                f"{path}: record boundaries are ambiguous ({records} records by polars, {seen} by csv); "
                "check the quoting"
            )
    guarded = {c for c in cols if stats.get(f"{c}:guard")}
    if skip:  # decide the types again without the rejected records
        lf = _filtered(lf, width, skip, empty > 0)
        stats = _profile(path, lf, cols, guarded, [pl.len().alias(":records")])
        rows = int(stats[":records"] or 0)
    elif guarded:
        stats.update(_profile(path, lf, sorted(guarded), guarded))

    decided = [
        classify(Profile.from_row(stats, c), label, kind)
        for c, label, kind in zip(cols, labels, forced, strict=True)
    ]
    nn = {c: int(stats[f"{c}:nn"] or 0) for c in cols}
    temporal_cols = [c for c, d in zip(cols, decided, strict=True) if d[2]]
    formats = _temporal_formats(path, lf, temporal_cols, guarded, nn, timezone) if temporal_cols else {}

    columns: list[ColumnPlan] = []
    for c, label, name, hint, decision in zip(cols, labels, names, forced, decided, strict=True):
        kind, scale, needs_check = decision
        fmts: tuple[str, ...] = ()
        if needs_check and c in formats:
            kind, fmts = classify_temporal(formats[c], hint)
        columns.append(ColumnPlan(label, name, kind, scale, fmts, nn[c], c in guarded))
    return FilePlan(path, tuple(columns), rows, tuple(rejected), tuple(skip), empty > 0)


# -- pass 2 -------------------------------------------------------------------------------------------
def read_batches(
    path: Path,
    plan: FilePlan,
    schema: TableSchema,
    *,
    timezone: str = "Asia/Kolkata",
    batch_size: int = 100_000,
    constants: Mapping[str, str] | None = None,
) -> Iterator[pa.Table]:
    """Pass 2: typed batches of at most `batch_size` rows, each with exactly
    `schema.arrow_schema(list(constants))`. Schema columns this file lacks are all-null."""
    constants = dict(constants or {})
    target = schema.arrow_schema(list(constants))
    if plan.rows == 0 or not plan.columns:
        return
    width = len(plan.columns)
    by_name = {c.name: (f"c{i}", c) for i, c in enumerate(plan.columns)}
    exprs: list[pl.Expr] = []
    for col in schema.columns:
        if col.name in by_name:
            raw, source = by_name[col.name]
            exprs.append(convert_expr(raw, source, col, timezone).alias(col.name))
        else:
            exprs.append(pl.lit(None, dtype=polars_type(col)).alias(col.name))
    exprs += [pl.lit(value, dtype=pl.String).alias(name) for name, value in constants.items()]
    lf = _filtered(_scan(Path(path), width), width, plan.skip_records, plan.drop_empty_records).select(exprs)
    try:
        for df in lf.collect_batches(chunk_size=batch_size, engine=_ENGINE):
            if df.height:
                yield df.to_arrow().cast(target)
    except pl.exceptions.PolarsError as exc:
        message = f"{path}: could not convert the file with its plan: {exc}".splitlines()[0]
        raise CsvFormatError(message) from exc
