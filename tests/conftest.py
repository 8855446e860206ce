"""Shared fixtures: a real emulator on loopback, a real DuckDB file, the real source."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from uniware_source import UniwareCredentials, uniware_source
from uniware_source.emulator import Emulator

USERNAME = "analyst@example.com"
PASSWORD = "pa55-w0rd-never-logged"

_names = itertools.count()


@pytest.fixture()
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    cache = tmp_path_factory.getbasetemp() / "emulator-cache"
    with Emulator(
        username=USERNAME,
        password=PASSWORD,
        default_job_delay=0.3,
        link_ttl=60.0,
        seed=7,
        cache_dir=cache,
    ) as emu:
        yield emu


def make_source(emu: Emulator, job_codes: list[str], **settings: Any) -> Any:
    """The public source, pointed at the emulator, with fast polling for tests."""
    options: dict[str, Any] = {
        "base_url": emu.base_url,
        "credentials": UniwareCredentials(username=USERNAME, password=PASSWORD),
        "poll_interval": 0.05,
        "max_poll_interval": 0.3,
        "job_timeout": 30.0,
        "request_backoff_factor": 0.05,
        "facility": "WH-BLR",
        # these tests read each job's outcome from export_jobs; the default (a missing job fails
        # pipeline.run after the load) is tested in test_missing_jobs.py
        "fail_on_missing_jobs": False,
    }
    options.update(settings)
    return uniware_source(job_codes=job_codes, **options)


@pytest.fixture()
def pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"uniware_test_{next(_names)}",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="uniware",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def rows(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    return pipeline.dataset().query(sql).fetchall()


def audit(pipeline: dlt.Pipeline) -> dict[str, dict[str, Any]]:
    """The latest export_jobs row of each job code, as dicts."""
    table = pipeline.dataset().query("SELECT * FROM export_jobs ORDER BY _dlt_load_id").arrow()
    latest: dict[str, dict[str, Any]] = {}
    for row in table.to_pylist():
        latest[row["job_code"]] = row
    return latest


def bearer(emu: Emulator) -> str:
    """A token from the emulator, by a plain password grant (the tests' own, not our client's)."""
    import requests

    response = requests.get(
        f"{emu.base_url}/oauth/token",
        params={
            "grant_type": "password",
            "client_id": "my-trusted-client",
            "username": USERNAME,
            "password": PASSWORD,
        },
        timeout=10,
    )
    return f"bearer {response.json()['access_token']}"


def fetch_export(emu: Emulator, job_code: str) -> bytes:
    """The job's CSV bytes, fetched with plain requests: an oracle independent of our client."""
    import time

    import requests

    headers = {"Authorization": bearer(emu)}
    for _ in range(400):
        body = requests.post(
            f"{emu.base_url}/services/rest/v1/export/job/status",
            json={"jobCode": job_code},
            headers=headers,
            timeout=10,
        ).json()
        if body.get("filePath"):
            return requests.get(body["filePath"], timeout=30).content
        time.sleep(0.05)
    raise AssertionError(f"{job_code} never finished")


def parse_export(data: bytes) -> list[dict[str, str]]:
    """The rows of an export as the csv module reads them (the oracle)."""
    import csv
    import io

    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def item_codes(emu: Emulator, *job_codes: str) -> set[str]:
    """The distinct merge keys the given jobs export (jobs of one facility share order items)."""
    return {
        row["Sale Order Item Code"] for code in job_codes for row in parse_export(fetch_export(emu, code))
    }


def command_env(
    emu: Emulator | None, cwd: Path, exports: list[dict[str, Any]], **settings: str
) -> dict[str, str]:
    """The environment the `uniware` command runs in for a test: this process's, less any dlt
    settings of its own, with dlt's data in `cwd` (a fresh machine), the emulator's tenant and
    fast polling; `settings` add `SOURCES__UNIWARE__<NAME>` variables."""
    import json
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env = {
        **clean,
        "DLT_DATA_DIR": str(cwd / ".dlt-data"),
        "SOURCES__UNIWARE__CREDENTIALS__USERNAME": USERNAME,
        "SOURCES__UNIWARE__CREDENTIALS__PASSWORD": PASSWORD,
        "SOURCES__UNIWARE__POLL_INTERVAL": "0.05",
        "SOURCES__UNIWARE__MAX_POLL_INTERVAL": "0.3",
        "SOURCES__UNIWARE__EXPORTS": json.dumps(exports),
    }
    if emu is not None:
        env["SOURCES__UNIWARE__BASE_URL"] = emu.base_url
    env.update({f"SOURCES__UNIWARE__{name.upper()}": value for name, value in settings.items()})
    return env


def run_command(env: dict[str, str], cwd: Path, *args: str, script: Path | None = None) -> Any:
    """`pipelines/run.py` (or `script`) as cron runs it: a process of its own, in `cwd`."""
    import subprocess
    import sys

    program = script or Path(__file__).resolve().parent.parent / "pipelines" / "run.py"
    return subprocess.run(
        [sys.executable, str(program), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
