"""Network faults over real HTTP on loopback: a tenant that redirects its API elsewhere, a file host
that trickles, a 429 with Retry-After among many jobs' polls, a file link that moves host."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, USERNAME, audit, make_source, rows
from uniware_source import UniwareCredentials
from uniware_source.api.client import CREATE_PATH, FACILITY_SEARCH_PATH, STATUS_PATH, UniwareClient
from uniware_source.api.errors import DownloadError, RedirectRefusedError
from uniware_source.emulator import Emulator, JobSpec

SIGNED = "X-Signature=SECRET-SIG-42"


# -- a host that must never be contacted ----------------------------------------------------------
class _DecoyHandler(BaseHTTPRequestHandler):
    """Answers like a tenant whose job is done, with a file of its own: the trap a redirect sets."""

    server: Decoy

    def _answer(self) -> None:
        self.server.seen.append((self.command, self.path, "Authorization" in self.headers))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.command == "GET" and self.path.endswith(".csv"):
            body, kind = b"Sale Order Item Code\nFORGED-1\n", "text/csv"
        else:
            host, port = self.server.server_address[:2]
            answer = {
                "successful": True,
                "status": "COMPLETE",
                "filePath": f"http://{host!s}:{port}/forged.csv",
                "jobCode": "FORGED",
                "access_token": "forged-token",
                "expires_in": 3600,
                "parties": [{"facilityCode": "FORGED"}],
            }
            body, kind = json.dumps(answer).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class Decoy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _DecoyHandler)
        self.seen: list[tuple[str, str, bool]] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture()
def decoy() -> Iterator[Decoy]:
    server = Decoy()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _client(emu: Emulator, **settings: Any) -> UniwareClient:
    credentials = UniwareCredentials(username=USERNAME, password=PASSWORD)
    options: dict[str, Any] = {"facility": "WH-BLR", "request_backoff_factor": 0.05, **settings}
    return UniwareClient(emu.base_url, credentials, **options)


# -- 1. the API's answers come from the tenant ----------------------------------------------------
@pytest.mark.parametrize("status", [302, 307])
def test_status_calls_redirected_to_another_origin_end_the_job_and_reach_nothing(
    emulator: Emulator, decoy: Decoy, pipeline, status: int
) -> None:
    code = emulator.add_job(JobSpec(rows=20))
    emulator.redirect_next(1000, f"{decoy.url}{STATUS_PATH}?{SIGNED}", status=status)
    pipeline.run(make_source(emulator, [code]))
    assert decoy.seen == []  # not a request, so neither the bearer token nor the job code
    job = audit(pipeline)[code]
    assert job["status"] == "ERROR" and job["rows_loaded"] == 0
    # both base URLs are scheme://127.0.0.1:port, an origin as the message spells it
    assert emulator.base_url in job["message"] and decoy.url in job["message"]
    assert f"HTTP {status}" in job["message"] and "SECRET-SIG" not in job["message"]
    redirected = [r for r in emulator.requests if r.path == STATUS_PATH and r.status == status]
    assert len(redirected) == 1  # refused at once, never retried
    assert "sale_orders" not in pipeline.default_schema.data_table_names() or rows(
        pipeline, "SELECT count(*) FROM sale_orders"
    ) == [(0,)]


CALLS: dict[str, Callable[[UniwareClient], Any]] = {
    STATUS_PATH: lambda client: client.export_job_status("EXP-000001"),
    CREATE_PATH: lambda client: client.create_export_job(report="Sale Orders", columns=["soicode"]),
    FACILITY_SEARCH_PATH: lambda client: client.list_facilities(),
    "/oauth/token": lambda client: client.tokens.header(),
}


@pytest.mark.parametrize("path", list(CALLS))
def test_every_api_call_and_the_token_endpoint_refuse_a_redirect_elsewhere(
    emulator: Emulator, decoy: Decoy, path: str
) -> None:
    prefix = "/oauth/token" if path == "/oauth/token" else "/services/rest/"
    emulator.redirect_next(10, f"{decoy.url}{path}?{SIGNED}", status=307, paths=(prefix,))
    with pytest.raises(RedirectRefusedError) as refused:
        CALLS[path](_client(emulator))
    message = str(refused.value)
    assert emulator.base_url in message and decoy.url in message
    for secret in ("SECRET-SIG", PASSWORD, *emulator.issued_tokens()):
        assert secret not in message
    assert decoy.seen == []
    assert sum(1 for r in emulator.requests if r.path == path and r.status == 307) == 1


# -- file links: another host is fine, the token stays with the tenant -----------------------------
def test_a_file_path_on_the_tenant_redirects_to_the_file_host_without_the_token(
    emulator: Emulator, pipeline
) -> None:
    code = emulator.add_job(JobSpec(rows=30, file_via_tenant=True))
    pipeline.run(make_source(emulator, [code]))
    assert audit(pipeline)[code]["status"] == "LOADED"
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(30,)]
    tenant_gets = [r for r in emulator.requests if r.server == "api" and r.path.startswith("/exports/")]
    assert [(r.status, r.had_authorization) for r in tenant_gets] == [(302, True)]
    file_gets = [r for r in emulator.requests if r.server == "file"]
    assert [(r.status, r.had_authorization) for r in file_gets] == [(200, False)]


# -- 2. every wait has a deadline: downloads ------------------------------------------------------
def _file_link(emu: Emulator, client: UniwareClient, code: str) -> str:
    for _ in range(400):
        answer = client.export_job_status(code)
        if answer.file_path:
            return answer.file_path
        time.sleep(0.02)
    raise AssertionError(f"{code} never finished")


def test_a_trickling_file_host_fails_the_attempt_at_its_deadline(emulator: Emulator, tmp_path: Path) -> None:
    code = emulator.add_job(JobSpec(rows=200, delay=0, trickle_seconds=0.05))
    client = _client(emulator, request_timeout=5.0, download_timeout=1.0)
    dest = tmp_path / "trickled.csv"
    with pytest.raises(DownloadError) as failure:
        client.download(_file_link(emulator, client, code), dest, job_code=code)
    message = str(failure.value)
    assert "deadline of 1 s" in message and "download_timeout" in message
    received = int(message.split(" after ")[1].split(" bytes")[0])
    assert received >= (dest.stat().st_size if dest.exists() else 0)
    assert "Signature" not in message


def test_a_dropped_connection_counts_the_bytes_that_arrived(emulator: Emulator, tmp_path: Path) -> None:
    code = emulator.add_job(JobSpec(rows=2000, delay=0, drop_connection_at=50_000))
    client = _client(emulator)
    with pytest.raises(DownloadError, match="connection dropped after 50000 bytes"):
        client.download(_file_link(emulator, client, code), tmp_path / "cut.csv", job_code=code)


# -- 3. a Retry-After pauses the client, not one request ------------------------------------------
def test_a_429_on_one_jobs_status_pauses_every_status_call_of_the_client(
    emulator: Emulator, pipeline
) -> None:
    retry_after = 4.0
    throttled = emulator.add_job(
        JobSpec(rows=20, delay=6.0, throttle_at_status_call=3, throttle_retry_after=retry_after)
    )
    others = [emulator.add_job(JobSpec(rows=20, delay=6.0, seed=i)) for i in range(1, 4)]
    pipeline.run(make_source(emulator, [throttled, *others], poll_interval=0.05, max_poll_interval=0.2))
    jobs = audit(pipeline)
    assert all(jobs[c]["status"] == "LOADED" for c in [throttled, *others])

    status_calls = [r for r in emulator.requests if r.server == "api" and r.path == STATUS_PATH]
    (refusal,) = [r for r in status_calls if r.status == 429]
    # Generous margins: calls already on their way when the 429 was sent may land just after
    # it; the client reopens no sooner than Retry-After after it received the 429.
    quiet_from, quiet_to = refusal.time + 1.5, refusal.time + retry_after - 0.1
    during = [r.time - refusal.time for r in status_calls if quiet_from < r.time < quiet_to]
    assert during == [], f"status calls {during} s after the 429, inside its Retry-After"
    # the other jobs were polling before the 429 and went on after the pause
    assert any(r.time < refusal.time for r in status_calls)
    assert any(r.time >= refusal.time + retry_after for r in status_calls)
