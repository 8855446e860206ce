"""The host gate: a Retry-After pauses every call of a client to that origin, on a fake clock."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from uniware_source.api.auth import UniwareCredentials
from uniware_source.api.client import STATUS_PATH, UniwareClient
from uniware_source.api.errors import TransportError
from uniware_source.api.gate import GatedAdapter, HostGate, retry_after_seconds
from uniware_source.api.urls import origin

TENANT = "https://acme.unicommerce.com"
FILES = "https://files.example.net"


class FakeClock:
    """Time that passes only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


def gate(clock: FakeClock, **kwargs: Any) -> HostGate:
    return HostGate(clock=clock, sleep=clock.sleep, wall=lambda: 1_700_000_000.0, **kwargs)


# -- Retry-After values ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", None),
        ("", None),
        (None, None),
        ("soon", None),
        ("-5", None),
        ("Tue, 14 Nov 2023 22:13:30 GMT", 10.0),  # 10 s after the wall clock of `gate`
        ("Tue, 14 Nov 2023 22:13:30 -0000", 10.0),
        ("Tue, 14 Nov 2023 22:13:00 GMT", None),  # in the past
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=1_700_000_000.0) == seconds


# -- the gate -------------------------------------------------------------------------------------
def test_an_open_gate_does_not_wait(clock: FakeClock) -> None:
    assert gate(clock).wait(origin(TENANT)) == 0.0
    assert clock.slept == []


def test_a_pause_holds_every_caller_of_that_origin_until_it_ends(clock: FakeClock) -> None:
    g = gate(clock)
    g.pause(origin(TENANT), 5.0)
    clock.now += 2.0  # two seconds later another call comes
    assert g.wait(origin(TENANT + "/services/rest/v1/export/job/status")) == 3.0
    assert clock.now == 1005.0
    assert g.wait(origin(TENANT)) == 0.0  # over now
    assert g.paused_until(origin(TENANT)) is None


def test_a_pause_binds_one_origin_only(clock: FakeClock) -> None:
    g = gate(clock)
    g.pause(origin(TENANT), 5.0)
    assert g.wait(origin(FILES)) == 0.0
    assert g.wait(origin("https://acme.unicommerce.com:8443")) == 0.0  # another port, another origin
    assert g.wait(origin("https://ACME.unicommerce.com:443/x")) == 5.0  # the same origin


def test_a_pause_is_capped_and_never_shortened(clock: FakeClock) -> None:
    g = gate(clock, max_pause=30.0)
    assert g.pause(origin(TENANT), 3600.0) == 1030.0
    assert g.pause(origin(TENANT), 1.0) == 1030.0  # a shorter Retry-After does not open it early
    assert g.wait(origin(TENANT)) == 30.0


def test_a_pause_made_while_waiting_is_waited_out_too(clock: FakeClock) -> None:
    g = gate(clock)
    key = origin(TENANT)
    g.pause(key, 2.0)
    extended: list[bool] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if not extended:  # another thread's call was answered 429 with Retry-After: 4 meanwhile
            extended.append(True)
            g.pause(key, 4.0)

    g._sleep = sleep
    assert g.wait(key) == 6.0


@pytest.mark.parametrize(
    ("status", "headers", "paused"),
    [
        (429, {"Retry-After": "7"}, 7.0),
        (503, {"Retry-After": "2"}, 2.0),
        (429, {}, None),  # no Retry-After: dlt's own backoff, no pause
        (500, {"Retry-After": "7"}, None),
        (200, {"Retry-After": "7"}, None),
    ],
)
def test_which_answers_pause(clock: FakeClock, status: int, headers: dict[str, str], paused: float) -> None:
    g = gate(clock)
    assert g.note(origin(TENANT), status, requests.structures.CaseInsensitiveDict(headers)) == paused
    assert g.paused_until(origin(TENANT)) == (None if paused is None else clock.now + paused)


# -- the gate in the client -----------------------------------------------------------------------
class Wire:
    """requests' transport replaced: scripted answers, each request recorded with the fake time."""

    def __init__(self, clock: FakeClock, answers: list[tuple[int, dict[str, str]]]) -> None:
        self.clock = clock
        self.answers = answers
        self.sent: list[tuple[float, str, str]] = []  # (time, method, url)

    def send(self, request: requests.PreparedRequest) -> requests.Response:
        self.sent.append((self.clock(), str(request.method), str(request.url)))
        if request.url and "/oauth/token" in request.url:
            return _answer(request, 200, {"access_token": "tok", "expires_in": 3600})
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        body = {"successful": status == 200, "status": "RUNNING", "message": "slow down"}
        return _answer(request, status, body, headers)


def _answer(
    request: requests.PreparedRequest,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    response.url = str(request.url)
    response.request = request
    return response


def _client(clock: FakeClock, wire: Wire, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> UniwareClient:
    monkeypatch.setattr(HTTPAdapter, "send", lambda adapter, request, *a, **kw: wire.send(request))
    credentials = UniwareCredentials(username="u", password="gate-pass-1")
    return UniwareClient(TENANT, credentials, gate=gate(clock), request_backoff_factor=0.0, **kwargs)


def test_every_session_of_the_client_sends_through_the_gate(clock: FakeClock, monkeypatch) -> None:
    client = _client(clock, Wire(clock, []), monkeypatch)
    for session in (client._api.session, client._api_once.session, client.tokens._session):
        adapter = session.get_adapter(TENANT)
        assert isinstance(adapter, GatedAdapter) and adapter.gate is client.gate


def test_a_429_on_one_jobs_status_pauses_the_other_jobs_calls(clock: FakeClock, monkeypatch) -> None:
    wire = Wire(clock, [(429, {"Retry-After": "5"})])
    client = _client(clock, wire, monkeypatch, request_max_attempts=1)
    with pytest.raises(TransportError, match="HTTP 429"):
        client.export_job_status("JOB-A")
    refused_at = wire.sent[-1][0]
    assert client.export_job_status("JOB-B").status == "RUNNING"  # another job's call, next
    assert wire.sent[-1][0] == refused_at + 5.0  # ... sent only once the pause was over
    assert clock.slept == [5.0]


def test_the_refused_request_is_retried_after_the_pause_within_its_attempts(
    clock: FakeClock, monkeypatch
) -> None:
    wire = Wire(clock, [(429, {"Retry-After": "4"}), (429, {"Retry-After": "4"})])
    # dlt's own wait is capped at 0 here: the waiting seen is the gate's
    client = _client(clock, wire, monkeypatch, request_max_attempts=3, request_max_retry_delay=0.0)
    client.gate.max_pause = 60.0
    assert client.export_job_status("JOB-A").status == "RUNNING"
    status_sends = [t for t, _, url in wire.sent if url.endswith(STATUS_PATH)]
    assert status_sends == [1000.0, 1004.0, 1008.0]  # three attempts, as the budget allows


def test_a_pause_of_the_tenant_does_not_hold_the_file_host(clock: FakeClock, monkeypatch) -> None:
    wire = Wire(clock, [(429, {"Retry-After": "30"})])
    client = _client(clock, wire, monkeypatch, request_max_attempts=1)
    with pytest.raises(TransportError):
        client.export_job_status("JOB-A")
    file_session = client._downloader._files.session
    file_session.get(FILES + "/x.csv?Signature=s", timeout=1)
    assert wire.sent[-1] == (1000.0, "GET", FILES + "/x.csv?Signature=s")
    assert clock.slept == []
