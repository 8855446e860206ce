"""The typing rules for export CSVs: how a column's kind is decided from its counts over a whole
file, and how the kinds of several files are unified into one table schema.

Nothing here reads a file: pass 1 (profile, plan) counts, these rules decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from uniware_source.typed_csv.kinds import KIND_OF_DLT_TYPE, MAX_PRECISION, Kind
from uniware_source.typed_csv.model import ColumnPlan, FilePlan, TableSchema
from uniware_source.typed_csv.temporal import DATE_FORMATS

MAX_ID_DIGITS = 15  # longer digit strings are identifiers (and would lose precision in a double anyway)
MAX_INT64_DIGITS = 18  # any 18-digit integer fits int64
# the scale of a column hinted decimal (the catalogue's money and quantities, a user's column_types):
# Uniware writes 0 to 7 places (BigDecimal scales), 9 leaves room and 29 digits before the point
HINT_SCALE = 9

# -- identifier-like header labels --------------------------------------------------------------------
_ID_WORDS = frozenset([
    "code", "codes", "id", "ids", "number", "no", "nos", "num", "phone", "mobile", "pincode", "pin", "zip",
    "zipcode", "postcode", "postal", "sku", "skus", "awb", "tracking", "gstin", "gst", "invoice", "reference",
    "ref", "ean", "upc", "hsn", "barcode", "imei", "serial", "contact", "telephone", "gtin", "isbn", "asin",
    "fsn", "waybill", "consignment", "docket",
])  # fmt: skip
# a label that also names a measure ("Invoice Amount", "No of Items" stays numeric only via a hint) is a value
_MEASURE_WORDS = frozenset([
    "amount", "amt", "price", "mrp", "total", "value", "tax", "taxes", "cost", "charges", "charge",
    "discount", "weight", "qty", "quantity", "rate", "percent", "percentage", "balance", "paid",
])  # fmt: skip
_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def label_words(label: str) -> list[str]:
    """Words of a header label, split on punctuation and camelCase: 'orderID No.' -> order, id, no."""
    return [w.lower() for w in _WORD_RE.findall(label)]


def is_identifier_label(label: str) -> bool:
    words = set(label_words(label))
    return bool(words & _ID_WORDS) and not words & _MEASURE_WORDS


# -- the kinds a column can still become --------------------------------------------------------------
# Pass 1 profiles a column only for these, and a kind a hint excludes is never counted.
def may_be_number(label: str, forced: Kind | None) -> bool:
    """A number in an identifier-labelled column without a hint loads as text (and a number is
    never date-shaped), so such a column is not counted for numbers at all."""
    return forced in ("integer", "decimal") or (forced is None and not is_identifier_label(label))


def may_be_boolean(forced: Kind | None) -> bool:
    return forced not in ("text", "date", "timestamp")


def may_be_temporal(forced: Kind | None) -> bool:
    return forced in (None, "date", "timestamp")


def leading_zeros_matter(forced: Kind | None) -> bool:
    """Whether leading zeros can rule a number column out: always where it may be one. Without a
    hint they make it an identifier; a column of whole numbers hinted (or set by column_types)
    integer or decimal whose values have one (`007`, a code's) loads as text with a note, since a
    number would drop the zeros, and two codes (`000101`, `101`) would become one value, or one
    key. A hinted column with fractions (money `00.00`, a coordinate `08.5241`) keeps its numbers."""
    return forced in (None, "integer", "decimal")


def too_wide(int_digits: int, scale: int) -> bool:
    """Whether numbers of `int_digits` before the point and `scale` after it need more digits than
    a decimal holds (MAX_PRECISION): such a column loads as text, never cut to fit."""
    return int_digits + scale > MAX_PRECISION


# -- deciding a column's kind -------------------------------------------------------------------------
class Counts(Protocol):
    """What the rules read of a column's counts over the whole file (profile.ColumnCounts). A
    count of a kind the column was no longer profiled for is frozen where it ruled that kind out."""

    values: int  # values that count for typing: neither null nor a null token
    numbers: int
    dotted: int  # numbers with a decimal point
    scale: int  # most digits after the point
    int_digits: int  # most digits before it
    leading_zeros: int
    booleans: int  # boolean tokens (true, no, 1, ...)
    bool_words: int  # boolean tokens that are words, not 1 / 0
    dateish: int  # values with the shape of a date or time


def classify(p: Counts, label: str, forced: Kind | None) -> tuple[Kind, int, bool]:
    """(kind, scale, needs_temporal_check) from a column's counts, before any date parsing."""
    if forced == "decimal" and p.values == 0:  # the scale it has with values: the same in every file
        return "decimal", HINT_SCALE, False
    if forced == "text" or p.values == 0:
        return (forced or "text"), 0, False
    if forced in ("date", "timestamp"):
        return "text", 0, p.dateish == p.values
    if p.booleans == p.values and (p.bool_words > 0 or forced == "boolean"):
        return "boolean", 0, False
    if forced == "boolean":
        return "text", 0, False
    return _number_or_text(p, label, forced)


def _number_or_text(p: Counts, label: str, forced: Kind | None) -> tuple[Kind, int, bool]:
    numeric = _numeric_kind(p, forced)
    if numeric is None:
        return "text", 0, forced is None and p.dateish == p.values
    if forced is None and is_identifier_label(label):
        return "text", 0, False
    return numeric[0], numeric[1], False


def _numeric_kind(p: Counts, forced: Kind | None) -> tuple[Kind, int] | None:
    if p.numbers != p.values:
        return None
    return _whole_kind(p, forced) if p.dotted == 0 else _fraction_kind(p, forced)


def hinted_scale(p: Counts) -> int | None:
    """The scale of a column hinted decimal (money, quantities): HINT_SCALE, or more if a value has
    more places, so that every file of a report gets the same type whatever its values' places;
    less only where HINT_SCALE would leave too few digits before the point. None: the values need
    more than MAX_PRECISION digits in all (the column then loads as text, with a note)."""
    if too_wide(p.int_digits, p.scale):
        return None
    return max(p.scale, min(HINT_SCALE, MAX_PRECISION - p.int_digits))


def _whole_kind(p: Counts, forced: Kind | None) -> tuple[Kind, int] | None:
    """Of a column of whole numbers; without a hint, a leading zero or many digits make it an identifier."""
    if p.leading_zeros:
        return None
    if forced == "decimal":
        scale = hinted_scale(p)
        return None if scale is None else ("decimal", scale)
    if forced == "integer":
        return ("integer", 0) if p.int_digits <= MAX_INT64_DIGITS else None
    if p.int_digits > MAX_ID_DIGITS:
        return None
    return "integer", 0


def _fraction_kind(p: Counts, forced: Kind | None) -> tuple[Kind, int] | None:
    """Of a column of numbers, some with a decimal point."""
    if forced not in (None, "decimal") or too_wide(p.int_digits, p.scale):
        return None
    if forced == "decimal":  # money or a measure: `00.00`, a coordinate's `08.5241`, are numbers
        scale = hinted_scale(p)
        return None if scale is None else ("decimal", scale)
    if p.leading_zeros:
        return None
    return "decimal", p.scale


def classify_temporal(formats: Sequence[str], forced: Kind | None) -> tuple[Kind, tuple[str, ...]]:
    """Date / timestamp / text for a column whose every value parsed with one of `formats`."""
    date_only = all(f in DATE_FORMATS for f in formats)
    if forced == "date" and not date_only:
        return "text", ()
    if date_only and forced != "timestamp":
        return "date", tuple(formats)
    return "timestamp", tuple(formats)


# -- unifying files -----------------------------------------------------------------------------------
_WIDER: dict[frozenset[Kind], Kind] = {
    frozenset(("integer", "decimal")): "decimal",
    frozenset(("date", "timestamp")): "timestamp",
}


def wider(a: Kind, b: Kind) -> Kind:
    """The narrowest kind that holds the values of both."""
    return a if a == b else _WIDER.get(frozenset((a, b)), "text")


def _wider_of(a: ColumnPlan, b: ColumnPlan) -> Kind:
    """wider() of the columns' kinds, where an integer column of 1 and 0 only (`bools`) also holds
    as a boolean one: a report that writes a flag as Yes/No in one file and as 1/0 in another
    keeps a boolean column, not text."""
    kinds = {a.kind, b.kind}
    if kinds == {"boolean", "integer"} and (a.bools if a.kind == "integer" else b.bools):
        return "boolean"
    return wider(a.kind, b.kind)


def widen(a: ColumnPlan, b: ColumnPlan) -> ColumnPlan:
    """The narrowest column that holds the values of both; a column with no values defers to the
    other. Decimals whose digits before the point and widest scale together need more than a
    decimal holds (a rate of 35 places beside 1234.5) make text: a value is never cut to fit."""
    if b.values == 0 and a.values != 0:
        return a
    if a.values == 0 and b.values != 0:
        return ColumnPlan(
            a.label, a.name, b.kind, b.scale, b.formats, b.values, b.guarded, int_digits=b.int_digits
        )
    values = -1 if -1 in (a.values, b.values) else a.values + b.values
    kind = _wider_of(a, b)
    scale = max(a.scale, b.scale) if kind == "decimal" else 0
    digits = max(a.int_digits, b.int_digits) if kind in ("integer", "decimal") else 0
    if kind == "decimal" and too_wide(digits, scale):
        kind, scale, digits = "text", 0, 0
    temporal = tuple(dict.fromkeys(a.formats + b.formats)) if kind in ("date", "timestamp") else ()
    bools = kind == "integer" and a.bools and b.bools
    return ColumnPlan(
        a.label, a.name, kind, scale, temporal, values, a.guarded or b.guarded, int_digits=digits, bools=bools
    )


def holding(have: ColumnPlan, col: ColumnPlan, *, dates_to_timestamps: bool = True) -> ColumnPlan:
    """The narrowest column that holds both the values a destination column `have` already holds
    and those of a file's column `col`: `have` itself when it holds them (a column of the files
    with no value holds nothing), otherwise integer -> decimal -> text, a decimal of the larger
    scale, date -> timestamp (only with `dates_to_timestamps`: when every date becomes the same
    instant a file's date would, midnight in the report's zone), and anything else -> text."""
    if col.values == 0:
        return have
    kind = _wider_of(have, col)
    if kind == "timestamp" and have.kind == "date" and not dates_to_timestamps:
        kind = "text"
    scale = max(have.scale, col.scale) if kind == "decimal" else 0
    if kind == "decimal" and too_wide(max(have.int_digits, col.int_digits), scale):
        kind, scale = "text", 0  # the larger scale leaves too few digits before the point
    if (kind, scale) == (have.kind, have.scale):
        return have
    return ColumnPlan(
        have.label, have.name, kind, scale, values=-1, bools=kind == "integer" and have.bools and col.bools
    )


def unify(
    plans: Sequence[FilePlan], existing: Mapping[str, str | ColumnPlan | None] | None = None
) -> TableSchema:
    """Ordered union of the files' columns by normalised name, kinds widened; then reconciled with the
    columns the destination already has (`existing`: name -> its dlt data_type, or the destination
    column as a ColumnPlan, which also tells a decimal's scale)."""
    merged: dict[str, ColumnPlan] = {}
    for plan in plans:
        for col in plan.columns:
            merged[col.name] = widen(merged[col.name], col) if col.name in merged else col
    existing = existing or {}
    return TableSchema(tuple(_reconciled(col, existing.get(col.name)) for col in merged.values()))


def _reconciled(col: ColumnPlan, have: str | ColumnPlan | None) -> ColumnPlan:
    """`col` in the kind of the destination's column when that kind holds its values, or when the
    files hold no value of it to tell; otherwise as the files decided. A decimal takes the larger
    of the two scales: the destination's, so that the files agree with it, unless the files need more."""
    if isinstance(have, ColumnPlan):
        kind: Kind | None = have.kind
        have_scale = have.scale
    else:
        kind, have_scale = KIND_OF_DLT_TYPE.get(have or ""), 0
    if kind is None or (col.values != 0 and _wider_of(col, ColumnPlan(col.label, col.name, kind)) != kind):
        return col
    scale = max(col.scale, have_scale) if kind == "decimal" else 0
    if kind == "decimal" and too_wide(col.int_digits, scale):
        return col  # the destination's scale leaves too few digits before the point: drift widens it
    if kind == col.kind and scale == col.scale:
        return col
    formats = col.formats if kind in ("date", "timestamp") else ()
    return ColumnPlan(col.label, col.name, kind, scale, formats, col.values)


# -- what a decision leaves to say --------------------------------------------------------------------


def fallback_note(p: Counts, forced: Kind | None, kind: Kind) -> str:
    """Why a column that looked numeric, or that a hint named, loads as text; "" when it does not.
    A number is never rounded to fit: a column whose numbers need more digits than a decimal holds
    loads as text, exactly as written, and says so."""
    if kind != "text" or p.values == 0 or forced == "text":
        return ""
    numeric = p.numbers == p.values and (p.dotted > 0 or forced in ("integer", "decimal"))
    if numeric and too_wide(p.int_digits, p.scale):
        return (
            f"its numbers need {p.int_digits + p.scale} digits ({p.int_digits} before the point, "
            f"{p.scale} after), more than a decimal holds ({MAX_PRECISION}): loads as text, as written"
        )
    if forced in ("integer", "decimal") and numeric and p.leading_zeros:
        return (
            f"hinted {forced}, but {p.leading_zeros} of its values have a leading zero (as a code's "
            "`007`), which a number would drop: loads as text, as written"
        )
    if forced is not None:
        return f"hinted {forced}, but not every value is one: loads as text, as written"
    return ""


def date_only_note(date_only: int, values: int, timezone: str) -> str:
    """The note of a timestamp column some of whose values are dates without a time."""
    return (
        f"{date_only} of its {values} values are dates without a time: each loads as midnight "
        f"in {timezone} (the instant a date of this report means), the others as written"
    )
