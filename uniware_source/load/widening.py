"""Type drift, acted on: before any row of a table is written, the destination's columns are
widened where this run's files need it (load/drift.py decides), dlt's schema is told, and the jobs
whose rows cannot go into the table are set aside for its quarantine table (load/quarantine.py).

The types compared are the destination's real ones, read once per table per run (DuckDB and
PostgreSQL): a run that died after an ALTER and before its load leaves a column whose type dlt's
stored schema does not know yet, and the next run starts from what the destination really has,
and brings dlt's schema in line. Without such a destination, dlt's schema tells the types, and a
file that does not fit them goes to quarantine.

Each ALTER changes the table and its staging table together, in one transaction (on DuckDB,
written into the database file at once: SqlDestination._checkpoint tells why). When the
destination refuses the change (a view depends on the column, an old decimal too large for a
larger scale), the column becomes text if it can; if not, the jobs that needed the change load
into quarantine, and the others into the table as it is.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dlt.common.schema import Schema
from dlt.common.schema.utils import has_table_seen_data

from uniware_source.jobs import ExportJob
from uniware_source.load.destination import SqlDestination, dlt_column, sql_destination
from uniware_source.load.drift import (
    Columns,
    changes,
    destination_column,
    misfits,
    notes,
    same_type,
    targets,
    type_name,
)
from uniware_source.load.drift_samples import drifted_values
from uniware_source.typed_csv.model import ColumnPlan
from uniware_source.typed_csv.temporal import GAPLESS_FROM, GAPLESS_TO, gapless

logger = logging.getLogger(__name__)

NO_SQL = "this destination's column types cannot be changed (only DuckDB's and PostgreSQL's can)"


@dataclass
class Widened:
    """The outcome for one table and run: the columns the files load into, and the jobs whose
    rows go to quarantine instead (by job code)."""

    columns: Columns
    quarantined: set[str] = field(default_factory=set)
    exists: bool | None = None  # whether the destination has the table; None: not asked


def widen_for(
    schema: Schema, table: str, jobs: Sequence[ExportJob], timezone: str, quarantine: str
) -> Widened:
    """Make the destination's `table` hold the values of the files of `jobs` (planned, not yet
    loaded); note every change on the jobs that needed it."""
    if not jobs:  # nothing to load: nothing to ask
        return Widened({})
    with sql_destination() as dest:
        have, exists = _have(schema, table, dest)
        final, done, failed = _widen(dest, table, have, jobs, timezone)
    # as dlt's schema knows the columns: older than the destination's types if a run died after
    # widening a column and before its load, and this run's jobs are those that needed it
    known, _ = _have(schema, table, None)
    _agree(schema, table, {**have, **done})
    refused = misfits(have, failed, jobs)
    loading = [job for job in jobs if job.job_code not in refused]
    columns = targets({**have, **done}, [job.plan for job in loading], exact_dates=gapless(timezone))
    before = {name: known.get(name, col) for name, col in have.items()}
    for note in notes(before, columns, loading):
        assert note.job.plan is not None and note.job.local_file is not None
        samples = drifted_values(note.job.local_file, note.job.plan, note.column, note.before)
        _tell(note.job, note.text(table, samples), warn=not note.new_column)
    for job in jobs:
        if job.job_code in refused:
            _tell(job, _quarantine_text(job, table, quarantine, have, final, failed, refused[job.job_code]))
    return Widened(columns, set(refused), exists)


def _have(schema: Schema, table: str, dest: SqlDestination | None) -> tuple[Columns, bool | None]:
    """The table's columns as the destination has them, in kinds of ours; and whether the
    destination has the table (None: not asked, dlt's schema tells the columns)."""
    source: dict[str, Any] = {}
    if dest is not None:
        source = dict(dest.columns(table))
    elif has_table_seen_data(schema.tables.get(table, {})):
        source = dict(schema.tables[table].get("columns", {}))
    have = {name: col for name, column in source.items() if (col := destination_column(name, column))}
    return have, (bool(source) if dest is not None else None)


def _widen(
    dest: SqlDestination | None, table: str, have: Columns, jobs: Sequence[ExportJob], timezone: str
) -> tuple[Columns, Columns, dict[str, str]]:
    """The types the files need, the columns widened (name -> new type) and the columns that
    could not be (name -> why)."""
    plans = [job.plan for job in jobs]
    exact = gapless(timezone)
    have = _flags_told(dest, table, have, plans)
    valueless = _valueless_text(dest, table, have, plans)
    typed = {name: col for name, col in have.items() if name not in valueless}  # those: as if new
    final = targets(typed, plans, exact_dates=exact)
    wanted = changes(typed, final)
    if dest is not None and (keep := _dates_out_of_span(dest, table, wanted)):
        final = targets(typed, plans, exact_dates=exact, keep_dates=keep)
        wanted = changes(typed, final)
    done: Columns = {}
    failed: dict[str, str] = {}
    for name in valueless:  # (only a destination asked has any)
        assert dest is not None
        if final[name].kind != "text" and _type_valueless(dest, table, name, final[name], timezone):
            done[name] = final[name]
        else:  # still text, which holds every file's values as written
            final[name] = have[name]
    for name, (before, after) in wanted.items():
        if dest is None:
            failed[name] = NO_SQL
            continue
        outcome = _alter(dest, table, name, before, after, timezone)
        if isinstance(outcome, str):
            failed[name] = outcome
        else:
            done[name] = outcome
    return final, done, failed


def _valueless_text(
    dest: SqlDestination | None, table: str, have: Columns, plans: Sequence[Any]
) -> list[str]:
    """The destination's text columns that hold no value yet, where a file of this run gives
    them values of another kind. A column a first file had no value in (no return yet, no e-way
    bill) was created as text, which holds anything: without this, it would stay text for good,
    and its dates, times and amounts load as text from then on, while the same files loaded in
    one run type it. Only a destination whose types can change (DuckDB, PostgreSQL) is asked."""
    if dest is None:
        return []
    kinds = {c.name for plan in plans for c in plan.columns if c.values and c.kind != "text"}
    return [
        name
        for name, col in have.items()
        if col.kind == "text" and name in kinds and not dest.has_values(table, name)
    ]


def _flags_told(dest: SqlDestination | None, table: str, have: Columns, plans: Sequence[Any]) -> Columns:
    """`have`, with its integer columns that hold only 1 and 0 (or no value) marked so
    (ColumnPlan.bools), where a file of this run gives them booleans: such a column then becomes
    boolean (rules._wider_of), as it does when the files load in one run, and not text, whichever
    of the files came first. Only a destination whose types can change is asked."""
    if dest is None:
        return have
    flags = {c.name for plan in plans for c in plan.columns if c.values and c.kind == "boolean"}
    return {
        name: dataclasses.replace(col, bools=True)
        if col.kind == "integer" and name in flags and dest.only_flags(table, name)
        else col
        for name, col in have.items()
    }


def _type_valueless(dest: SqlDestination, table: str, name: str, after: ColumnPlan, timezone: str) -> bool:
    """Give text column `name`, which holds no value, the type `after` of this run's values."""
    before = ColumnPlan(name, name, "text")
    try:
        dest.alter(table, name, before, after, timezone)
    except Exception as exc:
        error = _refusal(exc)
        logger.warning(
            "table %s: column %s stays text: it cannot become %s: %s", table, name, type_name(after), error
        )
        return False
    logger.warning(
        "table %s: column %s had no value yet (text): now %s, as this run's files give it",
        table,
        name,
        type_name(after),
    )
    return True


def _refusal(exc: Exception) -> str:
    """The first line of the destination's refusal of a change of type (its name if it says nothing)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _dates_out_of_span(
    dest: SqlDestination, table: str, wanted: dict[str, tuple[ColumnPlan, ColumnPlan]]
) -> set[str]:
    """Date columns to become timestamps whose dates reach outside the span in which the zone is
    known to skip no midnight: they become text instead."""
    out = set()
    for name, (before, after) in wanted.items():
        if (before.kind, after.kind) == ("date", "timestamp"):
            low, high = dest.date_span(table, name)
            inside = low is None or high is None or GAPLESS_FROM.date() <= low <= high < GAPLESS_TO.date()
            if not inside:
                out.add(name)
    return out


def _alter(
    dest: SqlDestination, table: str, name: str, before: ColumnPlan, after: ColumnPlan, timezone: str
) -> ColumnPlan | str:
    """Widen `name` to `after` or, if the destination refuses that, to text; the type it got, or
    why it got none."""
    error = ""
    for target in (after,) if after.kind == "text" else (after, ColumnPlan(name, name, "text")):
        try:
            dest.alter(table, name, before, target, timezone)
        except Exception as exc:
            error = _refusal(exc)
            logger.warning("table %s: column %s cannot become %s: %s", table, name, type_name(target), error)
            continue
        widened = (type_name(before), type_name(target))
        logger.warning("table %s: column %s widened from %s to %s", table, name, *widened)
        return target
    return f"the destination refused the change ({error})"


def _agree(schema: Schema, table: str, columns: Columns) -> None:
    """dlt's schema of `table` told the types the destination has (after the ALTERs), so that the
    files' Arrow types agree with it and no variant column is ever made. A column whose type
    already agrees is not touched (the schema's version stays)."""
    known = schema.tables.get(table, {}).get("columns", {})
    for name, col in columns.items():
        column: Any = known.get(name)
        if column is None:
            continue
        current = destination_column(name, column)
        if current is not None and same_type(current, col):
            continue
        for hint in ("data_type", "precision", "scale", "timezone"):
            column.pop(hint, None)
        column.update(dlt_column(col))
        logger.info("table %s: dlt's schema now has column %s as %s", table, name, type_name(col))


def _quarantine_text(
    job: ExportJob,
    table: str,
    quarantine: str,
    have: Columns,
    final: Columns,
    failed: dict[str, str],
    columns: list[str],
) -> str:
    assert job.plan is not None and job.local_file is not None
    why = []
    for name in columns:
        samples = drifted_values(job.local_file, job.plan, name, have[name])
        values = f"values such as {', '.join(repr(v) for v in samples)}" if samples else "this file's values"
        why.append(
            f"column {name} is {type_name(have[name])} there, {values} need {type_name(final[name])}, "
            f"and {failed[name]}"
        )
    return f"rows loaded into table {quarantine} as text, not into {table}: {'; '.join(why)}"


def _tell(job: ExportJob, text: str, *, warn: bool = True) -> None:
    logger.log(logging.WARNING if warn else logging.INFO, "job %s: %s", job.job_code, text)
    job.message = f"{job.message}; {text}" if job.message else text
