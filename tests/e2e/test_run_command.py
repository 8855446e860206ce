"""`pipelines/run.py` as a user runs it: a real process, real emulator, real DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PASSWORD, USERNAME
from uniware_source.emulator import JobSpec

RUN = Path(__file__).resolve().parents[2] / "pipelines" / "run.py"


def _run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    # dlt keeps pipeline state under DLT_DATA_DIR (default ~/.dlt): one per test, like a fresh machine
    clean["DLT_DATA_DIR"] = str(cwd / ".dlt-data")
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _tenant_env(emulator) -> dict[str, str]:
    return {
        "SOURCES__UNIWARE__BASE_URL": emulator.base_url,
        "SOURCES__UNIWARE__CREDENTIALS__USERNAME": USERNAME,
        "SOURCES__UNIWARE__CREDENTIALS__PASSWORD": PASSWORD,
        "SOURCES__UNIWARE__POLL_INTERVAL": "0.05",
        "SOURCES__UNIWARE__MAX_POLL_INTERVAL": "0.3",
    }


def test_failed_job_makes_a_nonzero_exit_naming_it_and_the_others_load(emulator, tmp_path) -> None:
    good = emulator.add_job(JobSpec(rows=300))
    bad = emulator.add_job(JobSpec(rows=10, outcome="FAILED"))
    env = {**_tenant_env(emulator), "SOURCES__UNIWARE__JOB_CODES": f'["{good}", "{bad}"]'}
    result = _run(tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert bad in result.stderr and "FAILED" in result.stderr
    assert "None" not in result.stderr  # a job without a facility shows `-`, as the summary does
    assert "Traceback" not in result.stderr
    assert "1 FAILED" in result.stdout and "1 LOADED" in result.stdout
    assert "sale_orders=300" in result.stdout
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        assert db.sql("SELECT count(*) FROM uniware_data.sale_orders").fetchone() == (300,)
        assert db.sql(
            "SELECT status FROM uniware_data.export_jobs WHERE job_code = ?", params=[bad]
        ).fetchone() == ("FAILED",)
    assert PASSWORD not in result.stdout + result.stderr

    again = _run(tmp_path, "--job-code", good, env=_tenant_env(emulator))
    assert again.returncode == 0, again.stderr
    assert "1 SKIPPED" in again.stdout


def test_missing_settings_are_one_clear_line(tmp_path) -> None:
    result = _run(tmp_path, "--job-code", "J1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "tenant" in result.stderr or "credentials" in result.stderr


def test_a_missing_destination_setting_is_named_in_full(emulator, tmp_path) -> None:
    """A PostgreSQL address without its password: the line names the destination's setting, not
    a bare `credentials`, which reads like the Uniware user's."""
    env = {
        **_tenant_env(emulator),
        "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://postgres@127.0.0.1:5432/test",
    }
    result = _run(tmp_path, "--destination", "postgres", "--job-code", "J1", env=env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("uniware:")]
    assert lines == [
        "uniware: missing setting(s): destination.postgres.credentials.password "
        "(DESTINATION__POSTGRES__CREDENTIALS__PASSWORD) (see .dlt/config.toml and secrets.toml)"
    ]


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("POLL_INTERVAL", "abc", "setting poll_interval: the value 'abc' is not a number"),
        ("MAX_JOBS_IN_FLIGHT", "2.5", "setting max_jobs_in_flight: the value '2.5' is not a whole number"),
        (
            "EXPORTS",
            '{"report": "Sale Orders"}',
            "setting exports: the value {'report': 'Sale Orders'} is not a list",
        ),
    ],
)
def test_a_setting_of_the_wrong_type_is_named_with_its_variable(
    emulator, tmp_path, setting: str, value: str, said: str
) -> None:
    env = {
        **_tenant_env(emulator),
        "SOURCES__UNIWARE__JOB_CODES": '["J1"]',
        f"SOURCES__UNIWARE__{setting}": value,
    }
    result = _run(tmp_path, env=env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("uniware:")]
    assert lines == [
        f"uniware: {said} (set in [sources.uniware] {setting.lower()}, or SOURCES__UNIWARE__{setting})"
    ]


def test_plain_http_to_a_remote_host_is_refused(tmp_path) -> None:
    env = {
        "SOURCES__UNIWARE__BASE_URL": "http://uniware.example.com",
        "SOURCES__UNIWARE__CREDENTIALS__USERNAME": "u",
        "SOURCES__UNIWARE__CREDENTIALS__PASSWORD": "p",
    }
    result = _run(tmp_path, "--job-code", "J1", env=env)
    assert result.returncode == 2
    assert "https" in result.stderr and "base_url" in result.stderr


def test_the_package_loads_without_polars_pyarrow_or_duckdb() -> None:
    """A run with nothing new to load never types a file: those imports (over half a second on
    this machine) wait until a file is there."""
    code = "import sys, uniware_source; print(sorted({'polars', 'pyarrow', 'duckdb'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
