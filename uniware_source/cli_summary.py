"""What the command prints after a run: the run's jobs from `export_jobs`, rows per table, and the
exit code they add up to."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from uniware_source.load.audit import AUDIT_TABLE, REJECTED_TABLE
from uniware_source.load.unattended import UnattendedRun

EXIT_OK, EXIT_JOBS_FAILED = 0, 1
_DONE = ("LOADED", "SKIPPED")
_COLUMNS = "job_code, status, rows_loaded, rows_rejected, message, report, facility, window_start, superseded"


class JobLine(NamedTuple):
    job_code: str | None
    status: str
    rows: int | None
    rejected: int | None
    message: str | None
    report: str
    facility: str | None
    window_start: Any
    superseded: bool | None

    @property
    def missing(self) -> bool:
        """Its data is missing: it did not load, and no later attempt in the run took over its
        window (a retry, a split)."""
        return self.status not in _DONE and not self.superseded

    def name(self) -> str:
        """The job, its outcome and where it belongs: `EXP-1 QUARANTINED (Stock Moves / -)`."""
        return f"{self.job_code or '(not created)'} {self.status} ({self.report} / {self.facility or '-'})"

    def describe(self, zone: str = "Asia/Kolkata") -> str:
        from uniware_source.cli_admin import local

        where = f"{self.report} / {self.facility or '-'}"
        if self.window_start:
            where += f" / from {local(self.window_start, zone)}"
        counts = f"rows={self.rows or 0:<8} rejected={self.rejected or 0:<4}"
        line = f"  {self.job_code or '(none)':<16} {self.status:<15} {counts} {where}"
        if self.message and self.status != "LOADED":
            line += f"  {self.message}"
        return line


def run_jobs(pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> list[JobLine]:
    """The `export_jobs` rows of the given loads, through the destination's own SQL client
    (`pipeline.dataset()` would import its query machinery: a quarter of a second a run)."""
    if not load_ids:
        return []
    placeholders = ", ".join(["%s"] * len(load_ids))
    with pipeline.sql_client() as client:
        audit = client.make_qualified_table_name(AUDIT_TABLE)
        try:
            found = client.execute_sql(
                f"SELECT {_COLUMNS} FROM {audit} WHERE _dlt_load_id IN ({placeholders}) "
                "ORDER BY report, facility, window_start, job_code",
                *load_ids,
            )
        except DatabaseUndefinedRelation:  # no job has ended in this pipeline yet
            found = []
    return [JobLine(*row) for row in found or []]


def summarize(pipeline: dlt.Pipeline, outcome: UnattendedRun, seconds: float) -> int:
    """Print the run's summary; the exit code: 0 if every job and window ended loaded (or had
    before), else 1."""
    _print_given_up(outcome)
    jobs = run_jobs(pipeline, outcome.load_ids)
    outcomes = Counter(job.status for job in jobs)
    print(f"uniware: {len(jobs)} job(s): " + ", ".join(f"{n} {s}" for s, n in sorted(outcomes.items())))
    from uniware_source.cli_admin import zone

    tz = zone()
    for job in jobs:
        print(job.describe(tz))
    _print_rows(outcome)
    destination = pipeline.destination.destination_name if pipeline.destination else "?"
    print(f"destination: {destination}, dataset {pipeline.dataset_name}; took {seconds:.1f} s")
    # a job of a package given up that this run then loaded again is not missing
    landed = {job.job_code for job in jobs if job.job_code and not job.missing}
    failed = [
        job.name() for job in jobs if job.missing and (job.job_code is None or job.job_code not in landed)
    ]
    if failed:
        print(f"FAILED jobs: {', '.join(failed)}", file=sys.stderr)
        return EXIT_JOBS_FAILED
    return EXIT_OK


def _print_given_up(outcome: UnattendedRun) -> None:
    for package in outcome.given_up:
        codes = ", ".join(str(job.get("job_code") or "(none)") for job in package.jobs) or "none"
        print(
            f"gave up on load package {package.load_id}, refused by the destination: {package.error}; "
            f"its jobs load again next run: {codes}",
            file=sys.stderr,
        )


def _print_rows(outcome: UnattendedRun) -> None:
    """The rows of every load of this run, by table (a long backfill's batches and the audit rows
    of given-up packages included); packages a killed run had normalized are loaded as they are,
    and their rows are said apart."""
    data_tables = {t: n for t, n in sorted(outcome.rows.items()) if not t.startswith(("_dlt", "_uniware"))}
    print("rows this run: " + (", ".join(f"{t}={n}" for t, n in data_tables.items()) or "none"))
    if outcome.recovered:
        print(
            f"also loaded: {len(outcome.recovered)} package(s) a killed run had left ready "
            f"({', '.join(outcome.recovered)}), their rows not counted above"
        )
    rejected_total = data_tables.get(REJECTED_TABLE, 0)
    if rejected_total:
        print(f"rejected rows: {rejected_total} (see table {REJECTED_TABLE})")
