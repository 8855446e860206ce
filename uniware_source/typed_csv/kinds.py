"""The kinds a CSV column can load as, in one table: for each kind, the dlt data_type of a
destination column of that kind, and the type of its values in Arrow and in polars.

Importing this module loads neither polars nor pyarrow: settings name kinds (type hints of
columns) and are validated before any file is read, so the types are only built when asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

Kind = Literal["text", "integer", "decimal", "boolean", "date", "timestamp"]
KINDS: tuple[Kind, ...] = get_args(Kind)

MAX_PRECISION = 38  # digits of a decimal, its scale included: the widest decimal128


@dataclass(frozen=True)
class KindTypes:
    dlt: str  # the data_type dlt gives a column of this kind
    # the type of a column of this kind (with this scale, for decimals), from the pyarrow module ...
    arrow: Callable[[ModuleType, int], Any]
    # ... and from the polars module: passed in, so that neither is imported before it is needed
    polars: Callable[[ModuleType, int], Any]


TYPES: dict[Kind, KindTypes] = {
    "text": KindTypes("text", lambda pa, _: pa.string(), lambda pl, _: pl.String()),
    "integer": KindTypes("bigint", lambda pa, _: pa.int64(), lambda pl, _: pl.Int64()),
    "decimal": KindTypes(
        "decimal",
        lambda pa, scale: pa.decimal128(MAX_PRECISION, scale),
        lambda pl, scale: pl.Decimal(MAX_PRECISION, scale),
    ),
    "boolean": KindTypes("bool", lambda pa, _: pa.bool_(), lambda pl, _: pl.Boolean()),
    "date": KindTypes("date", lambda pa, _: pa.date32(), lambda pl, _: pl.Date()),
    "timestamp": KindTypes(
        "timestamp", lambda pa, _: pa.timestamp("us", tz="UTC"), lambda pl, _: pl.Datetime("us", "UTC")
    ),
}

# the kind of a column the destination already has, by its dlt data_type (others have no kind)
KIND_OF_DLT_TYPE: dict[str, Kind] = {types.dlt: kind for kind, types in TYPES.items()}


def arrow_type(kind: Kind, scale: int = 0) -> pa.DataType:
    import pyarrow

    return TYPES[kind].arrow(pyarrow, scale)


def polars_type(kind: Kind, scale: int = 0) -> pl.DataType:
    import polars

    return TYPES[kind].polars(polars, scale)
