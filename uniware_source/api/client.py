"""UniwareClient: the HTTP side of the connector.

Every REST answer is an envelope (`successful`, `message`, `errors`, ...). Logical failures come
back as HTTP 200 with `successful: false`; this module turns them, and HTTP failures, into the
typed errors of `uniware_source.api.errors`. Idempotent calls (status, facility list, file download)
go through dlt's retrying session (429 with Retry-After, 5xx, dropped connections). Create is
not idempotent and is retried only where the server certainly did not act on it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from dlt.sources.helpers.requests import Client

from uniware_source.api.auth import TokenProvider, UniwareCredentials
from uniware_source.api.errors import (
    AccessDeniedError,
    ApiError,
    AuthError,
    ConfigurationError,
    DownloadError,
    JobNotFoundError,
    LinkExpiredError,
    TransportError,
    redact,
)

logger = logging.getLogger(__name__)

STATUS_PATH = "/services/rest/v1/export/job/status"
CREATE_PATH = "/services/rest/v1/export/job/create"
FACILITY_SEARCH_PATH = "/services/rest/v1/facility/search"

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_base_url(tenant: str | None, base_url: str | None) -> str:
    """`base_url` wins over `tenant`; plain http is accepted only for loopback hosts."""
    if base_url:
        url, setting = base_url.strip().rstrip("/"), "sources.uniware.base_url"
    elif tenant:
        url, setting = f"https://{tenant.strip()}.unicommerce.com", "sources.uniware.tenant"
    else:
        raise ConfigurationError(
            "No Uniware tenant configured: set sources.uniware.tenant (or base_url), "
            "e.g. SOURCES__UNIWARE__TENANT=mycompany"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{setting} must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"{setting} uses plain http for {parts.hostname!r}: only loopback hosts may; use https"
        )
    return url


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


def display_url(url: str) -> str:
    """The URL without its query string: pre-signed links carry their signature there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@dataclass(frozen=True)
class StatusAnswer:
    job_code: str
    status: str | None
    file_path: str | None
    message: str | None


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    bytes: int
    sha256: str


class UniwareClient:
    def __init__(
        self,
        base_url: str,
        credentials: UniwareCredentials,
        *,
        facility: str | None = None,
        request_timeout: float = 60.0,
        max_connections: int = 16,
        request_max_attempts: int = 5,
        request_backoff_factor: float = 1.0,
        request_max_retry_delay: float = 60.0,
    ) -> None:
        self.base_url = resolve_base_url(None, base_url)
        self.facility = facility
        self._timeout = request_timeout

        def retrying(**overrides: Any) -> Client:
            settings: dict[str, Any] = {
                "request_timeout": request_timeout,
                "max_connections": max_connections,
                "raise_for_status": False,
                "request_max_attempts": request_max_attempts,
                "request_backoff_factor": request_backoff_factor,
                "request_max_retry_delay": request_max_retry_delay,
            }
            return Client(**{**settings, **overrides})

        self._api = retrying()
        # create is not idempotent: retry only what the server refused before acting on it
        self._api_once = retrying(status_codes=(429,), exceptions=(requests.ConnectTimeout,))
        self._files = retrying()
        self.tokens = TokenProvider(self.base_url, credentials, timeout=request_timeout)

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
        url = self.base_url + path
        session = (self._api if idempotent else self._api_once).session
        for attempt in (1, 2):
            header = self.tokens.header()
            headers = {
                "Authorization": header,
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
            if facility:
                headers["Facility"] = facility
            failure = None
            try:
                response = session.post(url, json=payload, headers=headers, timeout=self._timeout)
            except requests.RequestException as exc:
                failure = f"Uniware {what}: {type(exc).__name__}: {self._redact(str(exc))}"
            if failure is not None:  # raised outside the except block: no chained original
                raise TransportError(failure)
            if response.status_code == 401:
                self.tokens.invalidate(header)
                if attempt == 1:
                    logger.info("Uniware answered 401 to %s; renewing the token and retrying once", what)
                    continue
                raise AuthError(f"Uniware refused a fresh token for {what} (HTTP 401)")
            return self._envelope(response, what)
        raise AssertionError("unreachable")

    def _envelope(self, response: requests.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            snippet = self._redact(response.text[:200].strip())
            if status == 429 or status >= 500:
                raise TransportError(
                    f"Uniware {what}: HTTP {status} after retries: {snippet or 'empty answer'}"
                )
            raise ApiError(
                f"Uniware {what}: HTTP {status}, not a JSON answer: {snippet!r}", http_status=status
            )
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        first = errors[0] if errors else {}
        server_message = self._redact(
            str(first.get("message") or first.get("description") or body.get("message") or "")
        )
        code, field = first.get("code"), first.get("fieldName")
        details: dict[str, Any] = {
            "http_status": status,
            "code": code,
            "field": field,
            "server_message": server_message or None,
            "errors": errors,
        }
        if status == 403:
            raise AccessDeniedError(
                f"Uniware refused {what} (HTTP 403): {server_message or 'access denied'}. "
                "Check the facility code and the user's Uniware permissions; retrying will not help.",
                **details,
            )
        if status == 429 or status >= 500:
            raise TransportError(f"Uniware {what}: HTTP {status} after retries: {server_message}")
        if status >= 400 or body.get("successful") is False:
            text = f"Uniware refused {what}: {server_message or 'no reason given'}"
            if code is not None:
                text += f" (code {code}" + (f", field {field})" if field else ")")
            if str(field or "").lower() == "jobcode":
                raise JobNotFoundError(text, **details)
            raise ApiError(text, **details)
        return body

    def _redact(self, text: str) -> str:
        return redact(text, self.tokens.secrets())

    # -- files ----------------------------------------------------------------------------------
    def download(
        self, url: str, dest: Path, *, job_code: str, progress: Callable[[int], None] | None = None
    ) -> DownloadResult:
        """Stream `url` to `dest`, verified. The bearer token goes only to the tenant's own origin.

        With `progress`, each piece is flushed to the file and `progress` told the bytes written so
        far, so that the file can be read while it downloads."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise DownloadError(f"job {job_code}: filePath is not an http(s) URL: {display_url(url)!r}")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise DownloadError(f"job {job_code}: refusing plain-http filePath {display_url(url)}")
        headers = {"Accept": "text/csv, */*"}
        if _origin(url) == _origin(self.base_url):
            headers["Authorization"] = self.tokens.header()
        where = display_url(url)
        failure = None
        try:
            response = self._files.session.get(url, headers=headers, stream=True, timeout=self._timeout)
        except requests.RequestException as exc:
            # the message of a file request holds the signed link: name the error only
            failure = f"job {job_code}: download of {where} failed: {type(exc).__name__}"
        if failure is not None:
            raise DownloadError(failure)
        with response:
            if response.status_code in (401, 403, 404, 410):
                raise LinkExpiredError(
                    f"job {job_code}: the file host refused {where} (HTTP {response.status_code}); "
                    "the link may have expired"
                )
            if response.status_code != 200:
                raise DownloadError(
                    f"job {job_code}: the file host answered HTTP {response.status_code} for {where}"
                )
            if "html" in response.headers.get("Content-Type", "").lower():
                raise DownloadError(
                    f"job {job_code}: {where} answered an HTML page instead of the CSV "
                    "(a login or error page?)"
                )
            expected = response.headers.get("Content-Length")
            expected_bytes = int(expected) if expected and expected.isdigit() else None
            if response.headers.get("Content-Encoding"):
                expected_bytes = None  # Content-Length counts the encoded bytes
            digest = hashlib.sha256()
            size = 0
            dropped = None
            try:
                with open(dest, "wb") as out:
                    for chunk in response.iter_content(_CHUNK):
                        if size == 0 and _looks_like_html(chunk):
                            raise DownloadError(
                                f"job {job_code}: {where} answered an HTML page instead of the CSV "
                                "(a login or error page?)"
                            )
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        if progress is not None:
                            out.flush()  # on disk before a reader is told it is there
                            progress(size)
            except requests.RequestException as exc:
                dropped = (
                    f"job {job_code}: connection dropped after {size} bytes of {where}: {type(exc).__name__}"
                )
            if dropped is not None:
                raise DownloadError(dropped)
            if expected_bytes is not None and size != expected_bytes:
                raise DownloadError(f"job {job_code}: {where} ended after {size} of {expected_bytes} bytes")
        return DownloadResult(path=dest, bytes=size, sha256=digest.hexdigest())


def _looks_like_html(chunk: bytes) -> bool:
    head = chunk[:512].removeprefix(_BOM).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))
