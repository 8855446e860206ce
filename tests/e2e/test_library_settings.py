"""A library user's load into DuckDB: told once, at INFO, how to bound DuckDB's memory, unless the
destination has a memory limit. A fresh process each (the note is told once per process). And the
process that ran a load skips the interpreter's last garbage collections at its exit, while one
that only imported the package keeps them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from uniware_source.process_settings import DUCKDB_CONFIG_VARIABLE

ROOT = Path(__file__).resolve().parents[2]

# registered before the package is imported, this exit handler runs after the package's own
FROZEN_AT_EXIT = """
import atexit, gc
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count()))
"""

USER_SCRIPT = (
    FROZEN_AT_EXIT
    + """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
import dlt
from uniware_source import UniwareCredentials, uniware_source
from uniware_source.emulator import Emulator, JobSpec

with Emulator(username="u", password="p", default_job_delay=0.05) as emu:
    for run in range(2):
        pipeline = dlt.pipeline(
            pipeline_name="settings_note", destination="duckdb", dataset_name="data",
            pipelines_dir=sys.argv[1] + "/pipelines",
        )
        source = uniware_source(
            job_codes=[emu.add_job(JobSpec(rows=20, seed=run + 1))], base_url=emu.base_url,
            credentials=UniwareCredentials(username="u", password="p"), poll_interval=0.05,
        )
        pipeline.run(source)
    print(pipeline.dataset().query("SELECT count(*) FROM sale_orders").fetchone()[0])
"""
)


def run_user(tmp_path: Path, **env: str) -> tuple[list[str], str, int]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DESTINATION__", "SOURCES__"))}
    out = subprocess.run(
        [sys.executable, "-c", USER_SCRIPT, str(tmp_path)],
        env={**base, "PYTHONPATH": str(ROOT), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    notes = [line for line in out.stderr.splitlines() if "has no memory_limit" in line]
    *_, rows, frozen = out.stdout.strip().splitlines()
    return notes, rows, int(frozen.removeprefix("frozen at exit:"))


def test_duckdb_without_a_limit_is_told_once(tmp_path: Path) -> None:
    notes, rows, frozen = run_user(tmp_path)
    assert frozen > 10_000  # dlt's objects and the run's, set aside from the last collections
    assert int(rows) >= 20  # both loads ran (the two jobs share some keys, merged)
    assert len(notes) == 1  # two loads, one note
    assert notes[0].startswith("uniware_source INFO the DuckDB destination has no memory_limit")
    assert DUCKDB_CONFIG_VARIABLE in notes[0]


def test_duckdb_with_a_limit_is_not_told(tmp_path: Path) -> None:
    notes, rows, _ = run_user(tmp_path, **{DUCKDB_CONFIG_VARIABLE: '{"memory_limit": "300MB"}'})
    assert int(rows) >= 20 and notes == []


def test_importing_the_package_alone_keeps_the_garbage_collector_as_it_was() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FROZEN_AT_EXIT + "import uniware_source, dlt"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "frozen at exit: 0"
