"""Redirects: the API's answers come from the tenant; a file link may move to another host, but
the bearer token stays with the tenant."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from uniware_source.api.auth import UniwareCredentials
from uniware_source.api.client import CREATE_PATH, FACILITY_SEARCH_PATH, STATUS_PATH, UniwareClient
from uniware_source.api.errors import ApiError, RedirectRefusedError, TransportError
from uniware_source.api.urls import origin_text

TENANT = "https://acme.unicommerce.com"
FOREIGN = "https://evil.example:8443"
FILES = "https://d1.cloudfront.net"
PASSWORD = "redirect-pass-77"


def _answer(
    request: requests.PreparedRequest,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response._content_consumed = True
    response.headers.update(headers or {})
    response.url = str(request.url)
    response.request = request
    return response


def _json(request: requests.PreparedRequest, status: int, body: dict[str, Any], **headers: str) -> Any:
    return _answer(
        request, status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}
    )


Route = Callable[[requests.PreparedRequest], requests.Response]


class Wire:
    """requests' transport replaced: every request that would leave the process is recorded here."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest) -> requests.Response:
        self.sent.append(request)
        if "/oauth/token" in str(request.url):
            return _json(request, 200, {"access_token": "tok-123456", "expires_in": 3600})
        return self.route(request)

    def origins(self) -> set[str]:
        return {origin_text(str(r.url)) for r in self.sent}


def _client(wire: Wire, monkeypatch: pytest.MonkeyPatch) -> UniwareClient:
    monkeypatch.setattr(HTTPAdapter, "send", lambda adapter, request, *a, **kw: wire.send(request))
    credentials = UniwareCredentials(username="u", password=PASSWORD)
    return UniwareClient(TENANT, credentials, facility="WH-1", request_backoff_factor=0.0)


def _redirect(status: int, location: str) -> Route:
    def route(request: requests.PreparedRequest) -> requests.Response:
        if str(request.url).startswith(TENANT):
            return _json(request, status, {"successful": True}, Location=location)
        # what a foreign host would answer, were it asked: a finished job with its own file
        return _json(request, 200, {"successful": True, "status": "COMPLETE", "filePath": FOREIGN + "/f.csv"})

    return route


CALLS: dict[str, Callable[[UniwareClient], Any]] = {
    STATUS_PATH: lambda c: c.export_job_status("EXP-1"),
    CREATE_PATH: lambda c: c.create_export_job(report="Sale Orders", columns=["soicode"]),
    FACILITY_SEARCH_PATH: lambda c: c.list_facilities(),
}


@pytest.mark.parametrize("status", [302, 307, 308, 301, 303])
@pytest.mark.parametrize("path", list(CALLS))
def test_a_rest_call_redirected_to_another_origin_is_refused_and_nothing_goes_there(
    monkeypatch: pytest.MonkeyPatch, path: str, status: int
) -> None:
    wire = Wire(_redirect(status, f"{FOREIGN}{path}?session=SIGNED-SECRET"))
    client = _client(wire, monkeypatch)
    with pytest.raises(RedirectRefusedError) as refused:
        CALLS[path](client)
    message = str(refused.value)
    assert "https://acme.unicommerce.com:443" in message and "https://evil.example:8443" in message
    assert f"HTTP {status}" in message
    for secret in ("SIGNED-SECRET", "session=", "tok-123456", PASSWORD, path):
        assert secret not in message
    assert wire.origins() == {"https://acme.unicommerce.com:443"}  # no request at all to the other
    assert sum(1 for r in wire.sent if str(r.url).endswith(path)) == 1  # and it is not retried
    assert isinstance(refused.value, ApiError) and not isinstance(refused.value, TransportError)
    assert refused.value.http_status == status


def test_a_redirect_within_the_tenant_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    wire = Wire(_redirect(307, "/services/rest/v2/export/job/status"))
    client = _client(wire, monkeypatch)
    with pytest.raises(RedirectRefusedError, match="within the same origin"):
        client.export_job_status("EXP-1")
    assert len([r for r in wire.sent if "/rest/" in str(r.url)]) == 1


@pytest.mark.parametrize(
    ("location", "named"),
    [
        ("//evil.example/x", "https://evil.example:443"),  # scheme-relative
        ("http://acme.unicommerce.com/x", "http://acme.unicommerce.com:80"),  # https -> http
        ("https://user:pw@evil.example/x", "https://evil.example:443"),  # no user info
        ("https://[::1]:9/x", "https://[::1]:9"),
        ("https://evil.example:notaport/x", "an unreadable address"),
    ],
)
def test_the_other_origin_is_named_without_anything_else(
    monkeypatch: pytest.MonkeyPatch, location: str, named: str
) -> None:
    client = _client(Wire(_redirect(302, location)), monkeypatch)
    with pytest.raises(RedirectRefusedError) as refused:
        client.export_job_status("EXP-1")
    assert f"to {named} (HTTP 302)" in str(refused.value)
    assert "pw" not in str(refused.value)


@pytest.mark.parametrize("status", [302, 307])
def test_the_token_endpoint_redirected_elsewhere_is_refused_before_any_credential_leaves(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    wire = Wire(_redirect(200, ""))
    client = _client(wire, monkeypatch)

    def token_redirects(request: requests.PreparedRequest) -> requests.Response:
        wire.sent.append(request)
        if str(request.url).startswith(TENANT):
            return _json(request, status, {}, Location=f"{FOREIGN}/oauth/token?password={PASSWORD}")
        return _json(request, 200, {"access_token": "stolen", "expires_in": 3600})

    monkeypatch.setattr(HTTPAdapter, "send", lambda adapter, request, *a, **kw: token_redirects(request))
    with pytest.raises(RedirectRefusedError) as refused:
        client.export_job_status("EXP-1")
    message = str(refused.value)
    assert "https://acme.unicommerce.com:443" in message and "https://evil.example:8443" in message
    assert PASSWORD not in message and "password" not in message
    assert [origin_text(str(r.url)) for r in wire.sent] == ["https://acme.unicommerce.com:443"]  # once


# -- file links -----------------------------------------------------------------------------------
CSV = b"Code,Qty\nA,1\n"


def _file_route(request: requests.PreparedRequest) -> requests.Response:
    url = str(request.url)
    if url.startswith(TENANT + "/exports/"):
        return _answer(request, 302, b"", {"Location": f"{FILES}/e/x.csv?Expires=9&Signature=SIG"})
    return _answer(request, 200, CSV, {"Content-Type": "text/csv", "Content-Length": str(len(CSV))})


def test_a_tenant_file_link_may_move_to_the_file_host_but_the_token_does_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wire = Wire(_file_route)
    client = _client(wire, monkeypatch)
    result = client.download(TENANT + "/exports/EXP-1/t.csv", tmp_path / "f.csv", job_code="EXP-1")
    assert result.path.read_bytes() == CSV
    tenant_get, file_get = (r for r in wire.sent if "/oauth/" not in str(r.url))
    assert tenant_get.headers.get("Authorization") == "bearer tok-123456"
    assert str(file_get.url).startswith(FILES)
    assert "Authorization" not in file_get.headers  # requests strips it on a cross-host redirect


def test_a_link_on_the_file_host_never_gets_the_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wire = Wire(_file_route)
    client = _client(wire, monkeypatch)
    client.download(FILES + "/e/x.csv?Signature=SIG", tmp_path / "f.csv", job_code="EXP-1")
    assert [str(r.url) for r in wire.sent] == [FILES + "/e/x.csv?Signature=SIG"]  # not even a login
    assert "Authorization" not in wire.sent[0].headers
