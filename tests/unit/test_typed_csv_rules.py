"""The typing rules on counts alone (no file): deciding a kind, widening, reconciling with the
destination; and how pass 1 folds a chunk's aggregations into a column's counts."""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import pytest

from uniware_source.typed_csv.kinds import KINDS, Kind
from uniware_source.typed_csv.model import ColumnPlan, FilePlan
from uniware_source.typed_csv.profile import ColumnCounts
from uniware_source.typed_csv.rules import classify, unify, wider
from uniware_source.typed_csv.temporal import ALL_FORMATS


def counts(values: int = 10, **kw: int) -> ColumnCounts:
    return ColumnCounts(values=values, **kw)


NUMBERS = {"numbers": 10}


@pytest.mark.parametrize(
    ("p", "label", "hint", "expected"),
    [
        (counts(**NUMBERS), "Qty", "text", ("text", 0, False)),
        (counts(0), "Qty", "integer", ("integer", 0, False)),  # no value: the hint stands
        (counts(0), "Qty", None, ("text", 0, False)),
        (counts(dateish=10), "Created", "timestamp", ("text", 0, True)),  # parsing decides
        (counts(dateish=9), "Created", "date", ("text", 0, False)),
        (counts(dateish=10), "Created", None, ("text", 0, True)),
        (counts(booleans=10, bool_words=3), "Paid", None, ("boolean", 0, False)),
        (counts(booleans=10, **NUMBERS), "Paid", None, ("integer", 0, False)),  # only 1 and 0
        (counts(booleans=10, **NUMBERS), "Paid", "boolean", ("boolean", 0, False)),
        (counts(booleans=9), "Paid", "boolean", ("text", 0, False)),
        (counts(int_digits=6, **NUMBERS), "Order Code", None, ("text", 0, False)),  # an identifier
        (counts(int_digits=6, **NUMBERS), "Order Code", "integer", ("integer", 0, False)),
        (counts(int_digits=6, **NUMBERS), "Invoice Amount", None, ("integer", 0, False)),
        (counts(int_digits=6, leading_zeros=1, **NUMBERS), "Qty", None, ("text", 0, False)),
        (counts(int_digits=16, **NUMBERS), "Qty", None, ("text", 0, False)),
        (counts(int_digits=18, **NUMBERS), "Qty", "integer", ("integer", 0, False)),
        (counts(int_digits=19, **NUMBERS), "Qty", "integer", ("text", 0, False)),
        (counts(int_digits=38, **NUMBERS), "Qty", "decimal", ("decimal", 0, False)),
        (counts(int_digits=5, dotted=2, scale=3, **NUMBERS), "Qty", None, ("decimal", 3, False)),
        (counts(int_digits=5, dotted=2, scale=3, **NUMBERS), "Qty", "integer", ("text", 0, False)),
        (counts(int_digits=36, dotted=2, scale=3, **NUMBERS), "Qty", None, ("text", 0, False)),
        (counts(dotted=2, leading_zeros=1, **NUMBERS), "Qty", None, ("text", 0, False)),
        # a decimal hint fixes a generous scale, the same for every file (HINT_SCALE = 9) ...
        (counts(dotted=2, leading_zeros=1, **NUMBERS), "Qty", "decimal", ("decimal", 9, False)),
        # ... but whole numbers with a leading zero (a code's `007`) make even a hinted column text
        (counts(leading_zeros=1, **NUMBERS), "Sale Order Item Code", "integer", ("text", 0, False)),
        (counts(leading_zeros=1, **NUMBERS), "Qty", "decimal", ("text", 0, False)),
        (counts(int_digits=1, **NUMBERS), "Qty", "decimal", ("decimal", 9, False)),
        # ... more where a value has more places, less where the digits before the point need it
        (counts(int_digits=2, dotted=1, scale=12, **NUMBERS), "Qty", "decimal", ("decimal", 12, False)),
        (counts(int_digits=33, **NUMBERS), "Qty", "decimal", ("decimal", 5, False)),
        (counts(int_digits=33, dotted=1, scale=6, **NUMBERS), "Qty", "decimal", ("text", 0, False)),
        (counts(numbers=9), "Qty", None, ("text", 0, False)),
    ],
)
def test_classify(p: ColumnCounts, label: str, hint: Kind | None, expected: tuple[Any, ...]) -> None:
    assert classify(p, label, hint) == expected


def test_the_wider_of_two_kinds() -> None:
    for a, b in product(KINDS, KINDS):
        assert wider(a, b) == wider(b, a)
        if a == b:
            assert wider(a, b) == a
        elif {a, b} == {"integer", "decimal"}:
            assert wider(a, b) == "decimal"
        elif {a, b} == {"date", "timestamp"}:
            assert wider(a, b) == "timestamp"
        else:
            assert wider(a, b) == "text", (a, b)


def test_a_destination_kind_is_taken_only_where_it_holds_the_values() -> None:
    cases: list[tuple[Kind, int, str | None, Kind]] = [
        ("integer", 1, "decimal", "decimal"),
        ("integer", 1, "text", "text"),
        ("decimal", 1, "bigint", "decimal"),  # the files' decimals would not fit
        ("integer", 1, "bool", "integer"),
        ("date", 1, "timestamp", "timestamp"),
        ("timestamp", 1, "date", "timestamp"),
        ("integer", 1, "double", "integer"),  # no kind of ours
        ("integer", 1, None, "integer"),
        ("text", 0, "bigint", "integer"),  # no value to tell: the destination's kind
        ("text", 0, "double", "text"),
        ("integer", -1, "date", "integer"),  # values not counted are values
    ]
    plan = FilePlan(
        Path("x.csv"),
        tuple(ColumnPlan(f"c{i}", f"c{i}", kind, values=n) for i, (kind, n, _, _) in enumerate(cases)),
        1,
        (),
    )
    existing = {f"c{i}": data_type for i, (_, _, data_type, _) in enumerate(cases)}
    schema = unify([plan], existing)
    assert [c.kind for c in schema.columns] == [kind for *_, kind in cases]


def test_a_chunk_is_folded_into_the_counts_of_a_column() -> None:
    column = ColumnCounts()
    # a column profiled through typed_expr: its null tokens are its values less its typed ones
    column.add(
        {"c0:count": 10, "c0:values": 8, "c0:padded": 2, "c0:scale": 3, "c0:int_digits": None}, "c0", True
    )
    # one that is not: its typed values are its values less its null tokens
    column.add({"c0:count": 5, "c0:null_tokens": 1, "c0:scale": 1, "c1:values": 99}, "c0", False)
    assert (column.values, column.null_tokens, column.padded) == (12, 3, 2)
    assert (column.scale, column.int_digits) == (3, 0)  # maxima, not sums

    shapes = {f"c0:f{i}": 0 for i in range(len(ALL_FORMATS))} | {"c0:f0": 4, "c0:f2": 1}
    column.add_matched({}, "c0", shapes)
    column.add_matched({"c0:known": 6}, "c0", None)
    assert column.formats() == (ALL_FORMATS[0], ALL_FORMATS[2])
    assert column.matched == 11
