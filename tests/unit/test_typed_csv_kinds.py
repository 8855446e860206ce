"""The table of kinds: every kind has its types, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pyarrow as pa

from uniware_source.typed_csv.kinds import KIND_OF_DLT_TYPE, KINDS, TYPES, arrow_type, polars_type


def test_every_kind_has_one_row_and_its_dlt_type_leads_back_to_it() -> None:
    assert set(TYPES) == set(KINDS)
    assert {KIND_OF_DLT_TYPE[TYPES[kind].dlt] for kind in KINDS} == set(KINDS)
    assert KIND_OF_DLT_TYPE == {
        "text": "text",
        "bigint": "integer",
        "decimal": "decimal",
        "bool": "boolean",
        "date": "date",
        "timestamp": "timestamp",
    }


def test_a_kinds_polars_values_are_its_arrow_type() -> None:
    """Pass 2 hands polars' columns to Arrow and casts them to the table's schema: the two types
    of a kind must be one type (text aside: polars' large strings become strings)."""
    assert arrow_type("decimal", 3) == pa.decimal128(38, 3)
    assert polars_type("decimal", 3) == pl.Decimal(38, 3)
    for kind in KINDS:
        as_arrow = pl.Series([], dtype=polars_type(kind, 2)).to_arrow().type
        expected = pa.large_string() if kind == "text" else arrow_type(kind, 2)
        assert as_arrow == expected, kind
    assert arrow_type("text") == pa.string()


def test_kinds_and_the_package_load_without_polars_or_pyarrow() -> None:
    code = (
        "import sys, uniware_source, uniware_source.typed_csv, uniware_source.typed_csv.kinds\n"
        "print(sorted(m for m in ('polars', 'pyarrow', 'duckdb') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
