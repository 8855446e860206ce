"""The typing rules for export CSVs: how a column's kind is decided over a whole file, how kinds of
several files are unified into one Arrow schema, and the polars expressions that turn raw strings
into typed values.

Everything here works on polars expressions over String columns; no row ever becomes a Python
object. `csv_reader` does the file handling and calls into this module.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from uniware_source.typed_csv.kinds import KIND_OF_DLT_TYPE, KINDS, MAX_PRECISION, Kind, polars_type
from uniware_source.typed_csv.model import (
    ColumnPlan,
    FilePlan,
    RejectedRow,
    TableSchema,
    plain_strings,
)

__all__ = ["KINDS", "ColumnPlan", "FilePlan", "Kind", "RejectedRow", "TableSchema", "plain_strings"]

MAX_ID_DIGITS = 15  # longer digit strings are identifiers (and would lose precision in a double anyway)
MAX_INT64_DIGITS = 18  # any 18-digit integer fits int64

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

_NUMBER_RE = r"^[+-]?\d+(?:\.\d+)?$"
_LEADING_ZERO_RE = r"^[+-]?0\d"
_DATE_SHAPE_RE = (
    r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[-/]\d{1,2}[-/]\d{4})"
    r"(?:[ T]\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?(?:Z|z|[+-]\d{2}:?\d{2})?)?$"
)
_EXCEL_GUARD_RE = r"^'(\d)"


def _case_variants(words: Iterable[str]) -> list[str]:
    out: set[str] = set()
    for word in words:
        out.update("".join(p) for p in itertools.product(*({ch.lower(), ch.upper()} for ch in word)))
    return sorted(out)


NULL_TOKENS: tuple[str, ...] = ("", "-", "na", "n/a", "null", "none")
TRUE_TOKENS: tuple[str, ...] = ("true", "yes", "y", "1")
FALSE_TOKENS: tuple[str, ...] = ("false", "no", "n", "0")
_NULL_VARIANTS = _case_variants(NULL_TOKENS)
_BOOL_VARIANTS = _case_variants(TRUE_TOKENS + FALSE_TOKENS)
_BOOL_WORD_VARIANTS = _case_variants(t for t in TRUE_TOKENS + FALSE_TOKENS if not t.isdigit())
_TRUE_VARIANTS = _case_variants(TRUE_TOKENS)
# as (imploded) Series, built once: is_in() turns a list into a Series every time an expression is built
_NULL_SERIES = pl.Series(_NULL_VARIANTS, dtype=pl.String).implode()
_BOOL_SERIES = pl.Series(_BOOL_VARIANTS, dtype=pl.String).implode()
_BOOL_WORD_SERIES = pl.Series(_BOOL_WORD_VARIANTS, dtype=pl.String).implode()
_TRUE_SERIES = pl.Series(_TRUE_VARIANTS, dtype=pl.String).implode()

# -- identifier-like header labels --------------------------------------------------------------------
_ID_WORDS = frozenset(
    [
        "code",
        "codes",
        "id",
        "ids",
        "number",
        "no",
        "nos",
        "num",
        "phone",
        "mobile",
        "pincode",
        "pin",
        "zip",
        "zipcode",
        "postcode",
        "postal",
        "sku",
        "skus",
        "awb",
        "tracking",
        "gstin",
        "gst",
        "invoice",
        "reference",
        "ref",
        "ean",
        "upc",
        "hsn",
        "barcode",
        "imei",
        "serial",
    ]
)
# a label that also names a measure ("Invoice Amount", "No of Items" stays numeric only via a hint) is a value
_MEASURE_WORDS = frozenset(
    [
        "amount",
        "amt",
        "price",
        "mrp",
        "total",
        "value",
        "tax",
        "taxes",
        "cost",
        "charges",
        "charge",
        "discount",
        "weight",
        "qty",
        "quantity",
        "rate",
        "percent",
        "percentage",
        "balance",
        "paid",
    ]
)
_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def label_words(label: str) -> list[str]:
    """Words of a header label, split on punctuation and camelCase: 'orderID No.' -> order, id, no."""
    return [w.lower() for w in _WORD_RE.findall(label)]


def is_identifier_label(label: str) -> bool:
    words = set(label_words(label))
    return bool(words & _ID_WORDS) and not words & _MEASURE_WORDS


# -- expressions --------------------------------------------------------------------------------------
# The builders below are cached: their expressions depend only on the column names (c0, c1, ...
# in every file) and their arguments, and building them again for every chunk of every file cost
# more than running them on a small file.
_cached = functools.lru_cache(maxsize=4096)


def _unguard(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace(_EXCEL_GUARD_RE, "${1}")


@_cached
def text_expr(col: str, guarded: bool = True) -> pl.Expr:
    """The text value: null tokens -> null, Excel guard stripped, otherwise exactly as written."""
    raw = pl.col(col)
    value = _unguard(raw) if guarded else raw
    return pl.when(raw.str.strip_chars().is_in(_NULL_SERIES)).then(None).otherwise(value)


@_cached
def typed_expr(col: str, guarded: bool = True) -> pl.Expr:
    """The value the typed kinds parse: trimmed, null tokens -> null, Excel guard stripped.

    The guard regex costs as much as the rest, so it is applied only to columns known to hold one."""
    trimmed = pl.col(col).str.strip_chars()
    value = _unguard(trimmed) if guarded else trimmed
    return pl.when(trimmed.is_in(_NULL_SERIES)).then(None).otherwise(value)


def _format_regex(fmt: str) -> str:
    """A regex accepting at least what polars' strptime accepts for `fmt` (used to pick formats)."""
    parts = {
        "%Y": r"\d{4}",
        "%m": r"\d{1,2}",
        "%d": r"\d{1,2}",
        "%H": r"\d{1,2}",
        "%M": r"\d{1,2}",
        "%S": r"\d{1,2}",
        "%.f": r"\.\d+",  # strptime also takes no fraction; the shape without one is its own format
        "%#z": r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)",
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


def _naive_local(expr: pl.Expr, timezone: str) -> pl.Expr:
    local = expr.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC")


def _parse(value: pl.Expr, fmt: str) -> pl.Expr:
    """One format, no cache (it holds every distinct string), null where the value does not match."""
    if fmt in DATE_FORMATS:
        return value.str.strptime(pl.Date, fmt, strict=False, cache=False)
    dtype = pl.Datetime("us", "UTC" if fmt in AWARE_FORMATS else None)
    return value.str.strptime(dtype, fmt, strict=False, cache=False)


def temporal_expr(value: pl.Expr, formats: Sequence[str], kind: Kind, timezone: str) -> pl.Expr:
    """Parse with every format that matched (values match exactly one), coalesced."""
    if kind == "date":
        parsed = [_parse(value, f) for f in formats if f in DATE_FORMATS]
        return pl.coalesce(parsed) if parsed else pl.lit(None, dtype=pl.Date)
    naive = [_parse(value, f).cast(pl.Datetime("us")) for f in formats if f in DATE_FORMATS]
    naive += [_parse(value, f) for f in formats if f in NAIVE_FORMATS]
    aware = [_parse(value, f) for f in formats if f in AWARE_FORMATS]
    parts = aware + ([_naive_local(pl.coalesce(naive), timezone)] if naive else [])
    return pl.coalesce(parts) if parts else pl.lit(None, dtype=pl.Datetime("us", "UTC"))


def convert_expr(col: str, source: ColumnPlan, target: ColumnPlan, timezone: str) -> pl.Expr:
    """Raw String column `col` of a file typed as `source` -> the value of the table column `target`."""
    dtype = polars_type(target.kind, target.scale)
    if target.kind == "text":
        if source.null_tokens == 0 and not source.guarded:
            return pl.col(col)  # nothing to change: every value loads as written
        return text_expr(col, source.guarded)
    if source.values == 0:
        return pl.lit(None, dtype=dtype)
    if source.kind == "text":
        raise ValueError(f"column {target.name!r}: text values cannot load as {target.kind}")
    ready = source.null_tokens == 0 and source.padded == 0  # every value parses as written
    value = pl.col(col) if ready else typed_expr(col, source.guarded)
    if target.kind in ("integer", "decimal"):
        return value.cast(dtype, strict=True)
    if target.kind == "boolean":
        return value.is_in(_TRUE_SERIES)  # null stays null; replace_strict made polars buffer the file
    return temporal_expr(value, source.formats, target.kind, timezone)


# -- deciding a column's kind over the whole file -----------------------------------------------------
@_cached
def count_exprs(col: str) -> tuple[pl.Expr, ...]:
    """The non-null values of raw String column `col` (`:count`, read off its validity) and the
    values that are null tokens (`:null_tokens`). A value counts for typing (`nn`) if it is
    neither: the difference, taken by the caller (one pass over the strings instead of two)."""
    raw = pl.col(col)
    tokens = raw.str.strip_chars().is_in(_NULL_SERIES).sum()
    return (raw.count().alias(f"{col}:count"), tokens.alias(f"{col}:null_tokens"))


@_cached
def typed_count_exprs(col: str, typed: str) -> tuple[pl.Expr, ...]:
    """count_exprs for a column already through typed_expr as `typed`, whose nulls are the raw
    nulls and the null tokens (`:nn` counts typed values), plus the values that typed_expr changed
    (trimmed, or a guard stripped)."""
    raw, value = pl.col(col), pl.col(typed)
    return (
        raw.count().alias(f"{col}:count"),
        value.count().alias(f"{col}:nn"),
        (raw != value).sum().alias(f"{col}:padded"),
    )


@_cached
def numeric_exprs(col: str, typed: str) -> tuple[pl.Expr, ...]:
    """Aggregations deciding integer / decimal; `typed` is the column already through typed_expr.

    Widths are taken on the value as written, less one for a sign: for a value that is a number
    (one sign at most) that is the width of its digits; for any other value the widths do not
    matter, since the column is then no number at all. (Stripping the sign first cost twice as
    much: a new string per value.)"""
    t = pl.col(typed)
    dot = t.str.find(".", literal=True)
    length = t.str.len_bytes()
    signed = (t.str.starts_with("-") | t.str.starts_with("+")).cast(pl.Int64)
    return (
        t.str.contains(_NUMBER_RE).sum().alias(f"{col}:num"),
        dot.is_not_null().sum().alias(f"{col}:dot"),
        (length - dot - 1).max().alias(f"{col}:scale"),
        (pl.coalesce(dot, length) - signed).max().alias(f"{col}:intw"),
        t.str.contains(_LEADING_ZERO_RE).sum().alias(f"{col}:lead0"),
    )


@_cached
def boolean_exprs(col: str, typed: str) -> tuple[pl.Expr, ...]:
    t = pl.col(typed)
    return (
        t.is_in(_BOOL_SERIES).sum().alias(f"{col}:bool"),
        t.is_in(_BOOL_WORD_SERIES).sum().alias(f"{col}:word"),
    )


@_cached
def date_shape_expr(col: str, typed: str) -> pl.Expr:
    return pl.col(typed).str.contains(_DATE_SHAPE_RE).sum().alias(f"{col}:dateish")


@_cached
def format_match_exprs(col: str, typed: str) -> tuple[pl.Expr, ...]:
    """How many values of a date-like column have the shape of each accepted format."""
    t = pl.col(typed)
    return tuple(
        t.str.contains(FORMAT_REGEXES[f]).sum().alias(f"{col}:f{i}") for i, f in enumerate(ALL_FORMATS)
    )


@_cached
def any_format_expr(col: str, typed: str, formats: Sequence[str]) -> pl.Expr:
    """How many values have the shape of one of `formats` (the shapes of the formats exclude each
    other, so this is the sum of their format_match_exprs counts)."""
    pattern = "|".join(f"(?:{FORMAT_REGEXES[f]})" for f in formats)
    return pl.col(typed).str.contains(pattern).sum().alias(f"{col}:known")


# local times in this span are checked against the zone's gaps only if the zone has any in it
GAPLESS_FROM, GAPLESS_TO = datetime(1970, 1, 1), datetime(2100, 1, 1)


@functools.cache
def gapless(timezone: str) -> bool:
    """Whether every local time of `timezone` from 1970 to 2100 exists: its UTC offset never
    changes in that span (looked at once a week: a change of offset, daylight saving included,
    lasts longer than that), so no clock ever skips ahead. True of UTC and of zones without
    daylight saving since 1970, such as Asia/Kolkata; false of Asia/Kathmandu (1986)."""
    zone = ZoneInfo(timezone)
    start, week = GAPLESS_FROM.replace(tzinfo=UTC), timedelta(days=7)
    first = start.astimezone(zone).utcoffset()
    weeks = (GAPLESS_TO - GAPLESS_FROM) // week
    return all((start + week * i).astimezone(zone).utcoffset() == first for i in range(weeks + 1))


@_cached
def parsed_as_utc_expr(typed: str, formats: Sequence[str]) -> pl.Expr:
    """The values of `typed` parsed with `formats`, naive ones read as if in UTC: in a gapless
    zone, a value parses here exactly when it parses (and exists) in that zone, as long as it
    lies in GAPLESS_FROM..GAPLESS_TO, which the caller checks on the values' span."""
    return temporal_expr(pl.col(typed), formats, "timestamp", "UTC")


@_cached
def temporal_parse_expr(col: str, typed: str, formats: Sequence[str], timezone: str) -> pl.Expr:
    """How many values parse (and exist in the zone) with the formats their shapes matched."""
    return temporal_expr(pl.col(typed), formats, "timestamp", timezone).count().alias(f"{col}:parsed")


@dataclass(frozen=True)
class Profile:
    nn: int
    num: int
    dot: int
    scale: int
    intw: int
    lead0: int
    bool: int
    word: int
    dateish: int
    null_tokens: int = 0
    padded: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, int | None], col: str) -> Profile:
        return cls(**{k: int(row.get(f"{col}:{k}") or 0) for k in cls.__dataclass_fields__})


def _numeric_kind(p: Profile, forced: Kind | None) -> tuple[Kind, int] | None:
    if p.num != p.nn:
        return None
    if p.dot == 0:
        if forced == "decimal":
            return ("decimal", 0) if p.intw <= MAX_PRECISION else None
        if forced == "integer":
            return ("integer", 0) if p.intw <= MAX_INT64_DIGITS else None
        if p.lead0 or p.intw > MAX_ID_DIGITS:
            return None
        return "integer", 0
    if forced not in (None, "decimal") or p.intw + p.scale > MAX_PRECISION:
        return None
    if p.lead0 and forced is None:
        return None
    return "decimal", p.scale


def classify(p: Profile, label: str, forced: Kind | None) -> tuple[Kind, int, bool]:
    """(kind, scale, needs_temporal_check) from a column's profile, before any date parsing."""
    if forced == "text":
        return "text", 0, False
    if p.nn == 0:
        return (forced or "text"), 0, False
    if forced in ("date", "timestamp"):
        return "text", 0, p.dateish == p.nn
    if p.bool == p.nn and (p.word > 0 or forced == "boolean"):
        return "boolean", 0, False
    if forced == "boolean":
        return "text", 0, False
    numeric = _numeric_kind(p, forced)
    if numeric is not None:
        if forced is None and is_identifier_label(label):
            return "text", 0, False
        return numeric[0], numeric[1], False
    if forced is None and p.dateish == p.nn:
        return "text", 0, True
    return "text", 0, False


def classify_temporal(formats: Sequence[str], forced: Kind | None) -> tuple[Kind, tuple[str, ...]]:
    """Date / timestamp / text for a column whose every value parsed with one of `formats`."""
    date_only = all(f in DATE_FORMATS for f in formats)
    if forced == "date" and not date_only:
        return "text", ()
    if date_only and forced != "timestamp":
        return "date", tuple(formats)
    return "timestamp", tuple(formats)


# -- unifying files -----------------------------------------------------------------------------------
def widen(a: ColumnPlan, b: ColumnPlan) -> ColumnPlan:
    """The narrowest column that holds the values of both; a column with no values defers to the other."""
    if b.values == 0 and a.values != 0:
        return a
    if a.values == 0 and b.values != 0:
        return ColumnPlan(a.label, a.name, b.kind, b.scale, b.formats, b.values, b.guarded)
    values = -1 if -1 in (a.values, b.values) else a.values + b.values
    kinds = {a.kind, b.kind}
    formats = tuple(dict.fromkeys(a.formats + b.formats))
    if len(kinds) == 1:
        kind = a.kind
    elif kinds == {"integer", "decimal"}:
        kind = "decimal"
    elif kinds == {"date", "timestamp"}:
        kind = "timestamp"
    else:
        kind = "text"
    scale = max(a.scale, b.scale) if kind == "decimal" else 0
    temporal = formats if kind in ("date", "timestamp") else ()
    return ColumnPlan(a.label, a.name, kind, scale, temporal, values, a.guarded or b.guarded)


def unify(plans: Sequence[FilePlan], existing: Mapping[str, str | None] | None = None) -> TableSchema:
    """Ordered union of the files' columns by normalised name, kinds widened; then reconciled with the
    data types the destination already has (`existing`: name -> dlt data_type)."""
    merged: dict[str, ColumnPlan] = {}
    for plan in plans:
        for col in plan.columns:
            merged[col.name] = widen(merged[col.name], col) if col.name in merged else col
    existing = existing or {}
    out: list[ColumnPlan] = []
    for col in merged.values():
        have = existing.get(col.name)
        kind: Kind = col.kind
        if have == "text":
            kind = "text"
        elif have == "decimal" and col.kind == "integer":
            kind = "decimal"
        elif have == "timestamp" and col.kind == "date":
            kind = "timestamp"
        elif col.values == 0 and have in KIND_OF_DLT_TYPE:
            kind = KIND_OF_DLT_TYPE[have]
        if kind != col.kind:
            col = ColumnPlan(
                col.label,
                col.name,
                kind,
                col.scale if kind == "decimal" else 0,
                col.formats if kind in ("date", "timestamp") else (),
                col.values,
            )
        out.append(col)
    return TableSchema(tuple(out))
