"""Our column kinds against dlt's type mapping of each destination, without credentials: every
kind of typed_csv/kinds.py (decimals at every scale the typing can give) goes through the columns
dlt derives from its Arrow type, the connector's own fitting (load/destination.py: fit_columns)
and the destination's dlt type mapper; the type that comes out must hold the values exactly, as
that destination documents its types. Nothing is hard-coded about our kinds: a change of a
kind's Arrow type or of MAX_PRECISION is checked as it is."""

from __future__ import annotations

import re
from typing import Any

import dlt
import pyarrow as pa
import pytest
from dlt.common.libs.pyarrow import py_arrow_to_table_schema_columns

from uniware_source.load.destination import fit_columns
from uniware_source.typed_csv.kinds import KINDS, MAX_PRECISION, arrow_type

DESTINATIONS = ("bigquery", "snowflake", "databricks", "clickhouse", "motherduck", "duckdb", "postgres")

# the destinations' own words for each kind (what their documentation calls the type)
# (compared in capitals: PostgreSQL's mapper writes varchar, ClickHouse's String)
TEXT = {"STRING", "VARCHAR"}
BIGINT = {"INT64", "BIGINT", "NUMBER(19,0)"}
BOOLEAN = {"BOOL", "BOOLEAN"}
DATE = {"DATE"}  # ClickHouse's Date holds 1970-01-01 to 2149-06-06 only: see the README
# an instant, not a wall-clock time: the type keeps (or converts to) UTC
TIMESTAMP = {
    "bigquery": {"TIMESTAMP"},
    "snowflake": {"TIMESTAMP_LTZ(6)", "TIMESTAMP_TZ(6)"},
    "databricks": {"TIMESTAMP"},  # Databricks' TIMESTAMP is the instant; TIMESTAMP_NTZ is not
    "clickhouse": {"DATETIME64(6,'UTC')"},
    "motherduck": {"TIMESTAMP WITH TIME ZONE"},
    "duckdb": {"TIMESTAMP WITH TIME ZONE"},
    "postgres": {"TIMESTAMP (6) WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE"},
}


def _decimal_holds(destination: str, sql_type: str, scale: int) -> bool:
    """Whether `sql_type` is a decimal type `destination` accepts, of exactly `scale` places, and
    with room for at least 29 digits before the point (BigQuery's NUMERIC has 29 at most)."""
    match = re.fullmatch(r"(\w+)\((\d+),\s*(\d+)\)", sql_type)
    if match is None:
        return False
    name, p, s = match[1].upper(), int(match[2]), int(match[3])
    if s != scale or p - s < min(29, MAX_PRECISION - scale):
        return False
    limits = {  # (type name, most precision, most scale), as each destination documents them
        "snowflake": ("NUMBER", 38, 37),
        "databricks": ("DECIMAL", 38, 38),
        "clickhouse": ("DECIMAL", 76, 76),
        "motherduck": ("DECIMAL", 38, 38),
        "duckdb": ("DECIMAL", 38, 38),
        "postgres": ("NUMERIC", 1000, 1000),
    }
    if destination == "bigquery":
        if name == "NUMERIC":
            return s <= 9 and 1 <= p - s <= 29
        return name == "BIGNUMERIC" and s <= 38 and 1 <= p - s <= 38
    type_name, most_p, most_s = limits[destination]
    return name == type_name and p <= most_p and s <= min(p, most_s)


def _destination_type(destination: str, kind: Any, scale: int = 0) -> str:
    factory = getattr(dlt.destinations, destination)()
    mapper = factory.capabilities().get_type_mapper()
    schema = pa.schema([("c", arrow_type(kind, scale))])
    columns = fit_columns(py_arrow_to_table_schema_columns(schema), factory.destination_type)
    return str(mapper.to_destination_type(columns["c"], {"name": "t", "columns": columns}))


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_every_kind_but_decimal_maps_to_its_own_type(destination: str) -> None:
    expected = {
        "text": TEXT,
        "integer": BIGINT,
        "boolean": BOOLEAN,
        "date": DATE,
        "timestamp": TIMESTAMP[destination],
    }
    assert set(KINDS) == {*expected, "decimal"}, "a new kind: say what each destination makes of it"
    for kind, names in expected.items():
        assert _destination_type(destination, kind).upper() in names, kind


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_decimals_keep_their_scale_or_the_destination_refuses_them(destination: str) -> None:
    """Every scale the typing can give (0 to MAX_PRECISION): the column's type has exactly that
    scale. Where no type of the destination can hold it, dlt's mapping gives one the destination
    refuses (its load fails, loudly); the README lists those scales, checked here."""
    unsupported = {"snowflake": {38}}.get(destination, set())  # Snowflake's NUMBER: scale <= 37
    held = set()
    for scale in range(MAX_PRECISION + 1):
        sql_type = _destination_type(destination, "decimal", scale)
        if _decimal_holds(destination, sql_type, scale):
            held.add(scale)
        else:  # never a type of fewer places: a narrowed scale would round values silently
            assert f",{scale})" in sql_type.replace(" ", ""), (scale, sql_type)
    assert held == set(range(MAX_PRECISION + 1)) - unsupported


def test_bigquery_gets_numeric_it_accepts_for_money() -> None:
    """dlt alone maps decimal(38, 2) to NUMERIC(38,2), which BigQuery refuses (at most 29 digits
    before the point); fitted, it is NUMERIC(31,2): two places kept, 29 digits before them. A
    decimal of 38 places needs a digit before the point too."""
    assert _destination_type("bigquery", "decimal", 2) == "NUMERIC(31,2)"
    assert _destination_type("bigquery", "decimal", 12) == "BIGNUMERIC(38,12)"
    assert _destination_type("bigquery", "decimal", 0) == "BIGNUMERIC(38,0)"
    assert _destination_type("bigquery", "decimal", 38) == "BIGNUMERIC(39,38)"  # dlt: (38,38)
