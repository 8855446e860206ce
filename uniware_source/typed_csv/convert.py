"""Pass 2: a file's raw strings cast to the types of its table's schema, batch by batch; every
batch is a `pyarrow.Table` with exactly the table's schema."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa

from uniware_source.api.errors import CsvFormatError
from uniware_source.typed_csv.expressions import TRUE_SERIES, text_expr, typed_expr
from uniware_source.typed_csv.frames import filtered, frames
from uniware_source.typed_csv.kinds import polars_type
from uniware_source.typed_csv.model import ColumnPlan, FilePlan, TableSchema
from uniware_source.typed_csv.temporal import temporal_expr


def read_batches(
    path: Path,
    plan: FilePlan,
    schema: TableSchema,
    *,
    timezone: str = "Asia/Kolkata",
    batch_size: int = 100_000,
    constants: Mapping[str, str] | None = None,
    views: bool = False,
) -> Iterator[pa.Table]:
    """Pass 2: typed batches of at most `batch_size` rows, each with exactly
    `schema.arrow_schema(list(constants), views=views)`. Schema columns this file lacks are
    all-null. Text as `string_view` (`views`) is polars' own layout, handed over without a copy."""
    constants = dict(constants or {})
    target = schema.arrow_schema(list(constants), views=views)
    # for plain strings, the oldest layout (offsets) is the cheapest to cast to `target`
    layout = pl.CompatLevel.newest() if views else pl.CompatLevel.oldest()
    if plan.rows == 0 or not plan.columns:
        return
    exprs = table_exprs(plan.columns, schema, constants, timezone)
    path = Path(path)
    width = len(plan.columns)
    for offset, df, _ in frames(path, width):
        df = filtered(df, offset, width, plan.skip_records, plan.drop_empty_records)
        if not df.height:
            continue
        try:
            typed = df.lazy().select(exprs).collect()
        except pl.exceptions.PolarsError as exc:
            message = f"{path}: could not convert the file with its plan: {exc}".splitlines()[0]
            raise CsvFormatError(message) from exc
        for start in range(0, typed.height, batch_size):
            yield typed.slice(start, batch_size).to_arrow(compat_level=layout).cast(target)


def table_exprs(
    columns: Sequence[ColumnPlan],
    schema: TableSchema,
    constants: Mapping[str, str],
    timezone: str,
    in_span: Collection[str] = (),
) -> list[pl.Expr]:
    """The table's columns from the raw columns c0..cN of a file whose columns are `columns`, in
    the schema's order; then the constants. `in_span`: the raw columns whose date-like values
    all lie in GAPLESS_FROM..GAPLESS_TO (see temporal._naive_local), as pass 1 found them."""
    by_name = {c.name: (f"c{i}", c) for i, c in enumerate(columns)}
    exprs: list[pl.Expr] = []
    for col in schema.columns:
        if col.name in by_name:
            raw, source = by_name[col.name]
            exprs.append(convert_expr(raw, source, col, timezone, raw in in_span).alias(col.name))
        else:
            exprs.append(pl.lit(None, dtype=polars_type(col.kind, col.scale)).alias(col.name))
    return exprs + [pl.lit(value, dtype=pl.String).alias(name) for name, value in constants.items()]


def convert_expr(
    col: str, source: ColumnPlan, target: ColumnPlan, timezone: str, in_span: bool = False
) -> pl.Expr:
    """Raw String column `col` of a file typed as `source` -> the value of the table column
    `target`; `in_span`: see table_exprs."""
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
        return value.is_in(TRUE_SERIES)  # null stays null; replace_strict made polars buffer the file
    return temporal_expr(value, source.formats, target.kind, timezone, in_span)
