"""The emulated tenant: its state (tokens, jobs, links, faults) and its two HTTP servers.

The API server speaks the Uniware REST protocol; the file server plays the pre-signed download
host (CloudFront/S3 style) on another port. Both run in daemon threads. Everything a test may want
to switch or inspect is a public attribute or method of `Emulator`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from uniware_source.emulator.data import DEFAULT_FACILITIES
from uniware_source.emulator.files import FileCache
from uniware_source.emulator.handlers import ApiHandler, EmulatorHTTPServer, FileHandler
from uniware_source.emulator.model import (
    FINAL_STATUSES,
    SUCCESS_OUTCOMES,
    Job,
    JobSpec,
    RequestRecord,
    ServerName,
)

KNOWN_REPORTS = (
    "Sale Orders",
    "B2B Sale Orders",
    "Invoice",
    "Return Invoices",
    "Courier Returns",
    "Reverse Pickup",
    "Transaction Ledger",
    "Inventory Snapshot",
    "Item Master",
    "Channel Item Type Report",
    "Vendor Item Master",
    "Shipping Packages",
    "Gatepass",
    "GRN",
    "Putaway",
    "Purchase Orders",
    "Tally GST Report",
)
FACILITY_NAMES = {"WH-BLR": "Bengaluru Warehouse", "WH-DEL": "Delhi Warehouse", "WH-MUM": "Mumbai Warehouse"}
DEMO_JOBS = {
    # job code -> (facility, rows); different facilities, so no two share a Sale Order Item Code.
    "DEMO-SO-0001": ("WH-BLR", 5000),
    "DEMO-SO-0002": ("WH-DEL", 2000),
    "DEMO-SO-0003": ("WH-MUM", 1000),
}

LinkCheck = Literal["ok", "missing", "bad", "expired"]


class Emulator:
    """A local Uniware tenant over real HTTP. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        username: str = "demo",
        password: str = "demo-pass",
        access_token_ttl: float = 3600.0,
        refresh_token_ttl: float = 30 * 86400.0,
        link_ttl: float = 600.0,
        default_job_delay: float = 2.0,
        seed: int = 7,
        cache_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        file_port: int = 0,
        *,
        facilities: Sequence[str] = DEFAULT_FACILITIES,
        reports: Sequence[str] = KNOWN_REPORTS,
        orders_per_day: int | None = None,
        client_id: str = "my-trusted-client",
        verbose: bool = False,
    ) -> None:
        self.username = username
        self.password = password
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.link_ttl = link_ttl
        self.default_job_delay = default_job_delay
        # rows "arrive" by the hour: a job returns none updated after the last full hour before its
        # create; a test that compares loaded rows with its own export afterwards fixes that hour
        # here (epoch ms) for every job, so that an hour turning between the two changes nothing
        self.rows_arrived_until_ms: int | None = None
        self.seed = seed
        self.grants: Counter[str] = Counter()  # successful OAuth grants by grant_type
        self.host = host
        self.port = port
        self.file_port = file_port
        self.facilities = list(facilities)
        self.reports = list(reports)
        self.client_id = client_id
        self.verbose = verbose
        self.files = FileCache(cache_dir, orders_per_day=orders_per_day)
        self.jobs: dict[str, Job] = {}
        self.requests: list[RequestRecord] = []
        self.lock = threading.RLock()
        self._access: dict[str, float] = {}
        self._refresh: dict[str, float] = {}
        self._issued: list[str] = []
        self._links: dict[str, float] = {}
        self._link_secret = secrets.token_bytes(32)
        self._faults_left = 0
        self._fault_status = 503
        self._fault_retry_after: float | None = None
        self._redirects: list[tuple[int, str, tuple[str, ...]]] = []  # (status, Location, paths)
        self._next_job_fields: list[dict[str, Any]] = []
        self._job_counter = 122
        self._api_server: EmulatorHTTPServer | None = None
        self._file_server: EmulatorHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Emulator:
        if self._api_server is not None:
            return self
        self._api_server = EmulatorHTTPServer((self.host, self.port), ApiHandler, self, "api")
        self._file_server = EmulatorHTTPServer((self.host, self.file_port), FileHandler, self, "file")
        for server in (self._api_server, self._file_server):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                daemon=True,
                name=f"uniware-emulator-{server.role}",
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._api_server, self._file_server):
            if server is not None:
                server.shutdown()
                server.server_close()
                server.close_connections()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._api_server = self._file_server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._url(self._api_server)

    @property
    def file_base_url(self) -> str:
        return self._url(self._file_server)

    def _url(self, server: EmulatorHTTPServer | None) -> str:
        if server is None:
            raise RuntimeError("the emulator is not started")
        host, port = server.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    # ----------------------------------------------------------------- switches
    def revoke_tokens(self) -> None:
        """Every access token issued so far becomes invalid (the next REST call answers 401)."""
        with self.lock:
            self._access.clear()

    def expire_links(self) -> None:
        """Every file link issued so far is refused with 403 (as if expired)."""
        with self.lock:
            self._links.clear()
            self._link_secret = secrets.token_bytes(32)

    def fail_next(self, n: int, status: int = 503, retry_after: float | None = None) -> None:
        """The next `n` REST calls (not /oauth/token, not the file host) answer `status`."""
        with self.lock:
            self._faults_left = n
            self._fault_status = status
            self._fault_retry_after = retry_after

    def redirect_next(
        self, n: int, location: str, status: int = 307, paths: Sequence[str] = ("/services/rest/",)
    ) -> None:
        """The next `n` requests to the API host under `paths` (REST calls by default; add
        "/oauth/token" for the token endpoint) answer `status` with `Location: location`."""
        with self.lock:
            self._redirects.extend((status, location, tuple(paths)) for _ in range(n))

    def take_redirect(self, path: str) -> tuple[int, str] | None:
        with self.lock:
            if not self._redirects or not path.startswith(self._redirects[0][2]):
                return None
            status, location, _ = self._redirects.pop(0)
            return status, location

    def shape_next_jobs(self, n: int, **spec_fields: Any) -> None:
        """The next `n` jobs created through the API take these JobSpec fields
        (e.g. outcome="FAILED", html_instead_of_csv=True, drop_connection_at=100, delay=0)."""
        valid = {f.name for f in dataclasses.fields(JobSpec)}
        unknown = set(spec_fields) - valid
        if unknown:
            raise ValueError(f"not JobSpec fields: {sorted(unknown)}")
        with self.lock:
            self._next_job_fields.extend(dict(spec_fields) for _ in range(n))

    def reset_faults(self) -> None:
        with self.lock:
            self._faults_left = 0
            self._fault_retry_after = None
            self._next_job_fields.clear()
            self._redirects.clear()

    def take_fault(self) -> tuple[int, float | None] | None:
        with self.lock:
            if self._faults_left <= 0:
                return None
            self._faults_left -= 1
            return self._fault_status, self._fault_retry_after

    def record(
        self, method: str, path: str, server: ServerName, status: int, had_authorization: bool
    ) -> None:
        with self.lock:
            self.requests.append(RequestRecord(method, path, server, status, had_authorization, time.time()))

    # ----------------------------------------------------------------- auth
    def issue_tokens(self) -> dict[str, Any]:
        access, refresh = str(uuid.uuid4()), str(uuid.uuid4())
        now = time.monotonic()
        with self.lock:
            self._access[access] = now + self.access_token_ttl
            self._refresh[refresh] = now + self.refresh_token_ttl
            self._issued += [access, refresh]
        return {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": max(1, math.ceil(self.access_token_ttl)),
            "scope": "read trust write",
        }

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token issued so far (to check that none leaks into logs or data)."""
        with self.lock:
            return list(self._issued)

    def check_access(self, token: str) -> Literal["ok", "expired", "invalid"]:
        with self.lock:
            expiry = self._access.get(token)
            if expiry is None:
                return "invalid"
            if time.monotonic() >= expiry:
                del self._access[token]
                return "expired"
            return "ok"

    def use_refresh(self, token: str) -> bool:
        with self.lock:
            expiry = self._refresh.get(token)
            if expiry is None:
                return False
            if time.monotonic() >= expiry:
                del self._refresh[token]
                return False
            return True

    # ----------------------------------------------------------------- jobs
    def _new_code(self) -> str:
        with self.lock:
            while True:
                self._job_counter += 1
                code = f"EXP-{self._job_counter:06d}"
                if code not in self.jobs:
                    return code

    def add_job(
        self,
        spec: JobSpec,
        *,
        source: Literal["api", "ui"] = "ui",
        collision_key: str | None = None,
        not_after_ms: int | None = None,
    ) -> str:
        """Create a job as if made in the Uniware UI; returns its job code."""
        with self.lock:
            code = spec.job_code or self._new_code()
            if code in self.jobs:
                raise ValueError(f"job code {code} exists already")
            job = Job(
                code=code,
                spec=spec,
                delay=self.default_job_delay if spec.delay is None else spec.delay,
                seed=self.seed if spec.seed is None else spec.seed,
                source=source,
                collision_key=collision_key,
                file_token=uuid.uuid4().hex,
                not_after_ms=not_after_ms,
            )
            self.jobs[code] = job
        self._start_file(job)
        return code

    def let_finish(self, code: str) -> None:
        """Let a job made with never_finish finish now, as its spec says otherwise (a job stuck
        on the tenant's side that one day completes)."""
        with self.lock:
            job = self.jobs[code]
            job.spec = dataclasses.replace(job.spec, never_finish=False)
            job.file_ready.clear()
        self._start_file(job)

    def _start_file(self, job: Job) -> None:
        if job.spec.outcome in SUCCESS_OUTCOMES and not job.spec.never_finish:
            thread = threading.Thread(
                target=self._build_file, args=(job,), daemon=True, name=f"export-{job.code}"
            )
            thread.start()
        else:
            job.file_ready.set()

    def _build_file(self, job: Job) -> None:
        try:
            job.file_path, job.file_rows = self.files.build(job)
        except Exception as exc:  # noqa: BLE001 - a failed export is a FAILED job, not a crash
            job.file_error = f"export failed: {type(exc).__name__}: {exc}"
        finally:
            job.file_ready.set()

    def create_job_from_api(self, spec: JobSpec, collision_key: str, not_after_ms: int | None) -> str | None:
        """Create a job for the create endpoint; None when an identical job is still running."""
        with self.lock:
            for job in self.jobs.values():
                if job.collision_key == collision_key and self.evaluate(job) not in FINAL_STATUSES:
                    return None
            if self._next_job_fields:
                spec = dataclasses.replace(spec, **self._next_job_fields.pop(0))
            return self.add_job(spec, source="api", collision_key=collision_key, not_after_ms=not_after_ms)

    def evaluate(self, job: Job) -> str:
        """The job's status now, from time and file readiness (no poll counting)."""
        spec = job.spec
        elapsed = time.monotonic() - job.started
        if elapsed < 0.2 * job.delay:
            return "QUEUED"
        if spec.never_finish or elapsed < job.delay:
            return "RUNNING"
        if spec.outcome not in SUCCESS_OUTCOMES:
            return spec.outcome
        if not job.file_ready.is_set():
            return "RUNNING"
        return "FAILED" if job.file_error else spec.outcome

    def poll(self, job: Job) -> tuple[str, str, str]:
        """Answer one status call: (status, filePath, message)."""
        with self.lock:
            job.polls += 1
            spec = job.spec
            if spec.unknown_status and job.unknown_answers < spec.unknown_status_polls:
                job.unknown_answers += 1
                job.state = spec.unknown_status
                return job.state, "", ""
            status = self.evaluate(job)
            job.state = status
            if status == "FAILED":
                return (
                    status,
                    "",
                    job.file_error or "Export job failed: the export queue could not process this job",
                )
            if status == "CANCELLED":
                return status, "", "Export job was cancelled"
            if status not in SUCCESS_OUTCOMES:
                return status, "", ""
            if job.empty_path_answers < spec.empty_file_path_polls:
                job.empty_path_answers += 1
                return status, "", ""
            if spec.file_via_tenant:  # a path on the tenant host, which redirects to the signed link
                return status, f"/exports/{job.code}/{job.file_token}.csv", ""
            return status, self.issue_link(job), ""

    # ----------------------------------------------------------------- links
    def _signature(self, job_code: str, file_token: str, expires: int) -> str:
        message = f"/exports/{job_code}/{file_token}.csv|{expires}".encode()
        return hmac.new(self._link_secret, message, hashlib.sha256).hexdigest()[:40]

    def issue_link(self, job: Job) -> str:
        with self.lock:
            valid_until = time.time() + self.link_ttl
            if job.links_issued < job.spec.expired_links:
                valid_until = time.time() - 60.0  # signed correctly, but already expired
            expires = math.ceil(valid_until)
            signature = self._signature(job.code, job.file_token, expires)
            self._links[signature] = valid_until
            job.links_issued += 1
        path = f"/exports/{job.code}/{job.file_token}.csv"
        return f"{self.file_base_url}{path}?Expires={expires}&Signature={signature}"

    def check_link(self, job: Job, expires: str | None, signature: str | None) -> LinkCheck:
        if not expires or not signature:
            return "missing"
        try:
            expires_at = int(expires)
        except ValueError:
            return "bad"
        with self.lock:
            expected = self._signature(job.code, job.file_token, expires_at)
            if not hmac.compare_digest(expected, signature) or signature not in self._links:
                return "bad"
            if time.time() > self._links[signature]:
                return "expired"
        return "ok"

    def find_file_job(self, job_code: str, file_token: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_code)
        if job is None or job.file_token != file_token or job.file_path is None or job.file_error:
            return None
        return job

    # ----------------------------------------------------------------- demo
    def seed_demo_jobs(self) -> list[str]:
        """Pre-create the demo jobs (all succeed, none overlap): DEMO-SO-0001..0003."""
        codes = []
        for code, (facility, rows) in DEMO_JOBS.items():
            if code not in self.jobs:
                self.add_job(JobSpec(job_code=code, facility=facility, rows=rows))
            codes.append(code)
        return codes

    def facility_parties(self) -> list[dict[str, Any]]:
        return [
            {
                "facilityCode": code,
                "code": code,
                "name": FACILITY_NAMES.get(code, code),
                "enabled": True,
                "type": "WAREHOUSE",
            }
            for code in self.facilities
        ]
