"""The source's settings: a dlt configspec, resolved by dlt and checked once, in `on_resolved`.

dlt fills `UniwareSourceConfiguration` from the call's arguments, `[sources.uniware]` in
`.dlt/*.toml` and `SOURCES__UNIWARE__*` variables, and coerces each value to its field's type
(a wrong type is reported by dlt with the field's name). `on_resolved` then checks what types
cannot say, with errors that name the setting, and `settings()` turns the values into the objects
the stages use: `SourceSettings` (tenant, polling, typing, HTTP) and `SyncSettings` (scheduled
exports).
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Dict, List, Optional  # noqa: UP035 - dlt reads these annotations
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration

from uniware_source.api.auth import UniwareCredentials
from uniware_source.api.client import UniwareClient, resolve_base_url
from uniware_source.api.errors import ConfigurationError
from uniware_source.incremental.specs import ExportSpec, column_types, parse_exports
from uniware_source.jobs import Backoff, PollSettings
from uniware_source.reports import CATALOGUE, check_table_name, default_table_name
from uniware_source.typed_csv.kinds import Kind

logger = logging.getLogger(__name__)
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

# (setting, what it must be): every number the source takes, checked alike
_SECONDS = (
    "poll_interval",
    "max_poll_interval",
    "job_timeout",
    "request_timeout",
    "download_timeout",
    "commit_every_minutes",
)
_AT_LEAST_ONE = (
    "max_workers",
    "batch_size",
    "request_max_attempts",
    "max_jobs_in_flight",
    "commit_every_windows",
)
_ZERO_OR_MORE = ("request_backoff_factor", "retry_cooldown", "collision_wait")


@configspec
class UniwareSourceConfiguration(BaseConfiguration):
    """`[sources.uniware]`: every setting of `uniware_source()`, with its default."""

    # a list; from the environment also a JSON list or codes separated by commas (see job_code_list)
    job_codes: Optional[Any] = None  # noqa: UP045
    exports: Optional[List[Dict[str, Any]]] = None  # noqa: UP006, UP045
    report: str = "Sale Orders"
    table_name: Optional[str] = None  # noqa: UP045
    tenant: Optional[str] = None  # noqa: UP045
    base_url: Optional[str] = None  # noqa: UP045
    facility: Optional[str] = None  # noqa: UP045
    credentials: UniwareCredentials = None  # type: ignore[assignment]  # dlt resolves it
    poll_interval: float = 2.0
    max_poll_interval: float = 20.0
    job_timeout: float = 1800.0
    timezone: str = "Asia/Kolkata"
    force_reload: bool = False
    max_workers: int = 8
    batch_size: int = 100_000
    download_dir: Optional[str] = None  # noqa: UP045
    request_timeout: float = 60.0
    download_timeout: float = 1800.0
    request_max_attempts: int = 5
    request_backoff_factor: float = 1.0
    max_jobs_in_flight: int = 4
    retry_cooldown: float = 60.0
    collision_wait: float = 30.0
    commit_every_windows: int = 16
    commit_every_minutes: float = 30.0
    backfill_start: Optional[str] = None  # noqa: UP045
    backfill_end: Optional[str] = None  # noqa: UP045
    snapshots: bool = True
    fail_on_missing_jobs: bool = True
    column_types: Optional[Dict[str, str]] = None  # noqa: UP006, UP045

    def on_resolved(self) -> None:
        self.job_codes = job_code_list(self.job_codes)
        self.settings()  # builds everything once: whatever is wrong raises, naming the setting
        if self.job_codes:
            table, setting = (self.table_name, "table_name") if self.table_name else (self.report, "report")
            check_table_name(table, f"sources.uniware.{setting} {table!r}")
            warn_unknown_report(self.report, self.table_name)

    def settings(self) -> tuple[SourceSettings, SyncSettings, list[ExportSpec]]:
        """The checked settings, and the export specs (empty without `exports`)."""
        _check_numbers(self)
        if self.max_poll_interval < self.poll_interval:
            raise ConfigurationError(
                f"sources.uniware.max_poll_interval ({self.max_poll_interval}) "
                f"is below poll_interval ({self.poll_interval})"
            )
        types = column_types(self.column_types, "sources.uniware.column_types")
        source = SourceSettings(
            base_url=resolve_base_url(_tenant(self.tenant), self.base_url),
            credentials=self.credentials,
            facility=self.facility or None,
            poll=PollSettings(
                backoff=Backoff(initial=self.poll_interval, cap=self.max_poll_interval),
                job_timeout=self.job_timeout,
                max_workers=self.max_workers,
            ),
            timezone=_zone(self.timezone),
            force_reload=self.force_reload,
            batch_size=self.batch_size,
            download_dir=_directory(self.download_dir),
            request_timeout=self.request_timeout,
            download_timeout=self.download_timeout,
            request_max_attempts=self.request_max_attempts,
            request_backoff_factor=self.request_backoff_factor,
            fail_on_missing_jobs=self.fail_on_missing_jobs,
            column_types=types,
        )
        sync = SyncSettings(
            max_jobs_in_flight=self.max_jobs_in_flight,
            retry_cooldown=self.retry_cooldown,
            collision_wait=self.collision_wait,
            commit_every_windows=self.commit_every_windows,
            commit_every=self.commit_every_minutes * 60,
            backfill=_backfill(self.backfill_start, self.backfill_end),
            snapshots=self.snapshots,
        )
        specs = parse_exports(self.exports, default_facility=source.facility) if self.exports else []
        if sync.backfill is not None and not specs:
            raise ConfigurationError(
                "backfill (--backfill, backfill_start) loads scheduled exports, and no "
                "[[sources.uniware.exports]] is configured: add one, or load job codes without a backfill"
            )
        specs = (
            parse_exports(self.exports, default_facility=source.facility, column_types=types)
            if self.exports
            else []
        )
        return source, sync, specs


@dataclass(frozen=True)
class SourceSettings:
    base_url: str
    credentials: UniwareCredentials
    facility: str | None
    poll: PollSettings
    timezone: str
    force_reload: bool
    batch_size: int
    download_dir: Path | None
    request_timeout: float
    download_timeout: float
    request_max_attempts: int
    request_backoff_factor: float
    fail_on_missing_jobs: bool = True
    column_types: Mapping[str, Kind] = field(default_factory=dict)  # over every report's catalogue hints

    def client(self) -> UniwareClient:
        return UniwareClient(
            self.base_url,
            self.credentials,
            facility=self.facility,
            request_timeout=self.request_timeout,
            download_timeout=self.download_timeout,
            max_connections=max(self.poll.max_workers, 4),
            request_max_attempts=self.request_max_attempts,
            request_backoff_factor=self.request_backoff_factor,
        )


@dataclass(frozen=True)
class SyncSettings:
    max_jobs_in_flight: int = 4
    retry_cooldown: float = 60.0  # seconds before a failed window's job is created again
    collision_wait: float = 30.0  # seconds before retrying a create refused as a collision
    split_after: int = 2  # failures of one window before it is split in halves
    # one run (one dlt load, cursors committed with it) covers at most this many windows, and
    # creates no new job after this many seconds: a long backfill commits as it goes, and keeps
    # at most a batch of files on disk
    commit_every_windows: int = 16
    commit_every: float = 1800.0
    backfill: tuple[date, date] | None = None  # inclusive local dates; the cursor does not move
    snapshots: bool = True  # False: the snapshot exports are left out (a run's later batches)


def _check_numbers(config: UniwareSourceConfiguration) -> None:
    for name in _SECONDS + _AT_LEAST_ONE + _ZERO_OR_MORE:
        value = getattr(config, name)
        # dlt coerces what it reads from config files and the environment; a value passed in code
        # reaches here as it was given
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(f"sources.uniware.{name} must be a number, got {value!r}")
        problem = _number_problem(name, value)
        if problem:
            raise ConfigurationError(f"sources.uniware.{name} must be {problem}, got {value!r}")


def _number_problem(name: str, value: float) -> str | None:
    if name in _SECONDS and not (math.isfinite(value) and value > 0):
        return "a positive number of seconds"
    if name in _AT_LEAST_ONE and value < 1:
        return "at least 1"
    if name in _ZERO_OR_MORE and not 0 <= value < math.inf:
        return "zero or more"
    return None


def job_code_list(value: Any) -> list[str] | None:
    """Job codes as a list: a list as given; text (an environment variable) as a JSON list, or as
    one code or codes separated by commas."""
    if value is None:
        return None
    codes = value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                codes = json.loads(text)
            except ValueError:
                raise ConfigurationError(
                    f"sources.uniware.job_codes (SOURCES__UNIWARE__JOB_CODES) is not a JSON list: {text!r}; "
                    'write ["EXP-1", "EXP-2"], or EXP-1,EXP-2'
                ) from None
        else:
            codes = text.split(",")
    if not isinstance(codes, list | tuple) or not all(isinstance(code, str) for code in codes):
        raise ConfigurationError(
            f'sources.uniware.job_codes must be a list of job codes like ["EXP-1", "EXP-2"], got {value!r}'
        )
    return [code.strip() for code in codes if code.strip()]


def warn_unknown_report(report: str, table_name: str | None) -> None:
    """A report name the catalogue does not know, but close to one it does, is most likely a typo:
    its table would get another name, no merge key and no type hints."""
    if report.strip().lower() in CATALOGUE:
        return
    names = {spec.name.lower(): spec.name for spec in CATALOGUE.values()}
    close = difflib.get_close_matches(report.strip().lower(), list(names), n=1, cutoff=0.8)
    if close:
        table = table_name or default_table_name(report)
        logger.warning(
            "sources.uniware.report %r is not in the catalogue; did you mean %r? As written, its rows "
            "go to table %r without a merge key or type hints",
            report,
            names[close[0]],
            table,
        )


def _tenant(value: str | None) -> str | None:
    """The tenant's name alone: https://{tenant}.unicommerce.com is made of it."""
    if value is None or _TENANT.fullmatch(value.strip()):
        return value
    raise ConfigurationError(
        f"sources.uniware.tenant must be the tenant's name alone (mycompany for "
        f"https://mycompany.unicommerce.com), got {value!r}; a full URL goes in sources.uniware.base_url"
    )


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"sources.uniware.timezone {name!r} is not a known IANA zone (e.g. Asia/Kolkata)"
        ) from None
    return name


def _directory(value: str | None) -> Path | None:
    directory = Path(value).expanduser() if value else None
    if directory is not None and not directory.is_dir():
        raise ConfigurationError(f"sources.uniware.download_dir {str(directory)!r} is not a directory")
    return directory


def _backfill(start: str | None, end: str | None) -> tuple[date, date] | None:
    if not (start or end):
        return None
    try:
        first = date.fromisoformat(str(start))
        last = date.fromisoformat(str(end or start))
    except ValueError:
        raise ConfigurationError(
            f"backfill dates must look like 2024-04-01, got {start!r} .. {end!r}"
        ) from None
    if last < first:
        raise ConfigurationError(f"backfill ends ({last}) before it starts ({first})")
    return first, last
