"""Uniware credentials and the bearer token that goes with them.

Uniware uses the OAuth2 password grant with the credentials in the query string
(`GET /oauth/token?grant_type=password&client_id=...&username=...&password=...`). The token is
refreshed with the refresh grant shortly before it expires; when the refresh token has died the
password grant is used again. A refused login is never retried: repeated bad logins can lock
the account. Only network failures (the token endpoint sometimes drops connections) are retried,
`RetryBudget.login_attempts` tries in all. A redirect is never followed (the password travels in
the query string): it is a `RedirectRefusedError` naming both origins, and is not retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from dlt.common.configuration.specs import CredentialsConfiguration, configspec
from dlt.common.typing import TSecretStrValue
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from uniware_source.api.budget import RetryBudget
from uniware_source.api.envelope import Envelope
from uniware_source.api.errors import AuthError, ConfigurationError, NoAnswer, TransportError, redact
from uniware_source.api.urls import redirect_refusal

logger = logging.getLogger(__name__)


class _RedactSecretsFilter(logging.Filter):
    """urllib3 logs request lines, query string included, at DEBUG: mask credentials in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactSecretsFilter())

DEFAULT_CLIENT_ID = "my-trusted-client"


@configspec
class UniwareCredentials(CredentialsConfiguration):
    """`[sources.uniware.credentials]`: the Uniware user the connector logs in as."""

    username: str | None = None
    password: TSecretStrValue | None = None
    client_id: str = DEFAULT_CLIENT_ID

    def __str__(self) -> str:
        return f"Uniware user {self.username!r}"

    def __repr__(self) -> str:
        return f"UniwareCredentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class _Token:
    access: str
    refresh: str | None
    expires_at: float  # monotonic clock


_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout)


class TokenProvider:
    """Hands out a valid `Authorization` header value, thread-safely.

    `header()` logs in on first use and refreshes when the token is within `refresh_margin`
    seconds (or 10 % of its life, whichever is smaller) of expiring. `invalidate(header)` is called
    after a 401 and forces a new token, unless another thread already replaced that token.
    """

    def __init__(
        self,
        base_url: str,
        credentials: UniwareCredentials,
        *,
        session: requests.Session | None = None,
        timeout: float = 60.0,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        budget: RetryBudget | None = None,
    ) -> None:
        if not credentials.username or not credentials.password:
            raise ConfigurationError(
                "Uniware credentials are missing: set sources.uniware.credentials.username and .password "
                "(or SOURCES__UNIWARE__CREDENTIALS__USERNAME / __PASSWORD)"
            )
        self._token_url = base_url.rstrip("/") + "/oauth/token"
        self._credentials = credentials
        self._session = session or requests.Session()
        self._timeout = timeout
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._sleep = sleep  # between tries of a token request
        self._attempts = (budget or RetryBudget()).login_attempts
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._refused: AuthError | None = None  # a refused login is never tried again
        self.logins = 0
        self.refreshes = 0

    # -- public ---------------------------------------------------------------------------------
    def header(self) -> str:
        with self._lock:
            if self._refused is not None:
                raise AuthError(str(self._refused))
            token = self._token
            if token is None:
                token = self._token = self._login()
            elif self._clock() >= token.expires_at:
                token = self._token = self._renew(token)
            return f"bearer {token.access}"

    def invalidate(self, header: str) -> None:
        """The server refused `header` (401): the next `header()` gets a new token."""
        with self._lock:
            if self._token is not None and header == f"bearer {self._token.access}":
                self._token = _Token(self._token.access, self._token.refresh, expires_at=float("-inf"))

    def secrets(self) -> list[str]:
        """Every secret this provider knows, for redacting text that leaves the process."""
        found: list[str] = [str(self._credentials.password)]
        if self._token is not None:
            found.append(self._token.access)
            if self._token.refresh:
                found.append(self._token.refresh)
        return found

    # -- grants ---------------------------------------------------------------------------------
    def _renew(self, token: _Token) -> _Token:
        if token.refresh:
            try:
                return self._refresh(token.refresh)
            except AuthError as exc:
                # refresh tokens die after ~30 days (invalid_grant): fall back to the password
                logger.info("Uniware token refresh refused (%s); logging in again", exc)
        return self._login()

    def _login(self) -> _Token:
        params = {
            "grant_type": "password",
            "client_id": self._credentials.client_id or DEFAULT_CLIENT_ID,
            "username": self._credentials.username,
            "password": str(self._credentials.password),
        }
        response = self._get(params, what="login")
        envelope = Envelope.of(response)
        if response.status_code == 200 and envelope is not None and envelope.body.get("access_token"):
            self.logins += 1
            logger.info("logged in to Uniware as %r", self._credentials.username)
            return self._token_from(envelope.body)
        reason = f"(HTTP {response.status_code}): {self._describe(envelope, response)}"
        if response.status_code >= 502 or envelope is None:
            # a gateway or an HTML error page, not Uniware's verdict on the credentials
            raise TransportError(f"Uniware's token endpoint failed {reason}")
        self._refused = AuthError(
            f"Uniware refused the login for user {self._credentials.username!r} {reason}. "
            "Check sources.uniware.credentials; the login is not retried, to avoid locking the account."
        )
        raise self._refused

    def _refresh(self, refresh_token: str) -> _Token:
        params = {
            "grant_type": "refresh_token",
            "client_id": self._credentials.client_id or DEFAULT_CLIENT_ID,
            "refresh_token": refresh_token,
        }
        response = self._get(params, what="token refresh")
        envelope = Envelope.of(response)
        if response.status_code == 200 and envelope is not None and envelope.body.get("access_token"):
            self.refreshes += 1
            return self._token_from(envelope.body)
        raise AuthError(
            f"token refresh refused (HTTP {response.status_code}): {self._describe(envelope, response)}"
        )

    def _get(self, params: dict[str, Any], *, what: str) -> requests.Response:
        @retry(
            retry=retry_if_exception_type(_NETWORK_ERRORS),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.5, max=5),
            sleep=self._sleep,
            reraise=True,
        )
        def call() -> requests.Response:
            # no redirects: one that kept the query string would carry the password elsewhere
            return self._session.get(
                self._token_url, params=params, timeout=self._timeout, allow_redirects=False
            )

        try:
            response = call()
        except requests.RequestException as exc:
            # requests puts the full URL, password included, in its messages: keep only a
            # redacted summary, and raise outside this block so the original is not chained
            failure = f"Uniware {what} at {self._token_url} failed: {redact(str(exc), self.secrets())}"
        else:
            refusal = redirect_refusal(response, self._token_url, what)
            if refusal is not None:
                raise refusal
            return response
        raise NoAnswer(failure)

    def _token_from(self, body: dict[str, Any]) -> _Token:
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = min(self._refresh_margin, lifetime * 0.1)
        return _Token(
            access=str(body["access_token"]),
            refresh=body.get("refresh_token"),
            expires_at=self._clock() + lifetime - margin,
        )

    def _describe(self, envelope: Envelope | None, response: requests.Response) -> str:
        if envelope is not None and envelope.body:
            text = envelope.login_reason()
        else:
            text = response.text[:200] or "empty answer"
        return redact(text, self.secrets())
