"""The values that drifted: a few of a file's values that a column's old type cannot hold, for
the note that tells of the change (load/drift.py). Read only for a column that changed."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from uniware_source.typed_csv.expressions import FALSE_TOKENS, TRUE_TOKENS, typed_expr
from uniware_source.typed_csv.frames import filtered, frames
from uniware_source.typed_csv.model import ColumnPlan, FilePlan
from uniware_source.typed_csv.temporal import ALL_FORMATS, DATE_FORMATS, FORMAT_REGEXES

logger = logging.getLogger(__name__)

MAX_SAMPLES = 3
MAX_CHARS = 40  # of a value shown in a note


def drifted_values(path: Path, plan: FilePlan, column: str, have: ColumnPlan) -> list[str]:
    """Up to MAX_SAMPLES distinct values of `column` in the file, in file order, that a column
    of type `have` cannot hold (by their shape: a whole number, at most `scale` decimals, a
    boolean word, a date, a date and time). Best effort: none if the file cannot be read."""
    index = next((i for i, c in enumerate(plan.columns) if c.name == column), None)
    if index is None:
        return []
    try:
        return _read(path, plan, index, have)
    except Exception as exc:  # only a note's detail
        logger.debug("%s: no sample values of %s (%r)", path, column, exc)
        return []


def _read(path: Path, plan: FilePlan, index: int, have: ColumnPlan) -> list[str]:
    found: list[str] = []
    width = len(plan.columns)
    value = typed_expr(f"c{index}", plan.columns[index].guarded).alias("v")
    held = _held(pl.col("v"), have)
    for offset, df, _ in frames(path, width):
        df = filtered(df, offset, width, plan.skip_records, plan.drop_empty_records)
        values = df.select(value).filter(pl.col("v").is_not_null() & ~held)
        for v in values.unique(maintain_order=True).head(MAX_SAMPLES)["v"]:
            if v not in found:
                found.append(v)
        if len(found) >= MAX_SAMPLES:
            break
    return [v if len(v) <= MAX_CHARS else v[:MAX_CHARS] + "..." for v in found[:MAX_SAMPLES]]


def _held(v: pl.Expr, have: ColumnPlan) -> pl.Expr:
    if have.kind == "integer":
        return v.str.contains(r"^-?[0-9]+$")  # ASCII digits, no plus sign: what a number column takes
    if have.kind == "decimal":
        return v.str.contains(rf"^-?[0-9]+(?:\.[0-9]{{0,{have.scale}}})?$")
    if have.kind == "boolean":
        return v.str.to_lowercase().is_in(pl.Series(TRUE_TOKENS + FALSE_TOKENS).implode())
    if have.kind in ("date", "timestamp"):
        formats = DATE_FORMATS if have.kind == "date" else ALL_FORMATS
        return v.str.contains("|".join(f"(?:{FORMAT_REGEXES[f]})" for f in formats))
    return pl.lit(True)
