"""The `uniware` command's commands, through the real command in a process of its own: status,
reset, forget (and both refused under a run's lock), the per-job log lines, progress, --help."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
from filelock import FileLock

from tests.conftest import PASSWORD, command_env, run_command
from uniware_source.emulator import JobSpec
from uniware_source.run_lock import lock_path


def _ist_today():
    return datetime.now(ZoneInfo("Asia/Kolkata")).date()


def _exports(days_back: int = 0) -> list[dict]:
    start = _ist_today() - timedelta(days=days_back)
    return [
        {"report": "Sale Orders", "start_date": str(start), "facilities": ["WH-BLR"], "lookback_hours": 0}
    ]


def _cursor_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if "WH-BLR" in line and "sale_orders" in line]
    assert len(lines) == 1, stdout
    return lines[0]


def test_help_lists_commands_exit_codes_and_configuration(capsys) -> None:
    from uniware_source.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for word in (
        "status",
        "reset",
        "forget",
        "exit codes",
        "3  another run",
        ".dlt/config.toml",
        "SOURCES__",
    ):
        assert word in out, word


@pytest.mark.parametrize("way", ["pipelines/run.py", "-m uniware_source", "uniware script"])
def test_every_way_to_start_the_command_exits_with_its_code(emulator, tmp_path, way) -> None:
    """The three process entries (cli.entry) run the command and exit with its code: 0 when the job
    loaded, 2 when the run cannot start (a wrong password)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    program = {
        "pipelines/run.py": [sys.executable, str(root / "pipelines" / "run.py")],
        "-m uniware_source": [sys.executable, "-m", "uniware_source"],
        "uniware script": [str(Path(sys.executable).with_name("uniware"))],
    }[way]
    for password, expected in ((PASSWORD, 0), ("wrong", 2)):
        code = emulator.add_job(JobSpec(rows=50, seed=3))
        env = command_env(emulator, tmp_path, [], job_codes=f'["{code}"]')
        env["SOURCES__UNIWARE__CREDENTIALS__PASSWORD"] = password
        done = subprocess.run(program, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == expected, done.stdout + done.stderr
        if expected == 0:
            assert "LOADED" in done.stdout, done.stdout


def test_status_reset_and_a_fresh_machine_sees_the_reset(emulator, tmp_path) -> None:
    env = command_env(emulator, tmp_path, _exports(days_back=3))
    first = run_command(env, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    # the summary's windows are local times, labelled, like --plan's
    window_lines = [line for line in first.stdout.splitlines() if "Sale Orders / WH-BLR /" in line]
    assert len(window_lines) == 4 and all(" IST" in line and "Z " not in line for line in window_lines)

    status = run_command(env, tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert "last 1 run(s)" in status.stdout and "jobs=4" in status.stdout and "failed=0" in status.stdout
    assert f"the data of Uniware tenant {emulator.base_url.split('//')[1]}" in status.stdout
    assert "IST" in _cursor_line(status.stdout)

    refused = run_command(env, tmp_path, "reset", "Sale Orders")  # not a terminal, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    # a day to come, or a facility the export has no cursor for, is refused, changing nothing
    later = run_command(
        env, tmp_path, "reset", "sale_orders", "--to", str(_ist_today() + timedelta(days=1)), "--yes"
    )
    unknown = run_command(env, tmp_path, "reset", "sale_orders", "--facility", "WH-XYZ", "--yes")
    assert later.returncode == unknown.returncode == 2, later.stderr + unknown.stderr
    assert "is after today" in later.stderr and "its facilities: WH-BLR" in unknown.stderr

    start = _ist_today() - timedelta(days=2)
    reset = run_command(env, tmp_path, "reset", "sale_orders", "--to", str(start), "--yes")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert f"{start} 00:00 IST" in reset.stdout

    # a fresh machine: the local pipeline folder is gone, the state comes from the destination
    shutil.rmtree(tmp_path / ".dlt-data" / "pipelines" / "uniware")
    again = run_command(env, tmp_path, "status")
    assert f"{start} 00:00 IST" in _cursor_line(again.stdout), again.stdout

    plan = run_command(env, tmp_path, "--plan")
    assert plan.returncode == 0, plan.stderr
    # the next run starts at the reset cursor: its windows from there on load again
    assert f"{start} 00:00 .. " in plan.stdout and "3 job(s)" in plan.stdout, plan.stdout

    unknown = run_command(env, tmp_path, "reset", "Invoices", "--yes")
    assert unknown.returncode == 2 and "'Sale Orders'" in unknown.stderr


def test_forget_makes_a_job_load_again_and_both_refuse_under_the_lock(emulator, tmp_path) -> None:
    import importlib.util

    code = emulator.add_job(JobSpec(rows=40))
    env = command_env(emulator, tmp_path, [])
    first = run_command(env, tmp_path, "--job-code", code, "--progress", "enlighten")
    assert first.returncode == 0, first.stdout + first.stderr
    if importlib.util.find_spec("enlighten") is None:  # not installed: said in one line, log lines instead
        assert "needs the enlighten package" in first.stderr

    # a run in progress: it holds the lock and has the DuckDB file open
    with (
        FileLock(lock_path(tmp_path / ".dlt-data" / "pipelines", "uniware"), timeout=0),
        duckdb.connect(str(tmp_path / "uniware.duckdb")),
    ):
        for args in (("reset", "Sale Orders", "--yes"), ("forget", code, "--yes"), ("status",)):
            result = run_command(env, tmp_path, *args)
            assert result.returncode == 3, result.stdout + result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "in progress" in lines[0], lines
    assert "1 SKIPPED" in run_command(env, tmp_path, "--job-code", code).stdout  # nothing changed

    forgot = run_command(env, tmp_path, "forget", code, "--yes")
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert code in forgot.stdout

    again = run_command(env, tmp_path, "--job-code", code)
    assert again.returncode == 0, again.stderr
    assert "1 LOADED" in again.stdout
    missing = run_command(env, tmp_path, "forget", "NEVER-SEEN", "--yes")
    assert missing.returncode == 2 and "NEVER-SEEN" in missing.stderr


# the README's monitoring queries, exactly as printed there
FAILED_LAST_7_DAYS = """
SELECT run_started_at, job_code, report, facility, status, message
FROM uniware_data.export_jobs
WHERE status NOT IN ('LOADED', 'SKIPPED') AND NOT COALESCE(superseded, FALSE)
  AND run_started_at > now() - INTERVAL '7 days'
ORDER BY run_started_at DESC, job_code
"""
SLOWEST_REPORTS = """
SELECT report, count(*) AS jobs,
       avg(extract(epoch FROM finished_at - started_at)) AS avg_seconds,
       max(extract(epoch FROM finished_at - started_at)) AS max_seconds,
       sum(file_bytes) / 1e6 AS mb
FROM uniware_data.export_jobs
WHERE status = 'LOADED'
GROUP BY report
ORDER BY max_seconds DESC
"""
REJECTED_BY_REASON = """
SELECT reason, count(*) AS rejected, count(DISTINCT job_code) AS jobs, min(raw_line) AS example
FROM uniware_data.rejected_rows
GROUP BY reason
ORDER BY rejected DESC
"""


def test_log_file_progress_and_the_monitoring_queries(emulator, tmp_path) -> None:
    good = emulator.add_job(JobSpec(rows=50))
    bad = emulator.add_job(JobSpec(rows=5, outcome="FAILED"))
    broken = emulator.add_job(JobSpec(rows=20, malformed_rows=(3,)))
    env = command_env(emulator, tmp_path, [])
    log = tmp_path / "run.log"
    codes = [arg for code in (good, bad, broken) for arg in ("--job-code", code)]
    result = run_command(env, tmp_path, *codes, "--log-file", str(log), "--progress", "log")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    job_lines = [line for line in log.read_text().splitlines() if "uniware_source.jobs:" in line]
    assert len(job_lines) == 3, log.read_text()
    fields = {line.split("job=")[1].split()[0]: line for line in job_lines}
    assert "rows=50" in fields[good] and "outcome=LOADED" in fields[good]
    assert "outcome=FAILED" in fields[bad]
    for line in job_lines:
        for key in ("report=", "facility=", "window=", "seconds=", "rows=", "outcome="):
            assert key in line
    assert PASSWORD not in log.read_text()
    assert "Uniware jobs ended" in result.stderr  # dlt's log collector

    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        failed = db.sql(FAILED_LAST_7_DAYS).fetchall()
        assert [(row[1], row[4]) for row in failed] == [(bad, "FAILED")]
        slowest = db.sql(SLOWEST_REPORTS).fetchall()
        assert [(row[0], row[1]) for row in slowest] == [("Sale Orders", 2)]
        assert slowest[0][3] >= 0 and slowest[0][4] > 0
        rejected = db.sql(REJECTED_BY_REASON).fetchall()
        assert len(rejected) == 1 and rejected[0][1:3] == (1, 1)


def test_backfill_without_exports_is_exit_2_naming_the_setting(emulator, tmp_path) -> None:
    env = command_env(emulator, tmp_path, [], job_codes='["J1"]')
    result = run_command(env, tmp_path, "--backfill", "2024-04-01", "2024-04-02")
    assert result.returncode == 2
    assert "[[sources.uniware.exports]]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # status from a directory no run wrote to: said, and no empty database is left behind
    status = run_command(env, tmp_path, "status")
    assert status.returncode == 2 and "no uniware.duckdb in" in status.stderr
    assert not (tmp_path / "uniware.duckdb").exists()


def test_a_second_project_with_the_same_pipeline_name_is_refused_naming_the_option(
    emulator, tmp_path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    env = command_env(emulator, tmp_path, _exports())  # one dlt data folder: one machine, one user
    assert run_command(env, first).returncode == 0
    refused = run_command(env, second)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--pipeline-name" in refused.stderr and str(first) in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (second / "uniware.duckdb").exists()
    own = run_command(env, second, "--pipeline-name", "second_project")
    assert own.returncode == 0, own.stdout + own.stderr


def test_the_demo_runs_in_any_directory_and_writes_its_database_there(tmp_path) -> None:
    """The demo starts afresh each time, so a second directory is not a second project: each run
    loads into the directory it runs in, and prints what loaded."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    env = command_env(None, tmp_path, [])  # one dlt data folder for both, as on one machine
    for where in (first, second, first):
        result = run_command(env, where, "--demo")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "LOADED" in result.stdout and "sale_orders=" in result.stdout
        with duckdb.connect(str(where / "uniware_demo.duckdb"), read_only=True) as db:
            statuses = db.sql("SELECT DISTINCT status FROM uniware_data.export_jobs").fetchall()
        assert statuses == [("LOADED",)]
