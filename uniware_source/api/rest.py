"""One REST call: the bearer token, one renewal after a 401, and the answer read as typed errors.

Every REST answer is an envelope (`uniware_source.api.envelope`). Logical failures come back as
HTTP 200 with `successful: false`; this module turns them, and HTTP failures, into the typed
errors of `uniware_source.api.errors`. The retries of the HTTP request itself (429 with
Retry-After, 5xx, dropped connections) belong to the dlt `Client` whose session is passed in.

Redirects are not followed, whatever their target: a redirect to another origin would have that
host's `status` and `filePath` trusted (and, were it followed, the bearer token or the call's body
sent there); one within the tenant's origin has no use in this API, and a 302 would turn the POST
into a GET. Either is a `RedirectRefusedError` (an `ApiError`: not retried), naming both origins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import requests

from uniware_source.api.auth import TokenProvider
from uniware_source.api.envelope import Envelope
from uniware_source.api.errors import (
    AccessDeniedError,
    ApiError,
    AuthError,
    JobNotFoundError,
    NoAnswer,
    TransportError,
    redact,
)
from uniware_source.api.urls import redirect_refusal

logger = logging.getLogger(__name__)


class RestCaller:
    """POSTs JSON to the tenant with a valid token; returns the envelope of a successful answer."""

    def __init__(self, base_url: str, tokens: TokenProvider, *, timeout: float, token_renewals: int) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self._timeout = timeout
        self._renewals = token_renewals

    def call(
        self,
        session: requests.Session,
        path: str,
        payload: Mapping[str, Any],
        *,
        what: str,
        facility: str | None = None,
    ) -> dict[str, Any]:
        renewals_left = self._renewals
        while True:
            header = self.tokens.header()
            response = self._post(session, path, payload, header, facility=facility, what=what)
            refusal = redirect_refusal(response, self.base_url + path, what)
            if refusal is not None:
                raise refusal
            if response.status_code != 401:
                return read_answer(response, what, self.redact)
            self.tokens.invalidate(header)
            if renewals_left <= 0:
                raise AuthError(f"Uniware refused a fresh token for {what} (HTTP 401)")
            renewals_left -= 1
            logger.info("Uniware answered 401 to %s; renewing the token and retrying once", what)

    def _post(
        self,
        session: requests.Session,
        path: str,
        payload: Mapping[str, Any],
        header: str,
        *,
        facility: str | None,
        what: str,
    ) -> requests.Response:
        headers = {"Authorization": header, "Content-Type": "application/json", "Accept": "application/json"}
        if facility:
            headers["Facility"] = facility
        failure = None
        try:
            return session.post(
                self.base_url + path,
                json=payload,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            failure = f"Uniware {what}: {type(exc).__name__}: {self.redact(str(exc))}"
        raise NoAnswer(failure)  # raised outside the except block: no chained original

    def redact(self, text: str) -> str:
        return redact(text, self.tokens.secrets())


def read_answer(response: requests.Response, what: str, redact_text: Callable[[str], str]) -> dict[str, Any]:
    """The body of a successful answer; the typed error of any other."""
    status = response.status_code
    envelope = Envelope.of(response)
    if envelope is None:
        raise _not_json(response, what, redact_text)
    server_message = redact_text(envelope.reason())
    if status == 403:
        raise AccessDeniedError(
            f"Uniware refused {what} (HTTP 403): {server_message or 'access denied'}. "
            "Check the facility code and the user's Uniware permissions; retrying will not help.",
            **_details(envelope, status, server_message),
        )
    if status == 429 or status >= 500:
        raise TransportError(f"Uniware {what}: HTTP {status} after retries: {server_message}")
    if status >= 400 or envelope.refused:
        raise _refusal(envelope, status, what, server_message)
    return envelope.body


def _not_json(response: requests.Response, what: str, redact_text: Callable[[str], str]) -> Exception:
    status = response.status_code
    snippet = redact_text(response.text[:200].strip())
    if status == 429 or status >= 500:
        return TransportError(f"Uniware {what}: HTTP {status} after retries: {snippet or 'empty answer'}")
    return ApiError(f"Uniware {what}: HTTP {status}, not a JSON answer: {snippet!r}", http_status=status)


def _refusal(envelope: Envelope, status: int, what: str, server_message: str) -> ApiError:
    first = envelope.first
    code, field = (first.code, first.field) if first is not None else (None, None)
    text = f"Uniware refused {what}: {server_message or 'no reason given'}"
    if code is not None:
        text += f" (code {code}" + (f", field {field})" if field else ")")
    # a refusal that names the job code is Uniware not knowing the job
    kind = JobNotFoundError if str(field or "").lower() == "jobcode" else ApiError
    return kind(text, **_details(envelope, status, server_message))


def _details(envelope: Envelope, status: int, server_message: str) -> dict[str, Any]:
    first = envelope.first
    return {
        "http_status": status,
        "code": first.code if first is not None else None,
        "field": first.field if first is not None else None,
        "server_message": server_message or None,
        "errors": envelope.errors,
    }
