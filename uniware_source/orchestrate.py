"""The scheduled exports cut into units that an orchestrator can run apart, on several workers.

A unit is one export for one facility, each run by a pipeline of its own (its own name, so its
own dlt state: cursors, window sizes, loaded jobs). Two units never share an (export, facility),
so they never plan, create or re-attach to the same window's job, and their rows of the job
ledger (one table of the dataset, read and written row by row) never overlap. Two kinds of
export stay whole, one unit for all their facilities:

- a snapshot (no date filter) replaces its whole table: a unit per facility would replace the
  other facilities' rows with its own;
- `facilities = "all"`: the tenant's facilities are listed at run time, not when the schedule is
  built (list them to get a unit each).

`missing_jobs` is the rule the `uniware` command's exit code 1 follows, for a unit: the jobs of
its runs since a given time that ended without their data and that no later attempt made good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_source.api.errors import ConfigurationError, UniwareError
from uniware_source.incremental.specs import parse_exports
from uniware_source.load.audit import AUDIT_TABLE

if TYPE_CHECKING:
    import dlt

_NAMING = NamingConvention()


class MissingData(UniwareError):
    """A unit's run ended, but some of its jobs did not load (they are tried again next run)."""


@dataclass(frozen=True)
class ExportUnit:
    """One export (its `[[sources.uniware.exports]]` entry, narrowed) for one facility or all."""

    index: int  # the entry's position in [[sources.uniware.exports]]
    entry: Mapping[str, Any]  # the entry as configured, with `facilities` narrowed to this unit's
    report: str
    table_name: str
    facilities: tuple[str, ...] | None  # None: every enabled facility of the tenant, at run time

    def pipeline_name(self, prefix: str) -> str:
        """`<prefix>_<table>_<facility>` in snake_case (`uniware_sale_orders_wh_blr`): the dlt
        pipeline, and the orchestrator's task."""
        scope = self.facilities[0] if self.facilities and len(self.facilities) == 1 else "all"
        return _NAMING.normalize_identifier(f"{prefix}_{self.table_name}_{scope}")


def split_exports(
    raw: Sequence[Mapping[str, Any]] | Mapping[str, Any], *, default_facility: str | None = None
) -> list[ExportUnit]:
    """The units of `[[sources.uniware.exports]]`: a dated export with listed facilities gives one
    unit per facility; a snapshot, or facilities = "all", one unit. Entries are checked as a run
    checks them (a wrong setting fails here, naming it)."""
    entries = [raw] if isinstance(raw, Mapping) else list(raw)
    specs = parse_exports(entries, default_facility=default_facility)
    units: list[ExportUnit] = []
    for index, (entry, spec) in enumerate(zip(entries, specs, strict=True)):
        groups: list[tuple[str, ...] | None]
        if spec.facilities is None or spec.is_snapshot:
            groups = [spec.facilities]
        else:
            groups = [(facility,) for facility in dict.fromkeys(spec.facilities)]
        for group in groups:
            narrowed = dict(entry, facilities=list(group) if group is not None else "all")
            units.append(ExportUnit(index, narrowed, spec.report.name, spec.table_name, group))
    return units


def unit_names(units: Sequence[ExportUnit], prefix: str) -> list[str]:
    """Each unit's pipeline name; two units whose names would be the same are an error (facility
    codes that differ only in case or punctuation, say), naming both."""
    seen: dict[str, ExportUnit] = {}
    for unit in units:
        name = unit.pipeline_name(prefix)
        if name in seen:
            first = seen[name]
            raise ConfigurationError(
                f"sources.uniware.exports[{unit.index}] for {_scope(unit)} and exports[{first.index}] "
                f"for {_scope(first)} would both run as pipeline {name!r}: table names and facility "
                "codes that differ only in case or punctuation cannot be told apart there"
            )
        seen[name] = unit
    return list(seen)


def _scope(unit: ExportUnit) -> str:
    return ", ".join(unit.facilities) if unit.facilities else "all facilities"


def missing_jobs(pipeline: dlt.Pipeline, unit: ExportUnit, since: datetime) -> list[str]:
    """The unit's jobs, in runs started at `since` or later, that ended without their data and
    were not superseded by a later attempt in their run (a retry, a split): one line each."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    query = (
        "SELECT job_code, facility, window_start, status, message FROM {table} "
        "WHERE run_started_at >= %s AND table_name = %s AND status NOT IN ('LOADED', 'SKIPPED') "
        "AND NOT coalesce(superseded, false) ORDER BY facility, window_start"
    )
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(AUDIT_TABLE)
        try:
            found = client.execute_sql(query.format(table=table), since, unit.table_name) or []
        except DatabaseUndefinedRelation:  # no job ever ended in this dataset
            found = []
    lines = []
    for job_code, facility, window_start, status, message in found:
        if unit.facilities is not None and facility not in unit.facilities:
            continue
        window = f" {window_start:%Y-%m-%d %H:%M}Z" if window_start else ""
        lines.append(
            f"{job_code or '(not created)'} {unit.report} / {facility}{window}: {status} {message or ''}"
        )
    return lines
