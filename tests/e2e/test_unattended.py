"""What a scheduled, unattended run meets: another run holding the pipeline, nothing to do on a
fresh pipeline, a window whose first attempt failed. Each through the real command, as cron runs it."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
from filelock import FileLock

from tests.conftest import PASSWORD, command_env, run_command
from uniware_source.run_lock import lock_path

RUN = Path(__file__).resolve().parents[2] / "pipelines" / "run.py"
CREATE = "/services/rest/v1/export/job/create"


def _run(emulator, cwd: Path, exports: list[dict], *args: str) -> subprocess.CompletedProcess[str]:
    env = command_env(emulator, cwd, exports, retry_cooldown="0.1", commit_every_windows="4")
    return run_command(env, cwd, *args)


def _creates(emulator) -> int:
    return sum(1 for r in emulator.requests if r.path == CREATE and r.status == 200)


def _ist_today():
    return datetime.now(ZoneInfo("Asia/Kolkata")).date()


def test_a_second_run_is_refused_at_once_and_changes_nothing(emulator, tmp_path) -> None:
    exports = [{"report": "Sale Orders", "start_date": str(_ist_today()), "facilities": ["WH-BLR"]}]
    with FileLock(lock_path(tmp_path / ".dlt-data" / "pipelines", "uniware"), timeout=0):
        result = _run(emulator, tmp_path, exports)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "in progress" in lines[0] and "'uniware'" in lines[0]
    assert _creates(emulator) == 0
    assert not (tmp_path / "uniware.duckdb").exists()
    assert not (tmp_path / ".dlt-data" / "pipelines" / "uniware").exists()

    after = _run(emulator, tmp_path, exports)  # once the other run is over, this one runs
    assert after.returncode == 0, after.stdout + after.stderr
    assert _creates(emulator) >= 1


def test_a_fresh_pipeline_with_nothing_to_do_exits_0_and_its_tables_exist(emulator, tmp_path) -> None:
    future = _ist_today() + timedelta(days=30)
    exports = [{"report": "Sale Orders", "start_date": str(future), "facilities": ["WH-BLR"]}]
    result = _run(emulator, tmp_path, exports)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 job(s)" in result.stdout
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        # the README's monitoring queries, on a run that loaded nothing
        assert db.sql("SELECT job_code, status FROM uniware_data.export_jobs").fetchall() == []
        assert db.sql("SELECT job_code, reason, raw_line FROM uniware_data.rejected_rows").fetchall() == []
    assert _creates(emulator) == 0

    today = [{"report": "Sale Orders", "start_date": str(_ist_today()), "facilities": ["WH-BLR"]}]
    later = _run(emulator, tmp_path, today)  # the tables made empty take the rows of later runs
    assert later.returncode == 0, later.stdout + later.stderr
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        assert db.sql("SELECT DISTINCT status FROM uniware_data.export_jobs").fetchall() == [("LOADED",)]


def test_a_job_stuck_on_the_tenant_ends_the_run_and_the_next_run_takes_it_up(emulator, tmp_path) -> None:
    """A window whose job never finishes on Uniware's side, in a backfill of several batches: the
    run times it out and stops its batches once they no longer move the cursor (the windows after
    it load, and would load again in every further batch), exit 1. The next run polls that same
    job, which Uniware would refuse to create again as a duplicate, and loads it once it is done."""
    exports = [
        {
            "report": "Sale Orders",
            "start_date": str(_ist_today() - timedelta(days=6)),
            "facilities": ["WH-BLR"],
        }
    ]
    env = command_env(
        emulator,
        tmp_path,
        exports,
        retry_cooldown="0.1",
        collision_wait="0.1",
        commit_every_windows="3",
        job_timeout="2",
    )
    emulator.shape_next_jobs(1, never_finish=True)
    first = run_command(env, tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    (stuck,) = [code for code, job in emulator.jobs.items() if job.spec.never_finish]
    assert f"FAILED jobs: {stuck} TIMED_OUT" in first.stderr

    emulator.let_finish(stuck)
    second = run_command(env, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        jobs = "SELECT job_code, status, run_started_at FROM uniware_data.export_jobs"
        outcomes = db.sql(f"SELECT status FROM ({jobs}) WHERE job_code = ? ORDER BY status", params=[stuck])
        assert outcomes.fetchall() == [("LOADED",), ("TIMED_OUT",)]
        latest = f"(SELECT max(run_started_at) FROM ({jobs}))"
        last = db.sql(f"SELECT DISTINCT status FROM ({jobs}) WHERE run_started_at = {latest}")
        assert last.fetchall() == [("LOADED",)]  # no window created again and refused
    same_window = [
        code for code, job in emulator.jobs.items() if job.collision_key == emulator.jobs[stuck].collision_key
    ]
    assert same_window == [stuck]  # its window was never created again


def test_a_timed_out_window_split_in_halves_that_load_is_done(emulator, tmp_path) -> None:
    """A window whose first job failed and whose second timed out is split; its halves load. The
    timed-out job, taken over by them, is no longer the window's: the next run does not poll it
    again (it failed every later run with TIMED_OUT while Uniware still ran it)."""
    start = _ist_today() - timedelta(days=1)  # one window: yesterday and today
    # no lookback: a re-read of the whole window would collide with the job still stuck on it
    window = {"window_days": 2, "lookback_hours": 0}
    exports = [{"report": "Sale Orders", "start_date": str(start), "facilities": ["WH-BLR"], **window}]
    env = command_env(
        emulator, tmp_path, exports, retry_cooldown="0.1", collision_wait="0.1", job_timeout="2"
    )
    emulator.shape_next_jobs(1, outcome="FAILED")
    emulator.shape_next_jobs(1, never_finish=True)
    first = run_command(env, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 FAILED" in first.stdout and "1 TIMED_OUT" in first.stdout
    again = run_command(env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "TIMED_OUT" not in again.stdout


def test_a_failed_attempt_made_good_by_the_next_one_exits_0(emulator, tmp_path) -> None:
    today = _ist_today()
    exports = [{"report": "Sale Orders", "start_date": str(today), "facilities": ["WH-BLR"]}]
    emulator.shape_next_jobs(1, outcome="FAILED")  # the window's first job fails; its retry loads
    result = _run(emulator, tmp_path, exports)
    assert result.returncode == 0, result.stdout + result.stderr
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        statuses = db.sql(
            "SELECT status, superseded FROM uniware_data.export_jobs ORDER BY started_at"
        ).fetchall()
    assert statuses == [("FAILED", True), ("LOADED", False)]  # the failure stays on record

    emulator.shape_next_jobs(3, outcome="FAILED")  # every attempt of the window fails
    again = _run(emulator, tmp_path, [{**exports[0], "max_attempts": 2, "min_window_hours": 24}])
    assert again.returncode == 1, again.stdout + again.stderr
    assert "FAILED jobs" in again.stderr


def test_a_long_backfill_commits_batch_by_batch_and_a_crash_loses_only_the_batch_in_flight(
    emulator, tmp_path, monkeypatch
) -> None:
    import dlt

    from tests.conftest import make_source

    first_day = _ist_today() - timedelta(days=20)
    last_day = first_day + timedelta(days=11)  # twelve daily windows, four per batch
    exports = [{"report": "Sale Orders", "start_date": str(first_day), "facilities": ["WH-BLR"]}]
    # the first batch alone, through the library (one pipeline.run is one batch), as a run that
    # died after its first commit would leave it; from the folder the command runs in (dlt keeps
    # a pipeline's first working directory, and finds a relative DuckDB file from there)
    monkeypatch.chdir(tmp_path)
    pipeline = dlt.pipeline(
        pipeline_name="uniware",
        destination=dlt.destinations.duckdb(str(tmp_path / "uniware.duckdb")),
        dataset_name="uniware_data",
        pipelines_dir=str(tmp_path / ".dlt-data" / "pipelines"),
    )
    source = make_source(
        emulator, [], exports=exports, backfill_start=str(first_day), backfill_end=str(last_day),
        commit_every_windows=4,
    )  # fmt: skip
    pipeline.run(source)
    assert _creates(emulator) == 4
    state = pipeline.state["sources"]["uniware"]["resources"]["uniware_exports"]
    assert state["batch"] == {"left": 8, "loaded": 4, "moved": True}
    status = _run(emulator, tmp_path, exports, "status")
    told = f"backfill {first_day}..{last_day} stopped part way: 1 cursor(s); `uniware --backfill {first_day} "
    assert told in status.stdout, status.stdout

    # the command goes on where that batch stopped, one commit per batch, until nothing is left
    env_exports = exports
    result = _run(
        emulator, tmp_path, env_exports, "--backfill", str(first_day), str(last_day),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert _creates(emulator) == 12  # no window created twice
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        loads = db.sql(
            "SELECT _dlt_load_id, count(*) FROM uniware_data.export_jobs GROUP BY 1 ORDER BY 1"
        ).fetchall()
        keys = db.sql(
            "SELECT count(*), count(DISTINCT sale_order_item_code) FROM uniware_data.sale_orders"
        ).fetchall()
        windows = db.sql("SELECT count(DISTINCT window_start) FROM uniware_data.export_jobs").fetchall()
    assert [count for _, count in loads] == [4, 4, 4]  # three commits of four windows
    assert keys[0][0] == keys[0][1] > 0 and windows == [(12,)]


def test_an_unreachable_tenant_ends_the_run_at_once_with_one_line(emulator, tmp_path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    a_year = [
        {
            "report": "Sale Orders",
            "start_date": str(_ist_today() - timedelta(days=365)),
            "facilities": ["WH-BLR"],
        }
    ]
    env = command_env(
        None, tmp_path, a_year, base_url=f"http://127.0.0.1:{port}", request_backoff_factor="0.01"
    )
    result = run_command(env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("uniware:")]
    assert len(lines) == 1 and "did not answer" in lines[0] and "check the tenant URL" in lines[0]
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr


def test_job_codes_given_with_a_long_backlog_load_once_not_in_every_batch(emulator, tmp_path) -> None:
    """Job codes and scheduled exports together (as the demo runs): the backlog takes several
    batches (commit_every_windows = 4), and the job codes load in the first; later batches do not
    list them again as SKIPPED."""
    from uniware_source.emulator import JobSpec

    code = emulator.add_job(JobSpec(rows=20, seed=12))
    start = _ist_today() - timedelta(days=9)
    exports = [{"report": "Sale Orders", "start_date": str(start), "facilities": ["WH-BLR"]}]
    env = command_env(emulator, tmp_path, exports, commit_every_windows="4", job_codes=code)
    result = run_command(env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        rows = db.sql("SELECT job_code, status FROM uniware_data.export_jobs").fetchall()
    assert len(rows) >= 11  # the given job and ten daily windows (eleven past IST midnight), in batches
    assert [status for job, status in rows if job == code] == ["LOADED"]
    assert {status for _, status in rows} == {"LOADED"}


def test_a_snapshot_is_exported_once_per_backlog_not_once_per_batch(emulator, tmp_path) -> None:
    """A backlog of ten daily windows in batches of four and an Inventory Snapshot: the snapshot is
    now-state, so the batch that begins the backlog exports it and the batches that go on with it
    do not. The next run, with no backlog, replaces it again."""
    start = _ist_today() - timedelta(days=9)
    exports = [
        {"report": "Sale Orders", "start_date": str(start), "facilities": ["WH-BLR"]},
        {"report": "Inventory Snapshot", "facilities": ["WH-BLR", "WH-DEL"]},
    ]

    def snapshots_created() -> int:
        return sum(1 for job in emulator.jobs.values() if job.spec.report == "Inventory Snapshot")

    result = _run(emulator, tmp_path, exports)
    assert result.returncode == 0, result.stdout + result.stderr
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        loads = db.sql("SELECT count(DISTINCT _dlt_load_id) FROM uniware_data.export_jobs").fetchall()
        snapshot = db.sql("SELECT count(*) FROM uniware_data.inventory_snapshot").fetchall()
        windows = db.sql(
            "SELECT count(*) FROM uniware_data.export_jobs WHERE report = 'Sale Orders' AND status = 'LOADED'"
        ).fetchall()
    assert loads == [(3,)] and windows == [(10,)]  # three batches took the ten windows
    assert snapshots_created() == 2 and snapshot[0][0] > 0  # its two facilities, in the first batch

    again = _run(emulator, tmp_path, exports)
    assert again.returncode == 0, again.stdout + again.stderr
    assert snapshots_created() == 4  # a new run replaces the snapshot

    # runs from code, one per schedule, that each leave a backlog (no loop over the batches): each
    # is a run of its own, and replaces the snapshot
    import dlt

    from tests.conftest import make_source

    pipeline = dlt.pipeline(
        pipeline_name="from_code",
        destination=dlt.destinations.duckdb(str(tmp_path / "from_code.duckdb")),
        dataset_name="uniware_data",
        pipelines_dir=str(tmp_path / "from_code"),
    )
    for run in (1, 2):
        pipeline.run(make_source(emulator, [], exports=exports, commit_every_windows=3))
        assert pipeline.state["sources"]["uniware"]["resources"]["uniware_exports"]["batch"]["left"] > 0
        assert snapshots_created() == 4 + 2 * run
