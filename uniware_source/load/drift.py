"""Type drift across jobs: the decisions, on column plans alone (widening.py asks and changes the
destination).

A table's column has the type the destination gave it when an earlier job loaded. A later file
may hold values that type cannot hold: text in an integer column, more decimal places, times in
a date column. The column then becomes the narrowest type that holds both (`holding` in
typed_csv/rules.py): integer -> decimal -> text, a decimal of the larger scale, date -> timestamp
(each date the instant a file's date loads as: midnight in the report's zone), anything else ->
text. Values already loaded keep their value: the destination casts them (destination.py), and
a file's values are never rounded to fit a column.

Every job whose file needed the change gets a note. So does, for a column new in this run whose
files disagree, a job whose file made the column wider than the run's other files would have.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from uniware_source.jobs import ExportJob
from uniware_source.typed_csv.kinds import KIND_OF_DLT_TYPE, MAX_PRECISION, TYPES
from uniware_source.typed_csv.model import ColumnPlan
from uniware_source.typed_csv.rules import holding

Columns = dict[str, ColumnPlan]  # a table's columns by name, as kind and scale


def destination_column(name: str, column: Mapping[str, Any]) -> ColumnPlan | None:
    """A destination column (dlt column schema) as a ColumnPlan of its kind and scale; None for a
    type no kind of ours has (a double, a narrower integer, an unconstrained decimal)."""
    kind = KIND_OF_DLT_TYPE.get(column.get("data_type") or "")
    if kind == "decimal":
        scale = column.get("scale")
        if column.get("precision") != MAX_PRECISION or scale is None:
            return None
        return ColumnPlan(name, name, "decimal", scale)
    if kind is None or (kind == "integer" and column.get("precision") not in (None, 64)):
        return None
    return ColumnPlan(name, name, kind)


def type_name(col: ColumnPlan) -> str:
    """bigint, decimal(38,2), text, ...: the column's type as dlt names it."""
    if col.kind == "decimal":
        return f"decimal({MAX_PRECISION},{col.scale})"
    return TYPES[col.kind].dlt


def same_type(a: ColumnPlan, b: ColumnPlan) -> bool:
    return (a.kind, a.scale) == (b.kind, b.scale)


def fits(have: ColumnPlan, col: ColumnPlan) -> bool:
    """Whether a column of type `have` holds every value of the file column `col`."""
    return same_type(holding(have, col), have)


def _type_of(col: ColumnPlan) -> ColumnPlan:
    return ColumnPlan(col.name, col.name, col.kind, col.scale, bools=col.bools)


def targets(
    have: Columns, plans: Iterable[Any], *, exact_dates: bool = True, keep_dates: Collection[str] = ()
) -> Columns:
    """Every column's type once it holds the values of all `plans` (FilePlans): the destination's
    columns `have` widened where a file needs it, and the columns new to the destination as the
    files' values need. A destination date column becomes a timestamp only with `exact_dates` (the
    report's zone skips no midnight) and when it is not in `keep_dates`; it becomes text otherwise."""
    out = dict(have)
    for plan in plans:
        for col in plan.columns:
            if col.values == 0:
                continue
            before = out.get(col.name)
            if before is None:
                out[col.name] = _type_of(col)
                continue
            dates = col.name not in have or (exact_dates and col.name not in keep_dates)
            out[col.name] = holding(before, col, dates_to_timestamps=dates)
    return out


def changes(have: Columns, final: Columns) -> dict[str, tuple[ColumnPlan, ColumnPlan]]:
    """The destination columns whose type must change: name -> (now, then)."""
    return {name: (col, final[name]) for name, col in have.items() if not same_type(col, final[name])}


def misfits(have: Columns, names: Collection[str], jobs: Sequence[ExportJob]) -> dict[str, list[str]]:
    """The jobs (by code) whose file has values that the destination columns `names`, as they
    are, cannot hold: the columns of each."""
    out: dict[str, list[str]] = {}
    for job in jobs:
        assert job.plan is not None
        for col in job.plan.columns:
            if col.name in names and not fits(have[col.name], col):
                out.setdefault(job.job_code, []).append(col.name)
    return out


@dataclass(frozen=True)
class Note:
    """A job whose values made a column wider: from `before` to `after`."""

    job: ExportJob
    column: str
    before: ColumnPlan
    after: ColumnPlan
    new_column: bool  # new to the destination: `before` is what the run's other files give

    def text(self, table: str, samples: Sequence[str] = ()) -> str:
        values = f" (values {', '.join(repr(v) for v in samples)})" if samples else ""
        if self.new_column:
            return (
                f"column {self.column} typed {type_name(self.after)} in table {table}, where this "
                f"run's other files give {type_name(self.before)}{values}"
            )
        return (
            f"column {self.column} widened from {type_name(self.before)} to {type_name(self.after)} "
            f"in table {table}{values}"
        )


def notes(have: Columns, final: Columns, jobs: Sequence[ExportJob]) -> list[Note]:
    """Who made which column wider. A destination column: every job with a value its old type
    cannot hold. A new column whose files disagree: every job whose file alone gives the final type."""
    by_job = [(job, _valued_columns(job)) for job in jobs]
    out: list[Note] = []
    for name, after in final.items():
        cols = [(job, columns[name]) for job, columns in by_job if name in columns]
        before = have.get(name)
        if before is None:
            out += _new_column_notes(name, after, cols)
        elif not same_type(before, after):
            out += [Note(job, name, before, after, False) for job, col in cols if not fits(before, col)]
    return out


def _valued_columns(job: ExportJob) -> dict[str, ColumnPlan]:
    """The columns of the job's file that hold a value, by name."""
    return {c.name: c for c in job.plan.columns if c.values != 0} if job.plan else {}


def _new_column_notes(
    name: str, after: ColumnPlan, cols: Sequence[tuple[ExportJob, ColumnPlan]]
) -> list[Note]:
    # a column of 1 and 0 in a boolean one changes nothing: its values are booleans as written
    others = [
        col for _, col in cols if not same_type(col, after) and not (after.kind == "boolean" and col.bools)
    ]
    if not others:
        return []
    base = functools.reduce(holding, others[1:], _type_of(others[0]))
    return [Note(job, name, base, after, True) for job, col in cols if same_type(col, after)]
