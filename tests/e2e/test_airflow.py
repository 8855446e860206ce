"""The Airflow DAG (pipelines/uniware_dag.py), run once with `dag.test()` against the emulator,
into DuckDB: one task per export and facility, a snapshot export whole, every row landed."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from tests.conftest import PASSWORD, USERNAME
from tests.e2e.test_sync import IST, fix_the_hour, oracle_codes
from uniware_source.emulator import Emulator
from uniware_source.incremental.windows import local_midnight

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.skipif(
        importlib.util.find_spec("airflow") is None,
        reason="Airflow is not installed: pip install -e '.[airflow]' (or make test-airflow)",
    ),
]

DRIVER = Path(__file__).resolve().parent / "airflow_run_dag.py"
DAG_FILE = Path(__file__).resolve().parents[2] / "pipelines" / "uniware_dag.py"
# the test's DAG: the deployed file's builder, into DuckDB (dlt reads the file's path from
# DESTINATION__DUCKDB__CREDENTIALS), without retries
TEST_DAG = """# an Airflow DAG (Airflow parses only files that name both words)
from uniware_dag import build_dag

dag = build_dag(dag_id="uniware_test", destination="duckdb", default_args={"retries": 0})
"""


def airflow_env(
    emu: Emulator, tmp_path: Path, warehouse: Path, exports: list[dict[str, object]]
) -> dict[str, str]:
    """Airflow's home, database and dags folder, and dlt's data, all in `tmp_path`; the dags
    folder holds the DAG file as deployed, beside the test's DAG built with it."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "AIRFLOW"))
    }
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    (dags / "uniware_test_dag.py").write_text(TEST_DAG, encoding="utf-8")
    (tmp_path / "tmp").mkdir()
    return {
        **clean,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}",
        "TMPDIR": str(tmp_path / "tmp"),  # dlt's Airflow helper keeps the pipelines' data there
        "SOURCES__UNIWARE__BASE_URL": emu.base_url,
        "SOURCES__UNIWARE__CREDENTIALS__USERNAME": USERNAME,
        "SOURCES__UNIWARE__CREDENTIALS__PASSWORD": PASSWORD,
        "SOURCES__UNIWARE__POLL_INTERVAL": "0.05",
        "SOURCES__UNIWARE__MAX_POLL_INTERVAL": "0.3",
        "SOURCES__UNIWARE__EXPORTS": json.dumps(exports),
        # a window per batch: a task runs batch after batch until no window is left
        "SOURCES__UNIWARE__COMMIT_EVERY_WINDOWS": "1",
        "DESTINATION__DUCKDB__CREDENTIALS": str(warehouse),
    }


def test_dag_runs_one_task_per_export_and_facility_and_loads_every_row(emulator, tmp_path) -> None:
    start = datetime.now(ZoneInfo(IST)).date() - timedelta(days=1)
    exports = [
        {"report": "Sale Orders", "start_date": start.isoformat(), "facilities": ["WH-BLR", "WH-DEL"]},
        {"report": "Inventory Snapshot", "facilities": ["WH-BLR", "WH-DEL"]},
    ]
    warehouse = tmp_path / "warehouse.duckdb"
    fix_the_hour(emulator)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(DRIVER), "uniware_test_dag", "uniware_test"],
        env=airflow_env(emulator, tmp_path, warehouse, exports),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - began
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"airflow: dag.test() {seen['run_seconds']} s, db {seen['db_seconds']} s, all {seconds:.0f} s")
    print(f"airflow: seconds per task {seen['task_seconds']}")

    tasks = ["uniware.uniware_sale_orders_wh_blr", "uniware.uniware_sale_orders_wh_del"]
    snapshot = "uniware.uniware_inventory_snapshot_all"
    last = "uniware.done"
    assert seen["tasks"] == sorted([*tasks, snapshot, last])
    assert seen["run_state"] == "success"
    assert seen["task_states"] == dict.fromkeys([*tasks, snapshot, last], "success")
    # the first task runs alone (it creates the dataset), the others after it, side by side
    assert seen["upstream"] == {
        tasks[0]: [],
        tasks[1]: [tasks[0]],
        snapshot: [tasks[0]],
        last: sorted([*tasks, snapshot]),
    }
    # ... whatever became of the first: a window failing in it holds no other export back
    assert [seen["trigger_rules"][task] for task in [*tasks, snapshot, last]] == [
        "all_success",
        "all_done",
        "all_done",
        "all_success",
    ]

    now = datetime.now(UTC)
    with duckdb.connect(str(warehouse), read_only=True) as db:
        for facility in ("WH-BLR", "WH-DEL"):
            landed = db.execute(
                "SELECT sale_order_item_code FROM uniware_data.sale_orders WHERE facility = ?", [facility]
            ).fetchall()
            expected = oracle_codes(emulator, facility, local_midnight(start, IST), now)
            assert len(landed) == len({code for (code,) in landed})
            assert {code for (code,) in landed} == expected and expected
        # the snapshot ran as one task: neither facility's rows replaced the other's
        # (the emulator writes the facility's tag into the first column of a generic report)
        tags = db.execute(
            "SELECT DISTINCT split_part(facility, '-', 2) FROM uniware_data.inventory_snapshot"
        ).fetchall()
        assert sorted(tags) == [("BLR",), ("DEL",)]
        jobs = db.execute("SELECT DISTINCT status FROM uniware_data.export_jobs").fetchall()
        assert jobs == [("LOADED",)]
        # each task is a pipeline of its own, with its own state in the destination
        names = db.execute("SELECT DISTINCT pipeline_name FROM uniware_data._dlt_pipeline_state").fetchall()
        assert sorted(names) == sorted((task.split(".")[1],) for task in [*tasks, snapshot])
