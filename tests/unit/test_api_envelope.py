"""Uniware's envelope, read once: the REST answer's typed errors, a login's refusal, the audit text."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from uniware_source.api.envelope import Envelope, errors_text
from uniware_source.api.errors import AccessDeniedError, ApiError, JobNotFoundError, TransportError, redact
from uniware_source.api.rest import read_answer

TOKEN = "1211cf66-aaaa-bbbb-cccc"


def _response(status: int, body: Any, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers["Content-Type"] = content_type
    return response


def _read(status: int, body: Any, content_type: str = "application/json") -> dict[str, Any]:
    return read_answer(
        _response(status, body, content_type), "status of job J1", lambda t: redact(t, [TOKEN])
    )


JOB_CODE_ERROR = {
    "code": 100001,
    "fieldName": "jobCode",
    "message": "Invalid job code",
    "description": "no such job",
}


def test_a_successful_answer_is_its_body() -> None:
    body = {"successful": True, "status": "COMPLETE", "filePath": "https://f/x.csv"}
    assert _read(200, body) == body
    assert _read(200, {"status": "RUNNING"}) == {"status": "RUNNING"}  # no flag is no refusal


def test_a_refusal_naming_the_job_code_is_job_not_found() -> None:
    with pytest.raises(JobNotFoundError) as caught:
        _read(200, {"successful": False, "errors": [JOB_CODE_ERROR, "not an object"]})
    error = caught.value
    assert str(error) == "Uniware refused status of job J1: Invalid job code (code 100001, field jobCode)"
    assert (error.http_status, error.code, error.field, error.server_message) == (
        200,
        100001,
        "jobCode",
        "Invalid job code",
    )
    assert error.errors == [JOB_CODE_ERROR]  # the objects of the list, as sent


def test_other_refusals_are_api_errors_with_the_first_reason() -> None:
    body = {"successful": False, "message": "bad", "errors": [{"code": 7, "description": "Facility missing"}]}
    with pytest.raises(ApiError) as caught:
        _read(200, body)
    assert not isinstance(caught.value, JobNotFoundError)
    assert str(caught.value) == "Uniware refused status of job J1: Facility missing (code 7)"
    with pytest.raises(ApiError, match="refused status of job J1: bad$"):
        _read(400, {"message": "bad"})
    with pytest.raises(ApiError, match="no reason given"):
        _read(200, {"successful": False})


def test_http_failures_are_typed() -> None:
    with pytest.raises(AccessDeniedError, match=r"HTTP 403\): Not allowed"):
        _read(403, {"successful": False, "errors": [{"message": "Not allowed"}]})
    with pytest.raises(TransportError, match="HTTP 503 after retries: busy"):
        _read(503, {"message": "busy"})
    with pytest.raises(TransportError, match="HTTP 502 after retries: <html>gateway"):
        _read(502, b"<html>gateway</html>", "text/html")
    with pytest.raises(ApiError, match="HTTP 404, not a JSON answer: '<html>'"):
        _read(404, b"<html>", "text/html")
    with pytest.raises(TransportError, match="empty answer"):
        _read(500, b"")


def test_secrets_in_the_server_message_are_redacted() -> None:
    with pytest.raises(ApiError) as caught:
        _read(200, {"successful": False, "message": f"token {TOKEN} is not valid here"})
    assert TOKEN not in str(caught.value) and TOKEN not in (caught.value.server_message or "")
    with pytest.raises(ApiError) as caught:
        _read(400, f"bearer {TOKEN}".encode(), "text/plain")
    assert TOKEN not in str(caught.value)


def _login_reason(body: dict[str, Any]) -> str:
    envelope = Envelope.parse(body)
    assert envelope is not None
    return envelope.login_reason()


def test_a_login_refusal_reads_the_first_error_or_the_oauth_fields() -> None:
    with_details = {"errors": [{"message": "Bad credentials", "code": 401, "errorParams": {"tries": 2}}]}
    assert _login_reason(with_details) == "Bad credentials, code 401, details {'tries': 2}"
    assert (
        _login_reason({"error": "invalid_grant", "error_description": "Bad credentials"}) == "Bad credentials"
    )
    assert _login_reason({"error": "invalid_grant"}) == "invalid_grant"
    assert _login_reason({"x": 1}) == "no reason given"
    assert Envelope.parse(["not", "an", "object"]) is None


def test_the_audit_text_of_an_errors_list() -> None:
    assert errors_text(None) is None and errors_text([]) is None
    assert errors_text([JOB_CODE_ERROR, {"description": "second"}, {"code": 0}]) == (
        "[100001] jobCode: Invalid job code; second; [0]"
    )
