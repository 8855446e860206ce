"""Scheduled exports against the emulator: windows, facilities, retries, splits, cursors, crashes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dlt
import duckdb
import requests

from tests.conftest import bearer, command_env, fetch_export, make_source, parse_export, rows
from uniware_source.emulator import Emulator
from uniware_source.incremental.windows import local_midnight

IST = "Asia/Kolkata"
RUN = Path(__file__).resolve().parents[2] / "pipelines" / "run.py"
CREATE = "/services/rest/v1/export/job/create"


def ist_today() -> date:
    return datetime.now(ZoneInfo(IST)).date()


def sale_orders(start: date, **extra: Any) -> dict[str, Any]:
    return {"report": "Sale Orders", "start_date": start.isoformat(), **extra}


def fast(**settings: Any) -> dict[str, Any]:
    return {"retry_cooldown": 0.2, "collision_wait": 0.3, **settings}


def oracle_codes(emu: Emulator, facility: str, start: datetime, end: datetime) -> set[str]:
    """Item codes the tenant has for [start, end): one export of the whole range, over plain HTTP."""
    headers = {"Authorization": bearer(emu), "Facility": facility}
    body = {
        "exportJobTypeName": "Sale Orders",
        "exportColums": ["soicode", "updated"],  # not our column set: never collides with our jobs
        "exportFilters": [
            {
                "id": "updatedOn",
                "dateRange": {"start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000) - 1},
            }
        ],
        "frequency": "ONETIME",
    }
    code = requests.post(f"{emu.base_url}{CREATE}", json=body, headers=headers, timeout=10).json()["jobCode"]
    return {row["Sale Order Item Code"] for row in parse_export(fetch_export(emu, code))}


def fix_the_hour(emu: Emulator) -> None:
    """Every job of the test, and the oracle's export after it, returns the rows that arrived up
    to the same hour: the emulator cuts a job at the last full hour before its create, and an
    hour turning between the last run and the oracle once made 14 rows of it differ (730 of 744)."""
    now_ms = int(time.time() * 1000)
    emu.rows_arrived_until_ms = now_ms - now_ms % 3_600_000 - 1


def creates(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.path == CREATE and r.status == 200)


def exports_state(pipeline) -> dict[str, Any]:
    return pipeline.state["sources"]["uniware"]["resources"]["uniware_exports"]


def test_two_consecutive_runs_load_every_row_exactly_once(emulator, pipeline) -> None:
    start = ist_today() - timedelta(days=2)
    exports = [sale_orders(start, facilities=["WH-BLR", "WH-DEL"], lookback_hours=30)]
    fix_the_hour(emulator)
    pipeline.run(make_source(emulator, [], exports=exports, **fast()))
    first = rows(pipeline, "SELECT count(*) FROM sale_orders")[0][0]
    pipeline.run(make_source(emulator, [], exports=exports, **fast()))
    now = datetime.now(UTC)

    expected = set()
    for facility in ("WH-BLR", "WH-DEL"):
        expected |= oracle_codes(emulator, facility, local_midnight(start, IST), now)
    landed = rows(pipeline, "SELECT sale_order_item_code FROM sale_orders")
    # a failure names the jobs that did not load, and the windows the oracle read
    unloaded = rows(
        pipeline,
        "SELECT job_code, facility, window_start, status, message FROM export_jobs WHERE status <> 'LOADED'",
    )
    assert len(landed) == len({code for (code,) in landed}) == len(expected), (unloaded, start, now)
    assert {code for (code,) in landed} == expected
    assert first == len(expected)  # the second run re-read the lookback and duplicated nothing

    jobs = rows(pipeline, "SELECT report, facility, window_start, window_end, status FROM export_jobs")
    assert {status for *_, status in jobs} == {"LOADED"}
    assert {facility for _, facility, *_ in jobs} == {"WH-BLR", "WH-DEL"}
    for report, _, window_start, window_end, _ in jobs:
        assert report == "Sale Orders"
        assert window_start < window_end
        assert window_start.astimezone(ZoneInfo(IST)).time().hour in (0, 12)  # IST midnight (or a half)
    cursors = exports_state(pipeline)["cursors"]["Sale Orders|sale_orders"]
    assert set(cursors) == {"WH-BLR", "WH-DEL"}
    assert all(now - datetime.fromisoformat(c) < timedelta(minutes=2) for c in cursors.values())


def test_window_failing_twice_is_split_and_then_loads(emulator, pipeline) -> None:
    day = ist_today() - timedelta(days=5)
    emulator.shape_next_jobs(2, outcome="FAILED")
    exports = [sale_orders(day - timedelta(days=30), facilities=["WH-BLR"])]
    source = make_source(
        emulator, [], exports=exports, backfill_start=str(day), backfill_end=str(day), **fast()
    )
    pipeline.run(source)
    jobs = rows(pipeline, "SELECT status, window_start, window_end FROM export_jobs ORDER BY started_at")
    full = (local_midnight(day, IST), local_midnight(day + timedelta(days=1), IST))
    half = full[0] + timedelta(hours=12)
    assert jobs[:2] == [("FAILED", *full), ("FAILED", *full)]
    assert sorted(jobs[2:]) == [("LOADED", full[0], half), ("LOADED", half, full[1])]
    landed = {code for (code,) in rows(pipeline, "SELECT sale_order_item_code FROM sale_orders")}
    assert landed == oracle_codes(emulator, "WH-BLR", *full)
    assert exports_state(pipeline)["window_hours"]["Sale Orders|sale_orders"]["WH-BLR"] == 12
    # a backfill leaves the incremental cursor alone
    assert "Sale Orders|sale_orders" not in exports_state(pipeline).get("cursors", {})


def test_cursor_never_passes_a_window_that_did_not_load(emulator, pipeline) -> None:
    start = ist_today() - timedelta(days=2)
    exports = [sale_orders(start, facilities=["WH-BLR"], max_attempts=1, min_window_hours=24)]
    fix_the_hour(emulator)
    emulator.shape_next_jobs(1, outcome="FAILED")  # the first window's only attempt fails
    pipeline.run(make_source(emulator, [], exports=exports, max_jobs_in_flight=1, **fast()))
    jobs = rows(pipeline, "SELECT status, window_start FROM export_jobs ORDER BY window_start")
    assert jobs[0] == ("FAILED", local_midnight(start, IST))
    assert all(status == "LOADED" for status, _ in jobs[1:]) and len(jobs) >= 3
    assert "Sale Orders|sale_orders" not in exports_state(pipeline).get("cursors", {})

    pipeline.run(make_source(emulator, [], exports=exports, max_jobs_in_flight=1, **fast()))
    landed = {code for (code,) in rows(pipeline, "SELECT sale_order_item_code FROM sale_orders")}
    assert landed == oracle_codes(emulator, "WH-BLR", local_midnight(start, IST), datetime.now(UTC))
    assert "WH-BLR" in exports_state(pipeline)["cursors"]["Sale Orders|sale_orders"]


def test_collision_waits_for_the_running_twin_and_loses_no_window(emulator, pipeline) -> None:
    day = ist_today() - timedelta(days=3)
    exports = [sale_orders(day, facilities=["WH-DEL"])]
    emulator.default_job_delay = 1.5
    # someone else started the very same export a moment ago
    source = make_source(
        emulator, [], exports=exports, backfill_start=str(day), backfill_end=str(day), **fast()
    )
    twin = oracle_twin(emulator, day)
    pipeline.run(source)
    # the twin's create, ours refused as a collision (at least once), then ours accepted
    assert sum(1 for r in emulator.requests if r.path == CREATE) >= 3
    jobs = rows(pipeline, "SELECT job_code, status FROM export_jobs")
    assert len(jobs) == 1 and jobs[0][1] == "LOADED" and jobs[0][0] != twin
    full = (local_midnight(day, IST), local_midnight(day + timedelta(days=1), IST))
    landed = {code for (code,) in rows(pipeline, "SELECT sale_order_item_code FROM sale_orders")}
    assert landed == oracle_codes(emulator, "WH-DEL", *full)


def oracle_twin(emu: Emulator, day: date) -> str:
    """Create the exact export our source will ask for, so that ours collides with it."""
    from uniware_source.incremental.windows import Window
    from uniware_source.reports import SALE_ORDER_COLUMNS

    window = Window(local_midnight(day, IST), local_midnight(day + timedelta(days=1), IST))
    body = {
        "exportJobTypeName": "Sale Orders",
        "exportColums": list(SALE_ORDER_COLUMNS),
        "exportFilters": [{"id": "updatedOn", "dateRange": window.date_range()}],
        "frequency": "ONETIME",
    }
    headers = {"Authorization": bearer(emu), "Facility": "WH-DEL"}
    return requests.post(f"{emu.base_url}{CREATE}", json=body, headers=headers, timeout=10).json()["jobCode"]


def test_snapshot_replaces_its_table_and_keyless_dated_report_replaces_its_window(emulator, pipeline) -> None:
    start = ist_today() - timedelta(days=1)
    exports = [
        {"report": "Inventory Snapshot", "facilities": ["WH-BLR"]},
        {
            "report": "Transaction Ledger",
            "columns": ["code", "amount"],
            "start_date": start.isoformat(),
            "facilities": ["WH-BLR"],
            "lookback_hours": 48,
        },
    ]
    pipeline.run(make_source(emulator, [], exports=exports, **fast()))
    snapshot = rows(pipeline, "SELECT count(*) FROM inventory_snapshot")[0][0]
    ledger = rows(pipeline, "SELECT count(*) FROM transaction_ledger")[0][0]
    assert snapshot > 0 and ledger > 0
    pipeline.run(make_source(emulator, [], exports=exports, **fast()))
    assert rows(pipeline, "SELECT count(*) FROM inventory_snapshot")[0][0] == snapshot
    assert rows(pipeline, "SELECT count(*) FROM transaction_ledger")[0][0] == ledger
    assert pipeline.default_schema.tables["inventory_snapshot"]["write_disposition"] == "replace"


def test_all_facilities_are_listed_through_the_api(emulator, pipeline) -> None:
    start = ist_today()
    pipeline.run(make_source(emulator, [], exports=[sale_orders(start, facilities="all")], **fast()))
    facilities = {f for (f,) in rows(pipeline, "SELECT DISTINCT facility FROM export_jobs")}
    assert facilities == {"WH-BLR", "WH-DEL", "WH-MUM"}


# -- the command ----------------------------------------------------------------------------------
def _env(emu: Emulator, tmp_path: Path, exports: list[dict[str, Any]]) -> dict[str, str]:
    return command_env(emu, tmp_path, exports)


def test_plan_prints_the_jobs_and_creates_nothing(emulator, tmp_path) -> None:
    start = ist_today() - timedelta(days=1)
    env = _env(emulator, tmp_path, [sale_orders(start, facilities=["WH-BLR", "WH-MUM"])])
    result = subprocess.run(
        [sys.executable, str(RUN), "--plan"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "Sale Orders" in line]
    assert len(lines) == 4  # two days (yesterday, today so far) x two facilities
    assert all("create" in line for line in lines)
    assert creates(emulator) == 0


def ledger_rows(database: Path) -> list[tuple[Any, ...]]:
    """The job ledger's rows in the destination, read while a run may be writing them (DuckDB
    lets one process at a time open the file: a busy file reads as no rows yet)."""
    try:
        with duckdb.connect(str(database), read_only=True) as db:
            return db.sql("SELECT * FROM uniware_data._uniware_job_ledger").fetchall()
    except duckdb.Error:
        return []


def test_killed_run_is_resumed_without_duplicate_jobs_or_lost_rows(emulator, tmp_path) -> None:
    start = ist_today() - timedelta(days=1)
    env = _env(emulator, tmp_path, [sale_orders(start, facilities=["WH-BLR"])])
    fix_the_hour(emulator)
    emulator.default_job_delay = 3600.0  # the jobs will still be running when the run is killed
    process = subprocess.Popen(
        [sys.executable, str(RUN)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while creates(emulator) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    while time.monotonic() < deadline:  # read the DuckDB file only once the creates are through
        if len(ledger_rows(tmp_path / "uniware.duckdb")) == 2:
            break
        time.sleep(0.5)
    else:
        process.kill()
        raise AssertionError("the run never created its two jobs")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert creates(emulator) == 2
    first_jobs = set(emulator.jobs)

    emulator.default_job_delay = 0.3
    for job in emulator.jobs.values():  # the tenant finishes the exports in the meantime
        job.delay = 0.2
    result = subprocess.run(
        [sys.executable, str(RUN)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # (a minute passing between the runs adds a one-minute window of its own: that is new time)
    assert creates(emulator) <= 3
    with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
        landed = {
            code for (code,) in db.sql("SELECT sale_order_item_code FROM uniware_data.sale_orders").fetchall()
        }
        statuses = db.sql("SELECT job_code, status, window_start FROM uniware_data.export_jobs").fetchall()
    assert {status for _, status, _ in statuses} == {"LOADED"}
    assert {code for code, _, _ in statuses} == set(emulator.jobs)
    assert first_jobs <= {code for code, _, _ in statuses}, "the killed run's jobs were not re-attached"
    starts = [start for _, _, start in statuses]
    assert len(starts) == len(set(starts)), "a window was created twice"
    assert landed == oracle_codes(emulator, "WH-BLR", local_midnight(start, IST), datetime.now(UTC))


def test_a_forgotten_job_in_the_ledger_is_created_afresh(emulator, pipeline) -> None:
    from uniware_source.incremental.windows import Window
    from uniware_source.jobs.ledger import JobLedger, LedgerEntry, store_for

    day = ist_today() - timedelta(days=4)
    window = Window(local_midnight(day, IST), local_midnight(day + timedelta(days=1), IST))
    ledger = JobLedger.open(store_for(pipeline))
    ledger.add(
        LedgerEntry(
            "EXP-GONE-1",
            "Sale Orders|sale_orders",
            "WH-BLR",
            window.to_state(),
            datetime.now(UTC).isoformat(),
        )
    )
    exports = [sale_orders(day, facilities=["WH-BLR"], max_attempts=1)]
    source = make_source(
        emulator, [], exports=exports, backfill_start=str(day), backfill_end=str(day), **fast()
    )
    pipeline.run(source)
    jobs = dict(rows(pipeline, "SELECT job_code, status FROM export_jobs"))
    assert jobs.pop("EXP-GONE-1") == "NOT_FOUND"
    assert list(jobs.values()) == ["LOADED"]  # not given up: a new job for the same window
    landed = {code for (code,) in rows(pipeline, "SELECT sale_order_item_code FROM sale_orders")}
    assert landed == oracle_codes(emulator, "WH-BLR", window.start, window.end)
    assert JobLedger.open(store_for(pipeline)).entries.keys() <= set(jobs)  # the dead entry is gone


def _ledger_export(start: date, **extra: Any) -> dict[str, Any]:
    return {
        "report": "Transaction Ledger",
        "columns": ["code", "amount"],
        "start_date": start.isoformat(),
        "facilities": ["WH-BLR"],
        **extra,
    }


def test_a_keyless_report_is_reread_in_whole_windows(emulator, pipeline) -> None:
    week = ist_today() - timedelta(days=21)
    export = _ledger_export(week, window_days=7)
    end = week + timedelta(days=6)
    pipeline.run(make_source(emulator, [], exports=[export], backfill_start=str(week), backfill_end=str(end)))
    (loaded,) = rows(pipeline, "SELECT count(*) FROM transaction_ledger")[0]
    assert loaded > 0
    # a backfill of one day inside that week re-reads the whole week: its rows are replaced, not lost
    day = week + timedelta(days=2)
    pipeline.run(make_source(emulator, [], exports=[export], backfill_start=str(day), backfill_end=str(day)))
    assert rows(pipeline, "SELECT count(*) FROM transaction_ledger")[0][0] == loaded
    windows = rows(
        pipeline, "SELECT window_start, window_end FROM export_jobs ORDER BY run_started_at DESC LIMIT 1"
    )
    assert windows == [(local_midnight(week, IST), local_midnight(week + timedelta(days=7), IST))]


def test_a_keyless_window_loads_whole_or_not_at_all(emulator, pipeline) -> None:
    day = ist_today() - timedelta(days=9)
    export = _ledger_export(day, min_window_hours=12, max_attempts=2)
    window = {"backfill_start": str(day), "backfill_end": str(day)}
    pipeline.run(make_source(emulator, [], exports=[export], **window, **fast()))
    (before,) = rows(pipeline, "SELECT count(*) FROM transaction_ledger")[0]
    # the whole day fails twice and is split; then one half fails for good, the other downloads
    emulator.shape_next_jobs(5, outcome="FAILED")
    pipeline.run(make_source(emulator, [], exports=[export], **window, **fast()))
    latest = rows(
        pipeline,
        "SELECT status, message FROM export_jobs "
        "WHERE run_started_at = (SELECT max(run_started_at) FROM export_jobs)",
    )
    assert [status for status, _ in latest].count("FAILED") == 5
    held = [message for status, message in latest if status == "ERROR"]
    assert len(held) == 1 and "another piece" in held[0]
    assert rows(pipeline, "SELECT count(*) FROM transaction_ledger")[0][0] == before  # nothing lost


def test_plan_reads_the_ledger_and_leaves_it_as_it_was(emulator, tmp_path) -> None:
    """--plan shows the jobs a run would re-attach to, and changes nothing: not even the ledger
    entries a run would prune (here one far too old)."""
    start = ist_today() - timedelta(days=1)
    env = _env(emulator, tmp_path, [sale_orders(start, facilities=["WH-BLR"])])
    first = local_midnight(start, IST)
    created = datetime.now(UTC).isoformat()
    entries = [
        {"job_code": "EXP-PENDING", "export": "Sale Orders|sale_orders", "facility": "WH-BLR",
         "window": [first.isoformat(), (first + timedelta(days=1)).isoformat()], "created_at": created,
         "attempt": 1},
        {"job_code": "EXP-STALE", "export": "Sale Orders|sale_orders", "facility": "WH-BLR",
         "window": None, "created_at": (datetime.now(UTC) - timedelta(days=30)).isoformat(), "attempt": 1},
    ]  # fmt: skip

    def plan() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(RUN), "--plan"]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    from uniware_source.jobs.ledger import JobLedger, LedgerEntry, store_for

    destination = dlt.pipeline(
        pipeline_name="ledger_writer",
        destination=dlt.destinations.duckdb(str(tmp_path / "uniware.duckdb")),
        dataset_name="uniware_data",
        pipelines_dir=str(tmp_path / "writer"),
    )
    writer = JobLedger.open(store_for(destination))
    for entry in entries:
        writer.add(LedgerEntry(**entry))

    def ledger_rows() -> list[tuple]:
        with duckdb.connect(str(tmp_path / "uniware.duckdb"), read_only=True) as db:
            return sorted(db.sql("SELECT * FROM uniware_data._uniware_job_ledger").fetchall())

    before = ledger_rows()
    result = plan()
    assert result.returncode == 0, result.stderr
    assert "re-attach to EXP-PENDING" in result.stdout
    assert "EXP-STALE" not in result.stdout
    assert ledger_rows() == before and len(before) == 2
    assert creates(emulator) == 0
