"""The `uniware` command: load what `.dlt/config.toml` says, print a summary, exit non-zero on failure.
`run` is the default command; `status`, `reset` and `forget` are in `cli_admin.py`, the options
and help in `cli_args.py`.

    python -m uniware_source                          # the configured exports (and job codes), into DuckDB
    python -m uniware_source --plan                   # the jobs a run would create; creates nothing
    python -m uniware_source --backfill 2024-04-01 2024-04-30   # a past range; cursors stay put
    python -m uniware_source --job-code J1 --job-code J2 --report "Sale Orders"
    python -m uniware_source --destination postgres
    python -m uniware_source --demo                   # against an in-process Uniware emulator

`pipelines/run.py` runs the same. Exit codes: 0 every job and window ended loaded (or had
loaded before; failed attempts that a later attempt made good stay in export_jobs); 1 some job
is missing data (named in the output); 2 the run could not start or load (bad settings, refused
login, destination error); 3 another run of the same pipeline holds its lock (nothing changed).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from uniware_source.process_settings import apply_allocator_defaults, apply_command_defaults

apply_allocator_defaults()  # before polars and pyarrow are imported

import dlt  # noqa: E402
from dlt.common.configuration import resolve_configuration  # noqa: E402
from dlt.common.pipeline import get_dlt_pipelines_dir  # noqa: E402
from dlt.common.runtime.collector import LogCollector, NullCollector  # noqa: E402

from uniware_source import uniware_source  # noqa: E402
from uniware_source.cli_args import parse_args  # noqa: E402
from uniware_source.cli_errors import report_failure  # noqa: E402
from uniware_source.cli_summary import summarize  # noqa: E402
from uniware_source.incremental.run import ExportRun, backlog, exports_state  # noqa: E402
from uniware_source.jobs.ledger import store_for  # noqa: E402
from uniware_source.load.unattended import run_unattended  # noqa: E402
from uniware_source.run_lock import RunLocked, check_project, project_path, run_lock  # noqa: E402
from uniware_source.settings import UniwareSourceConfiguration  # noqa: E402

EXIT_OK, EXIT_JOBS_FAILED, EXIT_RUN_FAILED, EXIT_LOCKED = 0, 1, 2, 3
logger = logging.getLogger("uniware_source.cli")
_NO_PROGRESS = NullCollector()


@contextmanager
def demo_tenant(pipeline_name: str, *, fresh: bool) -> Iterator[list[str]]:
    """Start the emulator and point the source at it: its demo job codes, and scheduled exports
    of every report it models (see emulator/demo.py)."""
    from uniware_source.emulator import Emulator
    from uniware_source.emulator.demo import demo_exports

    with Emulator(username="demo", password="demo-password", default_job_delay=1.5) as emulator:
        job_codes = emulator.seed_demo_jobs()
        exports = demo_exports(datetime.now(ZoneInfo("Asia/Kolkata")).date())  # the tenant's today
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


def source_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's settings, as arguments of `uniware_source`."""
    # the command says what is missing itself (exit 1 and the summary), with no exception
    source_args: dict[str, Any] = {"fail_on_missing_jobs": False}
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
    return source_args


def run(args: argparse.Namespace) -> int:
    pipeline_name = args.pipeline_name or ("uniware_demo" if getattr(args, "demo", False) else "uniware")
    if args.command != "run":
        from uniware_source.cli_admin import admin

        return admin(args, pipeline_name)
    if args.plan:  # reads, changes nothing: no lock needed
        return _run(args, pipeline_name)
    with run_lock(get_dlt_pipelines_dir(), pipeline_name):
        if getattr(args, "demo", False):  # a demo starts afresh (demo_tenant): wherever it runs now
            project_path(get_dlt_pipelines_dir(), pipeline_name).unlink(missing_ok=True)
        check_project(get_dlt_pipelines_dir(), pipeline_name, Path.cwd())
        return _run(args, pipeline_name)


def _run(args: argparse.Namespace, pipeline_name: str) -> int:
    apply_command_defaults()
    started = time.monotonic()
    source_args = source_arguments(args)
    tenant: AbstractContextManager[list[str]] = (
        demo_tenant(pipeline_name, fresh=not args.plan) if args.demo else nullcontext([])
    )
    with tenant as demo_jobs:
        if demo_jobs and "job_codes" not in source_args:
            source_args["job_codes"] = demo_jobs
        pipeline = dlt.pipeline(
            pipeline_name=pipeline_name,
            destination=args.destination or "duckdb",
            # not "uniware": DuckDB cannot tell a schema from a database file (uniware.duckdb)
            # of the same name
            dataset_name=args.dataset,
            progress=progress_collector(args.progress or _default_progress(args.verbose)),
        )
        if args.plan:
            return print_plan(pipeline, source_args)
        outcome = run_unattended(pipeline, uniware_source(**source_args))
        left, loaded = backlog(pipeline.state)
        # the given job codes loaded in the first batch, and the snapshots: now-state, not windows
        later = {**source_args, "job_codes": [], "snapshots": False}
        while left and loaded:  # a long backfill: one commit per batch, until nothing is left
            logger.info("%d window(s) left for the next batch; running it", left)
            outcome.extend(run_unattended(pipeline, uniware_source(**later)))
            left, loaded = backlog(pipeline.state)
    return summarize(pipeline, outcome, time.monotonic() - started)


def _default_progress(verbose: bool) -> str:
    """Progress lines when someone watches (a terminal, or -v); none under cron."""
    return "log" if verbose or sys.stderr.isatty() else "none"


def progress_collector(kind: str) -> Any:
    """dlt's collector for `--progress`; tqdm and enlighten only when installed (else log lines,
    said in one line)."""
    if kind == "none":
        return _NO_PROGRESS
    if kind in ("tqdm", "enlighten") and importlib.util.find_spec(kind) is None:
        print(
            f"uniware: --progress {kind} needs the {kind} package (pip install {kind}); "
            "showing progress as log lines instead",
            file=sys.stderr,
        )
        kind = "log"
    if kind == "log":
        return LogCollector(log_period=2.0, logger=sys.stderr, dump_system_stats=False)
    return kind


def print_plan(pipeline: dlt.Pipeline, source_args: dict[str, Any]) -> int:
    """The jobs a run would create or re-attach to, from the same settings and stored progress as
    a run; nothing is created, and the ledger is read, not written."""
    config = resolve_configuration(
        UniwareSourceConfiguration(), sections=("sources", "uniware"), explicit_value=source_args
    )
    settings, sync, specs = config.settings()
    if not specs:
        print("uniware: no [[sources.uniware.exports]] configured: nothing to plan")
        return EXIT_OK
    export_run = ExportRun(settings, specs, sync)
    pipeline.sync_destination()  # the progress as a run would restore it (a fresh machine has none)
    state = exports_state(pipeline.state)
    ledger = export_run.open_ledger(state, store_for(pipeline), read_only=True)
    plan = export_run.plan(state, ledger)
    zone = settings.timezone
    print(f"uniware: a run now would start {len(plan.tasks)} job(s) (times in {zone}):")
    for task in plan.tasks:
        window = task.window.label(zone) if task.window else "snapshot (whole report)"
        action = f"re-attach to {task.reattach}" if task.reattach else "create"
        print(f"  {task.spec.report.name:<22} {task.facility:<12} {window:<36} {action}")
    if plan.deferred:
        print(f"  and {len(plan.deferred)} more window(s) in the next batches (commit_every_windows)")
    return EXIT_OK


def setup_logging(verbose: bool, log_file: str | None) -> None:
    """Warnings on stderr (INFO with -v); with `log_file`, INFO and up into that file as well."""
    form = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=form)
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(form))
        ours = logging.getLogger("uniware_source")
        ours.setLevel(logging.INFO)
        ours.addHandler(handler)
        if not verbose:  # the console keeps its warnings-only level
            for console in logging.getLogger().handlers:
                console.setLevel(logging.WARNING)
    if not verbose:  # dlt's own lines stay one line each: their tracebacks with -v only
        logging.getLogger("dlt").addFilter(_without_traceback)


def _without_traceback(record: logging.LogRecord) -> bool:
    """A dlt line without its traceback (as exc_info, or written into the message, as its loader
    does for a job it retries): the words before it and the error it ends with."""
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    message = record.getMessage()
    before, marker, trace = message.partition("Traceback (most recent call last):")
    if marker:
        last = [line for line in trace.splitlines() if line.strip() and not line.startswith(" ")]
        record.msg, record.args = f"{before.rstrip()} {last[-1].strip() if last else ''}", ()
    return True


def entry() -> None:
    """The command as a process (the `uniware` script, `python -m uniware_source`,
    `pipelines/run.py`): main, then exit with its code. The objects the imports made are set
    aside from the garbage collector (gc.freeze) before the run, and everything before the exit:
    the collector's passes over them did nothing but cost time, 0.2-0.3 s at the exit alone (the
    interpreter's last collections over dlt's objects). Exit handlers and flushes still run."""
    gc.freeze()
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, args.log_file)
    try:
        return run(args)
    except RunLocked as exc:
        print(f"uniware: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure ends as one clear line, not a traceback
        report_failure(exc, args.verbose, args.command)
        return EXIT_RUN_FAILED
