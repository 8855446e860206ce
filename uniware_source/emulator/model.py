"""The emulator's records: what a job should do (JobSpec), what it did (Job), what was asked
(RequestRecord)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SUCCESS_OUTCOMES = frozenset({"COMPLETE", "SUCCESSFUL"})
OUTCOMES = SUCCESS_OUTCOMES | {"FAILED", "CANCELLED"}
FINAL_STATUSES = OUTCOMES
SALE_ORDERS = "Sale Orders"

ServerName = Literal["api", "file"]


@dataclass
class JobSpec:
    """How a job behaves. Defaults give a 1,000-row Sale Orders job that completes.

    `rows` is used when `window` is None; with a window the rows are the tenant's rows whose
    `date_filter` date (`addedOn` -> Created, `updatedOn` -> Updated) lies in it (inclusive ms).
    """

    report: str = SALE_ORDERS
    rows: int = 1000
    facility: str = "WH-BLR"
    job_code: str | None = None
    delay: float | None = None
    outcome: str = "COMPLETE"
    never_finish: bool = False
    empty_file_path_polls: int = 0
    html_instead_of_csv: bool = False
    drop_connection_at: int | None = None
    malformed_rows: Sequence[int] = ()
    empty: bool = False
    empty_body: bool = False
    columns: Sequence[str] | None = None
    window: tuple[int, int] | None = None
    unknown_status: str | None = None
    seed: int | None = None
    # extras (not in the original brief; safe defaults)
    date_filter: str = "addedOn"
    bool_style: str | None = None
    unknown_status_polls: int = 3
    expired_links: int = 0  # the first N links issued for this job are already expired (403 on download)
    # network faults: the file host sends the file one byte every `trickle_seconds`; the job's
    # `throttle_at_status_call`-th status call (1 = the first) answers 429 with Retry-After
    # `throttle_retry_after` seconds; with `file_via_tenant` the status call answers a path on
    # the tenant, which redirects a request holding a valid bearer token to the signed link
    trickle_seconds: float | None = None  # > 0
    throttle_at_status_call: int | None = None
    throttle_retry_after: float = 1.0
    file_via_tenant: bool = False
    # the file's exact bytes, whatever the report: a per-job override for files of any shape
    content: bytes | None = None
    # file shape: the two columns real tenants add unasked (None: when `columns` are named);
    # the requested columns in the tenant's own order instead of as asked; line ends and a BOM
    # (None: the report's own, see files.py)
    unrequested_columns: bool | None = None
    tenant_order: bool = False
    newline: str | None = None
    bom: bool | None = None

    def __post_init__(self) -> None:
        self.outcome = self.outcome.upper()
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, not {self.outcome!r}")
        if self.rows < 0:
            raise ValueError("rows must be >= 0")
        if self.delay is not None and self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.newline not in (None, "\n", "\r\n"):
            raise ValueError("newline must be None, '\\n' or '\\r\\n'")
        if self.bool_style not in (None, "truefalse", "yesno", "10"):
            raise ValueError("bool_style must be None, 'truefalse', 'yesno' or '10'")
        self.malformed_rows = tuple(int(r) for r in self.malformed_rows)
        if self.columns is not None:
            self.columns = tuple(self.columns)
        if self.window is not None:
            self.window = (int(self.window[0]), int(self.window[1]))


@dataclass
class Job:
    """The server-side record of one export job (see `Emulator.jobs`)."""

    code: str
    spec: JobSpec
    delay: float
    seed: int
    created_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    state: str = "QUEUED"
    polls: int = 0
    downloads: int = 0
    links_issued: int = 0
    source: Literal["api", "ui"] = "ui"
    collision_key: str | None = None
    file_token: str = ""
    file_path: Path | None = None
    file_rows: int | None = None
    file_error: str | None = None
    file_ready: threading.Event = field(default_factory=threading.Event, repr=False)
    not_after_ms: int | None = None
    empty_path_answers: int = 0
    unknown_answers: int = 0
    status_calls: int = 0  # status calls answered for this job, throttled ones included

    @property
    def report(self) -> str:
        return self.spec.report

    @property
    def facility(self) -> str:
        return self.spec.facility

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATUSES


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator answered it. `path` never carries the query string."""

    method: str
    path: str
    host_port: ServerName
    status: int
    had_authorization: bool
    time: float

    @property
    def server(self) -> ServerName:
        """Alias of `host_port`: which server answered, "api" or "file"."""
        return self.host_port
