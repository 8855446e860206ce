"""Incremental sync: create export jobs per window and facility, and remember where we got to.

Each run covers, per export and facility, the stored cursor minus the lookback up to now, cut
into windows at local midnights. Jobs are created with at most `max_jobs_in_flight` running on
the tenant at once (across every export and facility). A failed or timed-out window is created
again after a cooldown; one that fails twice is split in halves, down to the export's minimum
window; the size that worked is remembered. The cursor moves to the end of the last window of an
unbroken run of loaded windows, in the resource state that dlt commits with the data.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dlt
from dlt.extract.resource import DltResource

from uniware_source.api.client import UniwareClient
from uniware_source.api.errors import ApiError, ConfigurationError, TransportError
from uniware_source.incremental.specs import ExportSpec
from uniware_source.incremental.windows import Window, local_midnight, plan_windows
from uniware_source.jobs import ExportJob, JobPoller, Outcome
from uniware_source.jobs.ledger import JobLedger, LedgerEntry
from uniware_source.load.audit import audit_item
from uniware_source.load.keys import KeyTracker
from uniware_source.settings import SourceSettings

if TYPE_CHECKING:
    from uniware_source.load.table_loader import TableLoader

logger = logging.getLogger(__name__)

RESOURCE_NAME = "uniware_exports"
WINDOW_COLUMN = "_window"
COLLISION_CODES = {"100014", 100014}
LEDGER_MAX_AGE = timedelta(days=3)


@dataclass(frozen=True)
class SyncSettings:
    max_jobs_in_flight: int = 4
    retry_cooldown: float = 60.0  # seconds before a failed window's job is created again
    collision_wait: float = 30.0  # seconds before retrying a create refused as a collision
    split_after: int = 2  # failures of one window before it is split in halves
    backfill: tuple[date, date] | None = None  # inclusive local dates; the cursor does not move

    @classmethod
    def build(
        cls,
        *,
        max_jobs_in_flight: int,
        retry_cooldown: float,
        collision_wait: float,
        backfill_start: str | None,
        backfill_end: str | None,
    ) -> SyncSettings:
        """The settings, checked; errors name the setting."""
        if int(max_jobs_in_flight) < 1:
            raise ConfigurationError(
                f"sources.uniware.max_jobs_in_flight must be at least 1, got {max_jobs_in_flight!r}"
            )
        for name, seconds in (("retry_cooldown", retry_cooldown), ("collision_wait", collision_wait)):
            if not 0 <= float(seconds) < float("inf"):
                raise ConfigurationError(
                    f"sources.uniware.{name} must be zero or more seconds, got {seconds!r}"
                )
        backfill = None
        if backfill_start or backfill_end:
            try:
                first = date.fromisoformat(str(backfill_start))
                last = date.fromisoformat(str(backfill_end or backfill_start))
            except ValueError:
                raise ConfigurationError(
                    f"backfill dates must look like 2024-04-01, got {backfill_start!r} .. {backfill_end!r}"
                ) from None
            if last < first:
                raise ConfigurationError(f"backfill ends ({last}) before it starts ({first})")
            backfill = (first, last)
        return cls(int(max_jobs_in_flight), float(retry_cooldown), float(collision_wait), backfill=backfill)


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


def plan_tasks(
    specs: Sequence[ExportSpec],
    state: dict[str, Any],
    ledger: JobLedger,
    facilities: Callable[[], list[str]],
    *,
    now: datetime,
    zone: str,
    backfill: tuple[date, date] | None,
) -> list[WindowTask]:
    """The windows this run will load, pending jobs of earlier runs first."""
    cursors = state.get("cursors", {})
    sizes = state.get("window_hours", {})
    tenant_facilities: list[str] | None = None
    tasks: list[WindowTask] = []
    for spec in specs:
        if spec.facilities is not None:
            codes = list(spec.facilities)
        else:
            if tenant_facilities is None:
                tenant_facilities = facilities()
                if not tenant_facilities:
                    raise ConfigurationError(
                        f'{spec.report.name!r} asks for facilities = "all", but the tenant\'s facility '
                        "search listed no enabled facility: list the facility codes instead"
                    )
            codes = tenant_facilities
        for facility in codes:
            pending = ledger.pending(spec.key, facility)
            if spec.is_snapshot:
                reattach = pending[-1].job_code if pending else None
                tasks.append(WindowTask(spec, facility, None, reattach=reattach))
                continue
            assert spec.start_date is not None
            if backfill is not None:
                start = local_midnight(backfill[0], zone)
                end = min(local_midnight(backfill[1] + timedelta(days=1), zone), now)
            else:
                cursor = cursors.get(spec.key, {}).get(facility)
                first = local_midnight(spec.start_date, zone)
                start = max(first, datetime.fromisoformat(cursor) - spec.lookback) if cursor else first
                end = now
            if not spec.report.key:
                # rows without a key are replaced per window grid cell: read whole cells only
                start = grid_cell(spec, start, zone)
                cell_end = grid_cell(spec, end, zone)
                if cell_end < end:
                    end = min(cell_end + spec.window, now)
            remembered = sizes.get(spec.key, {}).get(facility)
            size = min(spec.window, timedelta(hours=remembered)) if remembered else spec.window
            windows = plan_windows(start, end, anchor=spec.start_date, size=size, zone=zone)
            if not windows:
                continue
            span = Window(windows[0].start, windows[-1].end)
            taken = []
            for entry in pending:
                window = entry.window_value()
                if window is not None and window.start < span.end and span.start < window.end:
                    taken.append(window)
                    tasks.append(WindowTask(spec, facility, window, reattach=entry.job_code))
            for window in windows:
                for piece in _subtract(window, taken):
                    tasks.append(WindowTask(spec, facility, piece, full=piece.end - piece.start == size))
    return tasks


def grid_cell(spec: ExportSpec, instant: datetime, zone: str) -> datetime:
    """The start of the export's window grid cell (`window_days` long, from the local midnight of
    `start_date`) that holds `instant`."""
    assert spec.start_date is not None
    origin = local_midnight(spec.start_date, zone)
    return origin + ((instant - origin) // spec.window) * spec.window


def _subtract(window: Window, taken: Sequence[Window]) -> list[Window]:
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


class WindowFeeder:
    """Creates (or re-attaches to) the job of each window task, as the poller has room."""

    def __init__(
        self,
        client: UniwareClient,
        tasks: Sequence[WindowTask],
        ledger: JobLedger,
        settings: SyncSettings,
        *,
        zone: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.queue: list[WindowTask] = list(tasks)
        self.ledger = ledger
        self.settings = settings
        self.zone = zone
        self.clock = clock
        self.jobs: list[ExportJob] = []  # every job this run started or failed to create
        self.task_of: dict[int, WindowTask] = {}

    # -- JobFeeder --------------------------------------------------------------------------------
    def take(self) -> ExportJob | None:
        now = self.clock()
        for task in list(self.queue):
            if task.ready_at > now:
                continue
            self.queue.remove(task)
            job = self._start(task)
            if job is not None:
                return job
        return None

    def next_ready_at(self) -> float | None:
        return min((task.ready_at for task in self.queue), default=None)

    def settle(self, job: ExportJob) -> None:
        task = self.task_of[id(job)]
        if job.outcome is None:  # downloaded and typed: it loads
            task.fetched = job
            return
        if job.job_code:
            self.ledger.drop([job.job_code])
        if task.reattached and job.outcome in (Outcome.NOT_FOUND, Outcome.FAILED, Outcome.CANCELLED):
            # a job of an earlier run that Uniware no longer has: create the window afresh
            task.reattached = False
            self.queue.append(task)
            return
        task.failures += 1
        spec = task.spec
        window = task.window
        can_split = window is not None and window.halves()[0].end - window.start >= spec.min_window
        if task.failures >= self.settings.split_after and can_split:
            assert task.window is not None
            first, second = (
                WindowTask(spec, task.facility, half, full=task.full) for half in task.window.halves()
            )
            task.split_into = (first, second)
            self.queue.extend((first, second))
            logger.warning(
                "%s failed %d times: splitting it in halves", task.describe(self.zone), task.failures
            )
        elif task.failures < spec.max_attempts:
            task.ready_at = self.clock() + self.settings.retry_cooldown
            self.queue.append(task)
        else:
            note = f"(window given up after {task.failures} failed attempts)"
            job.message = f"{job.message or ''} {note}".strip()

    # -- creating ---------------------------------------------------------------------------------
    def _start(self, task: WindowTask) -> ExportJob | None:
        spec = task.spec
        job = ExportJob(
            job_code=task.reattach or "",
            report=spec.report.name,
            facility=task.facility,
            table_name=spec.table_name,
            window=task.window,
            attempt=task.attempts + 1,
        )
        if not spec.report.key and task.window is not None:
            # every piece of one grid cell tags its rows alike, so a re-read replaces them all
            cell = grid_cell(spec, task.window.start, self.zone)
            job.row_tags[WINDOW_COLUMN] = f"{task.facility}|{cell.isoformat()}"
        task.reattached = bool(task.reattach)
        if task.reattach:
            logger.info("re-attaching to job %s for %s", task.reattach, task.describe(self.zone))
            task.reattach = None
        else:
            try:
                job.job_code = self.client.create_export_job(
                    report=spec.report.name,
                    columns=spec.columns,
                    filters=spec.filters_for(task.window.date_range() if task.window else None),
                    facility=task.facility,
                )
            except ApiError as exc:
                if str(exc.code) in {str(c) for c in COLLISION_CODES} or "collision" in str(exc).lower():
                    # the same export is still running on the tenant: wait for it to end, then ask again
                    task.collisions += 1
                    if task.collisions <= spec.max_attempts * 4:
                        logger.info(
                            "%s: Uniware reports a collision; asking again later", task.describe(self.zone)
                        )
                        task.ready_at = self.clock() + self.settings.collision_wait
                        self.queue.append(task)
                        return None
                self._give_up(task, job, exc)
                return None
            except TransportError as exc:
                # create is not idempotent: after a network failure we cannot know if it happened
                self._give_up(task, job, exc)
                return None
            self.ledger.add(
                LedgerEntry(
                    job_code=job.job_code,
                    export=spec.key,
                    facility=task.facility,
                    window=task.window.to_state() if task.window else None,
                    created_at=datetime.now(UTC).isoformat(),
                    attempt=job.attempt,
                )
            )
            task.attempts += 1
        self.jobs.append(job)
        self.task_of[id(job)] = task
        return job

    def _give_up(self, task: WindowTask, job: ExportJob, exc: Exception) -> None:
        job.errors = getattr(exc, "errors", None)
        job.finish(Outcome.CREATE_FAILED, f"{task.describe(self.zone)}: {exc}")
        self.jobs.append(job)
        logger.warning("could not create %s: %s", task.describe(self.zone), exc)


def leaves(tasks: Sequence[WindowTask]) -> Iterator[WindowTask]:
    """The tasks that were not split, in window order."""
    for task in tasks:
        if task.split_into:
            yield from leaves(task.split_into)
        else:
            yield task


def advance_cursors(tasks: Sequence[WindowTask], state: dict[str, Any]) -> None:
    """Move each export/facility cursor over the unbroken run of loaded windows, no further."""
    groups: dict[tuple[str, str], list[WindowTask]] = {}
    for task in tasks:
        if task.window is not None:
            groups.setdefault((task.spec.key, task.facility), []).append(task)
    cursors = state.setdefault("cursors", {})
    for (key, facility), group in groups.items():
        done = sorted(leaves(group), key=lambda t: t.window.start if t.window else datetime.min)
        cursor: datetime | None = None
        for task in done:
            job = task.fetched
            if job is None or job.outcome is not Outcome.LOADED:
                break
            assert task.window is not None
            cursor = task.window.end
        previous = cursors.get(key, {}).get(facility)
        if cursor is not None and (previous is None or cursor > datetime.fromisoformat(previous)):
            cursors.setdefault(key, {})[facility] = cursor.isoformat()


def remember_window_sizes(tasks: Sequence[WindowTask], state: dict[str, Any]) -> None:
    """After a split of a whole window, the size of the pieces that loaded is where the next run
    starts (it stays on the window grid: a half, a quarter, ...). A run with no split and every
    window loaded doubles it again, back up to the export's window size."""
    sizes = state.setdefault("window_hours", {})
    groups: dict[tuple[str, str], list[WindowTask]] = {}
    for task in tasks:
        if task.window is not None:
            groups.setdefault((task.spec.key, task.facility), []).append(task)
    for (key, facility), group in groups.items():
        remembered = sizes.get(key, {}).get(facility)
        worked = [
            leaf.window.hours
            for task in group
            if task.split_into and task.full
            for leaf in leaves([task])
            if leaf.window is not None and leaf.fetched is not None and leaf.fetched.outcome is Outcome.LOADED
        ]
        if worked:
            sizes.setdefault(key, {})[facility] = min([*worked, *([remembered] if remembered else [])])
        elif remembered and all(
            leaf.fetched is not None and leaf.fetched.outcome is Outcome.LOADED for leaf in leaves(group)
        ):
            grown = remembered * 2
            if grown >= group[0].spec.window.total_seconds() / 3600:
                del sizes[key][facility]
            else:
                sizes[key][facility] = grown


@dataclass(frozen=True)
class ExportRun:
    """Everything one run of the exports needs, so that `--plan` can show it without running it."""

    settings: SourceSettings
    specs: Sequence[ExportSpec]
    sync: SyncSettings

    def plan(self, state: dict[str, Any], ledger_dir: Path | None) -> list[WindowTask]:
        """The jobs a run would create or re-attach to now. Creates nothing."""
        ledger = JobLedger.open(ledger_dir)
        ledger.prune(state.get("loaded_jobs", {}), max_age=LEDGER_MAX_AGE)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        client = self.settings.client()
        return plan_tasks(
            self.specs,
            state,
            ledger,
            client.list_facilities,
            now=now,
            zone=self.settings.timezone,
            backfill=self.sync.backfill,
        )


def exports_resource(
    settings: SourceSettings, specs: Sequence[ExportSpec], sync: SyncSettings, tracker: KeyTracker
) -> DltResource:
    run = ExportRun(settings, specs, sync)

    @dlt.resource(name=RESOURCE_NAME, max_table_nesting=0)
    def uniware_exports() -> Iterator[Any]:
        yield from _sync(run.settings, run.specs, run.sync, tracker)

    resource = uniware_exports()
    resource.export_run = run  # type: ignore[attr-defined]
    return resource


def export_run_of(source: Any) -> ExportRun | None:
    """The exports part of a `uniware_source(...)`, if it has one."""
    resource = source.resources.get(RESOURCE_NAME) if hasattr(source, "resources") else None
    return getattr(resource, "export_run", None)


def _ledger_dir() -> Path | None:
    try:
        return Path(dlt.current.pipeline().working_dir)
    except Exception:  # iterated outside a pipeline: the ledger lives in memory only
        return None


def _sync(
    settings: SourceSettings, specs: Sequence[ExportSpec], sync: SyncSettings, tracker: KeyTracker
) -> Iterator[Any]:
    started = datetime.now(UTC)
    state = dlt.current.resource_state()
    loaded: dict[str, dict[str, Any]] = state.setdefault("loaded_jobs", {})
    ledger = JobLedger.open(_ledger_dir())
    ledger.prune(loaded, max_age=LEDGER_MAX_AGE)
    # the loaded codes only serve to prune the ledger: keep them no longer than its entries
    oldest = (started - LEDGER_MAX_AGE).isoformat()
    for code in [code for code, info in loaded.items() if str(info.get("loaded_at") or "") < oldest]:
        del loaded[code]
    client = settings.client()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    tasks = plan_tasks(
        specs, state, ledger, client.list_facilities, now=now, zone=settings.timezone, backfill=sync.backfill
    )
    loaders = {spec.table_name: _loader(settings, spec, tracker, started) for spec in specs}
    feeder = WindowFeeder(client, tasks, ledger, sync, zone=settings.timezone)
    download_dir = Path(tempfile.mkdtemp(prefix="uniware-", dir=settings.download_dir))
    try:
        poller = JobPoller(
            client,
            settings.poll,
            download_dir=download_dir,
            planner=lambda job, path, arrival: loaders[job.table_name].plan(job, path, arrival),
        )
        for job in poller.run(feeder=feeder, max_in_flight=sync.max_jobs_in_flight):
            if job.outcome is not None:
                logger.warning("job %s: %s: %s", job.job_code, job.outcome.value, job.message)
        for spec in specs:
            yield from _load_export(spec, loaders[spec.table_name], tasks, loaded, settings.timezone)
    finally:
        shutil.rmtree(download_dir, ignore_errors=True)
    # a job that will never load must not be re-attached to by the next run
    ledger.drop(job.job_code for job in feeder.jobs if job.job_code and job.outcome is not Outcome.LOADED)
    remember_window_sizes(tasks, state)
    if sync.backfill is None:
        advance_cursors(tasks, state)
    if feeder.jobs:
        yield audit_item(feeder.jobs, started)


def _loader(
    settings: SourceSettings, spec: ExportSpec, tracker: KeyTracker, started: datetime
) -> TableLoader:
    from uniware_source.load.table_loader import TableLoader  # polars and pyarrow, only once there are files

    # a snapshot replaces its table; a dated report without a natural key replaces the rows of
    # the windows it re-reads (tagged with their window); any other merges on its key
    return TableLoader(
        settings,
        spec.report,
        spec.table_name,
        tracker=tracker,
        run_started_at=started,
        tag_column=WINDOW_COLUMN,
        replace=spec.is_snapshot,
    )


def _load_export(
    spec: ExportSpec,
    loader: TableLoader,
    tasks: Sequence[WindowTask],
    loaded: dict[str, dict[str, Any]],
    zone: str,
) -> Iterator[Any]:
    mine = [task for task in leaves(tasks) if task.spec is spec]
    jobs = [task.fetched for task in mine if task.fetched is not None and task.fetched.outcome is None]
    schema = loader.table_schema(jobs) if jobs else None
    if spec.is_snapshot:
        # a snapshot replaces the whole table: never with a facility missing
        missing = [task.facility for task in mine if task.fetched is None or task.fetched.outcome is not None]
        if missing:
            for job in jobs:
                if job.outcome is None:
                    job.finish(
                        Outcome.ERROR, f"snapshot not replaced: no usable file for {', '.join(missing)}"
                    )
            return
    if not spec.is_snapshot and not spec.report.key:
        # a cell's rows are replaced as a whole: load a cell only when all its pieces are here
        cells: dict[tuple[str, datetime], list[WindowTask]] = {}
        for task in mine:
            assert task.window is not None
            cells.setdefault((task.facility, grid_cell(spec, task.window.start, zone)), []).append(task)
        for (facility, cell), pieces in cells.items():
            if all(p.fetched is not None and p.fetched.outcome is None for p in pieces):
                continue
            for piece in pieces:
                if piece.fetched is not None and piece.fetched.outcome is None:
                    piece.fetched.finish(
                        Outcome.ERROR,
                        f"not loaded: another piece of the window from {cell:%Y-%m-%d %H:%M} UTC "
                        f"({facility}) did not download, and a report without a key is replaced a whole "
                        "window at a time",
                    )
    if schema is None:
        return
    for job in jobs:
        yield from loader.load(job, schema)
        if job.outcome is Outcome.LOADED:
            loaded[job.job_code] = {"loaded_at": datetime.now(UTC).isoformat(), "rows": job.rows_loaded}
    yield from loader.finish()
