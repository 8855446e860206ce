"""The typing decision of a table, told: which type each column got, and on whose word (a user's
column_types, the catalogue's label, the destination's column, or the files' values).

The loader logs it once per table and run (INFO: the `uniware` command shows it with -v), and each
file's notes (a fallback to text, dates in a timestamp column, a repeated label) as warnings: a
note is told once per table and run as a warning naming the job, and the other jobs of the run
whose files have the same note (the same words, other counts) at INFO, then named together in one
warning when the table is done (`FileNotes`). A scheduled run of many windows of one report thus
warns once per column and kind of note, not once per job.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Collection, Mapping, Sequence

from uniware_source.typed_csv.kinds import MAX_PRECISION, Kind
from uniware_source.typed_csv.model import ColumnPlan, FilePlan, TableSchema


def type_label(col: ColumnPlan) -> str:
    """text, integer, decimal(38,9), ...: the column's kind, with a decimal's precision and scale."""
    return f"decimal({MAX_PRECISION},{col.scale})" if col.kind == "decimal" else col.kind


def source_of(col: ColumnPlan, hints: Mapping[str, Kind], overrides: Mapping[str, Kind]) -> str:
    """On whose word the column has its type."""
    keys = (col.label.strip(), col.name)
    if any(k in {o.strip() for o in overrides} for k in keys):
        return "column_types"
    if any(k in {h.strip() for h in hints} for k in keys):
        return "catalogue"
    return "values"


def decision_table(
    table: str,
    schema: TableSchema,
    plans: Sequence[FilePlan],
    hints: Mapping[str, Kind],
    overrides: Mapping[str, Kind],
) -> str:
    """One line per column: name, type, on whose word, and the label in the files;
    a column some file typed otherwise says so (the table holds every file's values)."""
    by_file: dict[str, set[str]] = {}
    for plan in plans:
        for col in plan.columns:
            if col.values != 0:
                by_file.setdefault(col.name, set()).add(type_label(col))
    width = max((len(c.name) for c in schema.columns), default=0)
    lines = [f"table {table}: the type of each column ({len(plans)} file(s))"]
    for col in schema.columns:
        kind = type_label(col)
        others = sorted(by_file.get(col.name, set()) - {kind})
        line = f"  {col.name:<{width}}  {kind:<15} {source_of(col, hints, overrides):<12} {col.label!r}"
        if others:
            line += f"; some files alone gave {', '.join(others)}"
        lines.append(line)
    return "\n".join(lines)


def file_notes(plan: FilePlan) -> list[str]:
    """The notes of a file's columns, one line each: `column 'total' ('Total'): ...`."""
    return [f"{_column(c)}: {c.note}" for c in plan.columns if c.note]


def _column(col: ColumnPlan) -> str:
    """A column as a note names it: `column 'total' ('Total')`."""
    return f"column {col.name!r} ({col.label!r})"


def mistyped_overrides(
    plans: Sequence[FilePlan], overrides: Mapping[str, Kind], elsewhere: Collection[str] = ()
) -> list[str]:
    """The column_types keys that name no column of these files (by label or name) but come close
    to one (a typo: `Narraton`), each with what it may have meant. Not told: a key close to none,
    or one of `elsewhere` (the labels the catalogue knows in any report): a source-wide setting
    names columns of every report it loads, and this table's files need not have them."""
    known = {key for plan in plans for col in plan.columns for key in (col.label.strip(), col.name)}
    others = {label.strip() for label in elsewhere}
    told = []
    for key in sorted(overrides):
        if key.strip() in known or key.strip() in others:
            continue
        close = difflib.get_close_matches(key.strip(), sorted(known), n=1, cutoff=0.8)
        close += [k for k in known if k.lower() == key.strip().lower()][:1]
        if close:
            told.append(
                f"column_types names {key!r}, which no file has; did you mean {close[-1]!r}? "
                "(a key is a column's label in the file, or its name in the table)"
            )
    return told


_COUNTS = re.compile(r"\d+")
JOBS_NAMED = 10  # the most job codes a summary of repeated notes names


class FileNotes:
    """The notes of one table's files in one run, told as the module's docstring says."""

    def __init__(self, table: str, logger: logging.Logger) -> None:
        self.table = table
        self.logger = logger
        self._again: dict[str, tuple[str, list[str]]] = {}  # column and words -> column, later jobs
        self._lock = threading.Lock()  # files are planned on worker threads

    def tell(self, job_code: str, plan: FilePlan) -> None:
        for col in plan.columns:
            if not col.note:
                continue
            words = f"{col.name}\n{_COUNTS.sub('#', col.note)}"  # the column's own, other counts
            with self._lock:
                told = self._again.get(words)
                if told is None:
                    self._again[words] = (_column(col), [])
                else:
                    told[1].append(job_code)
            level = logging.WARNING if told is None else logging.INFO
            self.logger.log(level, "job %s, table %s: %s: %s", job_code, self.table, _column(col), col.note)

    def summarize(self) -> None:
        """One warning per note that more than one job's file had, naming those jobs."""
        with self._lock:
            again, self._again = self._again, {}
        for column, later in again.values():
            if later:
                named = ", ".join(later[:JOBS_NAMED]) + (
                    f" and {len(later) - JOBS_NAMED} more" if len(later) > JOBS_NAMED else ""
                )
                self.logger.warning(
                    "table %s: %s: the same note in %d more job(s) of this run (%s), each at INFO (-v)",
                    self.table,
                    column,
                    len(later),
                    named,
                )
