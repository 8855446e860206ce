"""Uniware's answer envelope, read in one place.

Every REST answer, and many token-endpoint refusals, is a JSON object of this shape:

    {"successful": false, "message": "...",
     "errors": [{"code": 1001, "fieldName": "jobCode", "message": "...", "description": "...",
                 "errorParams": {...}}],
     ...the call's own fields...}

Logical failures come back as HTTP 200 with `successful: false`, so the envelope, not the HTTP
status, says whether a call worked. Only the first error is used for messages; the whole list is
kept for the `export_jobs.errors` audit column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests


@dataclass(frozen=True)
class ServerError:
    """One entry of an envelope's `errors` list."""

    code: Any = None
    field: str | None = None
    message: str | None = None
    description: str | None = None
    params: Any = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> ServerError:
        return cls(
            code=entry.get("code"),
            field=entry.get("fieldName"),
            message=entry.get("message"),
            description=entry.get("description"),
            params=entry.get("errorParams"),
        )

    @property
    def text(self) -> str:
        """What went wrong, in the server's words ("" when it gave none)."""
        return str(self.message or self.description or "")

    def audit_text(self) -> str:
        """`[code] field: text`, each part only when the server gave it."""
        parts = (f"[{self.code}]" if self.code is not None else "", f"{self.field}:" if self.field else "")
        return " ".join(p for p in (*parts, self.text) if p)


@dataclass(frozen=True)
class Envelope:
    """A JSON-object answer: its success flag, its message and its error entries."""

    body: dict[str, Any]
    errors: list[dict[str, Any]]  # the entries that are objects, as sent

    @classmethod
    def parse(cls, body: object) -> Envelope | None:
        """The envelope of a decoded answer; None when the answer is not a JSON object."""
        if not isinstance(body, dict):
            return None
        return cls(body, [e for e in body.get("errors") or [] if isinstance(e, dict)])

    @classmethod
    def of(cls, response: requests.Response) -> Envelope | None:
        """The envelope of an HTTP answer; None when it is not JSON, or not an object."""
        try:
            body = response.json()
        except ValueError:
            return None
        return cls.parse(body)

    @property
    def refused(self) -> bool:
        """The server said so (`successful: false`); a missing flag is not a refusal."""
        return self.body.get("successful") is False

    @property
    def message(self) -> str | None:
        return self.body.get("message")

    @property
    def first(self) -> ServerError | None:
        return ServerError.of(self.errors[0]) if self.errors else None

    def reason(self) -> str:
        """Why the call failed: the first error's text, else the envelope's message ("" if neither)."""
        first = self.first
        return (first.text if first is not None else "") or str(self.message or "")

    def login_reason(self) -> str:
        """Why the token endpoint refused: the first error with its code and details, else the
        message or the OAuth error fields (`error_description`, `error`)."""
        first = self.first
        if first is None:
            body = self.body
            return str(
                body.get("message") or body.get("error_description") or body.get("error") or "no reason given"
            )
        parts = [first.text]
        if first.code is not None:
            parts.append(f"code {first.code}")
        if first.params:
            parts.append(f"details {first.params}")
        return ", ".join(p for p in parts if p)


def errors_text(errors: Sequence[dict[str, Any]] | None) -> str | None:
    """An `errors` list as the audit table stores it: `[code] field: text; ...`, None if empty."""
    if not errors:
        return None
    return "; ".join(ServerError.of(error).audit_text() for error in errors)
