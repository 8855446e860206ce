"""Pass 1: the plan of a file — the kind of every column, the rows that will load, the rejects.

The file is profiled over *all* rows (profile.py), in chunks of bounded size, and the rules
(rules.py) decide each column's kind from its counts. Ragged records are located (physical line,
raw text) with Python's `csv` module (records.py) only when polars saw some, which is rare; the
file is then profiled again without them. A file whose header is one field of labels separated by
`;`, tab or `|` is refused before any of that (records.py tells why).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import polars as pl

from uniware_source.api.errors import CsvFormatError, QuoteInFieldError
from uniware_source.typed_csv.chunks import Arrival
from uniware_source.typed_csv.frames import Commas, filtered, frames
from uniware_source.typed_csv.kinds import KINDS, Kind
from uniware_source.typed_csv.model import ColumnPlan, FilePlan, RejectedRow
from uniware_source.typed_csv.names import column_names
from uniware_source.typed_csv.onepass import OnePass
from uniware_source.typed_csv.profile import FileProfile, ShapeCounts
from uniware_source.typed_csv.records import (
    check_separator,
    check_text,
    header_end,
    locate_rejects,
    read_header,
    requote,
)
from uniware_source.typed_csv.rules import classify, classify_temporal, date_only_note, fallback_note

# the first chunk is small: most columns show there that they can only be text, and are
# profiled cheaply from then on
FIRST_CHUNK_BYTES = 1 << 20


def plan_file(
    path: Path,
    *,
    normalize: Callable[[str], str],
    hints: Mapping[str, Kind] | None = None,
    timezone: str = "Asia/Kolkata",
    arrival: Arrival | None = None,
    onepass: OnePass | None = None,
    known: Mapping[str, str] | None = None,
    overrides: Mapping[str, Kind] | None = None,
) -> FilePlan:
    """Pass 1 over the whole file: the kind of every column, the rows that will load, the rejects.

    `hints` maps a header label (or normalised name) to a forced kind; a forced kind that some value
    cannot satisfy falls back to text. With `arrival`, the file is still downloading: the pass
    reads it as it arrives, and ends once the download has (DownloadAborted if that fails). With
    `onepass`, the rows are typed as they are profiled, and the plan carries the typed file if
    no column's type changed on the way (onepass.py). `known`: the names that labels got in the
    table's earlier files (column_names). `overrides`: the user's own hints (column_types), by
    label or name, which win over `hints` by either.

    A file with a quote inside a field that does not start with one (an inch mark, `32" TV`),
    which the fast reader cannot take, is written anew with CSV's quoting once it has all arrived
    (records.requote: the quote is text, as Excel and Python's csv module read it), and planned
    again, more slowly; its plan's `note` says so."""
    options = {
        "normalize": normalize,
        "hints": hints,
        "timezone": timezone,
        "known": known,
        "overrides": overrides,
    }
    try:
        return _plan_file(Path(path), arrival=arrival, onepass=onepass, **options)  # type: ignore[arg-type]
    except QuoteInFieldError as exc:
        where = str(exc).removeprefix(f"{path}: ").split(": not a CSV", 1)[0]
    if arrival is not None:
        arrival.wait_for(1 << 62)
    requote(Path(path))
    plan = _plan_file(Path(path), arrival=None, onepass=onepass, **options)  # type: ignore[arg-type]
    note = f"{where}: read as text, as Excel reads it (the file was read again with its quotes rewritten)"
    return dataclasses.replace(plan, note=note)


def _plan_file(
    path: Path,
    *,
    normalize: Callable[[str], str],
    hints: Mapping[str, Kind] | None,
    timezone: str,
    arrival: Arrival | None,
    onepass: OnePass | None,
    known: Mapping[str, str] | None,
    overrides: Mapping[str, Kind] | None,
) -> FilePlan:
    path = Path(path)
    if arrival is not None:
        _wait_for_start(path, arrival)
    if path.stat().st_size == 0:
        return FilePlan(path, (), 0, ())
    labels = _labels(path)
    names = column_names(labels, normalize, known)
    hints = {label.strip(): kind for label, kind in (hints or {}).items()}
    overrides = {label.strip(): kind for label, kind in (overrides or {}).items()}
    forced = [_forced(hints, label, name, overrides) for label, name in zip(labels, names, strict=True)]
    cols = [f"c{i}" for i in range(len(labels))]

    overfull: list[int] = []  # chunks with a record of too many fields, perhaps empty ones
    try:
        profile = FileProfile(cols, labels, forced, set(), timezone)
        typing = _Typing(onepass, labels, names, forced) if onepass is not None else None
        _profile(path, profile, arrival=arrival, overfull=overfull, typing=typing)
        shape = profile.shape  # the whole file has arrived by now
        rows = shape.records - shape.empty
        rejected, skip = _rejects(path, shape, len(cols), bool(overfull))
        guarded = profile.guarded
        if skip:  # decide the types again without the rejected records
            if onepass is not None:
                onepass.give_up("the file has ragged records, which pass 2 leaves out")
            profile = FileProfile(cols, labels, forced, guarded, timezone)
            _profile(path, profile, skip=skip, drop_empty=shape.empty > 0)
            rows = profile.shape.records
        columns = _columns(profile, labels, names, forced, guarded)
        plan = FilePlan(path, columns, rows, tuple(rejected), tuple(skip), shape.empty > 0)
    except BaseException:
        if onepass is not None:
            onepass.give_up("pass 1 failed")
        raise
    if onepass is None:
        return plan
    typed = onepass.finish(plan)
    return dataclasses.replace(plan, typed=typed, retyped=onepass.given_up or "")


class _Typing:
    """Hands each chunk of the first pass, once profiled, to `onepass` with the file's kinds so far."""

    def __init__(
        self, onepass: OnePass, labels: Sequence[str], names: Sequence[str], forced: Sequence[Kind | None]
    ) -> None:
        self.onepass, self.labels, self.names, self.forced = onepass, labels, names, forced

    def add(self, path: Path, df: pl.DataFrame, profile: FileProfile, empty: bool) -> None:
        def columns() -> tuple[ColumnPlan, ...]:
            return _columns(profile, self.labels, self.names, self.forced, profile.guarded)

        self.onepass.add(path, df, columns, empty, profile.in_span)


def _wait_for_start(path: Path, arrival: Arrival) -> None:
    """Wait for the header and the first chunk, or the whole file; a header longer than that
    waits for all."""
    available = arrival.wait_for(FIRST_CHUNK_BYTES)
    if not arrival.done and header_end(path) >= available:
        arrival.wait_for(1 << 62)


def _labels(path: Path) -> list[str]:
    check_text(path)
    try:
        labels = read_header(path)
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not any(label.strip() for label in labels):
        raise CsvFormatError(f"{path}: no header row (the first line holds no column labels)")
    check_separator(path, labels)  # a `;`, tab or `|` file is refused, not loaded as one column
    return labels


def _forced(
    hints: Mapping[str, Kind], label: str, name: str, overrides: Mapping[str, Kind] | None = None
) -> Kind | None:
    """The hint of a column by its label without surrounding spaces (`Voucher Type Name `), or
    its normalised name: the user's (`overrides`) by either first, then the catalogue's, so that
    `column_types = {"total_price" = "text"}` wins over the catalogue's hint of `Total Price`."""
    kind = None
    for given in (overrides or {}, hints):
        kind = given.get(label.strip(), given.get(name))
        if kind is not None:
            break
    if kind is not None and kind not in KINDS:
        raise ValueError(f"type hint for {label!r} is {kind!r}, not one of {KINDS}")
    return kind


def _profile(
    path: Path,
    profile: FileProfile,
    skip: Sequence[int] = (),
    drop_empty: bool = False,
    arrival: Arrival | None = None,
    overfull: list[int] | None = None,
    typing: _Typing | None = None,
) -> None:
    """One pass over the file (without the records `skip`), in chunks of bounded size, into
    `profile`; each chunk then to `typing`, if given."""
    width = len(profile.cols)
    commas: list[Commas] = []  # of each chunk so far, in the first pass (which counts the shape)
    chunks = frames(path, width, FIRST_CHUNK_BYTES, arrival, True, overfull, None if skip else commas)
    for offset, df, guard in chunks:
        if skip or drop_empty:
            df = filtered(df, offset, width, skip, drop_empty)
        empty = profile.shape.empty
        profile.add(path, df, shape=not skip, guards=guard, commas=commas[-1] if commas else None)
        if typing is not None:
            typing.add(path, df, profile, profile.shape.empty > empty)
    profile.settle()


def _rejects(
    path: Path, shape: ShapeCounts, width: int, overfull: bool
) -> tuple[list[RejectedRow], list[int]]:
    """The ragged records and their indexes, if polars saw any (`overfull`: it saw records with
    too many fields that `shape` may not count); checked against its record count."""
    if not (shape.too_many or shape.short_unproven or overfull):
        return [], []
    rejected, skip, seen = locate_rejects(path, width)
    if seen != shape.records:
        raise CsvFormatError(
            f"{path}: record boundaries are ambiguous ({shape.records} records by polars, {seen} by csv): "
            "a carriage return or a quote inside a field that is not quoted reads two ways"
        )
    return rejected, skip


def _columns(
    profile: FileProfile,
    labels: Sequence[str],
    names: Sequence[str],
    forced: Sequence[Kind | None],
    guarded: set[str],
) -> tuple[ColumnPlan, ...]:
    """Each column's kind, decided from its counts; a date-like one's by parsing its values."""
    formats = profile.temporal_formats()
    columns: list[ColumnPlan] = []
    first: dict[str, int] = {}  # a label's first column, by the label without surrounding spaces
    for i, (c, label, name, hint) in enumerate(zip(profile.cols, labels, names, forced, strict=True)):
        counts = profile.columns[c]
        kind, scale, needs_check = classify(counts, label, hint)
        fmts: tuple[str, ...] = ()
        if needs_check and c in formats:
            kind, fmts = classify_temporal(formats[c], hint)
        notes = [fallback_note(counts, hint, kind)]
        if needs_check and c not in formats and hint is None:  # a hinted one has its fallback note
            notes.append(
                "every value has the shape of a date or time, but not every one is a valid one "
                "(a 31-02, a 25:00): loads as text, as written"
            )
        if kind == "timestamp" and (dates := counts.date_only):
            notes.append(date_only_note(dates, counts.values, profile.timezone))
        if (seen := first.setdefault(label.strip(), i)) != i:
            notes.append(f"the label repeats column {seen + 1}'s: this column {i + 1} loads as {name!r}")
        tokens, padded = counts.null_tokens, counts.padded
        note = "; ".join(n for n in notes if n)
        columns.append(
            ColumnPlan(
                label,
                name,
                kind,
                scale,
                fmts,
                counts.values,
                c in guarded,
                tokens,
                padded,
                note,
                counts.int_digits if kind in ("integer", "decimal") else 0,
                kind == "integer" and 0 < counts.values == counts.booleans,
            )
        )
    return tuple(columns)
