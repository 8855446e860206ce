"""The polars expressions over raw String columns: the value a column's text or typed kinds read,
and the aggregations pass 1 profiles columns with. No row ever becomes a Python object.

Pass 1 names each aggregation `{column}:{count}` (c3:numbers), the count being a field of the
column's statistics (profile.ColumnCounts); the records of a chunk are `:records` and the like.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC

import polars as pl

from uniware_source.typed_csv.temporal import (
    ALL_FORMATS,
    DATE_SHAPE_RE,
    FORMAT_REGEXES,
    GAPLESS_FROM,
    GAPLESS_TO,
    temporal_expr,
)

# as Java writes numbers (BigDecimal.toString(), and Double's): digits, perhaps a fraction, or one
# digit, perhaps a fraction and an exponent: a signed one (BigDecimal: `0E-7`, `1.5E+3`) or, after a
# fraction, an unsigned one (Double: `1.0E10`). Nothing that writes numbers writes a plus sign
# before one, or `2E10` or `24E1`: such values are a phone (`+919810012345`) or a code, text as
# written. An exponent of more than 4 digits makes no number that fits a decimal anyway.
# Digits are ASCII ones: polars' `\d` is Unicode's, and a column of numbers that included `२`
# (Devanagari two) was typed integer, then failed its conversion, and the whole file with it
_NUMBER_RE = r"^-?(?:[0-9]+(?:\.[0-9]+)?|[0-9](?:\.[0-9]+)?[eE][+-][0-9]{1,4}|[0-9]\.[0-9]+[eE][0-9]{1,4})$"
_NUMBER_PARTS_RE = r"^[+-]?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]{1,4}))?$"
_EXPONENT_RE = r"[eE]"
_LEADING_ZERO_RE = r"^[+-]?0[0-9]"
# an Excel text guard: an apostrophe before a value that is all digits (with the dots, dashes,
# slashes, colons and spaces of numbers, codes, dates and times), perhaps signed or a number with
# an exponent: '2320617, '007001, '-7, '+919810012345, '1.5E+3. Text that merely starts with an
# apostrophe and a digit ('90s Retro Tee) keeps it
_EXCEL_GUARD_RE = r"^'([+-]?[0-9][0-9./: -]*|[+-]?[0-9](?:\.[0-9]+)?[eE][+-]?[0-9]{1,4})$"


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
TRUE_SERIES = pl.Series(_TRUE_VARIANTS, dtype=pl.String).implode()

# The builders below are cached: their expressions depend only on the column names (c0, c1, ...
# in every file) and their arguments, and building them again for every chunk of every file cost
# more than running them on a small file.
_cached = functools.lru_cache(maxsize=4096)


# -- the values ---------------------------------------------------------------------------------------
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
    return typed_from_trimmed(pl.col(col).str.strip_chars(), guarded)


def typed_from_trimmed(trimmed: pl.Expr, guarded: bool = True) -> pl.Expr:
    """typed_expr of a value already trimmed. An eager select computes a subexpression as often
    as it occurs (the lazy one's elimination of common subexpressions is off): typed_expr there
    trims every value twice, which cost 0.4 ms of CPU a MB of a chunk of 13 such columns. A
    column trimmed first, then this, trims once."""
    value = _unguard(trimmed) if guarded else trimmed
    return pl.when(trimmed.is_in(_NULL_SERIES)).then(None).otherwise(value)


# -- the records of a chunk ---------------------------------------------------------------------------
@_cached
def shape_exprs(cols: tuple[str, ...]) -> tuple[pl.Expr, ...]:
    """Records with a field past the last column (the extra column after `cols` holds it), records
    whose last field is null (perhaps missing: the csv pass tells), and records with no value."""
    extra, last = pl.col(f"c{len(cols)}"), pl.col(cols[-1])
    any_value = pl.any_horizontal([pl.col(c).is_not_null() for c in cols])
    return (
        extra.is_not_null().sum().alias(":too_many"),
        (last.is_null() & any_value).sum().alias(":maybe_short"),
        (~any_value & extra.is_null()).sum().alias(":empty"),
    )


@_cached
def guard_expr(col: str) -> pl.Expr:
    """Values that start with an Excel guard, or with any apostrophe: the guard regex tells them apart."""
    return pl.col(col).str.strip_chars_start().str.starts_with("'").sum().alias(f"{col}:guards")


# -- the counts of a column ---------------------------------------------------------------------------
@_cached
def count_exprs(col: str) -> tuple[pl.Expr, ...]:
    """The non-null values of raw String column `col` (`:count`, read off its validity) and the
    values that are null tokens (`:null_tokens`). A value counts for typing (`values`) if it is
    neither: the difference, taken by the caller (one pass over the strings instead of two)."""
    raw = pl.col(col)
    tokens = raw.str.strip_chars().is_in(_NULL_SERIES).sum()
    return (raw.count().alias(f"{col}:count"), tokens.alias(f"{col}:null_tokens"))


@_cached
def typed_count_exprs(col: str, typed: str) -> tuple[pl.Expr, ...]:
    """count_exprs for a column already through typed_expr as `typed`, whose nulls are the raw
    nulls and the null tokens (`:values` counts typed values), plus the values that typed_expr
    changed (trimmed, or a guard stripped)."""
    raw, value = pl.col(col), pl.col(typed)
    return (
        raw.count().alias(f"{col}:count"),
        value.count().alias(f"{col}:values"),
        (raw != value).sum().alias(f"{col}:padded"),
    )


def dot_expr(typed: str) -> pl.Expr:
    """Where the first dot of each value of `typed` is (null where there is none), for
    numeric_exprs: taken once into a column of its own, since an eager select finds it again for
    each aggregation that uses it (0.36 ms of CPU a MB of six columns)."""
    return pl.col(typed).str.find(".", literal=True)


def exponent_expr(typed: str) -> pl.Expr:
    """Whether each value of `typed` has an exponent mark (`e` or `E`), for numeric_exprs: a
    column of its own, like dot_expr, since the counts and both widths read it."""
    return pl.col(typed).str.contains(_EXPONENT_RE)


@_cached
def numeric_exprs(
    col: str, typed: str, dots: str, exponents: str, leading_zeros: bool = True
) -> tuple[pl.Expr, ...]:
    """Aggregations deciding integer / decimal; `typed` is the column already through typed_expr,
    `dots` its dot_expr, `exponents` its exponent_expr; `leading_zeros`: whether they are counted
    (rules.leading_zeros_matter).

    Widths are taken on the value as written, less one for a minus sign: for a value that is a
    number (_NUMBER_RE: a minus sign at most) that is the width of its digits; for any other value
    the widths do not matter, since the column is then no number at all. (Stripping the sign first
    cost twice as much: a new string per value.) A number with an exponent is left out of the
    widths here, and measured by exponent_width_exprs (only in a chunk that has one): its digits as
    written are not its plain decimal's (`1.5E+3` reads as a scale of 4). It counts as `dotted`:
    it is a decimal as Uniware writes one, never an integer."""
    t = pl.col(typed)
    dot = pl.col(dots)
    plain = ~pl.col(exponents)
    length = t.str.len_bytes()
    signed = t.str.starts_with("-").cast(pl.Int64)
    exprs = (
        t.str.contains(_NUMBER_RE).sum().alias(f"{col}:numbers"),
        (dot.is_not_null() | pl.col(exponents)).sum().alias(f"{col}:dotted"),
        pl.when(plain).then(length - dot - 1).max().alias(f"{col}:scale"),
        pl.when(plain).then(pl.coalesce(dot, length) - signed).max().alias(f"{col}:int_digits"),
        pl.col(exponents).sum().alias(f"{col}:exponents"),
    )
    if not leading_zeros:
        return exprs
    return (*exprs, t.str.contains(_LEADING_ZERO_RE).sum().alias(f"{col}:leading_zeros"))


@_cached
def exponent_width_exprs(col: str, typed: str, exponents: str) -> tuple[pl.Expr, ...]:
    """The widths of the numbers with an exponent among the values of `typed` (`exponents`: its
    exponent_expr), for a chunk that has some (numeric_exprs' `:exponents`), as
    `{col}:exp_scale` and `{col}:exp_int_digits`: each number's digits as its plain decimal would
    have them. `1.5E+3` is 1500 (4 digits before the point, scale 0), `0E-7` is 0 at scale 7 (1
    digit, scale 7), `-1.23E-5` is -0.0000123 (scale 7). Only these values go through the
    (costlier) regex of their parts; numeric_exprs measured the others."""
    # distinct values first: a column of BigDecimal money writes its zeros alike (`0E-7`), and
    # the regex's parts cost 9.1 ms of CPU a chunk of 11 such columns, 2.6 on their distinct values.
    # In their order: each part below takes them again, and must pair with the same value
    distinct = pl.col(typed).filter(pl.col(exponents)).unique(maintain_order=True)
    parts = distinct.str.extract_groups(_NUMBER_PARTS_RE)
    whole = parts.struct.field("1").str.len_bytes().cast(pl.Int64)
    fraction = parts.struct.field("2").str.len_bytes().cast(pl.Int64).fill_null(0)
    exponent = parts.struct.field("3").cast(pl.Int64, strict=False).fill_null(0)
    return (
        (fraction - exponent).clip(lower_bound=0).max().alias(f"{col}:exp_scale"),
        (whole + exponent).clip(lower_bound=1).max().alias(f"{col}:exp_int_digits"),
    )


@_cached
def boolean_exprs(col: str, typed: str) -> tuple[pl.Expr, ...]:
    t = pl.col(typed)
    return (
        t.is_in(_BOOL_SERIES).sum().alias(f"{col}:booleans"),
        t.is_in(_BOOL_WORD_SERIES).sum().alias(f"{col}:bool_words"),
    )


@_cached
def date_shape_expr(col: str, typed: str) -> pl.Expr:
    return pl.col(typed).str.contains(DATE_SHAPE_RE).sum().alias(f"{col}:dateish")


@_cached
def format_match_exprs(col: str, typed: str) -> tuple[pl.Expr, ...]:
    """How many values of a date-like column have the shape of each accepted format."""
    t = pl.col(typed)
    return tuple(
        t.str.contains(FORMAT_REGEXES[f]).sum().alias(f"{col}:f{i}") for i, f in enumerate(ALL_FORMATS)
    )


@_cached
def any_format_expr(col: str, typed: str, formats: Sequence[str], count: str = "known") -> pl.Expr:
    """How many values have the shape of one of `formats` (the shapes of the formats exclude each
    other, so this is the sum of their format_match_exprs counts), as `{col}:{count}`."""
    pattern = "|".join(f"(?:{FORMAT_REGEXES[f]})" for f in formats)
    return pl.col(typed).str.contains(pattern).sum().alias(f"{col}:{count}")


@_cached
def parsed_as_utc_expr(typed: str, formats: Sequence[str]) -> pl.Expr:
    """The values of `typed` parsed with `formats`, naive ones read as if in UTC: in a gapless
    zone, a value parses here exactly when it parses (and exists) in that zone, as long as it
    lies in GAPLESS_FROM..GAPLESS_TO, which the caller checks on the values' span."""
    return temporal_expr(pl.col(typed), formats, "timestamp", "UTC")


def span_exprs(cols: Iterable[str]) -> list[pl.Expr]:
    """Of columns parsed as if in UTC: the values (`:parsed`), and whether any lies outside
    GAPLESS_FROM..GAPLESS_TO. The test stays in polars: a year-0 value parses there, but is no
    Python datetime."""
    lo, hi = GAPLESS_FROM.replace(tzinfo=UTC), GAPLESS_TO.replace(tzinfo=UTC)
    cols = list(cols)
    exprs = [pl.col(c).count().alias(f"{c}:parsed") for c in cols]
    return exprs + [((pl.col(c) < lo) | (pl.col(c) >= hi)).any().alias(f"{c}:outside") for c in cols]


@_cached
def parsed_count_exprs(cols: tuple[str, ...], in_span: bool) -> tuple[pl.Expr, ...]:
    """Of date-like columns parsed as pc (profile.FileProfile._typed): how many values parsed
    (`{c}:parsed`); `in_span`: and whether any lies outside GAPLESS_FROM..GAPLESS_TO (`{c}:outside`,
    see span_exprs)."""
    exprs = span_exprs(f"p{c}" for c in cols) if in_span else [pl.col(f"p{c}").count() for c in cols]
    names = [f"{c}:parsed" for c in cols] + ([f"{c}:outside" for c in cols] if in_span else [])
    return tuple(e.alias(name) for e, name in zip(exprs, names, strict=True))


@_cached
def temporal_parse_expr(col: str, typed: str, formats: Sequence[str], timezone: str) -> pl.Expr:
    """How many values parse (and exist in the zone) with the formats their shapes matched."""
    return temporal_expr(pl.col(typed), formats, "timestamp", timezone).count().alias(f"{col}:parsed")
