"""The job ledger is the only record of a job created on Uniware: a write waits for a destination
that is away for a while (another process holding the DuckDB file, a PostgreSQL restart) instead
of losing the job's code after three seconds, as it did."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import dlt

from uniware_source.jobs.ledger import DestinationStore, LedgerEntry

HOLD = "import duckdb, sys; db = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


def _entry(code: str) -> LedgerEntry:
    return LedgerEntry(code, "sale_orders", "WH-BLR", None, "2026-12-01T00:00:00+00:00", 1)


def test_a_ledger_write_waits_while_another_process_holds_the_destination(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="ledger_waits",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="uniware",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    store = DestinationStore(pipeline)
    first, second = _entry("EXP-1"), _entry("EXP-2")
    store.write([first], [], [first])

    retrying = threading.Event()
    tries: list[str] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "could not be written; trying again" in record.getMessage():
                tries.append(record.getMessage())
                if len(tries) >= 5:  # past the five attempts (three seconds) that it made before
                    retrying.set()

    watch = Watch(logging.INFO)
    ledger_logger = logging.getLogger("uniware_source.jobs.ledger")
    ledger_logger.addHandler(watch)
    ledger_logger.setLevel(logging.INFO)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    failed: list[BaseException] = []

    def write() -> None:
        try:
            store.write([second], [], [first, second])
        except BaseException as exc:
            failed.append(exc)

    writer = threading.Thread(target=write)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        writer.start()
        assert retrying.wait(90), tries  # the write found the file held, and waits
    finally:
        holder.communicate("")  # the other process lets go
        writer.join(120)
        ledger_logger.removeHandler(watch)
    assert not failed, failed
    assert sorted(e.job_code for e in store.read()) == ["EXP-1", "EXP-2"]
