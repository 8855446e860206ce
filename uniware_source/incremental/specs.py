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
column_types = { "Narration" = "text" }  # optional; a column's type, over the catalogue and the data

The shape of an entry (its keys and their types) is `ExportSettings`, checked by dlt's own
`validate_dict`; what the shape cannot say (a start date needs a date filter, sizes are positive)
is checked here, in `_spec`. Every error names the entry and the setting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Dict, List, Union, cast  # noqa: UP035 - validate_dict reads these annotations

from dlt.common.exceptions import DictValidationException
from dlt.common.validation import validate_dict
from typing_extensions import TypedDict

from uniware_source.api.errors import ConfigurationError
from uniware_source.reports import ReportSpec, check_table_name, default_table_name, report_spec
from uniware_source.typed_csv.kinds import KINDS, Kind

_Number = Union[int, float]  # noqa: UP007


class ExportSettings(TypedDict, total=False):
    """One `[[sources.uniware.exports]]` entry as written: every key it may have, and its type."""

    report: str
    columns: List[str]  # noqa: UP006
    date_filter: str
    start_date: Union[str, date]  # noqa: UP007 - TOML has dates of its own
    window_days: _Number
    lookback_hours: _Number
    facilities: Union[str, List[str]]  # noqa: UP006, UP007
    filters: List[Dict[str, Any]]  # noqa: UP006
    table_name: str
    primary_key: Union[str, List[str]]  # noqa: UP006, UP007
    min_window_hours: _Number
    max_attempts: int
    column_types: Dict[str, str]  # noqa: UP006 - CSV label (or column name) -> kind, over the catalogue
    type_hints: Dict[str, str]  # noqa: UP006 - the older name of column_types, still read


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


def parse_exports(
    raw: Sequence[Any] | Mapping[str, Any],
    *,
    default_facility: str | None,
    column_types: Mapping[str, Kind] | None = None,
) -> list[ExportSpec]:
    """Check `[[sources.uniware.exports]]` entries and fill in the catalogue's defaults;
    `column_types` (the source-wide setting) applies under each entry's own."""
    entries = [raw] if isinstance(raw, Mapping) else list(raw)
    specs = []
    for index, entry in enumerate(entries):
        where = f"sources.uniware.exports[{index}]"
        _check_shape(entry, where)
        specs.append(_spec(dict(entry), where, default_facility, column_types or {}))
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        name = default_table_name(spec.table_name)  # as dlt names the table
        check_table_name(spec.table_name, f"sources.uniware.exports[{index}] ({spec.report.name})")
        if name in seen:
            raise ConfigurationError(
                f"sources.uniware.exports[{index}] loads into table {name!r} like "
                f"exports[{seen[name]}]: give one of them another table_name"
            )
        seen[name] = index
    return specs


def _check_shape(entry: Any, where: str) -> None:
    """The entry's keys and value types, by `ExportSettings`."""
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{where} must be a table of settings, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(ExportSettings.__annotations__))
    if unknown:
        known = ", ".join(ExportSettings.__annotations__)
        raise ConfigurationError(f"{where} has unknown setting(s) {', '.join(unknown)} (known: {known})")
    try:
        validate_dict(ExportSettings, dict(entry), path=where)
    except DictValidationException as exc:
        field = f"{where}.{exc.field}" if exc.field else where
        raise ConfigurationError(f"{field}: {' '.join(exc.msg.split())}") from None
    for name in ("window_days", "lookback_hours", "min_window_hours", "max_attempts"):
        if isinstance(entry.get(name), bool):  # a bool is an int to Python, never to a user
            raise ConfigurationError(f"{where}.{name} must be a number, got {entry[name]!r}")


def _spec(
    entry: dict[str, Any], where: str, default_facility: str | None, source_types: Mapping[str, Kind]
) -> ExportSpec:
    name = str(entry.get("report") or "").strip()
    if not name:
        raise ConfigurationError(
            f"{where}.report is missing: the report's name in Uniware, e.g. 'Sale Orders'"
        )
    catalogue = report_spec(name)
    columns = entry.get("columns") or catalogue.default_columns
    if not columns:
        raise ConfigurationError(
            f"{where}.columns is needed: the catalogue has no default columns for {name!r} "
            "(Uniware refuses an export with no exportColums)"
        )
    if not all(column.strip() for column in columns):
        raise ConfigurationError(f"{where}.columns must be a list of export column keys")
    date_filter, start_date = _dates(entry, where, catalogue)
    max_attempts = _positive(entry.get("max_attempts", 3), f"{where}.max_attempts")
    return ExportSpec(
        report=_report(entry, where, catalogue, date_filter, source_types),
        columns=tuple(columns),
        date_filter=date_filter,
        start_date=start_date,
        window=timedelta(days=_positive(entry.get("window_days", 1), f"{where}.window_days")),
        lookback=timedelta(
            hours=_positive(entry.get("lookback_hours", 6), f"{where}.lookback_hours", allow_zero=True)
        ),
        facilities=_facilities(entry, where, default_facility),
        filters=tuple(entry.get("filters") or ()),
        table_name=str(entry.get("table_name") or catalogue.table_name),
        min_window=timedelta(hours=_positive(entry.get("min_window_hours", 1), f"{where}.min_window_hours")),
        max_attempts=int(max_attempts),
    )


def _dates(entry: dict[str, Any], where: str, catalogue: ReportSpec) -> tuple[str | None, date | None]:
    """The date filter (None: a snapshot) and the start date, which go together."""
    configured = entry.get("date_filter", catalogue.date_filter)
    date_filter = str(configured).strip() or None if configured is not None else None
    start_date = _date(entry.get("start_date"), f"{where}.start_date")
    if date_filter and start_date is None:
        raise ConfigurationError(f"{where}.start_date is needed for a dated report (e.g. '2024-04-01')")
    if start_date is not None and not date_filter:
        raise ConfigurationError(
            f"{where} has a start_date but no date_filter: name the filter id its windows use "
            f"(e.g. 'updatedOn'), or drop start_date to load {catalogue.name!r} as a snapshot"
        )
    return date_filter, start_date


def _report(
    entry: dict[str, Any],
    where: str,
    catalogue: ReportSpec,
    date_filter: str | None,
    source_types: Mapping[str, Kind],
) -> ReportSpec:
    """The catalogue's report with the entry's key and type hints."""
    key = entry.get("primary_key", list(catalogue.key))
    keys = [key] if isinstance(key, str) else list(key)
    if not all(keys):
        raise ConfigurationError(f"{where}.primary_key must be a column label or a list of them")
    overrides = {
        **source_types,
        **column_types(entry.get("type_hints"), f"{where}.type_hints"),
        **column_types(entry.get("column_types"), f"{where}.column_types"),
    }
    return with_column_types(
        ReportSpec(catalogue.name, key=tuple(keys), hints=catalogue.hints, date_filter=date_filter,
                   labels=catalogue.labels),
        overrides,
    )  # fmt: skip


def column_types(raw: Mapping[str, Any] | None, where: str) -> dict[str, Kind]:
    """A `column_types` setting (CSV label or column name -> kind), checked: an unknown kind is a
    one-line error naming the setting, the column and the kinds there are."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f'{where} must be a table of column -> type, e.g. {{"Narration" = "text"}}')
    checked: dict[str, Kind] = {}
    for label, kind in raw.items():
        name = str(kind).strip().lower()
        if name not in KINDS:
            raise ConfigurationError(
                f"{where}[{label!r}] = {kind!r} is not a known type; the types are {', '.join(KINDS)}"
            )
        checked[str(label)] = cast("Kind", name)
    return checked


def with_column_types(report: ReportSpec, overrides: Mapping[str, Kind]) -> ReportSpec:
    """`report` with the user's column types over its catalogue hints."""
    if not overrides:
        return report
    hints = {**report.hints, **overrides}
    return replace(report, hints=hints, overrides={**report.overrides, **overrides})


def _facilities(entry: dict[str, Any], where: str, default_facility: str | None) -> tuple[str, ...] | None:
    """The facility codes, or None for every enabled facility of the tenant ("all")."""
    facilities = entry.get("facilities")
    if facilities is None:
        facilities = [default_facility] if default_facility else "all"
    if isinstance(facilities, str):
        facilities = None if facilities.strip().lower() == "all" else [facilities]
    if facilities is not None and (not facilities or not all(facilities)):
        raise ConfigurationError(f'{where}.facilities must be a list of facility codes, or "all"')
    return tuple(facilities) if facilities is not None else None


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
    number = float(value)
    if not math.isfinite(number):
        raise ConfigurationError(f"{where} must be a number, got {value!r}")
    if number < 0 or (number == 0 and not allow_zero):
        raise ConfigurationError(f"{where} must be {'zero or ' if allow_zero else ''}positive, got {value!r}")
    return number
