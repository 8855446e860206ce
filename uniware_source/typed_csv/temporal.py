"""Dates and times as export CSVs write them: the accepted formats, a regex of each format's shape
(to pick a column's formats before parsing), the parse of a column with its formats, and whether a
time zone ever skips a local time (its gaps).

Naive values are local times of the configured zone; a value with an offset or Z keeps it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from uniware_source.typed_csv.kinds import Kind

# -- formats (chrono flavour, as polars' strptime takes them) ------------------------------------------
DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
# Seconds with and without a fraction are separate formats: polars' strptime has a fast path for
# a fixed format, which `%.f` (a fraction or none) turns off, at 5x the time per value.
NAIVE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",  # shape: with a fraction
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)
AWARE_FORMATS: tuple[str, ...] = (  # an explicit offset or Z wins over the configured zone
    "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
)
ALL_FORMATS: tuple[str, ...] = DATE_FORMATS + NAIVE_FORMATS + AWARE_FORMATS

# the shape of a value of any format: a column whose values all have it is worth parsing. Digits
# are ASCII ones (regex `\d` is Unicode's), as strptime's are; an offset as `%#z` takes it (`+05`
# too), so that a column reads alike whole and in chunks
DATE_SHAPE_RE = (
    r"^(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[-/][0-9]{1,2}[-/][0-9]{4})"
    r"(?:[ T][0-9]{1,2}:[0-9]{1,2}(?::[0-9]{1,2}(?:\.[0-9]{1,6})?)?(?:Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?$"
)


def _format_regex(fmt: str) -> str:
    """A regex accepting at least what polars' strptime accepts for `fmt` (used to pick formats)."""
    parts = {
        "%Y": r"[0-9]{4}",
        "%m": r"[0-9]{1,2}",
        "%d": r"[0-9]{1,2}",
        "%H": r"[0-9]{1,2}",
        "%M": r"[0-9]{1,2}",
        "%S": r"[0-9]{1,2}",
        # up to microseconds, what a timestamp holds: strptime would drop a 7th digit and beyond
        "%.f": r"\.[0-9]{1,6}",  # strptime also takes no fraction; the shape without one is its own format
        "%#z": r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)",
    }
    out, i = "^", 0
    while i < len(fmt):
        token = next((t for t in parts if fmt.startswith(t, i)), None)
        if token is None:
            out += re.escape(fmt[i])
            i += 1
        else:
            out += parts[token]
            i += len(token)
    return out + "$"


FORMAT_REGEXES: dict[str, str] = {f: _format_regex(f) for f in ALL_FORMATS}


# -- parsing ------------------------------------------------------------------------------------------
def _naive_local(expr: pl.Expr, timezone: str, in_span: bool = False) -> pl.Expr:
    """Naive local times of `timezone` as UTC instants. `in_span`: every value lies in
    GAPLESS_FROM..GAPLESS_TO, where a zone with a fixed_offset is that far from UTC, so the
    offset is subtracted (0.12 ms of CPU a MB of a column, where looking each value up in the
    zone's rules took 0.37 ms: more than the parse)."""
    offset = fixed_offset(timezone) if in_span else None
    if offset is not None:
        return (expr - pl.lit(offset)).dt.replace_time_zone("UTC")
    local = expr.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC")


def _parse(value: pl.Expr, fmt: str) -> pl.Expr:
    """One format, no cache (it holds every distinct string), null where the value does not match."""
    if fmt in DATE_FORMATS:
        return value.str.strptime(pl.Date, fmt, strict=False, cache=False)
    dtype = pl.Datetime("us", "UTC" if fmt in AWARE_FORMATS else None)
    return value.str.strptime(dtype, fmt, strict=False, cache=False)


def _of(formats: Sequence[str], group: tuple[str, ...]) -> list[str]:
    return [f for f in formats if f in group]


def temporal_expr(
    value: pl.Expr, formats: Sequence[str], kind: Kind, timezone: str, in_span: bool = False
) -> pl.Expr:
    """Parse with every format that matched (values match exactly one), coalesced. `in_span`:
    every value is known to lie in GAPLESS_FROM..GAPLESS_TO (see _naive_local)."""
    if kind == "date":
        return _date_expr(value, _of(formats, DATE_FORMATS))
    return _timestamp_expr(value, formats, timezone, in_span)


def _date_expr(value: pl.Expr, formats: Sequence[str]) -> pl.Expr:
    parsed = [_parse(value, f) for f in formats]
    return pl.coalesce(parsed) if parsed else pl.lit(None, dtype=pl.Date)


def _timestamp_expr(value: pl.Expr, formats: Sequence[str], timezone: str, in_span: bool = False) -> pl.Expr:
    """Dates are the day's first instant (midnight), naive times are local to `timezone`; all of
    them end up in UTC."""
    dates = [_parse(value, f).cast(pl.Datetime("us")) for f in _of(formats, DATE_FORMATS)]
    naive = [_parse(value, f) for f in _of(formats, NAIVE_FORMATS)]
    aware = [_parse(value, f) for f in _of(formats, AWARE_FORMATS)]
    parts = aware + ([_day_start(pl.coalesce(dates), timezone, in_span)] if dates else [])
    parts += [_naive_local(pl.coalesce(naive), timezone, in_span)] if naive else []
    return pl.coalesce(parts) if parts else pl.lit(None, dtype=pl.Datetime("us", "UTC"))


def _day_start(midnight: pl.Expr, timezone: str, in_span: bool) -> pl.Expr:
    """The first instant of each day in `timezone`: its midnight, or, on a day whose midnight the
    zone skips (a clock put forward at 00:00: America/Santiago, Africa/Cairo, Asia/Kolkata in
    1942), the instant the clock jumped, which is the midnight of the offset before it: the
    previous day's midnight and 24 hours. A date is a day, and every day has a first instant;
    a written time that does not exist (`00:30` in the gap) stays no instant."""
    local = _naive_local(midnight, timezone, in_span)
    if timezone == "UTC" or (in_span and fixed_offset(timezone) is not None):
        return local  # no gap: every midnight exists (pass 1 parses as if in UTC where it can)
    day_before = _naive_local(midnight - pl.duration(days=1), timezone) + pl.duration(days=1)
    return pl.coalesce(local, day_before)


# -- gaps of a time zone ------------------------------------------------------------------------------
# local times in this span are checked against the zone's gaps only if the zone has any in it
GAPLESS_FROM, GAPLESS_TO = datetime(1970, 1, 1), datetime(2100, 1, 1)


_WEEK = timedelta(days=7)


def _weekly_offsets(timezone: str, margin: timedelta) -> set[timedelta | None]:
    """The UTC offsets of `timezone` seen once a week from GAPLESS_FROM - `margin` to
    GAPLESS_TO + `margin` (a change of offset, daylight saving included, lasts longer than that)."""
    zone = ZoneInfo(timezone)
    start = GAPLESS_FROM.replace(tzinfo=UTC) - margin
    weeks = (GAPLESS_TO - GAPLESS_FROM + 2 * margin) // _WEEK
    return {(start + _WEEK * i).astimezone(zone).utcoffset() for i in range(weeks + 1)}


@functools.cache
def gapless(timezone: str) -> bool:
    """Whether every local time of `timezone` from 1970 to 2100 exists: its UTC offset never
    changes in that span, so no clock ever skips ahead. True of UTC and of zones without
    daylight saving since 1970, such as Asia/Kolkata; false of Asia/Kathmandu (1986)."""
    return len(_weekly_offsets(timezone, timedelta(0))) == 1


@functools.cache
def fixed_offset(timezone: str) -> timedelta | None:
    """The one UTC offset of `timezone` from a week before GAPLESS_FROM to a week after
    GAPLESS_TO, if it has one (the zone is then gapless): every local time of the span is that
    far from UTC (Asia/Kolkata: 5:30). None for a zone whose offset changes (daylight saving;
    Asia/Kathmandu's 5:30 -> 5:45 in 1986)."""
    offsets = _weekly_offsets(timezone, _WEEK)
    return offsets.pop() if len(offsets) == 1 else None
