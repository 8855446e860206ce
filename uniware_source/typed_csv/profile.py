"""Pass 1's counts: a file's records and every column's statistics, accumulated chunk by chunk
(sums, and maxima of widths), from a few aggregations over all columns per chunk.

Each column is profiled only for the kinds it can still become. A kind is given up as soon as
a value rules it out (counts only grow, so that stays true to the end of the file) and its
statistics are frozen from then on: they keep ruling it out in `classify`. Not profiled at all:
numbers in an identifier-labelled column without a hint (a number there loads as text, and a
number is never date-shaped), and every kind a hint excludes. A column left with no kind keeps
only its value count.

Date-like columns count the values of each format's shape. Once a column has shown its
formats, a chunk's values are first parsed with them: a value that parses with a format has that
format's shape, so a chunk whose values all parse needs no regex at all. Otherwise the chunk is
checked with one regex of all the known shapes (they exclude each other, so the count is the sum
the separate regexes give), and where some value has none of them, every format is counted
again; the values are then parsed with the formats seen so far, so the count equals the one that
parsing the whole file with all matched formats would give.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from uniware_source.typed_csv.expressions import (
    any_format_expr,
    boolean_exprs,
    count_exprs,
    date_shape_expr,
    dot_expr,
    exponent_expr,
    exponent_width_exprs,
    format_match_exprs,
    guard_expr,
    numeric_exprs,
    parsed_as_utc_expr,
    parsed_count_exprs,
    shape_exprs,
    span_exprs,
    temporal_parse_expr,
    typed_count_exprs,
    typed_from_trimmed,
)
from uniware_source.typed_csv.frames import Commas, select_row, unreadable
from uniware_source.typed_csv.kinds import Kind
from uniware_source.typed_csv.rules import (
    leading_zeros_matter,
    may_be_boolean,
    may_be_number,
    may_be_temporal,
)
from uniware_source.typed_csv.temporal import ALL_FORMATS, DATE_FORMATS, gapless, temporal_expr

Row = Mapping[str, Any]  # one row of aggregations, by name (see expressions)
Formats = tuple[str, ...]


@dataclass
class ShapeCounts:
    """The records of the file; the ragged ones are counted only in a pass that skips none."""

    records: int = 0
    too_many: int = 0  # with a field past the header's last
    maybe_short: int = 0  # with a null last field: missing, or empty (the csv pass tells)
    short_unproven: int = 0  # of those, the ones in chunks whose commas do not prove them whole
    empty: int = 0  # blank lines and records without a value

    def add(self, row: Row) -> None:
        self.records += int(row[":records"] or 0)
        self.too_many += int(row.get(":too_many") or 0)
        self.maybe_short += int(row.get(":maybe_short") or 0)
        self.empty += int(row.get(":empty") or 0)


def _zeros() -> list[int]:
    return [0] * len(ALL_FORMATS)


@dataclass
class ColumnCounts:
    """One column's counts so far (rules.Counts names what `classify` reads of them). A count the
    chunks no longer take stays where it ruled its kind out."""

    values: int = 0  # values that count for typing: neither null nor a null token
    null_tokens: int = 0
    padded: int = 0  # values typed_expr changes (trimmed, a guard stripped); profiled columns only
    numbers: int = 0
    dotted: int = 0
    scale: int = 0
    int_digits: int = 0
    leading_zeros: int = 0
    exponents: int = 0  # numbers written with an exponent (0E-7, 1.5E+3)
    booleans: int = 0
    bool_words: int = 0
    dateish: int = 0
    shapes: list[int] = field(default_factory=_zeros)  # values with the shape of each of ALL_FORMATS
    matched: int = 0  # values with the shape of some format
    date_only: int = 0  # of those, values with the shape of a date without a time
    parsed: int = 0  # values that parse with the formats seen (and exist in the zone)

    def add(self, row: Row, col: str, typed: bool) -> None:
        """Fold in the aggregations of column `col` over one chunk; `typed`: profiled through
        typed_expr, whose nulls are the raw nulls and the null tokens. Counts not taken are 0."""

        def n(count: str) -> int:
            return int(row.get(f"{col}:{count}") or 0)

        values = n("values") if typed else n("count") - n("null_tokens")
        self.values += values
        self.null_tokens += n("count") - values
        self.padded += n("padded")
        self.numbers += n("numbers")
        self.dotted += n("dotted")
        self.scale = max(self.scale, n("scale"))
        self.int_digits = max(self.int_digits, n("int_digits"))
        self.leading_zeros += n("leading_zeros")
        self.exponents += n("exponents")
        self.booleans += n("booleans")
        self.bool_words += n("bool_words")
        self.dateish += n("dateish")

    def add_matched(self, row: Row, col: str, shapes: Row | None) -> None:
        """Fold in the values with the shape of some format: counted for each format (`shapes`,
        format_match_exprs) if the chunk was recounted, else with the one regex of the formats
        known before it (any_format_expr; none if it knew none)."""
        if shapes is None:
            matched = int(row.get(f"{col}:known") or 0)
            self.matched += matched
            known = self.formats()
            dates = date_formats(known)
            if len(dates) == len(known):  # (none known: nothing matched)
                self.date_only += matched
            elif dates:  # dates and times: counted apart (FileProfile._kind_exprs)
                self.date_only += int(row.get(f"{col}:known_dates") or 0)
            return
        counts = [int(shapes.get(f"{col}:f{i}") or 0) for i in range(len(ALL_FORMATS))]
        self.shapes = [a + b for a, b in zip(self.shapes, counts, strict=True)]
        self.matched += sum(counts)
        self.date_only += sum(n for f, n in zip(ALL_FORMATS, counts, strict=True) if f in DATE_FORMATS)

    def formats(self) -> Formats:
        """The formats whose shape some value has, in the order of ALL_FORMATS."""
        return tuple(f for f, n in zip(ALL_FORMATS, self.shapes, strict=True) if n)

    def all_numbers(self) -> bool:
        return self.numbers == self.values

    def all_booleans(self) -> bool:
        return self.booleans == self.values

    def still_dateish(self) -> bool:
        return self.dateish == self.values

    def all_parsed(self) -> bool:
        return self.matched >= self.values and self.parsed == self.values


def date_formats(formats: Formats) -> Formats:
    """Of `formats`, those of a date without a time."""
    return tuple(f for f in formats if f in DATE_FORMATS)


def _unknown_shapes(row: Row, col: str) -> bool:
    """Whether some value of `col` in the chunk has none of the formats it had before."""
    return int(row[f"{col}:values"] or 0) > int(row.get(f"{col}:known") or 0)


class FileProfile:
    """The counts of a file, profiled chunk by chunk with `add` (see the module's docstring)."""

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
        self.shape = ShapeCounts()
        self._proving: list[tuple[Commas, int, int]] = []  # chunks that may have a short record
        self.columns = {c: ColumnCounts() for c in cols}
        hinted = list(zip(cols, labels, forced, strict=True))
        # the columns still profiled for numbers, booleans, dates and times
        self.numeric = {c for c, label, kind in hinted if may_be_number(label, kind)}
        self.zeros_matter = {c for c, _, kind in hinted if leading_zeros_matter(kind)}
        # hinted integer or decimal: leading zeros matter only in a column of whole numbers, so
        # they are counted only until its first number with a point (rules._fraction_kind)
        self.whole_only = {c for c, _, kind in hinted if kind in ("integer", "decimal")}
        self.boolish = {c for c, _, kind in hinted if may_be_boolean(kind)}
        self.dates = {c for c, _, kind in hinted if may_be_temporal(kind)}
        # of the last chunk added, the date-like columns whose every value lay in 1970-2100 (in a
        # gapless zone), for the one pass (convert.table_exprs)
        self.in_span: set[str] = set()

    def add(
        self, path: Path, df: pl.DataFrame, shape: bool, guards: bool = True, commas: Commas = None
    ) -> None:
        """Profile one chunk; `shape` counts ragged records, `guards` looks for Excel guards
        (False when no field of the chunk can start with one); `commas`: those between the
        chunk's fields, if counted (see _whole_records)."""
        before = self.shape.maybe_short
        self._count_records(path, df, shape, guards)
        if self.shape.maybe_short > before:  # told by settle(): the commas may still be counted
            self._proving.append((commas, df.height, self.shape.maybe_short - before))
        profiled = [c for c in self.cols if self._profiled(c)]
        known = {c: self.columns[c].formats() for c in profiled if c in self.dates}
        parse = {c: formats for c, formats in known.items() if formats}
        frame = self._typed(path, df, profiled, parse)
        row = select_row(path, frame, self._value_exprs(profiled, known))
        parsed = self._parsed_with_known(path, frame, row, parse)
        counts = self._exact_widths(path, frame, row)
        self._add_values(counts, profiled)
        checks = self._count_formats(path, frame, counts, known)
        for c, n in parsed.items():
            self.columns[c].parsed += n
            checks.pop(c, None)
        if checks:
            self._count_parsed(path, frame, checks)
        self.numeric = {c for c in self.numeric if self.columns[c].all_numbers()}
        self.boolish = {c for c in self.boolish if self.columns[c].all_booleans()}

    def _profiled(self, c: str) -> bool:
        return c in self.numeric or c in self.boolish or c in self.dates

    def _count_records(self, path: Path, df: pl.DataFrame, shape: bool, guards: bool) -> None:
        """The records of the chunk, the ragged ones (with `shape`), and the columns that may
        hold an Excel guard (with `guards`; a column once found to is not looked at again)."""
        exprs = [pl.len().alias(":records"), *(shape_exprs(tuple(self.cols)) if shape else ())]
        exprs += [guard_expr(c) for c in self.cols if guards and c not in self.guarded]
        row = select_row(path, df, exprs)
        self.guarded.update(c for c in self.cols if row.get(f"{c}:guards"))
        self.shape.add(row)

    def settle(self) -> ShapeCounts:
        """The file's record counts, once the commas of every chunk added are counted: the records
        that may be short in chunks the commas do not prove whole are `short_unproven`."""
        proving, self._proving = self._proving, []
        for commas, records, maybe_short in proving:
            counted = commas.result() if isinstance(commas, Future) else commas
            if not self._whole_records(records, counted):
                self.shape.short_unproven += maybe_short
        return self.shape

    def _whole_records(self, records: int, commas: int | None) -> bool:
        """Whether every record of the chunk has all its fields, none missing, told from the
        `commas` between its fields (chunks.separators, in the chunk's bytes): a chunk polars read
        strictly (none has a field too many) has (width - 1) of them in every record exactly when
        their sum is records x (width - 1). Else (a record is short, a blank line, or the commas
        were not counted) the exact csv pass tells which records are short, at 20x the time of
        polars: a file whose last column is mostly empty no longer needs it."""
        if commas is None:
            return False
        return commas == records * (len(self.cols) - 1)

    def _typed(
        self, path: Path, df: pl.DataFrame, profiled: Sequence[str], parse: Mapping[str, Formats]
    ) -> pl.DataFrame:
        """The chunk with the typed value (typed_expr) of each profiled column c as tc, trimmed
        first (see typed_from_trimmed); and the value of each date-like column of `parse` parsed
        with its formats so far as pc (naive ones as if in UTC in a gapless zone, else in the
        zone), for _parsed_with_known; and of each numeric one, where its dot is (dot_expr), as dc,
        and whether it has an exponent (exponent_expr), as ec."""
        try:
            trimmed = df.with_columns([pl.col(c).str.strip_chars().alias(f"t{c}") for c in profiled])
            typed = trimmed.with_columns(
                [typed_from_trimmed(pl.col(f"t{c}"), c in self.guarded).alias(f"t{c}") for c in profiled]
            )
            zone = "UTC" if gapless(self.timezone) else self.timezone
            more = [
                temporal_expr(pl.col(f"t{c}"), f, "timestamp", zone).alias(f"p{c}") for c, f in parse.items()
            ]
            more += [dot_expr(f"t{c}").alias(f"d{c}") for c in self.numeric]
            more += [exponent_expr(f"t{c}").alias(f"e{c}") for c in self.numeric]
            return typed.with_columns(more) if more else typed
        except pl.exceptions.PolarsError as exc:
            raise unreadable(path, exc) from exc

    def _parsed_with_known(
        self, path: Path, frame: pl.DataFrame, row: dict[str, Any], parse: Mapping[str, Formats]
    ) -> dict[str, int]:
        """Of the date-like columns of `parse`, those whose every value of the chunk parses with
        the formats seen before it (and exists in the zone) and has one of their shapes: their
        parsed count. Both are needed: polars parses more than a format's shape admits (`%.f`
        takes 7 to 9 digits of a fraction and keeps 6, `%Y` takes `+2024`, `%m` a leading space),
        so a value that parses is not always one of the shapes (temporal._format_regex). Such
        columns' values are all date-shaped and of known shapes (`dateish` and `known` in `row`,
        set here): the regex of every date shape is left out. For the other columns, `row` gets
        the counts as _kind_exprs took them before (the formats are counted and parsed again by
        _count_formats and _count_parsed)."""
        self.in_span = set()
        if not parse:
            return {}
        in_span = gapless(self.timezone)
        exprs = [*parsed_count_exprs(tuple(parse), in_span)]
        exprs += [any_format_expr(c, f"t{c}", parse[c]) for c in parse]
        counts = select_row(path, frame, exprs)
        parsed: dict[str, int] = {}
        for c in parse:
            values, n = int(row.get(f"{c}:values") or 0), int(counts[f"{c}:parsed"] or 0)
            row[f"{c}:known"] = known = int(counts[f"{c}:known"] or 0)
            if n == values == known and not counts.get(f"{c}:outside"):
                parsed[c] = n
                row[f"{c}:dateish"] = values
        if rest := [c for c in parse if c not in parsed]:
            row.update(select_row(path, frame, [date_shape_expr(c, f"t{c}") for c in rest]))
        if in_span:  # parsed whole, so none was outside the span
            self.in_span = set(parsed)
        return parsed

    def _value_exprs(self, profiled: Sequence[str], known: Mapping[str, Formats]) -> list[pl.Expr]:
        """One aggregation over all columns: a profiled column's counts come off the validity of
        its raw and typed values (null exactly where the raw one is null or a null token), with
        no second pass over the strings; the others only count their values and null tokens."""
        exprs: list[pl.Expr] = [e for c in self.cols if c not in profiled for e in count_exprs(c)]
        exprs += [e for c in profiled for e in typed_count_exprs(c, f"t{c}")]
        for c in profiled:
            exprs += self._kind_exprs(c, known.get(c))
        return exprs

    def _kind_exprs(self, c: str, known: Formats | None) -> list[pl.Expr]:
        """The counts of profiled column `c` for each kind it can still become; `known`: its
        formats so far, if it is date-like."""
        exprs: list[pl.Expr] = []
        if c in self.numeric:
            zeros = c in self.zeros_matter and (c not in self.whole_only or not self.columns[c].dotted)
            exprs += numeric_exprs(c, f"t{c}", f"d{c}", f"e{c}", zeros)
        if c in self.boolish:
            exprs += boolean_exprs(c, f"t{c}")
        if known == ():  # no formats seen yet (with formats, _parsed_with_known counts the shapes)
            exprs.append(date_shape_expr(c, f"t{c}"))
        if known:
            dates = date_formats(known)
            if dates and len(dates) < len(known):  # a column of dates and times: its dates apart
                exprs.append(any_format_expr(c, f"t{c}", dates, "known_dates"))
        return exprs

    def _exact_widths(self, path: Path, frame: pl.DataFrame, row: Row) -> Row:
        """`row` with the widths of the numeric columns that hold a number with an exponent in
        this chunk made exact: numeric_exprs measured the numbers without one, and these are
        measured as their plain decimals are (exponent_width_exprs), on those values alone. A
        chunk without such numbers costs nothing more."""
        cols = [c for c in self.numeric if int(row.get(f"{c}:exponents") or 0)]
        if not cols:
            return row
        exact = select_row(path, frame, [e for c in cols for e in exponent_width_exprs(c, f"t{c}", f"e{c}")])
        widths = {}
        for c in cols:
            for width in ("scale", "int_digits"):
                measured = (row.get(f"{c}:{width}"), exact.get(f"{c}:exp_{width}"))
                widths[f"{c}:{width}"] = max((int(n) for n in measured if n is not None), default=0)
        return {**row, **widths}

    def _add_values(self, row: Row, profiled: Sequence[str]) -> None:
        typed = set(profiled)
        for c in self.cols:
            self.columns[c].add(row, c, c in typed)

    def _count_formats(
        self, path: Path, frame: pl.DataFrame, row: Row, known: Mapping[str, Formats]
    ) -> dict[str, Formats]:
        """Count the shapes of the date-like columns' values (`known`: their formats before this
        chunk) and drop the columns no longer date-like; the formats to parse the others with."""
        # a column still date-like whose values in this chunk do not all have a format seen so
        # far (or that has seen none yet): count every format's shape in this chunk. Others need
        # no count: they have no value here, or are no longer date-like and are dropped below.
        recount = [c for c in known if self.columns[c].still_dateish() and _unknown_shapes(row, c)]
        shapes = self._shapes(path, frame, recount)
        for c in known:
            self.columns[c].add_matched(row, c, shapes if c in recount else None)
        self.dates = {c for c in self.dates if self.columns[c].still_dateish()}
        return self._formats_to_parse(known)

    def _shapes(self, path: Path, frame: pl.DataFrame, cols: Sequence[str]) -> Row:
        """The counts of every format's shape in columns `cols`."""
        if not cols:
            return {}
        return select_row(path, frame, [e for c in cols for e in format_match_exprs(c, f"t{c}")])

    def _formats_to_parse(self, known: Iterable[str]) -> dict[str, Formats]:
        """Of the columns still date-like, those whose values have shown formats: those formats."""
        return {c: formats for c in known if c in self.dates and (formats := self.columns[c].formats())}

    def _count_parsed(self, path: Path, frame: pl.DataFrame, checks: Mapping[str, Formats]) -> None:
        for c, parsed in self._parse_counts(path, frame, checks).items():
            self.columns[c].parsed += parsed

    def _parse_counts(self, path: Path, frame: pl.DataFrame, checks: Mapping[str, Formats]) -> dict[str, int]:
        """How many values of each date-like column parse with its formats and exist in the zone.

        In a zone without gaps from 1970 to 2100 (gapless), the values are parsed once, as if in
        UTC, and counted, and the span of those values read: only a column with a value outside
        that span is parsed again, with the zone."""
        if not gapless(self.timezone):
            return self._counts_in_zone(path, frame, checks)
        try:
            parsed = frame.select([parsed_as_utc_expr(f"t{c}", f).alias(c) for c, f in checks.items()])
        except pl.exceptions.PolarsError as exc:
            raise unreadable(path, exc) from exc
        stats = select_row(path, parsed, span_exprs(checks))
        counts = {c: int(stats[f"{c}:parsed"] or 0) for c in checks}
        outside = {c: checks[c] for c in checks if stats[f"{c}:outside"]}
        if outside:
            counts.update(self._counts_in_zone(path, frame, outside))
        return counts

    def _counts_in_zone(
        self, path: Path, frame: pl.DataFrame, checks: Mapping[str, Formats]
    ) -> dict[str, int]:
        exact = [temporal_parse_expr(c, f"t{c}", f, self.timezone) for c, f in checks.items()]
        row = select_row(path, frame, exact)
        return {c: int(row[f"{c}:parsed"] or 0) for c in checks}

    def temporal_formats(self) -> dict[str, Formats]:
        """The formats of the date-like columns whose every value parses (within the zone)."""
        return {c: self.columns[c].formats() for c in self.dates if self.columns[c].all_parsed()}
