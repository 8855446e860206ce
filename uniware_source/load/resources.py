"""The source's two dlt resources, both thin: they plan, then run the shared load loop (JobRun).

- `export_job_resource`: export jobs someone else created, given by their codes. Its name is the
  report table's name.
- `exports_resource`: scheduled exports; it creates one job per window and facility (through
  the feeder), and moves the cursors over what loaded.

Each yields to several tables (dlt table variants): the report rows, `rejected_rows` and, once
every job has ended, `export_jobs`. The codes that loaded are kept in the resource's dlt state,
which dlt commits together with the data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from uniware_source.api.errors import ConfigurationError
from uniware_source.incremental.cursors import (
    advance_cursors,
    leaves,
    loadable,
    note_backlog,
    remember_window_sizes,
)
from uniware_source.incremental.feeder import WindowFeeder
from uniware_source.incremental.plan import WINDOW_COLUMN, WindowTask, forget_backfill, progress_book
from uniware_source.incremental.run import LEDGER_MAX_AGE, RESOURCE_NAME, ExportRun
from uniware_source.incremental.specs import ExportSpec
from uniware_source.jobs import ExportJob, Outcome
from uniware_source.jobs.ledger import LedgerStore, store_for
from uniware_source.jobs.status import LANDED
from uniware_source.load.audit import audit_item, empty_tables
from uniware_source.load.destination import check_duckdb_names
from uniware_source.load.job_run import JobRun
from uniware_source.load.keys import KeyTracker
from uniware_source.load.tenant import check_dataset, tenant_item
from uniware_source.reports import ReportSpec
from uniware_source.run_lock import hold_for_run
from uniware_source.settings import SourceSettings, SyncSettings

logger = logging.getLogger(__name__)


def export_job_resource(
    settings: SourceSettings,
    job_codes: Sequence[str],
    spec: ReportSpec,
    table_name: str,
    tracker: KeyTracker,
) -> DltResource:
    """The resource for one report: its name is the report table's name."""
    codes = list(dict.fromkeys(code.strip() for code in job_codes if code and code.strip()))

    @dlt.resource(name=table_name, max_table_nesting=0)
    def export_job_rows() -> Iterator[Any]:
        yield from _load_job_codes(settings, codes, spec, table_name, tracker)

    return export_job_rows()


def _load_job_codes(
    settings: SourceSettings, codes: Sequence[str], spec: ReportSpec, table: str, tracker: KeyTracker
) -> Iterator[Any]:
    _before_reading(settings)
    started = datetime.now(UTC)
    loaded: dict[str, dict[str, Any]] = dlt.current.resource_state().setdefault("loaded_jobs", {})
    jobs = [ExportJob(code, spec.name, settings.facility, table) for code in codes]
    pending: list[ExportJob] = []
    for job in jobs:
        previous = loaded.get(job.job_code)
        if previous and not settings.force_reload:
            job.file_sha256 = previous.get("sha256")
            job.finish(
                Outcome.SKIPPED, f"already loaded at {previous.get('loaded_at')}; force_reload to load again"
            )
        else:
            pending.append(job)
    if pending:
        with JobRun(settings, tracker, started) as run:
            run.add_table(spec, table)
            fetched = run.fetch(pending)
            yield from run.load(table, fetched, loaded)
    if jobs:
        yield audit_item(jobs, started, fail_on_missing=settings.fail_on_missing_jobs, zone=settings.timezone)
    if any(job.outcome in LANDED for job in jobs):
        yield tenant_item(settings.base_url)
    yield from empty_tables(with_audit_rows=bool(jobs))


def exports_resource(
    settings: SourceSettings, specs: Sequence[ExportSpec], sync: SyncSettings, tracker: KeyTracker
) -> DltResource:
    run = ExportRun(settings, specs, sync)

    @dlt.resource(name=RESOURCE_NAME, max_table_nesting=0)
    def uniware_exports() -> Iterator[Any]:
        yield from _sync(run, tracker)

    return uniware_exports()


def _reattach(job: ExportJob) -> bool:
    """Whether the next run may still take `job` from the ledger: it loaded (the committed state
    then drops it), or it timed out and no other attempt took its window over (it is still
    running on Uniware, which would refuse a new job of the same window as a duplicate; halves of
    a split window are other windows)."""
    return job.outcome in LANDED or (job.outcome is Outcome.TIMED_OUT and not job.superseded)


def _ledger_store() -> LedgerStore | None:
    try:
        pipeline = dlt.current.pipeline()
    except Exception:  # iterated outside a pipeline: the ledger lives in memory only
        return None
    return store_for(pipeline)


def _before_reading(settings: SourceSettings) -> None:
    """Before anything is created or read: the pipeline's run lock (run_lock.hold_for_run), and
    its dataset not another tenant's (load/tenant.py)."""
    try:
        pipeline = dlt.current.pipeline()
    except Exception:  # iterated outside a pipeline: nothing to keep apart
        return
    _no_write_disposition_given()
    hold_for_run(pipeline)
    check_duckdb_names()  # a load into the dataset would fail, and fail again on every later run
    check_dataset(pipeline, settings.base_url)


def _no_write_disposition_given() -> None:
    """Refuse a write_disposition given to `pipeline.run` (or applied to a resource): each table's
    is the connector's own, chosen per report and per run (merge on the report's key, replace a
    snapshot's or a window's rows), and dlt would let it quietly win over none of them."""
    given = dlt.current.resource().write_disposition
    if given not in (None, "append"):  # "append": the resources' own default, as declared
        raise ConfigurationError(
            f"write_disposition={given!r} was given to pipeline.run, but the connector decides each of "
            "its tables' (its rows merge on the report's key, a snapshot's or a window's are replaced): "
            "leave it out; to load a table afresh, pass refresh='drop_resources', or `uniware reset`"
        )


def _forget_old_loads(loaded: dict[str, dict[str, Any]], now: datetime) -> None:
    """The loaded codes only serve to prune the ledger: keep them no longer than its entries."""
    oldest = (now - LEDGER_MAX_AGE).isoformat()
    for code in [code for code, info in loaded.items() if str(info.get("loaded_at") or "") < oldest]:
        del loaded[code]


def _record_progress(
    state: dict[str, Any], run: ExportRun, tasks: Sequence[WindowTask], left: Sequence[WindowTask]
) -> None:
    """Cursors over what loaded, and what is left for the next run (in the same state, committed
    with this run's data)."""
    book = progress_book(state, run.sync.backfill)
    moved = advance_cursors(tasks, book)
    note_backlog(book, left)
    loaded = sum(1 for task in leaves(tasks) if task.loaded)
    state["batch"] = {"left": len(left), "loaded": loaded, "moved": moved}
    if run.sync.backfill is not None and not left:
        forget_backfill(state, run.sync.backfill)


def _sync(run: ExportRun, tracker: KeyTracker) -> Iterator[Any]:
    _before_reading(run.settings)
    started = datetime.now(UTC)
    settings = run.settings
    state = dlt.current.resource_state()
    loaded: dict[str, dict[str, Any]] = state.setdefault("loaded_jobs", {})
    ledger = run.open_ledger(state, _ledger_store(), read_only=False)
    _forget_old_loads(loaded, started)
    client = settings.client()
    plan = run.plan(state, ledger, client)
    tasks = plan.tasks
    feeder = WindowFeeder(
        client, tasks, ledger, run.sync, zone=settings.timezone, stop_after=run.sync.commit_every
    )
    with JobRun(settings, tracker, started) as job_run:
        for spec in run.specs:
            # a snapshot replaces its table; a dated report without a natural key replaces the
            # rows of the windows it re-reads (tagged with their window); any other merges on its key
            job_run.add_table(
                spec.report, spec.table_name, tag_column=WINDOW_COLUMN, replace=spec.is_snapshot
            )
        job_run.fetch(
            client=client, feeder=feeder, max_in_flight=run.sync.max_jobs_in_flight, expected=len(tasks)
        )
        for spec in run.specs:
            yield from job_run.load(spec.table_name, loadable(spec, tasks, settings.timezone), loaded)
    # a job that will never load must not be re-attached to by the next run; one that timed out
    # is still running on Uniware, where a new job of its window would be refused as a duplicate
    ledger.drop(job.job_code for job in feeder.jobs if job.job_code and not _reattach(job))
    remember_window_sizes(tasks, state)
    _record_progress(state, run, tasks, [*plan.deferred, *feeder.queue])
    if feeder.jobs:
        yield audit_item(
            feeder.jobs, started, fail_on_missing=settings.fail_on_missing_jobs, zone=settings.timezone
        )
    if any(job.outcome in LANDED for job in feeder.jobs):
        yield tenant_item(settings.base_url)
    yield from empty_tables(with_audit_rows=bool(feeder.jobs))
