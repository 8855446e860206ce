"""End to end against DuckDB's own CSV import, side by side, in one run.

    python benchmarks/bench_end_to_end.py                 # 1M-row Sale Orders export
    python benchmarks/bench_end_to_end.py --rows 100000 1000000 5000000
    python benchmarks/bench_end_to_end.py --repeat 5          # more alternating runs per size

For each size the emulator (in this process) serves a Sale Orders export. Each contender runs in a
fresh child process, which reports its own wall time and peak RSS:
- ours: the public source through dlt: status → download → typing → load into a new DuckDB file;
- reference: DuckDB loading the same downloaded file with `read_csv(..., sample_size=-1)` into a table.
Both end with the rows in a DuckDB table. Timings are printed, never asserted.

The machine is shared and its speed drifts by 20-30 % over a minute, for both contenders alike.
So at sizes up to 1M rows each contender runs `--repeat` times (3), alternating with the other,
and the table gives the median time of each and the highest peak RSS seen; every run is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from uniware_source.process_settings import (  # noqa: E402
    DUCKDB_CONFIG_VARIABLE,
    apply_allocator_defaults,
    apply_duckdb_defaults,
)

USERNAME, PASSWORD = "bench", "bench-password"


def child_ours(base_url: str, job_code: str, workdir: Path) -> dict[str, float]:
    import dlt

    from uniware_source import UniwareCredentials, uniware_source

    started = time.perf_counter()
    # the settings pipelines/run.py applies (uniware_source/process_settings.py); BENCH_DUCKDB_CONFIG='{}'
    # measures DuckDB's defaults instead
    if "BENCH_DUCKDB_CONFIG" in os.environ:
        os.environ[DUCKDB_CONFIG_VARIABLE] = os.environ["BENCH_DUCKDB_CONFIG"]
    apply_duckdb_defaults()
    credentials = str(workdir / "ours.duckdb")
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        destination=dlt.destinations.duckdb(credentials),
        dataset_name="uniware",
        pipelines_dir=str(workdir / "pipelines"),
    )
    source = uniware_source(
        job_codes=[job_code],
        base_url=base_url,
        credentials=UniwareCredentials(username=USERNAME, password=PASSWORD),
        poll_interval=0.1,
        max_poll_interval=0.5,
        download_dir=str(workdir),
    )
    pipeline.run(source)
    seconds, peak = time.perf_counter() - started, _peak_rss_mb()
    (loaded,) = pipeline.dataset().query("SELECT count(*) FROM sale_orders").fetchone()  # type: ignore[misc]
    return {"seconds": seconds, "rows": loaded, "peak_rss_mb": peak}


def child_duckdb(csv_path: Path, workdir: Path) -> dict[str, float]:
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(str(workdir / "reference.duckdb")) as db:
        db.execute(f"CREATE TABLE sale_orders AS SELECT * FROM read_csv('{csv_path}', sample_size=-1)")
        seconds, peak = time.perf_counter() - started, _peak_rss_mb()
        (loaded,) = db.execute("SELECT count(*) FROM sale_orders").fetchone()  # type: ignore[misc]
    return {"seconds": seconds, "rows": loaded, "peak_rss_mb": peak}


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far (taken before the row count that checks it)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_main(argv: list[str]) -> None:
    kind, workdir = argv[0], Path(argv[-1])
    if kind == "ours":
        apply_allocator_defaults()  # as pipelines/run.py does, before polars and pyarrow load
    result = child_ours(argv[1], argv[2], workdir) if kind == "ours" else child_duckdb(Path(argv[1]), workdir)
    print(json.dumps(result))


def _spawn(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _download(emulator: object, job_code: str, dest: Path) -> None:
    import requests

    base = emulator.base_url  # type: ignore[attr-defined]
    token = requests.get(
        f"{base}/oauth/token",
        params={
            "grant_type": "password",
            "client_id": "my-trusted-client",
            "username": USERNAME,
            "password": PASSWORD,
        },
        timeout=30,
    ).json()["access_token"]
    while True:
        body = requests.post(
            f"{base}/services/rest/v1/export/job/status",
            json={"jobCode": job_code},
            headers={"Authorization": f"bearer {token}"},
            timeout=30,
        ).json()
        if body.get("filePath"):
            break
        time.sleep(0.2)
    with requests.get(body["filePath"], stream=True, timeout=60) as response, open(dest, "wb") as out:
        for chunk in response.iter_content(1 << 20):
            out.write(chunk)


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    ordered = sorted(runs, key=lambda run: run["seconds"])
    middle = dict(ordered[len(ordered) // 2])
    middle["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    middle["runs"] = len(runs)
    return middle


def measure_sizes(sizes: list[int], cache_dir: Path, repeat: int = 3) -> list[tuple[int, float, dict, dict]]:
    """For each size: (rows, CSV MB, ours, reference), each a child's median seconds, rows and
    highest peak RSS over `repeat` alternating runs (one run above 1M rows)."""
    from uniware_source.emulator import Emulator, JobSpec

    table = []
    with Emulator(username=USERNAME, password=PASSWORD, default_job_delay=0.2, cache_dir=cache_dir) as emu:
        for rows in sizes:
            print(f"preparing a {rows:,}-row Sale Orders export ...", flush=True)
            with tempfile.TemporaryDirectory(prefix="uniware-bench-") as tmp:
                work = Path(tmp)
                csv_path = work / "export.csv"
                _download(emu, emu.add_job(JobSpec(rows=rows, seed=11)), csv_path)
                size_mb = csv_path.stat().st_size / 1e6
                ours_runs, reference_runs = [], []
                for run in range(repeat if rows <= 1_000_000 else 1):
                    for kind in ("ref", "ours"):
                        shutil.rmtree(work / kind, ignore_errors=True)
                        (work / kind).mkdir()
                    reference_runs.append(_spawn("duckdb", str(csv_path), str(work / "ref")))
                    ours = _spawn(
                        "ours", emu.base_url, emu.add_job(JobSpec(rows=rows, seed=11)), str(work / "ours")
                    )
                    ours_runs.append(ours)
                    reference = reference_runs[-1]
                    if ours["rows"] != reference["rows"]:
                        print(f"  row counts differ: ours {ours['rows']}, reference {reference['rows']}")
                    print(
                        f"  run {run + 1}: ours {ours['seconds']:.2f} s {ours['peak_rss_mb']:.0f} MB; "
                        f"duckdb {reference['seconds']:.2f} s {reference['peak_rss_mb']:.0f} MB",
                        flush=True,
                    )
                table.append((rows, size_mb, _median(ours_runs), _median(reference_runs)))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs per size up to 1M rows")
    parser.add_argument(
        "--cache-dir", default=str(ROOT / ".emulator-cache"), help="where generated exports are kept"
    )
    args = parser.parse_args()
    table = measure_sizes(args.rows, Path(args.cache_dir), args.repeat)
    print()
    print(
        f"{'rows':>10} {'CSV MB':>7} | {'ours s':>7} {'duckdb s':>8} {'ratio':>6} | "
        f"{'ours MB':>8} {'duckdb MB':>9} | rows loaded"
    )
    for rows, size_mb, ours, reference in table:
        print(
            f"{rows:>10,} {size_mb:>7.0f} | {ours['seconds']:>7.2f} {reference['seconds']:>8.2f} "
            f"{ours['seconds'] / reference['seconds']:>5.2f}x | {ours['peak_rss_mb']:>8.0f} "
            f"{reference['peak_rss_mb']:>9.0f} | {int(ours['rows']):,}"
        )
    print(
        f"\nmachine: {os.cpu_count()} cores; medians of alternating runs; "
        "ours = status+download+typing+dlt load; "
        "duckdb = read_csv(sample_size=-1) of the downloaded file into a table"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child_main(sys.argv[2:])
    else:
        main()
