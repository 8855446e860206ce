"""A killed run, a package the destination refuses: the next run recovers, every row lands once.

Each case drives the real command (`pipelines/run.py`) against the emulator into a real DuckDB
file. A kill at a chosen point is made by a small script that runs the library's steps one by
one and kills itself (SIGKILL) where the case says.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from tests.conftest import command_env, run_command
from uniware_source.emulator import JobSpec

RUN = Path(__file__).resolve().parents[2] / "pipelines" / "run.py"
CREATE = "/services/rest/v1/export/job/create"

# extract; keep a copy of the extracted package; normalize; put the copy back; SIGKILL: exactly
# what a kill between normalize's commit of the package and its cleanup leaves behind
KILL_WHILE_NORMALIZE_CLEANS_UP = textwrap.dedent(
    """
    import os, shutil, signal
    import dlt
    from uniware_source import uniware_source

    pipeline = dlt.pipeline(pipeline_name="uniware", destination="duckdb", dataset_name="uniware_data")
    pipeline.extract(uniware_source())
    extracted = os.path.join(pipeline.working_dir, "normalize", "extracted")
    (load_id,) = os.listdir(extracted)
    shutil.copytree(os.path.join(extracted, load_id), "saved-package")
    pipeline.normalize()
    shutil.copytree("saved-package", os.path.join(extracted, load_id))
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


# a first run (the destination has no dataset yet) killed once normalize has committed its package
KILL_AFTER_NORMALIZE = textwrap.dedent(
    """
    import os, signal, sys
    import dlt
    from uniware_source import uniware_source

    pipeline = dlt.pipeline(pipeline_name="uniware", destination="duckdb", dataset_name="uniware_data")
    pipeline.extract(uniware_source(job_codes=sys.argv[1:]))
    pipeline.normalize()
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


# a run killed once its extract is done (the columns its files needed wider are altered
# already) while it still has the database open, as the command has: closed, DuckDB would have
# written its log into the file first
KILL_AFTER_EXTRACT = KILL_AFTER_NORMALIZE.replace(
    "pipeline.extract(", "held = __import__('duckdb').connect('uniware.duckdb')\npipeline.extract("
).replace("pipeline.normalize()\n", "")
assert "held" in KILL_AFTER_EXTRACT and "normalize()" not in KILL_AFTER_EXTRACT


def _env(emulator, cwd: Path, exports: list[dict]) -> dict[str, str]:
    return command_env(emulator, cwd, exports)


def _run(env: dict[str, str], cwd: Path, *command: str) -> subprocess.CompletedProcess[str]:
    script = Path(command[0])
    return run_command(env, cwd, *command[1:], script=script)


def _ist_today():
    return datetime.now(ZoneInfo("Asia/Kolkata")).date()


def _query(cwd: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(cwd / "uniware.duckdb"), read_only=True) as db:
        return db.sql(sql).fetchall()


def test_a_run_killed_while_normalize_cleans_up_is_recovered(emulator, tmp_path) -> None:
    exports = [
        {
            "report": "Sale Orders",
            "start_date": str(_ist_today() - timedelta(days=2)),
            "facilities": ["WH-BLR"],
        }
    ]
    env = _env(emulator, tmp_path, exports)
    first = _run(env, tmp_path, str(RUN))  # the pipeline has loaded before
    assert first.returncode == 0, first.stdout + first.stderr
    script = tmp_path / "kill.py"
    script.write_text(KILL_WHILE_NORMALIZE_CLEANS_UP)
    killed = _run(env, tmp_path, str(script))
    assert killed.returncode == -9, killed.stderr

    rerun = _run(env, tmp_path, str(RUN))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Directory not empty" not in rerun.stderr
    assert "also loaded: 1 package(s) a killed run had left ready" in rerun.stdout  # said apart
    again = _run(env, tmp_path, str(RUN))  # and the runs after it go on as usual
    assert again.returncode == 0, again.stdout + again.stderr

    keys = _query(
        tmp_path, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM uniware_data.sale_orders"
    )
    assert keys[0][0] == keys[0][1] > 0  # every row once
    statuses = {status for (status,) in _query(tmp_path, "SELECT status FROM uniware_data.export_jobs")}
    assert statuses == {"LOADED"}
    with_killed = _query(tmp_path, "SELECT count(DISTINCT _dlt_load_id) FROM uniware_data.export_jobs")
    assert with_killed[0][0] == 4  # the first run, the killed run's package, the rerun, the one after


def test_a_first_run_killed_after_normalize_is_followed_by_a_clean_run(emulator, tmp_path) -> None:
    """No dataset yet: dlt drops the killed run's pending package with the working folder, so the
    next run has nothing pending to load first. It loads the job itself and exits 0 with its
    summary (it failed with an AttributeError on the empty recovery before)."""
    code = emulator.add_job(JobSpec(rows=300, seed=3))
    env = _env(emulator, tmp_path, [])
    script = tmp_path / "kill.py"
    script.write_text(KILL_AFTER_NORMALIZE)
    killed = _run(env, tmp_path, str(script), code)
    assert killed.returncode == -9, killed.stderr

    rerun = _run(env, tmp_path, str(RUN), "--job-code", code)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "1 job(s): 1 LOADED" in rerun.stdout + rerun.stderr
    assert "sale_orders=300" in rerun.stdout and "also loaded" not in rerun.stdout  # nothing was left
    assert _query(
        tmp_path, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM uniware_data.sale_orders"
    ) == [(300, 300)]
    assert _query(tmp_path, "SELECT job_code, status FROM uniware_data.export_jobs") == [(code, "LOADED")]


def test_a_run_killed_after_widening_columns_leaves_a_database_the_next_run_opens(emulator, tmp_path) -> None:
    """A later file widens a date column to timestamps and another to text (ALTERs whose USING
    calls a function), then the run is killed before its load. DuckDB 1.5 could not replay such
    an ALTER from its log: every later run, and any connection, failed with an internal error.
    The next run loads the file, every value as the file says."""
    header = "Sale Order Item Code,Updated,Promised On,Note Date\n"
    first = header + "SOI-1,2026-01-01 10:00:00,2026-01-02,2026-01-03\n"
    later = header + "SOI-2,2026-01-01 11:00:00,2026-01-02 18:30:00,pending\n"
    env = _env(emulator, tmp_path, [])
    code = emulator.add_job(JobSpec(content=first.encode()))
    assert _run(env, tmp_path, str(RUN), "--job-code", code).returncode == 0

    code = emulator.add_job(JobSpec(content=later.encode()))
    script = tmp_path / "kill.py"
    script.write_text(KILL_AFTER_EXTRACT)
    killed = _run(env, tmp_path, str(script), code)
    assert killed.returncode == -9, killed.stderr
    assert "widened from date to timestamp" in killed.stderr  # the ALTERs ran before the kill

    rerun = _run(env, tmp_path, str(RUN), "--job-code", code)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    got = _query(
        tmp_path,
        "SELECT sale_order_item_code, CAST(promised_on AT TIME ZONE 'UTC' AS VARCHAR), note_date "
        "FROM uniware_data.sale_orders ORDER BY 1",
    )
    assert got == [
        ("SOI-1", "2026-01-01 18:30:00", "2026-01-03"),
        ("SOI-2", "2026-01-02 13:00:00", "pending"),
    ]


def test_a_package_the_destination_refuses_is_given_up_and_its_jobs_load_later(emulator, tmp_path) -> None:
    from uniware_source.emulator import JobSpec

    good = emulator.add_job(JobSpec(report="Stock Moves", content=b"code,note\nA,first\nB,second\n"))
    later = emulator.add_job(JobSpec(report="Stock Moves", content=b"code,note\nC,third\nD,fourth\n"))
    env = {**_env(emulator, tmp_path, []), "SOURCES__UNIWARE__REPORT": "Stock Moves"}
    env["SOURCES__UNIWARE__JOB_CODES"] = json.dumps([good])
    assert _run(env, tmp_path, str(RUN)).returncode == 0
    # someone changes the table so that the next file cannot go in: the destination refuses it
    with duckdb.connect(str(tmp_path / "uniware.duckdb")) as db:
        db.execute("DELETE FROM uniware_data.stock_moves")
        db.execute("ALTER TABLE uniware_data.stock_moves DROP COLUMN note")
        db.execute("ALTER TABLE uniware_data.stock_moves ADD COLUMN note INTEGER")

    env["SOURCES__UNIWARE__JOB_CODES"] = json.dumps([later])
    refused = _run(env, tmp_path, str(RUN))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "gave up on load package" in refused.stderr and later in refused.stderr
    failed = _query(
        tmp_path, f"SELECT status, message FROM uniware_data.export_jobs WHERE job_code = '{later}'"
    )
    assert [status for status, _ in failed] == ["LOAD_FAILED"] and "loads again next run" in failed[0][1]

    with duckdb.connect(str(tmp_path / "uniware.duckdb")) as db:  # the table is put right
        db.execute("ALTER TABLE uniware_data.stock_moves DROP COLUMN note")
        db.execute("ALTER TABLE uniware_data.stock_moves ADD COLUMN note VARCHAR")
    fixed = _run(env, tmp_path, str(RUN))  # not blocked by the refused package, not skipped either
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert sorted(_query(tmp_path, "SELECT code, note FROM uniware_data.stock_moves")) == [
        ("C", "third"),
        ("D", "fourth"),
    ]
    statuses = _query(
        tmp_path,
        f"SELECT status FROM uniware_data.export_jobs WHERE job_code = '{later}' ORDER BY finished_at",
    )
    assert [s for (s,) in statuses] == ["LOAD_FAILED", "LOADED"]


def test_a_first_run_killed_while_polling_loses_no_job_even_without_its_working_folder(
    emulator, tmp_path
) -> None:
    """The job ledger lives with the data: a first run killed with its jobs running on the tenant,
    then its working folder gone (dlt's wipe, a new machine): the rerun creates no job twice."""
    import shutil
    import signal
    import time

    start = _ist_today() - timedelta(days=9)  # ten windows, four at a time on the tenant
    env = _env(
        emulator, tmp_path, [{"report": "Sale Orders", "start_date": str(start), "facilities": ["WH-BLR"]}]
    )
    emulator.default_job_delay = 3600.0  # still running when the run is killed
    process = subprocess.Popen([sys.executable, str(RUN)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    # the DuckDB file is read only once the four creates are through: a reader holds the file,
    # and a steady stream of them would keep the run from writing its ledger rows
    while len(emulator.jobs) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    while len(_ledger(tmp_path)) < 4 and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    created_before = set(emulator.jobs)
    assert len(created_before) == 4 and {row[0] for row in _ledger(tmp_path)} == created_before

    shutil.rmtree(tmp_path / ".dlt-data")  # the working folder is gone
    emulator.default_job_delay = 0.2
    with emulator.lock:
        for job in emulator.jobs.values():  # the tenant finishes the exports in the meantime
            job.delay = 0.2
    rerun = _run(env, tmp_path, str(RUN))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    # ten windows, and one more if a new minute began between the runs: no window created twice
    assert len(emulator.jobs) in (10, 11)
    statuses = _query(tmp_path, "SELECT job_code, window_start FROM uniware_data.export_jobs")
    assert created_before <= {code for code, _ in statuses}  # the killed run's jobs were re-attached
    starts = [window_start for _, window_start in statuses]
    assert len(starts) == len(set(starts))
    keys = _query(
        tmp_path, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM uniware_data.sale_orders"
    )
    assert keys[0][0] == keys[0][1] > 0


def _ledger(cwd: Path) -> list[tuple]:
    """The ledger's rows, read while a run may be writing (a busy DuckDB file reads as none yet)."""
    try:
        with duckdb.connect(str(cwd / "uniware.duckdb"), read_only=True) as db:
            return db.sql("SELECT * FROM uniware_data._uniware_job_ledger").fetchall()
    except duckdb.Error:
        return []


def test_on_postgres_a_killed_run_with_its_working_folder_gone_creates_no_job_twice(
    emulator, tmp_path
) -> None:
    """The same kill, into PostgreSQL: the ledger is a table there, written as jobs are created."""
    import shutil
    import signal
    import time
    import uuid

    import psycopg2

    from tests.e2e.test_postgres import DSN

    dataset = f"uniware_kill_{uuid.uuid4().hex[:8]}"
    start = _ist_today() - timedelta(days=5)  # six windows, four at a time on the tenant
    exports = [{"report": "Sale Orders", "start_date": str(start), "facilities": ["WH-BLR"]}]
    env = {**_env(emulator, tmp_path, exports), "DESTINATION__POSTGRES__CREDENTIALS": DSN}
    command = [sys.executable, str(RUN), "--destination", "postgres", "--dataset", dataset]

    def query(sql: str) -> list[tuple]:
        with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    def ledger() -> list[tuple]:
        try:
            return query(f'SELECT job_code FROM "{dataset}"._uniware_job_ledger')
        except psycopg2.Error:
            return []

    try:
        emulator.default_job_delay = 3600.0
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while len(ledger()) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        created_before = set(emulator.jobs)
        assert len(created_before) == 4 and {code for (code,) in ledger()} == created_before

        shutil.rmtree(tmp_path / ".dlt-data")
        emulator.default_job_delay = 0.2
        with emulator.lock:
            for job in emulator.jobs.values():
                job.delay = 0.2
        rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert len(emulator.jobs) in (6, 7)  # six windows, and one more if a minute began between runs
        codes = {code for (code,) in query(f'SELECT job_code FROM "{dataset}".export_jobs')}
        assert created_before <= codes
        (counted,) = query(
            f'SELECT count(*), count(DISTINCT sale_order_item_code) FROM "{dataset}".sale_orders'
        )
        assert counted[0] == counted[1] > 0
    finally:
        with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
            for suffix in ("", "_staging"):
                cursor.execute(f'DROP SCHEMA IF EXISTS "{dataset}{suffix}" CASCADE')


def test_a_pending_package_with_a_damaged_file_is_given_up_and_its_jobs_load_again(
    emulator, tmp_path
) -> None:
    """A killed run's package whose typed file was damaged on disk (cut short: a full disk, a
    crash of the machine) failed every later run with the same error, dlt retrying it first each
    time. It is given up like a package the destination refuses: its jobs are LOAD_FAILED, the
    run says so, and the next run loads them again, from a fresh download."""
    from uniware_source.emulator import JobSpec

    env = _env(emulator, tmp_path, [])
    first = emulator.add_job(JobSpec(rows=30))
    assert _run(env, tmp_path, str(RUN), "--job-code", first).returncode == 0
    damaged = emulator.add_job(JobSpec(rows=40, seed=3))
    script = tmp_path / "kill.py"
    script.write_text(KILL_AFTER_NORMALIZE)
    assert _run(env, tmp_path, str(script), damaged).returncode == -9
    files = list(
        (tmp_path / ".dlt-data" / "pipelines" / "uniware" / "load" / "normalized").glob(
            "*/new_jobs/sale_orders.*"
        )
    )
    assert files, "the killed run's typed file"
    for typed in files:
        typed.write_bytes(typed.read_bytes()[:100])  # cut short

    given_up = _run(env, tmp_path, str(RUN), "--job-code", damaged)
    assert "gave up on load package" in given_up.stderr and "damaged" in given_up.stderr
    assert given_up.returncode == 0, given_up.stdout + given_up.stderr  # and loaded it again at once
    assert "Traceback" not in given_up.stderr  # dlt's retries say one line each without -v
    audit_sql = (
        f"SELECT status FROM uniware_data.export_jobs WHERE job_code = '{damaged}' ORDER BY finished_at"
    )
    assert [s for (s,) in _query(tmp_path, audit_sql)] == ["LOAD_FAILED", "LOADED"]
    counted = "SELECT count(*), count(DISTINCT sale_order_item_code) FROM uniware_data.sale_orders"
    mine = f"SELECT count(*) FROM uniware_data.sale_orders WHERE _job_code = '{damaged}'"
    assert _query(tmp_path, mine) == [(40,)]

    again = _run(env, tmp_path, str(RUN), "--job-code", damaged)  # nothing pending: skipped, not twice
    assert again.returncode == 0 and "SKIPPED" in again.stdout, again.stdout + again.stderr
    ((total, distinct),) = _query(tmp_path, counted)
    assert total == distinct and _query(tmp_path, mine) == [(40,)]
