"""UniwareClient: the HTTP side of the connector, one method per Uniware call it makes.

The parts live next door: the URL rules in `urls`, one REST call (token, 401, envelope → typed
errors) in `rest`, the file download in `download` (with its deadline in `deadline`), the pause
after a Retry-After in `gate`, and the retry counts in `budget`.
Idempotent calls (status, facility list, file download) go through dlt's retrying session (429
with Retry-After, 5xx, dropped connections). Create is not idempotent and is retried only where
the server certainly did not act on it.

Three rules keep an unattended run from being wedged or misled:

- The API's answers come from the tenant. REST calls and token requests are sent with redirects
  off, and any redirect, to another origin or within the tenant's own, is a
  `RedirectRefusedError` (not retried) naming both origins; nothing is sent to the other host.
  File links are different: a pre-signed link lives on another host, its redirects are followed,
  and the bearer token goes to the tenant's origin only (requests drops it on a cross-host hop).
- Every wait has a deadline: each socket wait `request_timeout`, each download attempt
  `download_timeout` of wall time, each pause asked by a Retry-After `request_max_retry_delay`.
- A Retry-After pauses the client, not one request: every call of this client to that origin
  waits at one `HostGate` until the time has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from dlt.sources.helpers.requests import Client

from uniware_source.api.auth import TokenProvider, UniwareCredentials
from uniware_source.api.budget import RetryBudget
from uniware_source.api.download import DownloadResult, FileDownloader
from uniware_source.api.errors import ApiError, ConfigurationError
from uniware_source.api.gate import GatedClient, HostGate, gated_session
from uniware_source.api.rest import RestCaller
from uniware_source.api.urls import display_url, is_loopback_host, resolve_base_url

__all__ = [
    "CREATE_PATH",
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "FACILITY_SEARCH_PATH",
    "STATUS_PATH",
    "DownloadResult",
    "StatusAnswer",
    "UniwareClient",
    "display_url",
    "is_loopback_host",
    "resolve_base_url",
]

STATUS_PATH = "/services/rest/v1/export/job/status"
CREATE_PATH = "/services/rest/v1/export/job/create"
FACILITY_SEARCH_PATH = "/services/rest/v1/facility/search"
# wall time of one download attempt: a 1 GB export at a slow 1 MB/s, with room to spare
DEFAULT_DOWNLOAD_TIMEOUT = 1800.0


@dataclass(frozen=True)
class StatusAnswer:
    job_code: str
    status: str | None
    file_path: str | None
    message: str | None


class UniwareClient:
    def __init__(
        self,
        base_url: str,
        credentials: UniwareCredentials,
        *,
        facility: str | None = None,
        request_timeout: float = 60.0,
        max_connections: int = 16,
        request_max_attempts: int | None = None,
        request_backoff_factor: float = 1.0,
        request_max_retry_delay: float = 60.0,
        budget: RetryBudget | None = None,
        download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        gate: HostGate | None = None,
    ) -> None:
        """`request_max_attempts`, when given, overrides the budget's `request_attempts`.

        `request_timeout` bounds each wait for the network; `download_timeout` the wall time of one
        download attempt (seconds). `gate`, shared by every request of this client, holds the
        pauses asked by Retry-After answers; by default one whose pauses last at most
        `request_max_retry_delay`."""
        self.base_url = resolve_base_url(None, base_url)
        self.facility = facility
        if not download_timeout > 0:
            raise ConfigurationError(
                f"download_timeout must be a number of seconds > 0, not {download_timeout!r}"
            )
        budget = budget or RetryBudget()
        if request_max_attempts is not None:
            budget = replace(budget, request_attempts=request_max_attempts)
        self.budget = budget
        self.gate = gate or HostGate(max_pause=request_max_retry_delay)

        def retrying(**overrides: Any) -> Client:
            settings: dict[str, Any] = {
                "request_timeout": request_timeout,
                "max_connections": max_connections,
                "raise_for_status": False,
                "request_max_attempts": budget.request_attempts,
                "request_backoff_factor": request_backoff_factor,
                "request_max_retry_delay": request_max_retry_delay,
            }
            return GatedClient(self.gate, **{**settings, **overrides})

        self._api = retrying()
        # create is not idempotent: retry only what the server refused before acting on it
        self._api_once = retrying(status_codes=(429,), exceptions=(requests.ConnectTimeout,))
        self.tokens = TokenProvider(
            self.base_url,
            credentials,
            session=gated_session(self.gate),
            timeout=request_timeout,
            budget=budget,
        )
        self._rest = RestCaller(
            self.base_url, self.tokens, timeout=request_timeout, token_renewals=budget.token_renewals
        )
        self._downloader = FileDownloader(
            retrying(), self.base_url, self.tokens, timeout=request_timeout, deadline=download_timeout
        )

    # -- REST calls -----------------------------------------------------------------------------
    def export_job_status(self, job_code: str) -> StatusAnswer:
        body = self._call(STATUS_PATH, {"jobCode": job_code}, what=f"status of job {job_code}")
        status = body.get("status")
        file_path = str(body.get("filePath") or "").strip() or None
        if file_path and not urlsplit(file_path).scheme:
            file_path = urljoin(self.base_url + "/", file_path)  # a path on the tenant's own host
        return StatusAnswer(
            job_code=job_code,
            status=str(status).strip() if status is not None else None,
            file_path=file_path,
            message=body.get("message"),
        )

    def create_export_job(
        self,
        *,
        report: str,
        columns: Sequence[str],
        filters: Sequence[Mapping[str, Any]] = (),
        facility: str | None = None,
    ) -> str:
        facility = facility or self.facility
        if not facility:
            raise ConfigurationError(
                f"creating a {report!r} export needs a facility: set sources.uniware.facility"
            )
        payload = {
            "exportJobTypeName": report,
            "exportColums": list(columns),  # sic: Uniware's spelling
            "exportFilters": list(filters),
            "frequency": "ONETIME",
        }
        body = self._call(
            CREATE_PATH,
            payload,
            facility=facility,
            idempotent=False,
            what=f"create {report!r} for {facility}",
        )
        job_code = body.get("jobCode")
        if not job_code:
            raise ApiError(f"Uniware created a {report!r} export for {facility} but returned no jobCode")
        return str(job_code)

    def list_facilities(self) -> list[str]:
        # the search wants a creation-date range: one wide enough for every facility there is
        payload = {
            "facilityStatus": "ENABLED",
            "fromDate": "2000-01-01T00:00:00.000Z",
            "toDate": "2100-01-01T00:00:00.000Z",
            "dateType": "CREATED",
        }
        body = self._call(FACILITY_SEARCH_PATH, payload, what="facility search")
        return [str(p["facilityCode"]) for p in body.get("parties") or [] if p.get("facilityCode")]

    def _call(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        what: str,
        facility: str | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        session = (self._api if idempotent else self._api_once).session
        return self._rest.call(session, path, payload, what=what, facility=facility)

    # -- files ----------------------------------------------------------------------------------
    def download(
        self, url: str, dest: Path, *, job_code: str, progress: Callable[[int], None] | None = None
    ) -> DownloadResult:
        """Stream `url` to `dest`, verified; see `FileDownloader.download`."""
        return self._downloader.download(url, dest, job_code=job_code, progress=progress)
