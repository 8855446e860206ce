"""Soak: a long scheduled run with faults and kills, checked row by row at the end.

    python benchmarks/soak.py                     # 200 windows (100 days x 2 facilities), 8 in flight
    python benchmarks/soak.py --days 50 --kills 1

The emulator runs in this process; `uniware` (pipelines/run.py) runs as a child process, as cron
would start it, into a DuckDB file. Of the export jobs, one in five meets a transient fault (an
expired download link, a connection dropped mid-file, COMPLETE answered without a file for a
while, a FAILED export that is created again), and REST calls get bursts of 503s. The run is
killed (SIGKILL) `--kills` times along the way, once a given share of the windows has been
created, and then run again until it ends. At the end:

- every row of the tenant's windows is in the table exactly once (checked against an export of
  the whole range fetched with plain HTTP, an oracle independent of our client);
- windows created on the tenant against windows planned (a kill can land between Uniware's
  answer to a create and the ledger row that records it: at most one extra per kill);
- status requests against the backoff's bound (`Backoff.max_polls` of each job's server time);
- the peak RSS of each child run, to show memory stays flat from run to run.
Exits 1 if a row is missing or doubled, or a job did not end LOADED.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from uniware_source.emulator import Emulator  # noqa: E402
from uniware_source.incremental.windows import local_midnight  # noqa: E402
from uniware_source.jobs import Backoff  # noqa: E402

USERNAME, PASSWORD = "soak", "soak-password"
FACILITIES = ["WH-BLR", "WH-DEL"]
CREATE, STATUS = "/services/rest/v1/export/job/create", "/services/rest/v1/export/job/status"
POLL = (0.2, 1.0)  # poll_interval, max_poll_interval
FAULTS: list[dict[str, Any]] = [
    {"expired_links": 1},
    {"drop_connection_at": 2000},
    {"empty_file_path_polls": 2},
    {"outcome": "FAILED", "delay": 0.2},
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with (
        tempfile.TemporaryDirectory(prefix="uniware-soak-") as work,
        Emulator(username=USERNAME, password=PASSWORD, default_job_delay=0.5, seed=args.seed) as emu,
    ):
        windows = args.days * len(FACILITIES)
        shapes = [rng.choice(FAULTS) if rng.random() < 0.2 else {} for _ in range(windows * 2)]
        for shape in shapes:  # the n-th job the tenant creates takes the n-th shape
            emu.shape_next_jobs(1, **shape)
        start = datetime.now(ZoneInfo("Asia/Kolkata")).date() - timedelta(days=args.days - 1)
        env = _env(emu, Path(work), start)
        began = time.monotonic()
        runs = _run_with_kills(emu, Path(work), env, windows, args.kills)
        seconds = time.monotonic() - began
        return _report(emu, Path(work), start, windows, runs, seconds)


def _env(emu: Emulator, work: Path, start: Any) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    exports = [{"report": "Sale Orders", "start_date": str(start), "facilities": FACILITIES}]
    return {
        **clean,
        "DLT_DATA_DIR": str(work / ".dlt-data"),
        "SOURCES__UNIWARE__BASE_URL": emu.base_url,
        "SOURCES__UNIWARE__CREDENTIALS__USERNAME": USERNAME,
        "SOURCES__UNIWARE__CREDENTIALS__PASSWORD": PASSWORD,
        "SOURCES__UNIWARE__POLL_INTERVAL": str(POLL[0]),
        "SOURCES__UNIWARE__MAX_POLL_INTERVAL": str(POLL[1]),
        "SOURCES__UNIWARE__MAX_JOBS_IN_FLIGHT": "8",
        "SOURCES__UNIWARE__RETRY_COOLDOWN": "0.5",
        "SOURCES__UNIWARE__REQUEST_BACKOFF_FACTOR": "0.1",
        "SOURCES__UNIWARE__COMMIT_EVERY_WINDOWS": "40",
        "SOURCES__UNIWARE__EXPORTS": json.dumps(exports),
    }


def _creates(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.path == CREATE and r.status == 200)


def _run_with_kills(
    emu: Emulator, work: Path, env: dict[str, str], windows: int, kills: int
) -> list[dict[str, Any]]:
    """Run the command; kill it `kills` times once a share of the windows is created; then run it
    again until a run ends by itself. Each run's exit code and peak RSS."""
    runs: list[dict[str, Any]] = []
    kill_at = [windows * (k + 1) // (kills + 2) for k in range(kills)]
    while True:
        emu.fail_next(5, status=503)  # a burst of server errors at each start
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "pipelines" / "run.py")],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        killed = False
        while process.poll() is None:
            if kill_at and _creates(emu) >= kill_at[0]:
                kill_at.pop(0)
                process.send_signal(signal.SIGKILL)
                killed = True
            time.sleep(0.2)
        stderr = process.stderr.read() if process.stderr else ""
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # MB, the highest so far
        runs.append({"exit": process.returncode, "killed": killed, "peak_mb": peak, "stderr": stderr[-600:]})
        if not killed and process.returncode == 2:
            print(stderr[-2000:])
        if not killed:
            return runs


def _oracle(emu: Emulator, facility: str, start: datetime, end: datetime) -> set[str]:
    """The tenant's item codes for [start, end), from one export fetched with plain HTTP."""
    token = requests.get(
        f"{emu.base_url}/oauth/token",
        params={"grant_type": "password", "client_id": "my-trusted-client", "username": USERNAME,
                "password": PASSWORD},
        timeout=10,
    ).json()["access_token"]  # fmt: skip
    headers = {"Authorization": f"bearer {token}", "Facility": facility}
    body = {
        "exportJobTypeName": "Sale Orders",
        "exportColums": ["soicode", "updated"],
        "exportFilters": [{"id": "updatedOn", "dateRange": {
            "start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000) - 1}}],
        "frequency": "ONETIME",
    }  # fmt: skip
    code = requests.post(f"{emu.base_url}{CREATE}", json=body, headers=headers, timeout=10).json()["jobCode"]
    for _ in range(400):
        answer = requests.post(f"{emu.base_url}{STATUS}", json={"jobCode": code}, headers=headers, timeout=10)
        path = answer.json().get("filePath")
        if path:
            import csv
            import io

            text = requests.get(path, timeout=60).content.decode("utf-8-sig")
            return {row["Sale Order Item Code"] for row in csv.DictReader(io.StringIO(text, newline=""))}
        time.sleep(0.05)
    raise RuntimeError("the oracle export never finished")


def _report(
    emu: Emulator, work: Path, start: Any, windows: int, runs: list[dict[str, Any]], seconds: float
) -> int:
    first = local_midnight(start, "Asia/Kolkata")
    database = work / "uniware.duckdb"
    with duckdb.connect(str(database), read_only=True) as db:
        rows, distinct = db.sql(
            "SELECT count(*), count(DISTINCT sale_order_item_code) FROM uniware_data.sale_orders"
        ).fetchone() or (0, 0)
        landed = {
            code for (code,) in db.sql("SELECT sale_order_item_code FROM uniware_data.sale_orders").fetchall()
        }
        outcomes = db.sql(
            "SELECT status, count(*) FROM uniware_data.export_jobs GROUP BY 1 ORDER BY 1"
        ).fetchall()
        windows_loaded = db.sql(
            "SELECT count(DISTINCT facility || window_start::VARCHAR) FROM uniware_data.export_jobs "
            "WHERE status = 'LOADED'"
        ).fetchone()
    end = datetime.now(UTC)
    emu.reset_faults()  # the oracle's own exports meet no fault
    expected: set[str] = set()
    for facility in FACILITIES:
        expected |= _oracle(emu, facility, first, end)
    creates = _creates(emu) - len(FACILITIES)  # less the oracle's own exports
    backoff = Backoff(initial=POLL[0], cap=POLL[1])
    bound = sum(backoff.max_polls(job.delay + 5.0) for job in emu.jobs.values())
    statuses = sum(1 for r in emu.requests if r.path == STATUS)
    missing, extra = expected - landed, landed - expected
    print(f"soak: {windows} windows over {len(FACILITIES)} facilities, {len(runs)} runs "
          f"({sum(r['killed'] for r in runs)} killed), {seconds:.0f} s")  # fmt: skip
    for index, run in enumerate(runs, 1):
        print(f"  run {index}: exit {run['exit']}{' (killed)' if run['killed'] else ''}, "
              f"peak RSS so far {run['peak_mb']:.0f} MB")  # fmt: skip
    print(f"rows: {rows} loaded, {distinct} distinct, {len(expected)} at the tenant; "
          f"missing {len(missing)}, not at the tenant {len(extra)}")  # fmt: skip
    jobs = len(emu.jobs) - len(FACILITIES)
    print(f"windows: {windows} planned, {windows_loaded[0] if windows_loaded else 0} loaded; "
          f"creates: {creates} (jobs on the tenant: {jobs}; a FAILED export is created again)")  # fmt: skip
    print(f"status requests: {statuses}, the backoff's bound for these jobs: {bound}")
    print("export_jobs: " + ", ".join(f"{count} {status}" for status, count in outcomes))
    ok = rows == distinct and not missing and not extra and runs[-1]["exit"] == 0
    print("soak:", "OK" if ok else "FAILED")
    if not ok:
        print(runs[-1]["stderr"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
