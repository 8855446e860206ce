"""Export specs: what `[[sources.uniware.exports]]` asks for, checked, with catalogue defaults.

[[sources.uniware.exports]]
report = "Sale Orders"            # exportJobTypeName: any name the tenant has
columns = ["soicode", "..."]      # exportColums keys; the catalogue gives defaults for known reports
date_filter = "updatedOn"         # filter id that windows use; "" for a snapshot report
start_date = "2024-04-01"         # the first run starts here (a local date)
window_days = 1                   # one job per window and facility
lookback_hours = 6                # each run re-reads this much before its cursor
facilities = ["WH-BLR", "WH-DEL"] # or "all": the tenant's enabled facilities
filters = []                      # extra exportFilters, passed through as given
table_name = "sale_orders"        # optional
primary_key = "Sale Order Item Code"  # optional; the catalogue knows it for known reports
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from uniware_source.api.errors import ConfigurationError
from uniware_source.reports import ReportSpec, default_table_name, report_spec

if TYPE_CHECKING:
    from uniware_source.typed_csv.rules import Kind

_KNOWN_KEYS = {
    "report",
    "columns",
    "date_filter",
    "start_date",
    "window_days",
    "lookback_hours",
    "facilities",
    "filters",
    "table_name",
    "primary_key",
    "min_window_hours",
    "max_attempts",
    "type_hints",
}


@dataclass(frozen=True)
class ExportSpec:
    report: ReportSpec  # name, key, hints (catalogue merged with the user's settings)
    columns: tuple[str, ...]
    date_filter: str | None  # None: a snapshot report
    start_date: date | None
    window: timedelta
    lookback: timedelta
    facilities: tuple[str, ...] | None  # None: every enabled facility of the tenant
    filters: tuple[Mapping[str, Any], ...] = ()
    table_name: str = ""
    min_window: timedelta = timedelta(hours=1)
    max_attempts: int = 3

    @property
    def key(self) -> str:
        """The identity of this export in the state: its report and table."""
        return f"{self.report.name}|{self.table_name}"

    @property
    def is_snapshot(self) -> bool:
        return self.date_filter is None

    def filters_for(self, date_range: Mapping[str, int] | None) -> list[Mapping[str, Any]]:
        filters = list(self.filters)
        if date_range is not None and self.date_filter:
            filters.append({"id": self.date_filter, "dateRange": dict(date_range)})
        return filters


def parse_exports(raw: Sequence[Any], *, default_facility: str | None) -> list[ExportSpec]:
    """Check `[[sources.uniware.exports]]` entries and fill in the catalogue's defaults."""
    if isinstance(raw, Mapping):
        raw = [raw]
    specs = []
    for index, entry in enumerate(raw):
        where = f"sources.uniware.exports[{index}]"
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{where} must be a table of settings, got {type(entry).__name__}")
        specs.append(_parse_one(dict(entry), where, default_facility))
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        name = default_table_name(spec.table_name)  # as dlt names the table
        if name in seen:
            raise ConfigurationError(
                f"sources.uniware.exports[{index}] loads into table {name!r} like "
                f"exports[{seen[name]}]: give one of them another table_name"
            )
        seen[name] = index
    return specs


def _parse_one(entry: dict[str, Any], where: str, default_facility: str | None) -> ExportSpec:
    unknown = sorted(set(entry) - _KNOWN_KEYS)
    if unknown:
        raise ConfigurationError(f"{where} has unknown setting(s) {', '.join(unknown)}")
    name = str(entry.get("report") or "").strip()
    if not name:
        raise ConfigurationError(
            f"{where}.report is missing: the report's name in Uniware, e.g. 'Sale Orders'"
        )
    catalogue = report_spec(name)

    columns = entry.get("columns") or catalogue.default_columns
    if not isinstance(columns, list | tuple) or not all(isinstance(c, str) and c.strip() for c in columns):
        raise ConfigurationError(f"{where}.columns must be a list of export column keys")
    if not columns:
        raise ConfigurationError(
            f"{where}.columns is needed: the catalogue has no default columns for {name!r} "
            "(Uniware refuses an export with no exportColums)"
        )

    date_filter = entry.get("date_filter", catalogue.date_filter)
    date_filter = str(date_filter).strip() or None if date_filter is not None else None
    start_date = _date(entry.get("start_date"), f"{where}.start_date")
    if date_filter and start_date is None:
        raise ConfigurationError(f"{where}.start_date is needed for a dated report (e.g. '2024-04-01')")
    if start_date is not None and not date_filter:
        raise ConfigurationError(
            f"{where} has a start_date but no date_filter: name the filter id its windows use "
            f"(e.g. 'updatedOn'), or drop start_date to load {name!r} as a snapshot"
        )

    key = entry.get("primary_key", list(catalogue.key))
    if isinstance(key, str):
        key = [key]
    if not isinstance(key, list | tuple) or not all(isinstance(k, str) and k for k in key):
        raise ConfigurationError(f"{where}.primary_key must be a column label or a list of them")
    hints: dict[str, Kind] = dict(catalogue.hints)
    type_hints = entry.get("type_hints") or {}
    if not isinstance(type_hints, Mapping):
        raise ConfigurationError(f"{where}.type_hints must be a table of label = type")
    for label, kind in type_hints.items():
        if kind not in ("text", "integer", "decimal", "boolean", "date", "timestamp"):
            raise ConfigurationError(f"{where}.type_hints[{label!r}] = {kind!r} is not a known type")
        hints[label] = kind
    spec = ReportSpec(name, key=tuple(str(k) for k in key or ()), hints=hints, date_filter=date_filter)

    facilities = entry.get("facilities")
    if facilities is None:
        facilities = [default_facility] if default_facility else "all"
    if isinstance(facilities, str):
        facilities = None if facilities.strip().lower() == "all" else [facilities]
    if facilities is not None and (not facilities or not all(isinstance(f, str) and f for f in facilities)):
        raise ConfigurationError(f'{where}.facilities must be a list of facility codes, or "all"')

    filters = entry.get("filters") or []
    if not isinstance(filters, list) or not all(isinstance(f, Mapping) for f in filters):
        raise ConfigurationError(f"{where}.filters must be a list of exportFilters objects")

    window_days = _positive(entry.get("window_days", 1), f"{where}.window_days")
    lookback_hours = _positive(entry.get("lookback_hours", 6), f"{where}.lookback_hours", allow_zero=True)
    min_window_hours = _positive(entry.get("min_window_hours", 1), f"{where}.min_window_hours")
    max_attempts = _positive(entry.get("max_attempts", 3), f"{where}.max_attempts")
    if max_attempts != int(max_attempts):
        raise ConfigurationError(f"{where}.max_attempts must be a whole number, got {max_attempts!r}")
    return ExportSpec(
        report=spec,
        columns=tuple(columns),
        date_filter=date_filter,
        start_date=start_date,
        window=timedelta(days=window_days),
        lookback=timedelta(hours=lookback_hours),
        facilities=tuple(facilities) if facilities is not None else None,
        filters=tuple(filters),
        table_name=str(entry.get("table_name") or catalogue.table_name),
        min_window=timedelta(hours=min_window_hours),
        max_attempts=int(max_attempts),
    )


def _date(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(f"{where} must be a date like 2024-04-01, got {value!r}") from None


def _positive(value: Any, where: str, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise ConfigurationError(f"{where} must be a number, got {value!r}")
    if number < 0 or (number == 0 and not allow_zero):
        raise ConfigurationError(f"{where} must be {'zero or ' if allow_zero else ''}positive, got {value!r}")
    return number
