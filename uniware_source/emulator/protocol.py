"""The Uniware REST protocol as the emulator answers it: pure functions from request to
(HTTP status, JSON payload, extra headers). See shared/reference/uniware-api.md."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import TYPE_CHECKING, Any

from uniware_source.emulator.data import IST_OFFSET_S, TENANT_START, ist_midnight_epoch
from uniware_source.emulator.model import Job, JobSpec

if TYPE_CHECKING:
    from uniware_source.emulator.server import Emulator

Answer = tuple[int, Any, dict[str, str]]

LOGIN_FAILED = 100222
JOB_COLLISION = 100014
INVALID_JOB_CODE = 100001


def envelope(
    successful: bool = True, message: str = "", errors: list[dict[str, Any]] | None = None, **fields: Any
) -> dict[str, Any]:
    return {"successful": successful, "message": message, "errors": errors or [], "warnings": [], **fields}


def error(
    code: int | str,
    message: str,
    field: str | None = None,
    description: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "fieldName": field,
        "description": description or message,
        "message": message,
        "errorParams": params or {},
    }


def failure(message: str, code: int | str, field: str | None = None, **kw: Any) -> dict[str, Any]:
    return envelope(False, message, [error(code, message, field, **kw)])


# --------------------------------------------------------------------------- oauth
def oauth_token(emu: Emulator, params: Mapping[str, str]) -> Answer:
    grant = params.get("grant_type")
    if params.get("client_id", emu.client_id) != emu.client_id:
        return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}, {}
    if grant == "password":
        username, password = params.get("username", ""), params.get("password", "")
        if username != emu.username or password != emu.password:
            cause = "Bad credentials" if username == emu.username else "User not found"
            message = "Invalid username or password"
            payload = failure(message, LOGIN_FAILED, "username", params={"cause": cause})
            return 500, payload, {}
        emu.grants["password"] += 1
        return 200, emu.issue_tokens(), {}
    if grant == "refresh_token":
        if not emu.use_refresh(params.get("refresh_token", "")):
            return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}, {}
        emu.grants["refresh_token"] += 1
        return 200, emu.issue_tokens(), {}
    return (
        400,
        {"error": "unsupported_grant_type", "error_description": f"Unsupported grant type: {grant}"},
        {},
    )


# --------------------------------------------------------------------------- rest
def handle_rest(emu: Emulator, method: str, path: str, headers: Message, body: bytes) -> Answer:
    fault = emu.take_fault()
    if fault is not None:
        status, retry_after = fault
        extra = {} if retry_after is None else {"Retry-After": str(max(0, math.ceil(retry_after)))}
        reason = "Too Many Requests" if status == 429 else "Service temporarily unavailable"
        return status, envelope(False, reason), extra
    refused = _unauthorized(emu, headers)
    if refused is not None:
        return refused
    if method != "POST":
        return 405, envelope(False, f"Request method '{method}' not supported"), {"Allow": "POST"}
    try:
        request = json.loads(body.decode("utf-8") or "{}") if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return 400, failure("Malformed JSON request", "INVALID_REQUEST"), {}
    if not isinstance(request, dict):
        return 400, failure("Malformed JSON request", "INVALID_REQUEST"), {}
    route = path.rstrip("/")
    if route == "/services/rest/v1/export/job/create":
        return create_job(emu, headers, request)
    if route == "/services/rest/v1/export/job/status":
        return job_status(emu, request)
    if route == "/services/rest/v1/facility/search":
        return 200, envelope(parties=emu.facility_parties()), {}
    return 404, envelope(False, f"No handler for {route}"), {}


def _unauthorized(emu: Emulator, headers: Message) -> Answer | None:
    """The 401 for a request without a valid bearer token; None when its token is good."""
    auth = (headers.get("Authorization") or "").strip()
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return 401, {"error": "unauthorized", "error_description": "Full authentication is required"}, {}
    state = emu.check_access(token.strip())
    if state != "ok":
        description = "Access token expired" if state == "expired" else "Invalid access token"
        return 401, {"error": "invalid_token", "error_description": description}, {}
    return None


def tenant_file(emu: Emulator, method: str, path: str, headers: Message) -> Answer:
    """GET /exports/<job>/<token>.csv on the tenant host (a `file_via_tenant` job's filePath):
    with a valid bearer token, a 302 to the job's signed link on the file host."""
    if method != "GET":
        return 405, envelope(False, f"Request method '{method}' not supported"), {"Allow": "GET"}
    refused = _unauthorized(emu, headers)
    if refused is not None:
        return refused
    segments = path.strip("/").split("/")
    job = None
    if len(segments) == 3 and segments[2].endswith(".csv"):
        job = emu.find_file_job(segments[1], segments[2][: -len(".csv")])
    if job is None or not job.spec.file_via_tenant:
        return 404, envelope(False, "No such file"), {}
    return 302, envelope(message="Found"), {"Location": emu.issue_link(job)}


def _throttled(emu: Emulator, job: Job) -> Answer | None:
    """The 429 for the job's `throttle_at_status_call`-th status call; None for any other."""
    with emu.lock:
        job.status_calls += 1
        if job.status_calls != job.spec.throttle_at_status_call:
            return None
    retry_after = str(max(1, math.ceil(job.spec.throttle_retry_after)))
    return 429, envelope(False, "Too Many Requests"), {"Retry-After": retry_after}


def _facility_denied() -> Answer:
    return 403, failure("Illegal Access, facility is required", "ILLEGAL_ACCESS", "Facility"), {}


class DateRangeError(ValueError):
    """A dateRange we cannot read; Uniware answers such requests with HTTP 500."""


def _to_ms(value: Any) -> int:
    if isinstance(value, bool):
        raise DateRangeError("boolean date")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if "T" in text:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return int(parsed.timestamp() * 1000)
    raise DateRangeError(f"unreadable date {value!r}")


def _text_range(name: str, now_ms: int) -> tuple[int, int]:
    ist_now = datetime.fromtimestamp(now_ms / 1000, UTC) + timedelta(seconds=IST_OFFSET_S)
    today = ist_midnight_epoch(ist_now.date()) * 1000
    day = 86_400_000
    ranges = {
        "TODAY": (today, now_ms),
        "YESTERDAY": (today - day, today - 1),
        "LAST_7_DAYS": (today - 7 * day, now_ms),
        "LAST_30_DAYS": (today - 30 * day, now_ms),
        "THIS_MONTH": (ist_midnight_epoch(ist_now.date().replace(day=1)) * 1000, now_ms),
    }
    if name not in ranges:
        raise DateRangeError(f"unknown textRange {name!r}")
    return ranges[name]


def _window(filters: Any, now_ms: int) -> tuple[str, tuple[int, int] | None]:
    """(filter id, window) of the first date filter; no date filter means the whole history."""
    for item in filters if isinstance(filters, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("dateRange"), dict):
            continue
        date_range = item["dateRange"]
        if date_range.get("textRange"):
            window = _text_range(str(date_range["textRange"]), now_ms)
        else:
            window = (_to_ms(date_range.get("start")), _to_ms(date_range.get("end")))
        return str(item.get("id") or "addedOn"), window
    return "addedOn", None


def create_job(emu: Emulator, headers: Message, request: dict[str, Any]) -> Answer:
    facility = (headers.get("Facility") or "").strip()
    if not facility or facility not in emu.facilities:
        return _facility_denied()
    report = request.get("exportJobTypeName")
    if not isinstance(report, str) or report not in emu.reports:
        return 200, failure("Invalid export job type", "INVALID_EXPORT_JOB_TYPE", "exportJobTypeName"), {}
    columns = request.get("exportColums")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
        return 200, failure("exportColums can not be empty", "INVALID_EXPORT_JOB_COLUMN", "exportColums"), {}
    now_ms = int(time.time() * 1000)
    try:
        filter_id, window = _window(request.get("exportFilters"), now_ms)
    except (DateRangeError, ValueError, TypeError) as exc:
        return 500, failure(f"Internal server error: {exc}", "INTERNAL_ERROR"), {}
    if window is None:
        window = (ist_midnight_epoch(TENANT_START) * 1000, now_ms)
    key = json.dumps([report, facility, columns, request.get("exportFilters")], sort_keys=True, default=str)
    spec = JobSpec(
        report=report, facility=facility, columns=tuple(columns), window=window, date_filter=filter_id
    )
    # Rows "arrive" by the hour: a window reaching past the last full hour is cut there, so repeated
    # jobs within the hour reuse one cached file (a test may fix that hour: rows_arrived_until_ms).
    arrived = emu.rows_arrived_until_ms
    last_full_hour = now_ms - now_ms % 3_600_000 - 1 if arrived is None else arrived
    not_after = last_full_hour if window[1] > last_full_hour else None
    code = emu.create_job_from_api(spec, key, not_after)
    if code is None:
        message = "Export job collision: an identical export job is already running"
        return 200, failure(message, JOB_COLLISION), {}
    return 200, envelope(message="Export job created", jobCode=code), {}


def job_status(emu: Emulator, request: dict[str, Any]) -> Answer:
    code = request.get("jobCode")
    job = emu.jobs.get(code) if isinstance(code, str) else None
    if job is None:
        return 200, failure("Invalid job code", INVALID_JOB_CODE, "jobCode"), {}
    throttled = _throttled(emu, job)
    if throttled is not None:
        return throttled
    status, file_path, message = emu.poll(job)
    return 200, envelope(True, message, status=status, filePath=file_path), {}
