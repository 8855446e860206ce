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
from datetime import UTC
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from uniware_source.api.errors import CsvFormatError
from uniware_source.typed_csv import chunks as csv_chunks
from uniware_source.typed_csv.chunks import Arrival, byte_chunks, header_end, may_hold_guard, prefetched
from uniware_source.typed_csv.rules import (
    ALL_FORMATS,
    GAPLESS_FROM,
    GAPLESS_TO,
    KINDS,
    ColumnPlan,
    FilePlan,
    Kind,
    Profile,
    RejectedRow,
    TableSchema,
    any_format_expr,
    boolean_exprs,
    classify,
    classify_temporal,
    convert_expr,
    count_exprs,
    date_shape_expr,
    format_match_exprs,
    gapless,
    is_identifier_label,
    numeric_exprs,
    parsed_as_utc_expr,
    plain_strings,
    polars_type,
    temporal_parse_expr,
    typed_count_exprs,
    typed_expr,
    unify,
)

__all__ = [
    "ColumnPlan",
    "FilePlan",
    "Kind",
    "RejectedRow",
    "TableSchema",
    "plain_strings",
    "plan_file",
    "read_batches",
    "unify",
]

_SNIFF_BYTES = 1 << 16
_ROW_INDEX = "__record"
# the first chunk of pass 1 is small: most columns show there that they can only be text, and are
# profiled cheaply from then on
FIRST_CHUNK_BYTES = 1 << 20


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


def _frames(
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
    for chunk in byte_chunks(path, header_end(path), csv_chunks.CHUNK_BYTES, first, arrival):
        try:
            df = _scan(chunk, width).collect()
        except pl.exceptions.PolarsError as exc:
            raise CsvFormatError(f"{path}: not a CSV we can read: {exc}".splitlines()[0]) from exc
        yield df, may_hold_guard(chunk) if guards else True


def _filtered(
    df: pl.DataFrame, offset: int, width: int, skip: Sequence[int], drop_empty: bool
) -> pl.DataFrame:
    """The chunk without its rejected records (global indexes `skip`) and, if asked, all-empty ones."""
    local = [i - offset for i in skip if offset <= i < offset + df.height]
    if local:
        df = df.with_row_index(_ROW_INDEX).filter(~pl.col(_ROW_INDEX).is_in(local)).drop(_ROW_INDEX)
    if drop_empty:
        df = df.filter(pl.any_horizontal([pl.col(f"c{i}").is_not_null() for i in range(width + 1)]))
    return df


def _select(path: Path, df: pl.DataFrame, exprs: Sequence[pl.Expr]) -> dict[str, Any]:
    try:
        return df.select(exprs).row(0, named=True)
    except pl.exceptions.PolarsError as exc:
        raise CsvFormatError(f"{path}: not a CSV we can read: {exc}".splitlines()[0]) from exc


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


class _Profile:
    """Column statistics of a file, accumulated chunk by chunk (sums, and maxima of widths).

    Each column is profiled only for the kinds it can still become. A kind is given up as soon as
    a value rules it out (counts only grow, so that stays true to the end of the file) and its
    statistics are frozen from then on: they keep ruling it out in `classify`. Not profiled at all:
    numbers in an identifier-labelled column without a hint (a number there loads as text, and a
    number is never date-shaped), and every kind a hint excludes. A column left with no kind keeps
    only its value count.

    Date-like columns count the values of each format's shape. Once a column has shown its
    formats, a chunk whose values all have one of those shapes is checked with one regex of all of
    them (the shapes exclude each other, so the count is the sum the separate regexes give);
    otherwise every format is counted again. The values that have a format's shape are parsed with
    the formats seen so far: a value that parses with a format has that format's shape, so the count
    equals the one that parsing the whole file with all matched formats would give."""

    def __init__(
        self,
        cols: Sequence[str],
        labels: Sequence[str],
        forced: Sequence[Kind | None],
        guarded: set[str],
        timezone: str,
    ) -> None:
        self.cols = list(cols)
        self.timezone = timezone
        self.guarded = set(guarded)
        self.numeric = {
            c
            for c, label, kind in zip(cols, labels, forced, strict=True)
            if kind in ("integer", "decimal") or (kind is None and not is_identifier_label(label))
        }
        kinds = dict(zip(cols, forced, strict=True))
        self.boolish = {c for c in cols if kinds[c] not in ("text", "date", "timestamp")}
        self.dates = {c for c in cols if kinds[c] in (None, "date", "timestamp")}
        self.totals: dict[str, int] = {":records": 0, ":too_many": 0, ":maybe_short": 0, ":empty": 0}
        for c in cols:
            self.totals.update({f"{c}:{k}": 0 for k in Profile.__dataclass_fields__})
        self.format_counts = {c: [0] * len(ALL_FORMATS) for c in cols}
        self.matched = dict.fromkeys(cols, 0)  # values with the shape of some format
        self.parsed = dict.fromkeys(cols, 0)

    def _seen(self, c: str) -> tuple[str, ...]:
        return tuple(f for f, n in zip(ALL_FORMATS, self.format_counts[c], strict=True) if n)

    def add(self, path: Path, df: pl.DataFrame, shape: bool, guards: bool = True) -> None:
        """Profile one chunk; `shape` counts ragged records, `guards` looks for Excel guards
        (False when no field of the chunk can start with one)."""
        cols, width = self.cols, len(self.cols)
        first: list[pl.Expr] = [pl.len().alias(":records")]
        if shape:
            extra, last = pl.col(f"c{width}"), pl.col(cols[-1])
            any_value = pl.any_horizontal([pl.col(c).is_not_null() for c in cols])
            first += [
                extra.is_not_null().sum().alias(":too_many"),
                (last.is_null() & any_value).sum().alias(":maybe_short"),
                (~any_value & extra.is_null()).sum().alias(":empty"),
            ]
        first += [
            pl.col(c).str.strip_chars_start().str.starts_with("'").sum().alias(f"{c}:g")
            for c in cols
            if guards and c not in self.guarded
        ]
        row = _select(path, df, first)
        self.guarded.update(c for c in cols if row.get(f"{c}:g"))
        for key in (":records", ":too_many", ":maybe_short", ":empty"):
            self.totals[key] += int(row.get(key) or 0)

        profiled = [c for c in cols if c in self.numeric or c in self.boolish or c in self.dates]
        try:
            frame = df.with_columns([typed_expr(c, c in self.guarded).alias(f"t{c}") for c in profiled])
        except pl.exceptions.PolarsError as exc:
            raise CsvFormatError(f"{path}: not a CSV we can read: {exc}".splitlines()[0]) from exc
        # a profiled column's typed value is null exactly where the raw one is null or a null
        # token: its counts come off the two columns' validity, with no second pass over the strings
        exprs: list[pl.Expr] = [e for c in cols if c not in profiled for e in count_exprs(c)]
        exprs += [e for c in profiled for e in typed_count_exprs(c, f"t{c}")]
        known: dict[str, tuple[str, ...]] = {}
        for c in profiled:
            if c in self.numeric:
                exprs += numeric_exprs(c, f"t{c}")
            if c in self.boolish:
                exprs += boolean_exprs(c, f"t{c}")
            if c in self.dates:
                exprs.append(date_shape_expr(c, f"t{c}"))
                known[c] = self._seen(c)
                if known[c]:
                    exprs.append(any_format_expr(c, f"t{c}", known[c]))
        row = _select(path, frame, exprs)
        for c in cols:  # values that count for typing: neither null nor a null token
            if c in profiled:
                row[f"{c}:null_tokens"] = int(row[f"{c}:count"] or 0) - int(row[f"{c}:nn"] or 0)
            else:
                row[f"{c}:nn"] = int(row[f"{c}:count"] or 0) - int(row[f"{c}:null_tokens"] or 0)
            del row[f"{c}:count"]
        for key, value in row.items():
            if value is None or key.split(":")[1] not in Profile.__dataclass_fields__:
                continue
            if key.endswith((":scale", ":intw")):
                self.totals[key] = max(self.totals[key], int(value))
            else:
                self.totals[key] += int(value)

        checks: dict[str, tuple[str, ...]] = {}
        # a column still date-like whose values in this chunk do not all have a format seen so
        # far (or that has seen none yet): count every format's shape in this chunk. Others need
        # no count: they have no value here, or are no longer date-like and are dropped below.
        recount = [
            c
            for c in known
            if self.totals[f"{c}:dateish"] == self.totals[f"{c}:nn"]
            and int(row[f"{c}:nn"] or 0) > int(row.get(f"{c}:known") or 0)
        ]
        if recount:
            row.update(_select(path, frame, [e for c in recount for e in format_match_exprs(c, f"t{c}")]))
        for c in known:
            if known[c] and c not in recount:
                self.matched[c] += int(row.get(f"{c}:known") or 0)
            else:
                counts = [int(row.get(f"{c}:f{i}") or 0) for i in range(len(ALL_FORMATS))]
                self.format_counts[c] = [a + b for a, b in zip(self.format_counts[c], counts, strict=True)]
                self.matched[c] += sum(counts)
            if self.totals[f"{c}:dateish"] < self.totals[f"{c}:nn"]:
                self.dates.discard(c)
                continue
            formats = self._seen(c)
            if formats:
                checks[c] = formats
        if checks:
            for c, value in self._parse_counts(path, frame, checks).items():
                self.parsed[c] += value
        t = self.totals
        self.numeric = {c for c in self.numeric if t[f"{c}:num"] == t[f"{c}:nn"]}
        self.boolish = {c for c in self.boolish if t[f"{c}:bool"] == t[f"{c}:nn"]}

    def _parse_counts(
        self, path: Path, frame: pl.DataFrame, checks: Mapping[str, tuple[str, ...]]
    ) -> dict[str, int]:
        """How many values of each date-like column parse with its formats and exist in the zone.

        In a zone without gaps from 1970 to 2100 (gapless), the values are parsed once, as if in
        UTC, and counted, and the span of those values read: only a column with a value outside
        that span is parsed again, with the zone."""
        if not gapless(self.timezone):
            return self._counts_in_zone(path, frame, checks)
        try:
            parsed = frame.select([parsed_as_utc_expr(f"t{c}", f).alias(c) for c, f in checks.items()])
        except pl.exceptions.PolarsError as exc:
            raise CsvFormatError(f"{path}: not a CSV we can read: {exc}".splitlines()[0]) from exc
        # the span test stays in polars: a year-0 value parses there, but is no Python datetime
        lo, hi = GAPLESS_FROM.replace(tzinfo=UTC), GAPLESS_TO.replace(tzinfo=UTC)
        spans = [pl.col(c).count().alias(f"{c}:n") for c in checks]
        spans += [((pl.col(c) < lo) | (pl.col(c) >= hi)).any().alias(f"{c}:out") for c in checks]
        stats = _select(path, parsed, spans)
        counts = {c: int(stats[f"{c}:n"] or 0) for c in checks}
        outside = [c for c in checks if stats[f"{c}:out"]]
        if outside:
            counts.update(self._counts_in_zone(path, frame, {c: checks[c] for c in outside}))
        return counts

    def _counts_in_zone(
        self, path: Path, frame: pl.DataFrame, checks: Mapping[str, tuple[str, ...]]
    ) -> dict[str, int]:
        exact = [temporal_parse_expr(c, f"t{c}", f, self.timezone) for c, f in checks.items()]
        return {k.split(":")[0]: int(v or 0) for k, v in _select(path, frame, exact).items()}

    def temporal_formats(self) -> dict[str, tuple[str, ...]]:
        """The formats of the date-like columns whose every value parses (within the zone)."""
        out: dict[str, tuple[str, ...]] = {}
        for c in self.dates:
            nn = self.totals[f"{c}:nn"]
            if self.matched[c] >= nn and self.parsed[c] == nn:
                out[c] = self._seen(c)
        return out


def _profile(
    path: Path,
    cols: Sequence[str],
    labels: Sequence[str],
    forced: Sequence[Kind | None],
    timezone: str,
    guarded: set[str],
    skip: Sequence[int] = (),
    drop_empty: bool = False,
    arrival: Arrival | None = None,
) -> _Profile:
    """One pass over the file (without the records `skip`), in chunks of bounded size."""
    profile = _Profile(cols, labels, forced, guarded, timezone)
    width = len(cols)
    for offset, df, guard in _frames(path, width, FIRST_CHUNK_BYTES, arrival, guards=True):
        if skip or drop_empty:
            df = _filtered(df, offset, width, skip, drop_empty)
        profile.add(path, df, shape=not skip, guards=guard)
    return profile


def plan_file(
    path: Path,
    *,
    normalize: Callable[[str], str],
    hints: Mapping[str, Kind] | None = None,
    timezone: str = "Asia/Kolkata",
    arrival: Arrival | None = None,
) -> FilePlan:
    """Pass 1 over the whole file: the kind of every column, the rows that will load, the rejects.

    `hints` maps a header label (or normalised name) to a forced kind; a forced kind that some value
    cannot satisfy falls back to text. With `arrival`, the file is still downloading: the pass
    reads it as it arrives, and ends once the download has (DownloadAborted if that fails)."""
    path = Path(path)
    if arrival is not None:
        # the header and the first chunk, or the whole file; a header longer than that waits for all
        available = arrival.wait_for(FIRST_CHUNK_BYTES)
        if not arrival.done and header_end(path) >= available:
            arrival.wait_for(1 << 62)
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

    profile = _profile(path, cols, labels, forced, timezone, set(), arrival=arrival)
    stats = profile.totals  # the whole file has arrived by now
    records, empty = stats[":records"], stats[":empty"]
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
    guarded = profile.guarded
    if skip:  # decide the types again without the rejected records
        profile = _profile(path, cols, labels, forced, timezone, guarded, skip, empty > 0)
        stats = profile.totals
        rows = stats[":records"]

    decided = [
        classify(Profile.from_row(stats, c), label, kind)
        for c, label, kind in zip(cols, labels, forced, strict=True)
    ]
    nn = {c: stats[f"{c}:nn"] for c in cols}
    formats = profile.temporal_formats()

    columns: list[ColumnPlan] = []
    for c, label, name, hint, decision in zip(cols, labels, names, forced, decided, strict=True):
        kind, scale, needs_check = decision
        fmts: tuple[str, ...] = ()
        if needs_check and c in formats:
            kind, fmts = classify_temporal(formats[c], hint)
        tokens, padded = stats[f"{c}:null_tokens"], stats[f"{c}:padded"]
        columns.append(ColumnPlan(label, name, kind, scale, fmts, nn[c], c in guarded, tokens, padded))
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
    views: bool = False,
) -> Iterator[pa.Table]:
    """Pass 2: typed batches of at most `batch_size` rows, each with exactly
    `schema.arrow_schema(list(constants), views=views)`. Schema columns this file lacks are
    all-null. Text as `string_view` (`views`) is polars' own layout, handed over without a copy."""
    constants = dict(constants or {})
    target = schema.arrow_schema(list(constants), views=views)
    layout = pl.CompatLevel.newest() if views else pl.CompatLevel.oldest()
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
            exprs.append(pl.lit(None, dtype=polars_type(col.kind, col.scale)).alias(col.name))
    exprs += [pl.lit(value, dtype=pl.String).alias(name) for name, value in constants.items()]
    path = Path(path)
    for offset, df, _ in _frames(path, width):
        df = _filtered(df, offset, width, plan.skip_records, plan.drop_empty_records)
        if not df.height:
            continue
        try:
            typed = df.lazy().select(exprs).collect()
        except pl.exceptions.PolarsError as exc:
            message = f"{path}: could not convert the file with its plan: {exc}".splitlines()[0]
            raise CsvFormatError(message) from exc
        for start in range(0, typed.height, batch_size):
            # for plain strings, the oldest layout (offsets) is the cheapest to cast to `target`
            yield typed.slice(start, batch_size).to_arrow(compat_level=layout).cast(target)
