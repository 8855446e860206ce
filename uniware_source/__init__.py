"""uniware-dlt: Unicommerce Uniware export-job reports as a dlt source.

    import dlt
    from uniware_source import uniware_source

    source = uniware_source(job_codes=["JOB1", "JOB2"], report="Sale Orders")
    dlt.pipeline(pipeline_name="uniware", destination="duckdb", dataset_name="uniware_data").run(source)

Settings come from `[sources.uniware]` (and `[sources.uniware.credentials]`) in `.dlt/*.toml`, or from
the matching environment variables (`SOURCES__UNIWARE__TENANT`,
`SOURCES__UNIWARE__CREDENTIALS__PASSWORD`, ...).
"""

from __future__ import annotations

# first of all, before anything can load polars or pyarrow: their allocators' defaults (the
# imports below load neither: tests/unit/test_process_settings.py checks it)
from uniware_source.process_settings import apply_allocator_defaults

apply_allocator_defaults()

from typing import Any, Dict, List, Optional  # noqa: UP035 - dlt reads these annotations to resolve config

import dlt
from dlt.extract.resource import DltResource

from uniware_source.api.auth import UniwareCredentials
from uniware_source.api.errors import (
    AccessDeniedError,
    ApiError,
    AuthError,
    ConfigurationError,
    CsvFormatError,
    DownloadError,
    JobNotFoundError,
    TransportError,
    UniwareError,
)
from uniware_source.incremental.specs import with_column_types
from uniware_source.load.audit import AUDIT_TABLE, REJECTED_TABLE
from uniware_source.load.keys import KeyTracker
from uniware_source.load.missing import MissingJobsError
from uniware_source.load.resources import export_job_resource, exports_resource
from uniware_source.reports import report_spec
from uniware_source.run_lock import watch_runs
from uniware_source.settings import UniwareSourceConfiguration

__all__ = [
    "AUDIT_TABLE",
    "REJECTED_TABLE",
    "AccessDeniedError",
    "ApiError",
    "AuthError",
    "ConfigurationError",
    "CsvFormatError",
    "DownloadError",
    "JobNotFoundError",
    "MissingJobsError",
    "TransportError",
    "UniwareCredentials",
    "UniwareError",
    "uniware_source",
]

watch_runs()  # a run that only loads a pending package takes the run lock too (run_lock._LetGo)


@dlt.source(name="uniware", section="uniware", max_table_nesting=0, spec=UniwareSourceConfiguration)
def uniware_source(
    job_codes: Optional[List[str]] = None,  # noqa: UP006, UP045
    exports: Optional[List[Dict[str, Any]]] = None,  # noqa: UP006, UP045
    report: str = "Sale Orders",
    table_name: Optional[str] = None,  # noqa: UP045
    tenant: Optional[str] = None,  # noqa: UP045
    base_url: Optional[str] = None,  # noqa: UP045
    facility: Optional[str] = None,  # noqa: UP045
    credentials: UniwareCredentials = dlt.secrets.value,
    poll_interval: float = 2.0,
    max_poll_interval: float = 20.0,
    job_timeout: float = 1800.0,
    timezone: str = "Asia/Kolkata",
    force_reload: bool = False,
    max_workers: int = 8,
    batch_size: int = 100_000,
    download_dir: Optional[str] = None,  # noqa: UP045
    request_timeout: float = 60.0,
    download_timeout: float = 1800.0,
    request_max_attempts: int = 5,
    request_backoff_factor: float = 1.0,
    max_jobs_in_flight: int = 4,
    retry_cooldown: float = 60.0,
    collision_wait: float = 30.0,
    commit_every_windows: int = 16,
    commit_every_minutes: float = 30.0,
    backfill_start: Optional[str] = None,  # noqa: UP045
    backfill_end: Optional[str] = None,  # noqa: UP045
    snapshots: bool = True,
    fail_on_missing_jobs: bool = True,
    column_types: Optional[Dict[str, str]] = None,  # noqa: UP006, UP045
    _config: UniwareSourceConfiguration = None,  # type: ignore[assignment]  # dlt passes it, resolved
) -> List[DltResource]:  # noqa: UP006
    """Load the CSV files of Uniware export jobs, given their job codes.

    Args:
        job_codes: the export jobs to load. Codes loaded by an earlier run of the same pipeline are
            skipped (and recorded as SKIPPED) unless `force_reload` is set.
        report: the report's name in Uniware (`exportJobTypeName`); it picks the merge key and type hints.
        table_name: the destination table; by default the snake_case of `report` (`sale_orders`).
        tenant / base_url: `https://{tenant}.unicommerce.com`, or any base URL (http only for loopback).
        facility: the facility code the jobs belong to (recorded in the audit).
        poll_interval / max_poll_interval: the first wait between status polls, and the cap the
            backoff grows to (seconds).
        job_timeout: give up on a job that is not done after this many seconds.
        request_timeout / download_timeout: the longest wait for the network in one read, and the
            longest one attempt to download a file may take in all (seconds).
        timezone: the zone of Uniware's wall-clock timestamps.
        exports: scheduled incremental exports (`[[sources.uniware.exports]]`): the source
            creates one job per window and facility and remembers how far each got.
        max_jobs_in_flight: export jobs running on the tenant at once, across all exports.
        retry_cooldown / collision_wait: seconds before re-creating a failed window's job, and
            before asking again after Uniware refused a create as a collision.
        commit_every_windows / commit_every_minutes: one run loads at most this many windows,
            and creates no new job after this many minutes; the rest is left for the next run
            (the `uniware` command runs again at once until nothing is left).
        backfill_start / backfill_end: load this range of local dates (inclusive) for every
            export, without moving the incremental cursors.
        snapshots: export the snapshot reports (no date filter); False leaves them out, as the
            command's later batches of one run do (the first replaced them).
        fail_on_missing_jobs: when a job of the run ends without its data (FAILED, NOT_FOUND,
            TIMED_OUT, ...), `pipeline.run` raises `MissingJobsError` (inside dlt's
            `PipelineStepFailed`) after everything else has loaded; false: it only shows in
            `export_jobs`.
        column_types: a column's type by its CSV label (or column name), over the catalogue's
            and the data's: `{"Narration": "text"}`. Kinds: text, integer, decimal, boolean,
            date, timestamp. Applies to job codes and, under each export's own, to every export.

    Every argument is a field of `UniwareSourceConfiguration`: dlt resolves and checks them all
    before this body runs, which only wires the resources.
    """
    assert _config is not None  # dlt passes the resolved configuration
    settings, sync, specs = _config.settings()
    resources: list[DltResource] = []
    tracker = KeyTracker()  # keys yielded per table, across this source's resources
    if specs:
        resources.append(exports_resource(settings, specs, sync, tracker))
    if job_codes:
        codes = job_codes.split(",") if isinstance(job_codes, str) else job_codes
        spec = with_column_types(report_spec(report), settings.column_types)
        resources.append(export_job_resource(settings, codes, spec, table_name or spec.table_name, tracker))
    if not resources:
        raise ConfigurationError(
            "Nothing to load: configure [[sources.uniware.exports]] for scheduled exports, or pass "
            "job_codes=[...] / set sources.uniware.job_codes (SOURCES__UNIWARE__JOB_CODES='[\"JOB1\"]')"
        )
    return resources
