"""The plan of a run: per export and facility, the windows from its cursor (less the lookback) up
to now, cut at local midnights, with the pending jobs of earlier runs taken over first.

A keyless dated report replaces its rows a whole window-grid cell at a time, so its windows
always cover whole cells. A window that an earlier run's job (in the ledger) covers is not
created again: that job is re-attached to, and only the rest of the window is cut into new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from uniware_source.api.errors import ConfigurationError
from uniware_source.incremental.specs import ExportSpec
from uniware_source.incremental.windows import Window, local_midnight, plan_windows

if TYPE_CHECKING:
    from uniware_source.jobs import ExportJob
    from uniware_source.jobs.ledger import JobLedger, LedgerEntry

# the column that tags a keyless dated report's rows with their grid cell (the merge key)
WINDOW_COLUMN = "_window"


@dataclass
class WindowTask:
    """One window of one export for one facility, and what happened to it in this run."""

    spec: ExportSpec
    facility: str
    window: Window | None  # None: a snapshot
    reattach: str | None = None  # a pending job of an earlier run to pick up
    attempts: int = 0
    failures: int = 0
    collisions: int = 0
    ready_at: float = 0.0
    fetched: ExportJob | None = None  # the job whose file is to load
    split_into: tuple[WindowTask, WindowTask] | None = None
    full: bool = False  # a whole window of the planned size (or a half of one, and so on)
    reattached: bool = False  # its current job is one of an earlier run

    def describe(self, zone: str) -> str:
        where = self.window.label(zone) if self.window else "snapshot"
        return f"{self.spec.report.name} / {self.facility} / {where}"

    @property
    def loaded(self) -> bool:
        from uniware_source.jobs.status import LANDED

        return self.fetched is not None and self.fetched.outcome in LANDED

    @property
    def ready(self) -> bool:
        """Its file is downloaded and typed, waiting to load."""
        return self.fetched is not None and self.fetched.outcome is None


def progress_book(state: dict[str, Any], backfill: tuple[date, date] | None) -> dict[str, Any]:
    """Where the progress of a run is kept: the incremental cursors in the resource state itself,
    or, for a backfill, the cursors of that backfill's range (so that a long backfill goes on
    where its last batch stopped, and the incremental cursors stay where they are)."""
    if backfill is None:
        return state
    return state.setdefault("backfills", {}).setdefault(_backfill_key(backfill), {})


def forget_backfill(state: dict[str, Any], backfill: tuple[date, date]) -> None:
    """The backfill is done: its progress goes, so that a later backfill of the range reads it afresh."""
    state.get("backfills", {}).pop(_backfill_key(backfill), None)


def _backfill_key(backfill: tuple[date, date]) -> str:
    return f"{backfill[0]}..{backfill[1]}"


@dataclass(frozen=True)
class PlanContext:
    """What planning needs besides the specs: the time, the zone, and the stored progress."""

    now: datetime
    zone: str
    state: dict[str, Any]
    ledger: JobLedger
    backfill: tuple[date, date] | None = None
    limit: int | None = None  # the most windows one run takes on (pending jobs of earlier runs count)
    snapshots: bool = True  # False: snapshot exports are left out, but for a pending job

    @property
    def book(self) -> dict[str, Any]:
        return progress_book(self.state, self.backfill)


@dataclass(frozen=True)
class Plan:
    tasks: list[WindowTask]  # this run's windows
    deferred: list[WindowTask]  # due too, left for the next run by the run's limit


def plan_tasks(
    specs: Sequence[ExportSpec], context: PlanContext, facilities: Callable[[], list[str]]
) -> Plan:
    """The windows this run will load, pending jobs of earlier runs first, at most `limit`."""
    tenant_facilities: list[str] | None = None
    tasks: list[WindowTask] = []
    for spec in specs:
        if spec.facilities is None and tenant_facilities is None:
            tenant_facilities = facilities()
            if not tenant_facilities:
                raise ConfigurationError(
                    f'{spec.report.name!r} asks for facilities = "all", but the tenant\'s facility '
                    "search listed no enabled facility: list the facility codes instead"
                )
        for facility in spec.facilities or tenant_facilities or ():
            tasks += _facility_tasks(spec, facility, context)
    return _bounded(tasks, context)


def _bounded(tasks: list[WindowTask], context: PlanContext) -> Plan:
    """The earliest windows up to the limit; the jobs of earlier runs always. The pieces of one
    grid cell of a keyless report stay together: it is replaced a whole cell at a time."""
    if context.limit is None or len(tasks) <= context.limit:
        return Plan(tasks, [])
    groups: dict[tuple[Any, ...], list[WindowTask]] = {}
    for task in tasks:
        groups.setdefault(_unit(task, context.zone), []).append(task)
    kept: list[WindowTask] = []
    deferred: list[WindowTask] = []
    for group in sorted(groups.values(), key=_urgency):
        fits = not kept or len(kept) + len(group) <= context.limit
        if fits or any(task.reattach for task in group):
            kept += group
        else:
            deferred += group
    return Plan(kept, deferred)


def _urgency(group: list[WindowTask]) -> tuple[bool, datetime]:
    """Earlier runs' jobs first, then the earliest windows."""
    return not any(task.reattach for task in group), min(_start(task) for task in group)


def _unit(task: WindowTask, zone: str) -> tuple[Any, ...]:
    """What must load in one run together with `task`."""
    spec = task.spec
    if spec.is_snapshot:  # it replaces its whole table: every facility in the same run
        return (spec.key,)
    if task.window is not None and not spec.report.key:
        return (spec.key, task.facility, grid_cell(spec, task.window.start, zone))
    return (id(task),)


# a cursor later than now by more than this was moved by a run whose clock was ahead
CLOCK_SKEW = timedelta(minutes=10)


def _refuse_future_cursor(spec: ExportSpec, facility: str, cursor: datetime, context: PlanContext) -> None:
    """A cursor is where the last run's windows ended, its `now`: one later than this run's now
    was moved by a run whose clock was ahead (a machine's clock set wrong, then put right). From
    it, runs would read nothing until the clock caught up, and then go on from there: the rows of
    the time in between, which Uniware did not yet have when that run read it, never load. The
    run is refused, saying how to read that time again."""
    if cursor <= context.now + CLOCK_SKEW:
        return
    zone = ZoneInfo(context.zone)
    raise ConfigurationError(
        f"the cursor of {spec.report.name!r} ({facility}) is {cursor.astimezone(zone):%Y-%m-%d %H:%M}, "
        f"later than now ({context.now.astimezone(zone):%Y-%m-%d %H:%M} {context.zone}): the clock of the "
        "run that moved it was ahead, and the rows since that run may not have loaded; put the cursor "
        f"back to a day before that run: `uniware reset {spec.table_name} --to <date> --yes`"
    )


def _start(task: WindowTask) -> datetime:
    return task.window.start if task.window is not None else datetime.min.replace(tzinfo=UTC)


def _facility_tasks(spec: ExportSpec, facility: str, context: PlanContext) -> list[WindowTask]:
    pending = context.ledger.pending(spec.key, facility)
    if spec.is_snapshot:
        if not pending and not context.snapshots:
            return []  # a later batch of a run: its first replaced the snapshot
        return [WindowTask(spec, facility, None, reattach=pending[-1].job_code if pending else None)]
    start, end = _span(spec, facility, context)
    remembered = context.state.get("window_hours", {}).get(spec.key, {}).get(facility)
    size = min(spec.window, timedelta(hours=remembered)) if remembered else spec.window
    assert spec.start_date is not None
    windows = plan_windows(start, end, anchor=spec.start_date, size=size, zone=context.zone)
    if not windows:
        return []
    tasks, taken = _reattached(spec, facility, pending, Window(windows[0].start, windows[-1].end))
    for window in windows:
        for piece in subtract(window, taken):
            tasks.append(WindowTask(spec, facility, piece, full=piece.end - piece.start == size))
    return tasks


def _span(spec: ExportSpec, facility: str, context: PlanContext) -> tuple[datetime, datetime]:
    """The instants this run covers for one export and facility."""
    assert spec.start_date is not None
    zone, now = context.zone, context.now
    book = context.book
    cursor = book.get("cursors", {}).get(spec.key, {}).get(facility)
    if cursor and context.backfill is None:
        _refuse_future_cursor(spec, facility, datetime.fromisoformat(cursor), context)
    # a run cut short by its limit left the rest for this one: it goes on from the cursor as it is
    cut = facility in book.get("cut", {}).get(spec.key, ())
    if context.backfill is not None:
        first, last = context.backfill
        start = local_midnight(first, zone)
        if cursor:
            start = max(start, datetime.fromisoformat(cursor))
        end = min(local_midnight(last + timedelta(days=1), zone), now)
    else:
        start = local_midnight(spec.start_date, zone)
        if cursor:
            start = max(start, datetime.fromisoformat(cursor) - (timedelta(0) if cut else spec.lookback))
        end = now
    if not spec.report.key:
        # rows without a key are replaced per window grid cell: read whole cells only
        start = grid_cell(spec, start, zone)
        cell_end = grid_cell(spec, end, zone)
        if cell_end < end:
            end = min(cell_end + spec.window, now)
    return start, end


def _reattached(
    spec: ExportSpec, facility: str, pending: Sequence[LedgerEntry], span: Window
) -> tuple[list[WindowTask], list[Window]]:
    """Tasks for the earlier runs' jobs whose windows meet `span`, and those windows."""
    tasks, taken = [], []
    for entry in pending:
        window = entry.window_value()
        if window is not None and window.start < span.end and span.start < window.end:
            taken.append(window)
            tasks.append(WindowTask(spec, facility, window, reattach=entry.job_code))
    return tasks, taken


def grid_cell(spec: ExportSpec, instant: datetime, zone: str) -> datetime:
    """The start of the export's window grid cell (`window_days` long, from the local midnight of
    `start_date`) that holds `instant`."""
    assert spec.start_date is not None
    origin = local_midnight(spec.start_date, zone)
    return origin + ((instant - origin) // spec.window) * spec.window


def subtract(window: Window, taken: Sequence[Window]) -> list[Window]:
    """The parts of `window` that none of `taken` covers."""
    pieces = [window]
    for cut in taken:
        remaining = []
        for piece in pieces:
            if cut.end <= piece.start or piece.end <= cut.start:
                remaining.append(piece)
                continue
            if piece.start < cut.start:
                remaining.append(Window(piece.start, cut.start))
            if cut.end < piece.end:
                remaining.append(Window(cut.end, piece.end))
        pieces = remaining
    return pieces
