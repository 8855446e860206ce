"""`uniware status`, `uniware reset <export>` and `uniware forget <job-code>`.

`status` reads: the last runs from `export_jobs` and every export's cursor from the pipeline's dlt
state (restored from the destination first, as a run would). `reset` and `forget` change the
state the next run starts from, and only through dlt: a pipeline run of a source named like ours
whose one resource edits the stored state and yields nothing. dlt then commits the new state to
the destination (`_dlt_pipeline_state`) as it does after a load, so a run on another machine, or
after the local pipeline folder is gone, sees the change. `forget` also drops the job from the
job ledger. Both hold the pipeline's run lock while they work.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dlt
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from uniware_source.api.errors import ConfigurationError
from uniware_source.incremental.run import RESOURCE_NAME, exports_state
from uniware_source.incremental.windows import local_midnight
from uniware_source.jobs.ledger import store_for
from uniware_source.load.audit import AUDIT_TABLE
from uniware_source.load.tenant import dataset_tenants
from uniware_source.run_lock import RunLocked, check_project, run_lock

EXIT_OK, EXIT_REFUSED = 0, 2

DEFAULT_ZONE = "Asia/Kolkata"
# one row per run (per load: a long backfill's batches are loads of their own): when it started,
# its jobs, what loaded, what is missing, rows and rejects
RUNS_QUERY = """
SELECT MIN(run_started_at) AS started,
       COUNT(*) AS jobs,
       SUM(CASE WHEN status = 'LOADED' THEN 1 ELSE 0 END) AS loaded,
       SUM(CASE WHEN status NOT IN ('LOADED', 'SKIPPED') AND NOT COALESCE(superseded, FALSE)
                THEN 1 ELSE 0 END) AS failed,
       SUM(COALESCE(rows_loaded, 0)) AS rows_loaded,
       SUM(COALESCE(rows_rejected, 0)) AS rows_rejected
FROM {table}
GROUP BY _dlt_load_id
ORDER BY started DESC
LIMIT {limit}
"""


def admin(args: argparse.Namespace, pipeline_name: str) -> int:
    """status, reset, forget: on the pipeline the runs use; reset and forget under its lock."""
    pipelines_dir = get_dlt_pipelines_dir()
    check_project(pipelines_dir, pipeline_name, Path.cwd(), note_it=False)
    _check_database_here(args, pipeline_name)
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name, destination=args.destination or "duckdb", dataset_name=args.dataset
    )
    if args.command == "status":
        if (args.destination or "duckdb") == "duckdb":
            _not_while_a_run_holds(pipelines_dir, pipeline_name)
        return print_status(pipeline, args.runs)
    with run_lock(pipelines_dir, pipeline_name):
        what = (
            f"reset the cursor of {args.export!r}"
            if args.command == "reset"
            else f"forget job {args.job_code}"
        )
        if not _confirmed(args, f"{what} in pipeline {pipeline_name!r}?"):
            print(f"uniware: not confirmed: to {what} without a terminal, add --yes", file=sys.stderr)
            return EXIT_REFUSED
        if args.command == "reset":
            to = _date_argument(args.to, "--to") if args.to else None
            done = reset_cursor(pipeline, args.export, to, args.facility)
        else:
            done = forget_job(pipeline, args.job_code)
    print(f"uniware: {done}")
    return EXIT_OK


def _not_while_a_run_holds(pipelines_dir: str, pipeline_name: str) -> None:
    """RunLocked, saying so, while a run of the pipeline is in progress: it holds the DuckDB file,
    which DuckDB lets one process open (status failed on DuckDB's own lock error). The lock is
    only tried, not kept: a run may start while status reads."""
    try:
        with run_lock(pipelines_dir, pipeline_name):
            pass
    except RunLocked:
        raise RunLocked(
            f"a run of pipeline {pipeline_name!r} is in progress and has its DuckDB database open, "
            "which DuckDB lets one process do: run `uniware status` again when it ends"
        ) from None


def _check_database_here(args: argparse.Namespace, pipeline_name: str) -> None:
    """The default DuckDB database is a file in the directory the runs start from: from another
    directory, status/reset/forget would look at (and create) an empty one."""
    database = Path(f"{pipeline_name}.duckdb")
    default_duckdb = args.destination in (None, "duckdb") and not os.environ.get(
        "DESTINATION__DUCKDB__CREDENTIALS"
    )
    if default_duckdb and not database.exists():
        raise ConfigurationError(
            f"no {database} in {Path.cwd()}: run `uniware {args.command}` in the project's directory, "
            "where its runs write it (or pass the runs' --pipeline-name / --destination)"
        )


def _confirmed(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        return False
    return input(f"uniware: {question} [y/N] ").strip().lower() in ("y", "yes")


def _date_argument(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a date like 2024-04-01, got {value!r}") from None


def zone() -> str:
    """The zone of the tenant's wall-clock times, as the source reads it (only this setting: the
    admin commands need no credentials)."""
    value = dlt.config.get("sources.uniware.timezone", str)
    return str(value or DEFAULT_ZONE)


def local(instant: Any, tz: str) -> str:
    """An instant (ISO text or datetime, UTC) as local wall-clock time, labelled with its zone."""
    value = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    if value.tzinfo is None:  # timestamps come back from some destinations without their zone
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return f"{value.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {_zone_label(tz)}"


def _zone_label(tz: str) -> str:
    return "IST" if tz == "Asia/Kolkata" else tz


def print_status(pipeline: dlt.Pipeline, runs: int) -> int:
    if pipeline.destination is not None:
        pipeline.sync_destination()  # the state as the next run would see it
    tz = zone()
    tenants = dataset_tenants(pipeline)
    held = f", the data of Uniware tenant {', '.join(sorted(tenants))}" if tenants else ""
    print(f"pipeline {pipeline.pipeline_name}: dataset {pipeline.dataset_name}{held}")
    _print_runs(pipeline, runs, tz)
    _print_cursors(pipeline.state, tz)
    return 0


def _print_runs(pipeline: dlt.Pipeline, limit: int, tz: str) -> None:
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(AUDIT_TABLE)
            found = client.execute_sql(RUNS_QUERY.format(table=table, limit=int(limit))) or []
    except DatabaseUndefinedRelation:
        found = []
    print(f"last {len(found)} run(s) (export_jobs):" if found else "no runs recorded in export_jobs yet")
    for started, jobs, loaded, failed, rows, rejected in found:
        print(
            f"  {local(started, tz)}  jobs={jobs:<4} loaded={loaded:<4} failed={failed:<4} "
            f"rows={rows:<9} rejected={rejected}"
        )


def _print_cursors(pipeline_state: Any, tz: str) -> None:
    state = exports_state(pipeline_state)
    cursors: dict[str, dict[str, str]] = state.get("cursors", {})
    cut = state.get("cut", {})
    batch = state.get("batch", {})
    if cursors:
        print(f"export cursors (times in {tz}):")
    else:
        print("no export cursors yet (no scheduled export has loaded a window)")
    for key, facilities in sorted(cursors.items()):
        report, _, table = key.partition("|")
        for facility, cursor in sorted(facilities.items()):
            note = "  windows left for the next run" if facility in cut.get(key, ()) else ""
            print(f"  {report:<22} {table:<20} {facility:<12} {local(cursor, tz)}{note}")
    if cursors and batch.get("left"):
        print(f"  {batch['left']} window(s) deferred to the next run (commit_every_windows)")
    for backfill, book in sorted(state.get("backfills", {}).items()):
        count = sum(len(facilities) for facilities in book.get("cursors", {}).values())
        first, _, last = backfill.partition("..")
        print(
            f"  backfill {backfill} stopped part way: {count} cursor(s); `uniware --backfill {first} {last}` "
            "goes on from them and finishes it"
        )


def reset_cursor(pipeline: dlt.Pipeline, export: str, to: date | None, facility: str | None) -> str:
    """Reset one export's cursor (every facility, or one) to local midnight of `to`, or remove it
    so that the next run starts from the export's start_date. Returns what was done, in a line."""
    tz = zone()
    today = datetime.now(ZoneInfo(tz)).date()
    if to is not None and to > today:  # the runs would skip every day until then
        raise ConfigurationError(
            f"--to {to} is after today ({today} in {tz}): a cursor moves only over days that loaded"
        )
    pipeline.sync_destination()
    state = exports_state(pipeline.state)
    key = find_export(state.get("cursors", {}), export)
    known = sorted(state.get("cursors", {}).get(key, {}))
    if facility is not None and facility not in known:
        raise ConfigurationError(
            f"export {key.partition('|')[0]!r} has no cursor for facility {facility!r}; "
            f"its facilities: {', '.join(known) or 'none'}"
        )

    def edit(resource: dict[str, Any]) -> None:
        cursors = resource.setdefault("cursors", {}).setdefault(key, {})
        targets = [facility] if facility else list(cursors)
        for name in targets:
            if to is None:
                cursors.pop(name, None)
            else:
                cursors[name] = local_midnight(to, tz).isoformat()
            for book in ("cut", "window_hours"):
                _forget_facility(resource.get(book, {}), key, name)
        if not cursors:
            resource["cursors"].pop(key, None)

    edit_state(pipeline, {RESOURCE_NAME: edit})
    where = f"facility {facility}" if facility else "every facility"
    target = f"{to} 00:00 {_zone_label(tz)}" if to else "its start_date"
    return f"reset {key.partition('|')[0]!r} ({where}): the next run starts from {target}"


def _forget_facility(book: dict[str, Any], key: str, facility: str) -> None:
    entry = book.get(key)
    if isinstance(entry, dict):
        entry.pop(facility, None)
    elif isinstance(entry, list) and facility in entry:
        entry.remove(facility)


def find_export(cursors: dict[str, Any], export: str) -> str:
    """The state key of the export named by its report or table name (or its key)."""
    wanted = export.strip().lower()
    found = [key for key in cursors if wanted in (key.lower(), *(p.lower() for p in key.split("|")))]
    if len(found) != 1:
        known = ", ".join(repr(key.partition("|")[0]) for key in sorted(cursors)) or "none yet"
        what = "is ambiguous" if found else "has no cursor"
        raise ConfigurationError(f"export {export!r} {what}; exports with a cursor: {known}")
    return found[0]


def forget_job(pipeline: dlt.Pipeline, job_code: str) -> str:
    """Forget that `job_code` loaded (so that a run loads it again) and drop it from the ledger."""
    pipeline.sync_destination()
    resources = pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {})
    holders = [name for name, state in resources.items() if job_code in state.get("loaded_jobs", {})]
    ledger = store_for(pipeline)
    pending = [entry for entry in ledger.read() if entry.job_code == job_code]
    if not holders and not pending:
        raise ConfigurationError(f"job {job_code!r} is not known to pipeline {pipeline.pipeline_name!r}")
    if holders:

        def edit(resource: dict[str, Any]) -> None:
            resource.get("loaded_jobs", {}).pop(job_code, None)

        edit_state(pipeline, dict.fromkeys(holders, edit))
    if pending:
        remaining = [entry for entry in ledger.read() if entry.job_code != job_code]
        ledger.write([], [job_code], remaining)
    return f"forgot job {job_code}: the next run with it loads it again (its export_jobs rows stay)"


def edit_state(pipeline: dlt.Pipeline, edits: dict[str, Callable[[dict[str, Any]], None]]) -> None:
    """Apply `edits` (resource name -> edit of its state) in a dlt run of its own, which commits
    the new state to the destination like any run."""
    if pipeline.has_pending_data:
        raise ConfigurationError(
            "a previous run left load packages pending: run `uniware run` first, then try again"
        )

    @dlt.source(name="uniware", section="uniware_admin")
    def uniware() -> Any:
        @dlt.resource(name="_uniware_state_edit")
        def state_edit() -> Iterator[Any]:
            resources = dlt.current.source_state().setdefault("resources", {})
            for name, edit in edits.items():
                edit(resources.setdefault(name, {}))
            yield from ()

        return state_edit

    pipeline.run(uniware())
