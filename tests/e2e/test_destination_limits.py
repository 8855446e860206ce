"""A file the destination cannot take within its memory limit fails its run's load clearly (its
jobs LOAD_FAILED, with a one-line reason) and wedges no later run: the next run loads its own jobs,
and the failed job loads once the limit allows.

The DuckDB memory limit is the user's own setting (dlt's `global_config`, from the environment),
made small enough that a small job loads and a wide one does not (DuckDB's insert holds buffers
for every column at once: 200 columns of 2,000 rows need more than 64 MB). Each run is the real
command (`pipelines/run.py`) against the emulator, into a real DuckDB file.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import command_env, run_command

TINY = json.dumps({"memory_limit": "64MB", "threads": 1})
WIDE = "Wide Export"
DUCKDB_CONFIG = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"


def _query(cwd: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(cwd / "uniware.duckdb"), read_only=True) as db:
        return db.sql(sql).fetchall()


def _wide_file(columns: int = 200, rows: int = 2_000, value: str = "r{row}-value-{i}") -> bytes:
    header = ",".join(f"field {i}" for i in range(columns))
    lines = [",".join(value.format(row=row, i=i) for i in range(columns)) for row in range(rows)]
    return "\n".join([header, *lines, ""]).encode()


def _run(
    emulator, cwd: Path, codes: list[str], config: str | None, report: str = "Sale Orders", *args: str
) -> object:
    env = command_env(emulator, cwd, [], job_codes=json.dumps(codes), report=report)
    if config is not None:
        env[DUCKDB_CONFIG] = config
    return run_command(env, cwd, *args)


def test_a_file_over_the_destinations_memory_limit_fails_clearly_and_wedges_no_later_run(
    emulator, tmp_path
) -> None:
    from uniware_source.emulator import JobSpec

    big = emulator.add_job(JobSpec(report=WIDE, content=_wide_file()))
    later = emulator.add_job(JobSpec(rows=30, seed=5))
    refused = _run(emulator, tmp_path, [big], TINY, WIDE)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "ran out of memory" in refused.stderr and big in refused.stderr
    ((status, message),) = _query(
        tmp_path, f"SELECT status, message FROM uniware_data.export_jobs WHERE job_code = '{big}'"
    )
    assert status == "LOAD_FAILED"
    assert "ran out of memory" in message and "memory_limit" in message and "Traceback" not in message
    assert "loads again next run" in message

    # the next run under the same limit is not wedged by the refused package: it loads its job
    after = _run(emulator, tmp_path, [later], TINY)
    assert after.returncode == 0, after.stdout + after.stderr
    # and with the limit raised, the refused job loads
    raised = _run(emulator, tmp_path, [big], None, WIDE)
    assert raised.returncode == 0, raised.stdout + raised.stderr

    codes = _query(tmp_path, "SELECT _job_code, count(*) FROM uniware_data.sale_orders GROUP BY 1")
    assert dict(codes) == {later: 30}
    assert _query(tmp_path, "SELECT count(*), count(DISTINCT field_0) FROM uniware_data.wide_export") == [
        (2_000, 2_000)
    ]
    statuses = _query(tmp_path, "SELECT job_code, status FROM uniware_data.export_jobs ORDER BY finished_at")
    assert statuses == [(big, "LOAD_FAILED"), (later, "LOADED"), (big, "LOADED")]


def test_the_command_gives_narrow_rows_two_threads_and_one_when_two_run_out_of_memory(
    emulator, tmp_path
) -> None:
    """A global_config that names no threads leaves them to the command: two for a file of
    Sale Orders' 29 columns long enough for them to pay. Under a 64 MB limit, DuckDB's insert of
    450,000 such rows runs out of memory with two threads and fits with one: the command loads the
    package again with one, and every row lands."""
    import os

    from uniware_source.emulator import JobSpec

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the command gives DuckDB one thread whatever the width")
    from uniware_source.process_settings import TWO_THREADS_ROWS

    code = emulator.add_job(JobSpec(rows=TWO_THREADS_ROWS, seed=8))
    limit = json.dumps({"memory_limit": "64MB", "preserve_insertion_order": False})
    out = _run(emulator, tmp_path, [code], limit, "Sale Orders", "-v")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "DuckDB loads with 2 thread(s)" in out.stderr
    assert "ran out of memory loading package" in out.stderr and "again with one" in out.stderr
    assert _query(tmp_path, "SELECT count(*) FROM uniware_data.sale_orders") == [(TWO_THREADS_ROWS,)]
    assert _query(tmp_path, "SELECT status FROM uniware_data.export_jobs") == [("LOADED",)]


def test_a_wide_file_too_short_for_two_threads_loads_with_one_without_running_out_of_memory(
    emulator, tmp_path
) -> None:
    """40,000 rows of 120 short text columns (about 3.2 kB a row in DuckDB's insert): under the
    command's own 250 MB limit, two threads that never fill a row group run out of memory, so the
    command gives the insert one thread from the start, and nothing is loaded twice."""
    from uniware_source.emulator import JobSpec

    code = emulator.add_job(JobSpec(report=WIDE, content=_wide_file(120, 40_000, "r{row}v{i}")))
    out = _run(emulator, tmp_path, [code], None, WIDE, "-v")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ran out of memory" not in out.stderr and "DuckDB loads with 2" not in out.stderr
    assert _query(tmp_path, "SELECT count(*), count(DISTINCT field_119) FROM uniware_data.wide_export") == [
        (40_000, 40_000)
    ]


def test_a_global_config_that_names_threads_is_kept_as_it_is(emulator, tmp_path) -> None:
    from uniware_source.emulator import JobSpec

    code = emulator.add_job(JobSpec(rows=50, seed=9))
    out = _run(
        emulator, tmp_path, [code], json.dumps({"memory_limit": "200MB", "threads": 1}), "Sale Orders", "-v"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "DuckDB loads with" not in out.stderr


def test_the_command_keeps_no_copy_of_what_it_loaded(emulator, tmp_path) -> None:
    """dlt keeps every loaded package's data files by default; a schedule would fill the disk with
    them. The command has dlt delete them once loaded (the package's state and schema stay)."""
    from uniware_source.emulator import JobSpec

    code = emulator.add_job(JobSpec(rows=500, seed=10))
    out = _run(emulator, tmp_path, [code], None)
    assert out.returncode == 0, out.stdout + out.stderr
    loaded = list((tmp_path / ".dlt-data").glob("pipelines/*/load/loaded/*"))
    assert loaded, "no loaded package"
    assert not [p for p in loaded[0].rglob("*") if p.suffix in (".parquet", ".jsonl", ".gz")]
    assert _query(tmp_path, "SELECT count(*) FROM uniware_data.sale_orders") == [(500,)]


@pytest.mark.parametrize(
    ("pipeline_name", "dataset", "schema"),
    [
        ("shop", "Shop", "Shop"),  # DuckDB compares names without case
        ("my_shop", "My-Shop", "my_shop"),  # as dlt names the schema
        ("shop_staging", "shop", "shop_staging"),  # the schema a merge stages its rows in
    ],
)
def test_a_dataset_named_as_its_duckdb_file_is_refused_before_anything_is_fetched(
    emulator, tmp_path, pipeline_name: str, dataset: str, schema: str
) -> None:
    """DuckDB cannot tell a schema from a database file of the same name (shop.duckdb and the
    dataset shop): every load into it would fail with "Ambiguous reference", and its package
    again on every later run. The run is refused up front, naming both settings; the same pipeline
    with another dataset then loads, nothing pending."""
    from uniware_source.emulator import JobSpec

    code = emulator.add_job(JobSpec(rows=40, seed=9))
    env = command_env(emulator, tmp_path, [], job_codes=json.dumps([code]))
    refused = run_command(env, tmp_path, "--pipeline-name", pipeline_name, "--dataset", dataset)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("uniware:")]
    assert f"{dataset!r}" in line and f"{schema!r}" in line and f"{pipeline_name}.duckdb" in line
    assert "--dataset" in line
    assert emulator.jobs[code].status_calls == 0  # refused before the tenant was asked anything

    loaded = run_command(env, tmp_path, "--pipeline-name", pipeline_name, "--dataset", "orders_data")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    with duckdb.connect(str(tmp_path / f"{pipeline_name}.duckdb"), read_only=True) as db:
        assert db.sql("SELECT count(*) FROM orders_data.sale_orders").fetchall() == [(40,)]


def test_a_dataset_whose_name_dlt_changes_is_told_from_its_file(emulator, tmp_path) -> None:
    """my-shop.duckdb and the dataset my-shop are two names to DuckDB once dlt has named the
    schema my_shop: a library user's run goes ahead, and loads."""
    import dlt

    from tests.conftest import make_source
    from uniware_source.emulator import JobSpec

    code = emulator.add_job(JobSpec(rows=30, seed=10))
    pipeline = dlt.pipeline(
        pipeline_name="shop_orders",
        destination=dlt.destinations.duckdb(str(tmp_path / "my-shop.duckdb")),
        dataset_name="my-shop",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.run(make_source(emulator, [code]))
    with duckdb.connect(str(tmp_path / "my-shop.duckdb"), read_only=True) as db:
        assert db.sql("SELECT count(*) FROM my_shop.sale_orders").fetchall() == [(30,)]
