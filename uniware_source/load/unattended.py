"""A run that nothing in the last run can wedge: dlt's run, with what an unattended schedule needs
around it.

- **Leftovers of a killed run.** A kill between dlt's normalize committing a package and its
  cleanup leaves the package twice: complete in `load/normalized`, and still in
  `normalize/extracted` (or half-written in `load/new`). dlt would normalize the stale copy again
  and fail on every later run (`Directory not empty`). The stale copies are removed first.
- **Pending packages.** A killed run's normalized packages are loaded first, in a run of their
  own, so that this run still extracts its own data (dlt's `run` otherwise only loads what is
  pending and extracts nothing).
- **A package the destination refuses for good** (a terminal job failure, a job that ran the
  destination out of memory on every one of dlt's retries, or a file of the package that cannot
  be read whole) is aborted with dlt's
  `abort_packages`, which also restores the pipeline state to before it: its jobs are not marked
  loaded, cursors do not move, and the next run loads them again. The jobs it carried (noted in
  the package's own state) are recorded in `export_jobs` as LOAD_FAILED, with the package and the
  destination's error. A transient failure is left pending, for dlt to retry next run.

Running out of memory is not transient, although dlt's DuckDB client calls it so: the same file
under the same memory limit fails the same way, and a package left pending with it failed every
later run before extracting anything. It is given up like a refusal, with the destination's own
one-line error and the setting to raise; the jobs load again next run, when the limit may allow.
Before that, a package that ran out of memory while the command had given DuckDB two threads
(process_settings.fit_duckdb_threads) is loaded again at once with one.
"""

from __future__ import annotations

import logging
import shutil
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.load.exceptions import (
    LoadClientJobFailed,
    LoadClientJobRetry,
    LoadClientJobTerminalRetry,
    LoadPackageAborted,
)
from dlt.pipeline.exceptions import PipelineStepFailed

from uniware_source.api.errors import redact
from uniware_source.load.audit import AUDIT_TABLE, PACKAGE_JOBS, REJECTED_TABLE, audit_hints
from uniware_source.load.destination import DUCKDB
from uniware_source.process_settings import fewer_duckdb_threads

logger = logging.getLogger(__name__)

LOAD_FAILED = "LOAD_FAILED"
# a job of the package failed terminally: left pending (dlt's default), or aborted already (with
# dlt's `load.auto_abort_on_terminal_error`)
_REFUSED = (LoadClientJobTerminalRetry, LoadClientJobFailed, LoadPackageAborted)
# the destination libraries' out-of-memory errors, by class name (none of them need be installed):
# duckdb.OutOfMemoryException, psycopg2.errors.OutOfMemory (SQLSTATE 53200); and DuckDB's words
# for it, which also come as other errors (a commit that could not allocate: TransactionException)
_OUT_OF_MEMORY = frozenset({"OutOfMemoryException", "OutOfMemory"})
# a file of the package that cannot be read whole: DuckDB's and pyarrow's words for a parquet file
# cut short, gzip's for a compressed insert file (EOFError, zlib.error by class)
_DAMAGED_WORDS = (
    "No magic bytes found",
    "magic bytes not found",
    "Not a gzipped file",
    "Compressed file ended",
)
_OUT_OF_MEMORY_WORDS = (
    "Out of Memory Error",
    "could not allocate block of size",
    "failed to allocate data of size",
)


@dataclass
class GivenUp:
    """A load package the destination refused for good, and the jobs it carried."""

    load_id: str
    error: str
    jobs: list[dict[str, Any]]
    schema_name: str | None = None  # of the package: a first run's abort leaves the pipeline none


@dataclass
class UnattendedRun:
    loads: list[LoadInfo] = field(default_factory=list)
    given_up: list[GivenUp] = field(default_factory=list)
    healed: list[str] = field(default_factory=list)  # load ids whose stale copies were removed
    rows: Counter[str] = field(default_factory=Counter)  # by table, as this process normalized them
    recovered: list[str] = field(default_factory=list)  # load ids a killed run left normalized

    def extend(self, other: UnattendedRun) -> None:
        """Add a later run's outcome (a next batch) to this one."""
        self.loads += other.loads
        self.given_up += other.given_up
        self.healed += other.healed
        self.rows += other.rows
        self.recovered += other.recovered

    @property
    def load_ids(self) -> list[str]:
        return [str(load_id) for info in self.loads for load_id in info.loads_ids]


def run_unattended(pipeline: dlt.Pipeline, source: Any) -> UnattendedRun:
    """Heal, load what a killed run left pending, then run `source`; give up on what the
    destination refuses for good, and record it."""
    outcome = UnattendedRun(healed=remove_stale_copies(Path(pipeline.working_dir)))
    for load_id in outcome.healed:
        logger.warning("removed the stale copy of package %s that a killed run left behind", load_id)
    if pipeline.has_pending_data:
        logger.warning("loading the packages a previous run left pending first")
        normalized = set(pipeline.list_normalized_load_packages())
        _run(pipeline, None, outcome)
        outcome.recovered += [load_id for load_id in outcome.load_ids if load_id in normalized]
        # recorded before this run's own jobs, which may load the same ones again
        _record_given_up(pipeline, outcome, outcome.given_up)
    recorded = len(outcome.given_up)
    _run(pipeline, source, outcome)
    _record_given_up(pipeline, outcome, outcome.given_up[recorded:])
    return outcome


def _record_given_up(pipeline: dlt.Pipeline, outcome: UnattendedRun, given_up: Sequence[GivenUp]) -> None:
    """The jobs of packages given up, as LOAD_FAILED rows of `export_jobs`."""
    if not given_up:
        return
    # the audit rows go to the pipeline's schema; on a first run the abort restored none
    names = [package.schema_name for package in given_up if package.schema_name]
    schema = (
        pipeline.default_schema
        if pipeline.default_schema_name
        else dlt.Schema(names[0] if names else pipeline.pipeline_name)
    )
    outcome.loads.append(pipeline.run(_given_up_rows(given_up), schema=schema))
    _count_rows(pipeline, outcome)


def remove_stale_copies(working_dir: Path) -> list[str]:
    """Remove the extracted and half-normalized copies of packages that normalize completed."""
    committed = {
        package.name
        for folder in ("normalized", "loaded")
        for package in _packages(working_dir / "load" / folder)
    }
    extracted = _packages(working_dir / "normalize" / "extracted")
    still_extracted = {package.name for package in extracted}
    half_written = _packages(working_dir / "load" / "new")
    removed = []
    for package in extracted:
        if package.name in committed:
            shutil.rmtree(package)
            removed.append(package.name)
    for package in half_written:
        # normalize writes a package that is still extracted again, from the start
        if package.name in committed or package.name in still_extracted:
            shutil.rmtree(package)
            removed.append(package.name)
    return sorted(set(removed))


def _packages(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


def _run(pipeline: dlt.Pipeline, source: Any, outcome: UnattendedRun) -> None:
    try:
        info = pipeline.run(source) if source is not None else pipeline.run()
    except PipelineStepFailed as exc:
        if exc.step != "load" or not _refused(exc.exception) or not exc.load_id:
            raise
        if _again_with_one_thread(pipeline, exc):
            # the command gave DuckDB two threads for rows it judged narrow enough: the package
            # is still pending, and loads again now with one (see process_settings)
            logger.warning(
                "the destination ran out of memory loading package %s with two threads; loading it "
                "again with one",
                exc.load_id,
            )
            _run(pipeline, None, outcome)
            return
        outcome.given_up.append(_give_up(pipeline, exc.load_id, exc.exception))
        return
    if info is not None:  # None: nothing was left to load (a first run's pending package is gone
        outcome.loads.append(info)  # with the working folder dlt wipes when the dataset is new)
        _count_rows(pipeline, outcome)


def _count_rows(pipeline: dlt.Pipeline, outcome: UnattendedRun) -> None:
    """Add the rows the run just ended normalized, by table."""
    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    outcome.rows.update(normalized.row_counts if normalized else {})


def _again_with_one_thread(pipeline: dlt.Pipeline, exc: PipelineStepFailed) -> bool:
    """Whether a package that ran DuckDB out of memory is still pending and the command had given
    DuckDB two threads, which are now one (process_settings.fewer_duckdb_threads)."""
    return (
        pipeline.destination is not None
        and pipeline.destination.destination_type == DUCKDB
        and _out_of_memory(getattr(exc.exception, "client_exception", exc.exception)) is not None
        and exc.load_id in pipeline.list_normalized_load_packages()  # not aborted by dlt itself
        and fewer_duckdb_threads()
    )


def _refused(error: BaseException) -> bool:
    """A terminal failure, or retries that all ran out of memory or met a damaged file."""
    if isinstance(error, _REFUSED):
        return True
    if not isinstance(error, LoadClientJobRetry):
        return False
    return _out_of_memory(error.client_exception) is not None or _damaged(error.client_exception) is not None


def _damaged(error: BaseException | None) -> BaseException | None:
    """The error of a package's file that cannot be read whole (cut short by a full disk or a
    crash of the machine): every retry meets it again, and the package, left pending, failed every
    later run before it extracted anything. dlt's clients call it transient."""
    for e in _chain(error):
        if isinstance(e, EOFError | zlib.error) or any(words in str(e) for words in _DAMAGED_WORDS):
            return e
    return None


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: list[BaseException] = []
    while error is not None and all(error is not other for other in seen):
        seen.append(error)
        yield error
        error = error.__cause__ or error.__context__


def _out_of_memory(error: BaseException | None) -> BaseException | None:
    for e in _chain(error):
        if type(e).__name__ in _OUT_OF_MEMORY or any(words in str(e) for words in _OUT_OF_MEMORY_WORDS):
            *_, innermost = _chain(e)
            return innermost
    return None


def _reason(error: BaseException) -> str:
    """One line on why the destination refused a package: the table, and the destination's own
    error (not dlt's wrapper with its traceback); for running out of memory, what to raise."""
    client_error = getattr(error, "client_exception", None)
    job_id = getattr(error, "job_id", None)
    table = f"table {job_id.split('.')[0]}: " if isinstance(job_id, str) and "." in job_id else ""
    memory = _out_of_memory(client_error)
    if memory is not None:
        return (
            f"{table}the destination ran out of memory loading it ({type(memory).__name__}: "
            f"{_first_line(memory)}); "
            "raise its memory limit or lower its threads (an insert holds every column's buffers "
            "per thread; DuckDB: memory_limit, threads in destination.duckdb.credentials.global_config)"
        )
    damaged = _damaged(client_error)
    if damaged is not None:
        first = _first_line(damaged)[:200]
        return f"{table}a file of the package is damaged ({type(damaged).__name__}: {first})"
    if client_error is not None:
        *_, innermost = _chain(client_error)
        return f"{table}{type(innermost).__name__}: {_first_line(innermost)}"
    return " ".join(str(error).split())


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def _give_up(pipeline: dlt.Pipeline, load_id: str, error: BaseException) -> GivenUp:
    jobs = list(pipeline.get_load_package_state(load_id).get(PACKAGE_JOBS, []))  # type: ignore[call-overload]
    text = redact(_reason(error))[:500]
    logger.error(
        "the destination refused load package %s for good (%s); giving it up: its %d job(s) load "
        "again next run",
        load_id,
        text,
        len(jobs),
    )
    schema_name = pipeline.default_schema_name
    pipeline.abort_packages()  # deletes the package and restores the state from before it
    _forget_partial_audit(pipeline, load_id, jobs)
    return GivenUp(load_id, text, jobs, schema_name)


def _forget_partial_audit(pipeline: dlt.Pipeline, load_id: str, jobs: Sequence[dict[str, Any]]) -> None:
    """The audit rows that parts of the package loaded before the refusal (a package's tables load
    separately) speak of a load that did not happen: removed, so that LOAD_FAILED says what did.
    Rows of the report tables that did load are replaced when the jobs load again (merge on
    their key, or on their job or window)."""
    with pipeline.sql_client() as client:
        for table, condition, args in _partial_rows(load_id, jobs):
            try:
                client.execute_sql(
                    f"DELETE FROM {client.make_qualified_table_name(table)} WHERE {condition}", *args
                )
            except DatabaseUndefinedRelation:
                continue


def _partial_rows(load_id: str, jobs: Sequence[dict[str, Any]]) -> Iterator[tuple[str, str, list[Any]]]:
    yield AUDIT_TABLE, "_dlt_load_id = %s", [load_id]
    # rejected rows are Arrow tables, without a load id: found by their job and run
    for job in jobs:
        if job.get("job_code") and job.get("run_started_at"):
            started = job["run_started_at"]
            if isinstance(started, str):
                started = datetime.fromisoformat(started)
            yield REJECTED_TABLE, "job_code = %s AND run_started_at = %s", [job["job_code"], started]


def _given_up_rows(given_up: Sequence[GivenUp]) -> Any:
    @dlt.resource(name="uniware_load_failures", max_table_nesting=0)
    def load_failures() -> Iterator[Any]:
        now = datetime.now(UTC)
        rows = [
            {
                **job,
                "status": LOAD_FAILED,
                "message": f"load package {package.load_id} was refused by the destination and given "
                f"up; this job loads again next run: {package.error}",
                "finished_at": now,
                "rows_loaded": 0,
            }
            for package in given_up
            for job in package.jobs
        ]
        if rows:
            yield dlt.mark.with_hints(rows, audit_hints(), create_table_variant=True)

    return load_failures()
