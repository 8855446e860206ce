"""The scheduled command: load what `.dlt/config.toml` says, print a summary, exit non-zero on failure.

    python pipelines/run.py                       # the configured exports (and job codes), into DuckDB
    python pipelines/run.py --plan                # the jobs a run would create; creates nothing
    python pipelines/run.py --backfill 2024-04-01 2024-04-30   # a past range; cursors stay put
    python pipelines/run.py --job-code J1 --job-code J2 --report "Sale Orders"
    python pipelines/run.py --destination postgres
    python pipelines/run.py --demo                # against an in-process Uniware emulator

Exit codes: 0 every job loaded (or had loaded before); 1 some job failed (named in the output);
2 the run could not start or load (bad settings, refused login, destination error).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_settings import apply_allocator_defaults, apply_duckdb_defaults  # noqa: E402

apply_allocator_defaults()  # before polars and pyarrow are imported

import dlt  # noqa: E402
from dlt.common.configuration.exceptions import ConfigFieldMissingException  # noqa: E402
from dlt.common.pipeline import LoadInfo  # noqa: E402
from dlt.common.runtime.collector import NullCollector  # noqa: E402

from uniware_source import AUDIT_TABLE, REJECTED_TABLE, UniwareError, uniware_source  # noqa: E402
from uniware_source.incremental.sync import RESOURCE_NAME, export_run_of  # noqa: E402

EXIT_OK, EXIT_JOBS_FAILED, EXIT_RUN_FAILED = 0, 1, 2
_NO_PROGRESS = NullCollector()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load Uniware export jobs with dlt.")
    parser.add_argument("--destination", default=None, help="dlt destination (default duckdb)")
    parser.add_argument("--pipeline-name", default=None, help="dlt pipeline name (default uniware)")
    parser.add_argument(
        "--dataset", default="uniware_data", help="destination dataset/schema (default uniware_data)"
    )
    parser.add_argument(
        "--job-code", action="append", dest="job_codes", help="a job code to load (repeatable)"
    )
    parser.add_argument("--report", default=None, help="Uniware report name (exportJobTypeName)")
    parser.add_argument("--table-name", default=None, help="destination table for the report rows")
    parser.add_argument(
        "--force-reload", action="store_true", help="load job codes again even if loaded before"
    )
    parser.add_argument("--plan", action="store_true", help="print the jobs a run would create, create none")
    parser.add_argument(
        "--backfill",
        nargs=2,
        metavar=("START", "END"),
        help="load local dates START..END (inclusive) for every export without moving the cursors",
    )
    parser.add_argument("--demo", action="store_true", help="run against an in-process Uniware emulator")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    return parser.parse_args(argv)


@contextmanager
def demo_tenant(pipeline_name: str, *, fresh: bool) -> Iterator[list[str]]:
    """Start the emulator and point the source at it: its demo job codes, and scheduled exports
    of Sale Orders (the last two days, every facility) and of the Inventory Snapshot."""
    from uniware_source.emulator import Emulator

    with Emulator(username="demo", password="demo-password", default_job_delay=1.5) as emulator:
        job_codes = emulator.seed_demo_jobs()
        exports = [
            {
                "report": "Sale Orders",
                "start_date": str(date.today() - timedelta(days=2)),
                "facilities": "all",
            },
            {"report": "Inventory Snapshot", "facilities": ["WH-BLR", "WH-DEL"]},
        ]
        os.environ["SOURCES__UNIWARE__BASE_URL"] = emulator.base_url
        os.environ["SOURCES__UNIWARE__CREDENTIALS__USERNAME"] = "demo"
        os.environ["SOURCES__UNIWARE__CREDENTIALS__PASSWORD"] = "demo-password"
        os.environ["SOURCES__UNIWARE__EXPORTS"] = json.dumps(exports)
        os.environ.setdefault("SOURCES__UNIWARE__POLL_INTERVAL", "0.5")
        os.environ.setdefault("SOURCES__UNIWARE__MAX_POLL_INTERVAL", "2")
        if fresh:  # a demo shows a first load: forget the previous demo's state and tables
            dlt.pipeline(pipeline_name=pipeline_name).drop()
            Path(f"{pipeline_name}.duckdb").unlink(missing_ok=True)
        yield job_codes


def run(args: argparse.Namespace) -> int:
    apply_duckdb_defaults()
    pipeline_name = args.pipeline_name or ("uniware_demo" if args.demo else "uniware")
    started = time.monotonic()
    source_args: dict[str, Any] = {}
    for name in ("report", "table_name"):
        if getattr(args, name):
            source_args[name] = getattr(args, name)
    if args.job_codes:
        source_args["job_codes"] = args.job_codes
        source_args["exports"] = []  # job codes on the command line: only those
    if args.force_reload:
        source_args["force_reload"] = True
    if args.backfill:
        source_args["backfill_start"], source_args["backfill_end"] = args.backfill

    with demo_tenant(pipeline_name, fresh=not args.plan) if args.demo else _nothing() as demo_jobs:
        if demo_jobs and "job_codes" not in source_args:
            source_args["job_codes"] = demo_jobs
        pipeline = dlt.pipeline(
            pipeline_name=pipeline_name,
            destination=args.destination or "duckdb",
            # not "uniware": DuckDB cannot tell a schema from a database file (uniware.duckdb)
            # of the same name
            dataset_name=args.dataset,
            progress="log" if args.verbose else _NO_PROGRESS,
        )
        source = uniware_source(**source_args)
        if args.plan:
            return print_plan(pipeline, source)
        load_info = pipeline.run(source)
    return summarize(pipeline, load_info, time.monotonic() - started)


def print_plan(pipeline: dlt.Pipeline, source: Any) -> int:
    export_run = export_run_of(source)
    if export_run is None:
        print("uniware: no [[sources.uniware.exports]] configured: nothing to plan")
        return EXIT_OK
    state = pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {}).get(RESOURCE_NAME, {})
    tasks = export_run.plan(state, Path(pipeline.working_dir))
    zone = export_run.settings.timezone
    print(f"uniware: a run now would start {len(tasks)} job(s) (times in {zone}):")
    for task in tasks:
        window = task.window.label(zone) if task.window else "snapshot (whole report)"
        action = f"re-attach to {task.reattach}" if task.reattach else "create"
        print(f"  {task.spec.report.name:<22} {task.facility:<12} {window:<36} {action}")
    return EXIT_OK


@contextmanager
def _nothing() -> Iterator[list[str]]:
    yield []


def summarize(pipeline: dlt.Pipeline, load_info: LoadInfo, seconds: float) -> int:
    load_ids = [str(load_id) for load_id in load_info.loads_ids]
    quoted = ", ".join(f"'{load_id}'" for load_id in load_ids) or "''"
    # the destination's own client: pipeline.dataset() would import its query machinery (sqlglot),
    # a quarter of a second of every run
    columns = "job_code, status, rows_loaded, rows_rejected, message, report, facility, window_start"
    with pipeline.sql_client() as client:
        audit = client.make_qualified_table_name(AUDIT_TABLE)
        jobs = client.execute_sql(
            f"SELECT {columns} FROM {audit} WHERE _dlt_load_id IN ({quoted}) "
            "ORDER BY report, facility, window_start, job_code"
        )
    jobs = jobs or []
    normalize_info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    row_counts = normalize_info.row_counts if normalize_info else {}
    data_tables = {t: n for t, n in sorted(row_counts.items()) if not t.startswith("_dlt")}

    outcomes = Counter(status for _, status, *_ in jobs)
    print(f"uniware: {len(jobs)} job(s): " + ", ".join(f"{n} {s}" for s, n in sorted(outcomes.items())))
    for job_code, status, rows, rejected, message, report, facility, window_start in jobs:
        where = f"{report} / {facility or '-'}"
        if window_start:
            where += f" / {window_start:%Y-%m-%d %H:%M}Z"
        counts = f"rows={rows or 0:<8} rejected={rejected or 0:<4}"
        line = f"  {job_code or '(none)':<16} {status:<15} {counts} {where}"
        if message and status not in ("LOADED",):
            line += f"  {message}"
        print(line)
    print("rows this run: " + (", ".join(f"{t}={n}" for t, n in data_tables.items()) or "none"))
    rejected_total = data_tables.get(REJECTED_TABLE, 0)
    if rejected_total:
        print(f"rejected rows: {rejected_total} (see table {REJECTED_TABLE})")
    destination = pipeline.destination.destination_name if pipeline.destination else "?"
    print(f"destination: {destination}, dataset {pipeline.dataset_name}; took {seconds:.1f} s")

    failed = [
        f"{job_code or '(not created)'} ({report} / {facility})"
        for job_code, status, _, _, _, report, facility, _ in jobs
        if status not in ("LOADED", "SKIPPED")
    ]
    if failed:
        print(f"FAILED jobs: {', '.join(failed)}", file=sys.stderr)
        return EXIT_JOBS_FAILED
    return EXIT_OK


def _root_cause(exc: BaseException) -> BaseException:
    """The error worth showing in the chain dlt wrapped around it: ours (or a missing setting) if
    there is one, else the innermost, which says what actually went wrong."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        if isinstance(current, UniwareError | ConfigFieldMissingException):
            return current
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain[-1]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure ends as one clear line, not a traceback
        cause = _root_cause(exc)
        if isinstance(cause, ConfigFieldMissingException):
            missing = ", ".join(cause.fields)
            print(
                f"uniware: missing setting(s): {missing} (see .dlt/config.toml and secrets.toml)",
                file=sys.stderr,
            )
        else:
            text = " ".join(str(cause).split())
            print(f"uniware: run failed: {type(cause).__name__}: {text[:500]}", file=sys.stderr)
            if args.verbose:
                logging.exception("details")
        return EXIT_RUN_FAILED


if __name__ == "__main__":
    sys.exit(main())
