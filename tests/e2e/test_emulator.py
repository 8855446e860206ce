"""The emulator speaks the Uniware protocol over real HTTP (plain `requests`, loopback only)."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from uniware_source.emulator import (
    ALL_SALE_ORDER_KEYS,
    SALE_ORDER_LABELS,
    Emulator,
    JobSpec,
    write_sale_orders_csv,
)
from uniware_source.emulator.data import DEFAULT_SALE_ORDER_COLUMNS, ist_midnight_epoch

CREATE = "/services/rest/v1/export/job/create"
STATUS = "/services/rest/v1/export/job/status"
DAY_MS = 86_400_000
JUNE_1 = 1_717_180_200_000  # 2024-06-01 00:00 IST


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emulator-cache")


@pytest.fixture(scope="module")
def emu(cache_dir: Path) -> Iterator[Emulator]:
    with Emulator(default_job_delay=0.2, seed=7, cache_dir=cache_dir) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _clean_faults(emu: Emulator) -> Iterator[None]:
    emu.reset_faults()
    yield
    emu.reset_faults()


def login(emu: Emulator, password: str = "demo-pass", username: str = "demo") -> requests.Response:
    params = {
        "grant_type": "password",
        "client_id": "my-trusted-client",
        "username": username,
        "password": password,
    }
    return requests.get(f"{emu.base_url}/oauth/token", params=params, timeout=5)


def token(emu: Emulator) -> str:
    response = login(emu)
    assert response.status_code == 200
    return str(response.json()["access_token"])


def rest(
    emu: Emulator,
    path: str,
    body: dict[str, Any],
    tok: str | None,
    facility: str | None = "WH-BLR",
    scheme: str = "bearer",
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if tok is not None:
        headers["Authorization"] = f"{scheme} {tok}"
    if facility is not None:
        headers["Facility"] = facility
    return requests.post(f"{emu.base_url}{path}", json=body, headers=headers, timeout=5)


def create_body(
    start: int, end: int, columns: list[str] | None = None, filter_id: str = "addedOn"
) -> dict[str, Any]:
    return {
        "exportJobTypeName": "Sale Orders",
        "exportColums": columns or ["soicode", "saleOrderCode", "created", "updated"],
        "exportFilters": [{"id": filter_id, "dateRange": {"start": start, "end": end}}],
        "frequency": "ONETIME",
    }


def wait_file(emu: Emulator, tok: str, code: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = rest(emu, STATUS, {"jobCode": code}, tok, facility=None).json()
        if answer["filePath"] or answer["status"] in ("FAILED", "CANCELLED"):
            return dict(answer)
        time.sleep(0.05)
    raise AssertionError(f"job {code} did not finish")


def download(emu: Emulator, code: str) -> bytes:
    answer = wait_file(emu, token(emu), code)
    response = requests.get(answer["filePath"], timeout=10)
    assert response.status_code == 200, response.text
    return response.content


def parse(content: bytes) -> list[list[str]]:
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


# ----------------------------------------------------------------------------- auth
def test_login_ok(emu: Emulator) -> None:
    body = login(emu).json()
    assert body["token_type"] == "bearer" and body["scope"] == "read trust write"
    assert body["expires_in"] == 3600 and len(body["access_token"]) == 36 and body["refresh_token"]


@pytest.mark.parametrize(("username", "password"), [("demo", "wrong"), ("nobody", "demo-pass")])
def test_login_refused_is_http_500_envelope(emu: Emulator, username: str, password: str) -> None:
    response = login(emu, password=password, username=username)
    assert response.status_code == 500
    body = response.json()
    assert body["successful"] is False and body["errors"][0]["code"] == 100222
    assert body["errors"][0]["errorParams"]["cause"]


def test_requests_log_never_keeps_the_token_query(emu: Emulator) -> None:
    login(emu)
    record = [r for r in emu.requests if r.path.startswith("/oauth")][-1]
    assert record.path == "/oauth/token" and record.host_port == "api" and record.status == 200
    assert all("demo-pass" not in r.path for r in emu.requests)


def test_refresh_grant(emu: Emulator) -> None:
    first = login(emu).json()
    params = {
        "grant_type": "refresh_token",
        "client_id": "my-trusted-client",
        "refresh_token": first["refresh_token"],
    }
    response = requests.get(f"{emu.base_url}/oauth/token", params=params, timeout=5)
    assert response.status_code == 200
    fresh = response.json()
    assert fresh["access_token"] != first["access_token"]
    assert rest(emu, "/services/rest/v1/facility/search", {}, fresh["access_token"]).status_code == 200
    params["refresh_token"] = "not-a-token"
    refused = requests.get(f"{emu.base_url}/oauth/token", params=params, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_expired_tokens(cache_dir: Path) -> None:
    with Emulator(access_token_ttl=0.3, refresh_token_ttl=0.3, cache_dir=cache_dir) as short:
        body = login(short).json()
        assert body["expires_in"] == 1
        search = "/services/rest/v1/facility/search"
        assert rest(short, search, {}, body["access_token"]).status_code == 200
        time.sleep(0.4)
        expired = rest(short, search, {}, body["access_token"])
        assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"
        params = {
            "grant_type": "refresh_token",
            "client_id": "my-trusted-client",
            "refresh_token": body["refresh_token"],
        }
        assert requests.get(f"{short.base_url}/oauth/token", params=params, timeout=5).status_code == 400


def test_revoke_and_missing_token(emu: Emulator) -> None:
    tok = token(emu)
    search = "/services/rest/v1/facility/search"
    assert rest(emu, search, {}, tok, scheme="Bearer").status_code == 200
    assert rest(emu, search, {}, None).status_code == 401
    emu.revoke_tokens()
    assert rest(emu, search, {}, tok).status_code == 401
    assert rest(emu, search, {}, token(emu)).status_code == 200


def test_facility_search(emu: Emulator) -> None:
    body = rest(emu, "/services/rest/v1/facility/search", {"facilityStatus": "ENABLED"}, token(emu)).json()
    assert body["successful"] is True
    assert [p["facilityCode"] for p in body["parties"]] == ["WH-BLR", "WH-DEL", "WH-MUM"]


# ----------------------------------------------------------------------------- create
@pytest.mark.parametrize("facility", [None, "WH-NOPE"])
def test_create_requires_a_known_facility(emu: Emulator, facility: str | None) -> None:
    response = rest(emu, CREATE, create_body(JUNE_1, JUNE_1 + DAY_MS - 1), token(emu), facility=facility)
    assert response.status_code == 403
    assert response.json()["message"] == "Illegal Access, facility is required"


@pytest.mark.parametrize("columns", [[], None])
def test_create_requires_export_columns(emu: Emulator, columns: list[str] | None) -> None:
    body = create_body(JUNE_1, JUNE_1 + DAY_MS - 1)
    if columns is None:
        del body["exportColums"]
        body["exportColumns"] = ["soicode"]  # the correct spelling is not what Uniware reads
    else:
        body["exportColums"] = columns
    answer = rest(emu, CREATE, body, token(emu))
    assert answer.status_code == 200
    assert answer.json()["successful"] is False
    assert answer.json()["errors"][0]["message"] == "exportColums can not be empty"
    assert answer.json()["errors"][0]["code"] == "INVALID_EXPORT_JOB_COLUMN"


def test_create_unknown_report_and_date_only_range(emu: Emulator) -> None:
    tok = token(emu)
    body = create_body(JUNE_1, JUNE_1 + DAY_MS - 1)
    body["exportJobTypeName"] = "No Such Report"
    answer = rest(emu, CREATE, body, tok)
    assert answer.status_code == 200 and answer.json()["successful"] is False
    body = create_body(JUNE_1, JUNE_1)
    body["exportFilters"][0]["dateRange"] = {"start": "2024-06-01", "end": "2024-06-02"}
    assert rest(emu, CREATE, body, tok).status_code == 500


def test_collision_while_identical_job_runs(emu: Emulator) -> None:
    tok = token(emu)
    emu.shape_next_jobs(1, delay=5.0)
    body = create_body(JUNE_1 + 10 * DAY_MS, JUNE_1 + 11 * DAY_MS - 1)
    first = rest(emu, CREATE, body, tok).json()
    assert first["successful"] is True and first["jobCode"].startswith("EXP-")
    second = rest(emu, CREATE, body, tok).json()
    assert second["successful"] is False and second["errors"][0]["code"] == 100014
    assert "collision" in second["errors"][0]["message"].lower()
    other = rest(emu, CREATE, body, tok, facility="WH-DEL").json()
    assert other["successful"] is True


# ----------------------------------------------------------------------------- status
def test_status_progression(emu: Emulator) -> None:
    code = emu.add_job(JobSpec(rows=50, delay=1.0))
    assert code.startswith("EXP-")
    tok = token(emu)
    seen = [rest(emu, STATUS, {"jobCode": code}, tok).json()]
    time.sleep(0.45)
    seen.append(rest(emu, STATUS, {"jobCode": code}, tok).json())
    time.sleep(0.8)
    seen.append(rest(emu, STATUS, {"jobCode": code}, tok).json())
    assert [s["status"] for s in seen] == ["QUEUED", "RUNNING", "COMPLETE"]
    assert [bool(s["filePath"]) for s in seen] == [False, False, True]
    assert seen[2]["filePath"].startswith(emu.file_base_url + f"/exports/{code}/")
    assert "Expires=" in seen[2]["filePath"] and "Signature=" in seen[2]["filePath"]
    assert emu.jobs[code].polls == 3 and emu.jobs[code].state == "COMPLETE"


def test_unknown_job_code(emu: Emulator) -> None:
    answer = rest(emu, STATUS, {"jobCode": "EXP-999999"}, token(emu))
    assert answer.status_code == 200
    body = answer.json()
    assert body["successful"] is False and "status" not in body
    assert body["errors"][0]["fieldName"] == "jobCode" and body["errors"][0]["message"] == "Invalid job code"


def test_outcomes_and_odd_statuses(emu: Emulator) -> None:
    tok = token(emu)
    failed = emu.add_job(JobSpec(outcome="FAILED", delay=0))
    body = rest(emu, STATUS, {"jobCode": failed}, tok).json()
    assert (
        body["successful"] is True and body["status"] == "FAILED" and body["message"] and not body["filePath"]
    )
    documented = emu.add_job(JobSpec(outcome="SUCCESSFUL", delay=0, rows=5))
    assert wait_file(emu, tok, documented)["status"] == "SUCCESSFUL"
    empty_path = emu.add_job(JobSpec(delay=0, rows=5, empty_file_path_polls=2))
    emu.jobs[empty_path].file_ready.wait(5)
    answers = [rest(emu, STATUS, {"jobCode": empty_path}, tok).json() for _ in range(3)]
    assert [(a["status"], bool(a["filePath"])) for a in answers] == [
        ("COMPLETE", False),
        ("COMPLETE", False),
        ("COMPLETE", True),
    ]
    odd = emu.add_job(JobSpec(delay=0, rows=5, unknown_status="VALIDATING"))
    assert rest(emu, STATUS, {"jobCode": odd}, tok).json()["status"] == "VALIDATING"
    forever = emu.add_job(JobSpec(delay=0, never_finish=True))
    assert rest(emu, STATUS, {"jobCode": forever}, tok).json()["status"] == "RUNNING"


def test_fail_next_429_with_retry_after(emu: Emulator) -> None:
    tok = token(emu)
    emu.fail_next(2, status=429, retry_after=3)
    search = "/services/rest/v1/facility/search"
    assert login(emu).status_code == 200  # the token endpoint is not affected
    first = rest(emu, search, {}, tok)
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert rest(emu, search, {}, tok).status_code == 429
    assert rest(emu, search, {}, tok).status_code == 200
    emu.fail_next(1)
    assert rest(emu, search, {}, tok).status_code == 503


# ----------------------------------------------------------------------------- file host
def test_file_host_refuses_authorization_and_bad_links(emu: Emulator) -> None:
    tok = token(emu)
    link = wait_file(emu, tok, emu.add_job(JobSpec(rows=20, delay=0)))["filePath"]
    refused = requests.get(link, headers={"Authorization": f"bearer {tok}"}, timeout=5)
    assert refused.status_code == 400 and b"Only one auth mechanism allowed" in refused.content
    assert requests.get(link.replace("Signature=", "Signature=00"), timeout=5).status_code == 403
    assert requests.get(link.split("?")[0], timeout=5).status_code == 403
    assert requests.get(f"{emu.file_base_url}/exports/EXP-0/none.csv", timeout=5).status_code == 404
    assert requests.get(link, timeout=5).status_code == 200
    file_records = [r for r in emu.requests if r.host_port == "file"]
    assert any(r.had_authorization and r.status == 400 for r in file_records)
    assert all("?" not in r.path for r in file_records)


def test_expired_links_then_fresh_link(cache_dir: Path) -> None:
    with Emulator(link_ttl=0.3, default_job_delay=0, cache_dir=cache_dir) as short:
        tok = token(short)
        code = short.add_job(JobSpec(rows=10))
        link = wait_file(short, tok, code)["filePath"]
        time.sleep(1.6)  # Expires is whole seconds
        expired = requests.get(link, timeout=5)
        assert expired.status_code == 403 and b"AccessDenied" in expired.content
        fresh = rest(short, STATUS, {"jobCode": code}, tok).json()["filePath"]
        assert fresh != link and requests.get(fresh, timeout=5).status_code == 200
        short.link_ttl = 600
        link = rest(short, STATUS, {"jobCode": code}, tok).json()["filePath"]
        short.expire_links()
        assert requests.get(link, timeout=5).status_code == 403


def test_drop_connection_truncates_first_download_only(emu: Emulator) -> None:
    code = emu.add_job(JobSpec(rows=300, delay=0, drop_connection_at=1000))
    link = wait_file(emu, token(emu), code)["filePath"]
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(link, timeout=5).content  # noqa: B018 - reading the body is the point
    whole = requests.get(link, timeout=5)
    assert whole.status_code == 200 and len(whole.content) == int(whole.headers["Content-Length"]) > 1000
    assert len(parse(whole.content)) == 301


def test_range_request(emu: Emulator) -> None:
    code = emu.add_job(JobSpec(rows=100, delay=0))
    link = wait_file(emu, token(emu), code)["filePath"]
    whole = requests.get(link, timeout=5).content
    part = requests.get(link, headers={"Range": "bytes=100-"}, timeout=5)
    assert part.status_code == 206 and part.content == whole[100:]


def test_html_instead_of_csv(emu: Emulator) -> None:
    code = emu.add_job(JobSpec(rows=10, delay=0, html_instead_of_csv=True))
    response = requests.get(wait_file(emu, token(emu), code)["filePath"], timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert b"<html" in response.content


# ----------------------------------------------------------------------------- files
def test_csv_shape_bom_crlf_labels(emu: Emulator) -> None:
    content = download(emu, emu.add_job(JobSpec(rows=400, delay=0)))
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.count(b"\r\n") >= 401
    assert content.replace(b"Kurta Set\nwith", b"").count(b"\n") == content.count(b"\r\n")
    rows = parse(content)
    assert rows[0] == [SALE_ORDER_LABELS[key] for key in DEFAULT_SALE_ORDER_COLUMNS]
    assert len(rows[0]) == 29 and "Item Name" not in rows[0] and "Expected Delivery Date" not in rows[0]
    assert len(rows) == 401 and all(len(r) == len(rows[0]) for r in rows)
    header = rows[0]
    col = {label: [r[header.index(label)] for r in rows[1:]] for label in header}
    assert len(set(col["Sale Order Item Code"])) == 400
    assert all(len(v.split(".")[1]) == 2 for v in col["MRP"])  # BigDecimal of scale 2
    assert all(len(v.split(".")[1]) == 7 for v in col["Selling Price"])  # ... and of scale 7
    assert {"0E-7", "-50.0000000"} == set(col["Discount"])
    assert any("," in v or '"' in v for v in col["Item Type Name"])
    assert any(not v.isascii() for v in col["Shipping Address Name"])
    assert any(v.startswith("0") and len(v) == 6 for v in col["Shipping Address Pincode"])
    assert {"true", "false"} >= set(col["COD"])
    tat = col["Fulfillment TAT"]
    assert any(v[2] == "-" for v in tat) and any(v[2] == "/" for v in tat) and any(v[4] == "-" for v in tat)
    assert all(len(v) == 19 and v[4] == "-" for v in col["Order Date as dd/mm/yyyy hh:MM:ss"])
    assert all(len(v) == 10 and v[2] == v[5] == "-" for v in col["Delivery Date"])  # dd-mm-yyyy
    assert len(set(col["Sale Order Code"])) < 400  # several items per order


def test_malformed_empty_and_generic_files(emu: Emulator) -> None:
    rows = parse(download(emu, emu.add_job(JobSpec(rows=50, delay=0, malformed_rows=(3, 7, 20)))))
    width = len(rows[0])
    assert [len(rows[i]) for i in (3, 7, 20)] == [width + 1, width - 1, width + 1]
    assert all(len(r) == width for i, r in enumerate(rows) if i not in (3, 7, 20))
    header_only = download(emu, emu.add_job(JobSpec(delay=0, empty=True, columns=["soicode", "created"])))
    assert header_only == b"\xef\xbb\xbfSale Order Item Code,Created,Channel Shipping,Item Details\r\n"
    assert download(emu, emu.add_job(JobSpec(delay=0, empty_body=True))) == b""
    generic = parse(
        download(
            emu, emu.add_job(JobSpec(report="Vendor Item Master", rows=5, delay=0, columns=["sku", "x"]))
        )
    )
    assert generic[0] == ["sku", "x"] and len(generic) == 6


def test_columns_select_and_order(emu: Emulator) -> None:
    spec = JobSpec(rows=20, delay=0, columns=["created", "soicode", "customKey"], unrequested_columns=False)
    rows = parse(download(emu, emu.add_job(spec)))
    assert rows[0] == ["Created", "Sale Order Item Code", "customKey"]
    assert all(r[2] == "" for r in rows[1:])


def test_deterministic_bytes(emu: Emulator, tmp_path: Path) -> None:
    a = download(emu, emu.add_job(JobSpec(rows=2000, delay=0, seed=11)))
    b = download(emu, emu.add_job(JobSpec(rows=2000, delay=0, seed=11)))
    write_sale_orders_csv(tmp_path / "direct.csv", 2000, seed=11)
    assert a == b == (tmp_path / "direct.csv").read_bytes()
    assert a != download(emu, emu.add_job(JobSpec(rows=2000, delay=0, seed=12)))


def test_windows_partition_the_tenant(emu: Emulator) -> None:
    tok = token(emu)
    start, middle, end = JUNE_1 + 30 * DAY_MS, JUNE_1 + 31 * DAY_MS + 3_600_000, JUNE_1 + 33 * DAY_MS - 1

    def codes(lo: int, hi: int, filter_id: str = "addedOn") -> list[str]:
        code = rest(emu, CREATE, create_body(lo, hi, filter_id=filter_id), tok).json()["jobCode"]
        answer = wait_file(emu, tok, code)
        return [r[0] for r in parse(requests.get(answer["filePath"], timeout=5).content)[1:]]

    left, right, whole = codes(start, middle - 1), codes(middle, end), codes(start, end)
    assert left and right and not set(left) & set(right)
    assert sorted(left + right) == sorted(whole) and len(set(whole)) == len(whole)
    assert 350 < len(whole) < 800  # ~185 items per day and facility
    updated = codes(start, end, "updatedOn")
    assert set(updated) != set(whole) and len(updated) > 300


def test_window_rows_lie_in_the_window(tmp_path: Path) -> None:
    start = ist_midnight_epoch(date(2024, 3, 5)) * 1000
    path = tmp_path / "window.csv"
    write_sale_orders_csv(
        path,
        None,
        seed=3,
        window=(start, start + DAY_MS - 1),
        date_field="updated",
        columns=["soicode", "updated"],
    )
    rows = parse(path.read_bytes())[1:]
    assert rows and all(r[1].startswith("2024-03-05") for r in rows)


def test_sale_order_code_turns_alphanumeric_after_35000_rows(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    assert write_sale_orders_csv(path, 40_000, seed=7, columns=["saleOrderCode", "facility"]) == 40_000
    codes = [r[0] for r in parse(path.read_bytes())[1:]]
    assert all(c.isdigit() for c in codes[:34_990])
    assert all(c.startswith("SO-") for c in codes[35_010:])


def test_bool_style_yesno_for_mumbai(emu: Emulator) -> None:
    rows = parse(download(emu, emu.add_job(JobSpec(rows=100, delay=0, facility="WH-MUM", columns=["cod"]))))
    assert {r[0] for r in rows[1:]} <= {"yes", "no"}


def test_demo_jobs(cache_dir: Path) -> None:
    with Emulator(default_job_delay=0, cache_dir=cache_dir) as demo:
        codes = demo.seed_demo_jobs()
        assert codes == ["DEMO-SO-0001", "DEMO-SO-0002", "DEMO-SO-0003"]
        sizes = [len(parse(download(demo, code))) - 1 for code in codes]
        assert sizes == [5000, 2000, 1000]


def test_cli_prints_urls_and_jobs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "uniware_source.emulator",
        "--port",
        "0",
        "--file-port",
        "0",
        "--cache-dir",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2])
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(7)]
        output = "".join(lines)
        assert "http://127.0.0.1:" in output and "DEMO-SO-0001" in output and "demo-pass" in output
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_shaped_api_jobs_and_keep_alive(emu: Emulator) -> None:
    session = requests.Session()
    params = {
        "grant_type": "password",
        "client_id": "my-trusted-client",
        "username": "demo",
        "password": "demo-pass",
    }
    tok = session.get(f"{emu.base_url}/oauth/token", params=params, timeout=5).json()["access_token"]
    headers = {"Authorization": f"bearer {tok}", "Facility": "WH-DEL"}
    emu.shape_next_jobs(1, outcome="FAILED", delay=0)
    body = create_body(JUNE_1 + 60 * DAY_MS, JUNE_1 + 61 * DAY_MS - 1)
    code = session.post(f"{emu.base_url}{CREATE}", json=body, headers=headers, timeout=5).json()["jobCode"]
    answers = [
        session.post(f"{emu.base_url}{STATUS}", json={"jobCode": code}, headers=headers, timeout=5).json()
        for _ in range(3)
    ]
    assert [a["status"] for a in answers] == ["FAILED"] * 3
    again = session.post(f"{emu.base_url}{CREATE}", json=body, headers=headers, timeout=5).json()
    assert again["successful"] is True  # a failed job does not block an identical new one
    assert wait_file(emu, tok, again["jobCode"])["status"] == "COMPLETE"


def test_unfiltered_export_covers_the_history(emu: Emulator) -> None:
    tok = token(emu)
    body = {
        "exportJobTypeName": "Sale Orders",
        "exportColums": ["soicode", "created"],
        "frequency": "ONETIME",
    }
    code = rest(emu, CREATE, body, tok, facility="WH-MUM").json()["jobCode"]
    rows = parse(requests.get(wait_file(emu, tok, code)["filePath"], timeout=30).content)
    assert rows[1][1].startswith("2024-01-01") and len(rows) > 100_000


def test_job_with_pre_expired_links_and_token_inventory(emu: Emulator) -> None:
    tok = token(emu)
    assert tok in emu.issued_tokens()
    code = emu.add_job(JobSpec(rows=10, delay=0, expired_links=1))
    first = wait_file(emu, tok, code)["filePath"]
    refused = requests.get(first, timeout=5)
    assert refused.status_code == 403 and b"Request has expired" in refused.content
    second = rest(emu, STATUS, {"jobCode": code}, tok).json()["filePath"]
    assert requests.get(second, timeout=5).status_code == 200
    assert emu.requests[-1].server == "file" == emu.requests[-1].host_port


# ----------------------------------------------------------------------------- a real tenant's columns
TSV_ORDER_PROBES = [  # (position, key, label) of the live tenant's list, spot-checked
    (0, "soicode", "Sale Order Item Code"),
    (40, "itemTypeName", "Item Type Name"),
    (76, "displayOrderDateTime", "Order Date as dd/mm/yyyy hh:MM:ss"),
    (121, "skuName", "SKU Name"),
    (134, "saleOrderCustomFields_Delivery_Time", "Delivery Time"),
    (137, "saleOrderCustomFields_pinpointly_longitude", "pinpointly longitude"),
]


def _all_keys_file(emu: Emulator, **spec: Any) -> list[list[str]]:
    return parse(download(emu, emu.add_job(JobSpec(rows=600, delay=0, columns=ALL_SALE_ORDER_KEYS, **spec))))


def test_every_key_of_a_real_tenant_in_its_order(emu: Emulator) -> None:
    assert len(ALL_SALE_ORDER_KEYS) == len(set(ALL_SALE_ORDER_KEYS)) == 138
    assert "itemName" not in ALL_SALE_ORDER_KEYS and "expectedDeliveryDate" not in ALL_SALE_ORDER_KEYS
    for position, key, label in TSV_ORDER_PROBES:
        assert ALL_SALE_ORDER_KEYS[position] == key and SALE_ORDER_LABELS[key] == label
    rows = _all_keys_file(emu)
    assert rows[0] == [SALE_ORDER_LABELS[key] for key in ALL_SALE_ORDER_KEYS] + [
        "Channel Shipping",
        "Item Details",
    ]
    assert rows[0].count("Delivery Time") == 2  # a custom field's label repeats a standard one
    assert len(rows) == 601 and all(len(r) == 140 for r in rows)
    # every column has values (a few are empty on a real tenant too: TIN, seal ids, tags)
    empty = {rows[0][i] for i in range(140) if not any(r[i] for r in rows[1:])}
    assert empty <= {"TIN", "Parent Sale Order Code", "Item Seal Id", "Item Tag"}


def test_requested_subset_unrequested_extras_and_custom_fields(emu: Emulator) -> None:
    keys = ["created", "saleOrderCustomFields_Gift_Note", "soicode", "sellingPrice"]
    asked = parse(download(emu, emu.add_job(JobSpec(rows=200, delay=0, columns=keys))))
    assert asked[0] == [
        "Created",
        "Gift Note",
        "Sale Order Item Code",
        "Selling Price",
        "Channel Shipping",
        "Item Details",
    ]
    assert {r[4] for r in asked[1:]} == {"true", "false"} and any(r[5] for r in asked[1:])
    assert len({r[1] for r in asked[1:]}) > 2  # an unknown custom field has values of its own
    reordered = parse(download(emu, emu.add_job(JobSpec(rows=200, delay=0, columns=keys, tenant_order=True))))
    assert reordered[0][:4] == [
        "Sale Order Item Code",
        "Selling Price",
        "Created",
        "Gift Note",
    ]  # the tenant's order
    assert sorted(map(tuple, asked[1:])) != sorted(map(tuple, reordered[1:]))
    assert sorted(r[2] for r in asked[1:]) == sorted(r[0] for r in reordered[1:])  # same rows


def test_value_shapes_of_real_files(emu: Emulator) -> None:
    rows = _all_keys_file(emu, newline="\n", bom=False)
    header = rows[0]

    def col(label: str) -> list[str]:
        return [r[header.index(label)] for r in rows[1:]]

    scales = {
        label: {len(v.split(".")[1]) for v in col(label) if "." in v}
        for label in ("MRP", "Tax %", "Prepaid Amount", "Selling Price")
    }
    assert scales == {"MRP": {2}, "Tax %": {5}, "Prepaid Amount": {6}, "Selling Price": {7}}
    assert (
        "0E-7" in col("CGST")
        and "0E-7" in col("Shipping Charges")
        and set(col("Currency Conversion Rate")) == {"1.00000"}
    )
    assert {"NA", "None"} <= set(col("Shipping Address Line 2"))
    assert all(len(v) == 10 and v[2] == "-" for v in col("Delivery Date"))  # dd-mm-yyyy
    valid_till = [v for v in col("EWayBill Valid Till") if v]
    assert any(len(v) == 10 for v in valid_till) and any(len(v) == 19 for v in valid_till)  # mixed
    assert {v[-8:] for v in col("EWayBill Date") if v} == {"05:30:00", "00:00:00"}
    assert all(len(v) == 13 and v.isdigit() for v in col("Item Type EAN"))
    awbs = [v for v in col("Tracking Number") if v.isdigit()]
    assert {len(v) for v in awbs} == {14, 15}
    assert all(len(v) == 15 for v in col("IMEI") if v) and any(col("IMEI"))
    assert all(len(v.split(".")[1]) == 7 for v in col("Shipping Address Latitude") if v)
    assert "09023010" in col("HSN Code") or all(v.isdigit() for v in col("HSN Code"))
    order_numbers = [
        v for v, c in zip(col("Display Order Code"), col("Channel Name"), strict=True) if c == "CUSTOM"
    ]
    assert any(v.isdigit() for v in order_numbers)
    assert any(len(v) == 17 and v[6] == v[10] == "-" for v in order_numbers)  # 221030-023-089506


def test_lf_and_no_bom_with_embedded_newlines(emu: Emulator) -> None:
    content = download(
        emu, emu.add_job(JobSpec(rows=300, delay=0, columns=ALL_SALE_ORDER_KEYS, newline="\n", bom=False))
    )
    assert not content.startswith(b"\xef\xbb\xbf") and b"\r" not in content
    assert b'"Kurta Set\nwith Dupatta"' in content  # minimal quoting keeps the line break
    assert not content.startswith(b'"')  # the header needs no quotes


@pytest.mark.parametrize(
    ("report", "labels", "checks"),
    [
        (
            "Inventory Snapshot",
            ["Facility", "Item SkuCode", "Inventory", "MRP", "Cost Price", "Updated"],
            "snapshot",
        ),
        ("Item Master", ["Product Code", "EAN", "MRP", "Cost Price", "HSN Code"], "master"),
        ("Invoice", ["Invoice Code", "Invoice Date", "Qty", "Total", "CGST"], "invoice"),
        ("Return Invoices", ["Return Invoice Code", "Return Date", "Qty", "Transfer Price"], "returns"),
        (
            "Tally GST Report",
            ["Voucher Type Name ", "Date", "Voucher Date", "Channel Entry", "Total"],
            "tally",
        ),
    ],
)
def test_other_reports_have_real_columns_and_values(
    emu: Emulator, report: str, labels: list[str], checks: str
) -> None:
    content = download(emu, emu.add_job(JobSpec(report=report, rows=400, delay=0)))
    assert not content.startswith(b"\xef\xbb\xbf") and b"\r\n" not in content  # as the real files seen
    rows = parse(content)
    assert set(labels) <= set(rows[0]) and len(rows) == 401
    col = {label: [r[rows[0].index(label)] for r in rows[1:]] for label in labels}
    for label, values in col.items():  # no placeholder text like `MRP-468` (the generic rows)
        assert not any(re.fullmatch(r"[A-Za-z]+-\d{1,3}", v) for v in values), label
    if checks == "snapshot":
        assert set(col["Facility"]) == {"WH-BLR"} and len(set(col["Item SkuCode"])) == 400
        assert all(v.isdigit() for v in col["Inventory"]) and "0E-7" in col["Cost Price"]
    elif checks == "master":
        assert all(len(v) == 13 for v in col["EAN"]) and "0E-7" in col["Cost Price"]
    elif checks == "invoice":
        assert "1" in col["Qty"] and all(v[2] == "-" and len(v) == 10 for v in col["Invoice Date"])
        assert "0E-7" in col["Total"]
    elif checks == "returns":
        assert set(col["Qty"]) == {"1.0000"}
        assert {len(v) for v in col["Return Date"]} == {10, 19}
    else:
        assert "0E-7" in col["Total"] and {v[-8:] for v in col["Voucher Date"]} == {"05:30:00", "00:00:00"}
    assert all(
        len(v.split(".")[-1]) in (2, 4, 6, 7) for v in col.get("MRP", []) + col.get("Total", []) if "." in v
    )


def test_dated_reports_partition_by_window(emu: Emulator, tmp_path: Path) -> None:
    from uniware_source.emulator.data import write_report_csv
    from uniware_source.emulator.report_models import report_model

    model = report_model("Invoice")
    assert model is not None
    start = ist_midnight_epoch(date(2024, 5, 1)) * 1000
    paths = [tmp_path / f"{i}.csv" for i in range(3)]
    for path, window in zip(
        paths,
        [
            (start, start + DAY_MS - 1),
            (start + DAY_MS, start + 2 * DAY_MS - 1),
            (start, start + 2 * DAY_MS - 1),
        ],
        strict=True,
    ):
        write_report_csv(path, model, seed=3, facility="WH-DEL", window=window)
    first, second, both = (parse(p.read_bytes())[1:] for p in paths)
    assert len(first) == len(second) == 20 and sorted(first + second) == sorted(both)


def test_rows_arrive_by_the_hour_unless_a_test_fixes_the_hour(emu: Emulator) -> None:
    from datetime import datetime, timedelta, timezone

    ist = timezone(timedelta(hours=5, minutes=30))
    tok = token(emu)

    def updated(end: int) -> list[datetime]:
        body = create_body(end - 3 * DAY_MS, end, filter_id="updatedOn")
        code = rest(emu, CREATE, body, tok).json()["jobCode"]
        rows = parse(requests.get(wait_file(emu, tok, code)["filePath"], timeout=5).content)[1:]
        return [datetime.strptime(r[3], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ist) for r in rows]

    now_ms = int(time.time() * 1000)
    newest = updated(now_ms + DAY_MS)  # a window reaching a day past now
    assert newest and max(newest).timestamp() * 1000 < now_ms - now_ms % 3_600_000
    fixed = now_ms - now_ms % 3_600_000 - 5 * 3_600_000 - 1  # the end of an hour five hours back
    emu.rows_arrived_until_ms = fixed
    try:
        older = updated(now_ms + DAY_MS)
    finally:
        emu.rows_arrived_until_ms = None
    assert older and max(older).timestamp() * 1000 <= fixed
    assert len(older) < len(newest)
