"""One hierarchy of errors for everything the connector can refuse or fail at.

Messages are written for the person running the pipeline: they name the job, the file line or
the setting, and never contain a password or a token (see `redact`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_SECRET_QUERY = re.compile(r"(?i)\b(password|access_token|refresh_token|token)=([^&\s'\"]+)")
# the query string of any URL or request path: credentials, pre-signed links' signatures
_URL_QUERY = re.compile(r"(/[^\s?#'\"]*)\?[^\s'\"]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove secrets from text meant for logs or exceptions.

    Known secret values are replaced wherever they appear; query strings (they carry credentials
    and the signatures of pre-signed links) and bearer headers are masked even when no secret
    value is known here.
    """
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}=***", text)
    text = _URL_QUERY.sub(lambda m: f"{m.group(1)}?***", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} ***", text)


class UniwareError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(UniwareError):
    """A setting is missing or invalid; the message names the setting."""


class TransportError(UniwareError):
    """The network failed us after the retries we allow (connection, timeout, 5xx, 429)."""


class NoAnswer(TransportError):
    """The request got no HTTP answer at all (connection refused or dropped, timeout, DNS), after
    the retries we allow. An HTTP error status is an answer, and raises TransportError itself."""


class TenantUnreachable(TransportError):
    """Uniware did not answer at all, several calls in a row: the run stops rather than fail every
    window one by one; nothing is lost, the windows wait for the next run."""


class AuthError(UniwareError):
    """Login or token refresh was refused. Never retried in a loop: it can lock the account."""


class ApiError(UniwareError):
    """Uniware answered, but not with success (`successful: false`, or a 4xx that retrying can't fix)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | str | None = None,
        field: str | None = None,
        server_message: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.field = field
        self.server_message = server_message
        self.errors = errors or []


class AccessDeniedError(ApiError):
    """HTTP 403: a wrong/missing Facility header or a missing Uniware permission. Retrying won't help."""


class JobNotFoundError(ApiError):
    """Uniware does not know the job code."""


class RedirectRefusedError(ApiError):
    """The tenant answered a REST or token call with a redirect, which is not followed: the answers
    must come from the tenant, and its credentials go nowhere else. Retrying will not help."""


class DownloadError(UniwareError):
    """The export file could not be fetched intact (refused, truncated, HTML instead of CSV, ...)."""


class LinkExpiredError(DownloadError):
    """The file host refused the link (403/404/410): ask the status call for a fresh one."""


class CsvFormatError(UniwareError):
    """The file is not a CSV we can read at all (not text, no header, ...). Row-level problems are
    not errors: those rows go to `rejected_rows`."""


class QuoteInFieldError(CsvFormatError):
    """A quote inside a field that does not start with one (an inch mark, `32" TV`), which the fast
    reader cannot take: the file reads once its quotes are written as CSV quotes them
    (records.requote)."""
