"""End to end at a real tenant's width (138 columns) against DuckDB's own CSV import.

    python benchmarks/bench_width.py                          # 1M rows (~1 GB of CSV), 3 rounds
    python benchmarks/bench_width.py --rows 100000 1000000 3000000 --repeat 3
    python benchmarks/bench_width.py --ways command           # only `pipelines/run.py`
    python benchmarks/bench_width.py --rows 300000 --profile  # pyinstrument of the library way

The file is a Sale Orders export at the width of a live tenant's (benchmarks/wide_sale_orders.py,
generated once into the cache folder). The emulator, in this process, serves its exact bytes for
a job code, so each contender's real client polls, downloads and loads it. Contenders, each in a
fresh process that starts after the previous one ended, in alternating rounds:
- duckdb: `CREATE TABLE ... AS SELECT * FROM read_csv(<file>, sample_size=-1)` of the same file;
- library: a user's script, `dlt.pipeline(...).run(uniware_source(job_codes=[code]))` into a new
  DuckDB file, with no process settings of ours (DuckDB's own defaults);
- command: `python pipelines/run.py --job-code <code>` in a fresh folder, as cron runs it (with
  the settings it applies: uniware_source/process_settings.py).
Each round runs every contender once; the table gives each one's median time over the rounds,
its ratio to DuckDB's median, and the highest peak RSS seen (the process's own maximum resident
set, the kernel's VmHWM, which starts again when the process starts its program: `ru_maxrss`
would also count the pages of this parent, which holds the file). Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

USERNAME, PASSWORD = "bench", "bench-password"
WAYS = ("library", "command")


def child_library(base_url: str, job_code: str, workdir: Path) -> dict[str, float]:
    """A user's script: the public source through a plain dlt pipeline, nothing of ours around it."""
    import dlt

    from uniware_source import UniwareCredentials, uniware_source

    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="bench_width",
        destination=dlt.destinations.duckdb(str(workdir / "ours.duckdb")),
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
    """This process's peak resident memory since it started its program. Not `ru_maxrss`: that
    carries over the parent's pages from before exec (a child of a parent holding 1 GB reads
    1 GB there); the kernel's VmHWM starts again at exec."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# pipelines/run.py as it is, in a process that writes its peak memory to a file when it exits
_COMMAND = """
import atexit, runpy, sys
sys.path.insert(0, {benchmarks!r})
from bench_width import _peak_rss_mb
atexit.register(lambda: open({out!r}, "w").write(str(_peak_rss_mb())))
sys.argv = [{script!r}, *sys.argv[1:]]
runpy.run_path({script!r}, run_name="__main__")
"""


def run_command(base_url: str, job_code: str, workdir: Path) -> dict[str, Any]:
    """`pipelines/run.py --job-code` in `workdir`, timed from the outside; its peak RSS written by
    the process itself as it exits."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env = {
        **clean,
        "DLT_DATA_DIR": str(workdir / ".dlt-data"),
        "SOURCES__UNIWARE__BASE_URL": base_url,
        "SOURCES__UNIWARE__CREDENTIALS__USERNAME": USERNAME,
        "SOURCES__UNIWARE__CREDENTIALS__PASSWORD": PASSWORD,
        "SOURCES__UNIWARE__POLL_INTERVAL": "0.1",
        "SOURCES__UNIWARE__MAX_POLL_INTERVAL": "0.5",
        "SOURCES__UNIWARE__DOWNLOAD_DIR": str(workdir),
    }
    peak_file = workdir / "peak-rss"
    program = _COMMAND.format(
        benchmarks=str(ROOT / "benchmarks"), out=str(peak_file), script=str(ROOT / "pipelines" / "run.py")
    )
    started = time.perf_counter()
    with (workdir / "run.out").open("w") as out:
        process = subprocess.run(
            [sys.executable, "-c", program, "--job-code", job_code],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    result: dict[str, Any] = {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": float(peak_file.read_text()) if peak_file.exists() else float("nan"),
        "rows": 0,
    }
    if process.returncode != 0:
        lines = (workdir / "run.out").read_text().strip().splitlines()
        result["error"] = f"exit {process.returncode}: {lines[-1] if lines else '(no output)'}"
        return result
    import duckdb

    with duckdb.connect(str(workdir / "uniware.duckdb"), read_only=True) as db:
        (result["rows"],) = db.execute("SELECT count(*) FROM uniware_data.sale_orders").fetchone()  # type: ignore[misc]
    return result


def _spawn(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if out.returncode != 0:
        return {"seconds": float("nan"), "peak_rss_mb": float("nan"), "rows": 0, "error": out.stderr[-600:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda run: run["seconds"])
    middle = dict(ordered[len(ordered) // 2])
    middle["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return middle


def measure(
    sizes: list[int], ways: list[str], repeat: int, cache_dir: Path, work_root: Path | None
) -> list[dict[str, Any]]:
    from wide_sale_orders import cached_wide_csv

    from uniware_source.emulator import Emulator, JobSpec

    table = []
    with Emulator(username=USERNAME, password=PASSWORD, default_job_delay=0.2, cache_dir=cache_dir) as emu:
        for rows in sizes:
            started = time.perf_counter()
            csv_path = cached_wide_csv(cache_dir / "wide", rows)
            size_mb = csv_path.stat().st_size / 1e6
            print(
                f"{rows:,} rows: {csv_path} ({size_mb:.0f} MB, {time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            # one job serves every round: each contender starts from a fresh pipeline folder
            job_code = emu.add_job(JobSpec(report="Sale Orders", content=csv_path.read_bytes()))
            runs: dict[str, list[dict[str, Any]]] = {way: [] for way in ("duckdb", *ways)}
            for round_ in range(repeat):
                line = []
                for way in runs:
                    with tempfile.TemporaryDirectory(prefix="uniware-width-", dir=work_root) as tmp:
                        if way == "duckdb":
                            result = _spawn("duckdb", str(csv_path), tmp)
                        elif way == "library":
                            result = _spawn("library", emu.base_url, job_code, tmp)
                        else:
                            result = run_command(emu.base_url, job_code, Path(tmp))
                    runs[way].append(result)
                    mark = f" FAILED: {result['error']}" if "error" in result else ""
                    if not mark and result["rows"] != rows:
                        mark = f" ROWS {result['rows']:,} != {rows:,}"
                    line.append(f"{way} {result['seconds']:.1f} s {result['peak_rss_mb']:.0f} MB{mark}")
                print(f"  round {round_ + 1}: " + "; ".join(line), flush=True)
            table.append({"rows": rows, "csv_mb": size_mb, **{way: _median(r) for way, r in runs.items()}})
    return table


def print_table(table: list[dict[str, Any]], ways: list[str]) -> None:
    print(
        f"\n{'rows':>10} {'CSV MB':>7} {'duckdb s':>8} {'MB':>6} | "
        + " | ".join(f"{w:>8} s  ratio    MB" for w in ways)
    )
    for entry in table:
        reference = entry["duckdb"]
        cells = [
            f"{entry[w]['seconds']:>10.1f} {entry[w]['seconds'] / reference['seconds']:>5.2f}x "
            f"{entry[w]['peak_rss_mb']:>5.0f}"
            for w in ways
        ]
        print(
            f"{entry['rows']:>10,} {entry['csv_mb']:>7.0f} {reference['seconds']:>8.1f} "
            f"{reference['peak_rss_mb']:>6.0f} | " + " | ".join(cells)
        )
    print(f"\nmachine: {os.cpu_count()} cores; medians of alternating rounds; MB = highest peak RSS")


def profile(rows: int, cache_dir: Path, out: Path) -> None:
    """The library way once, under pyinstrument (in this process), saved as HTML and text."""
    from pyinstrument import Profiler
    from wide_sale_orders import cached_wide_csv

    from uniware_source.emulator import Emulator, JobSpec

    csv_path = cached_wide_csv(cache_dir / "wide", rows)
    with Emulator(username=USERNAME, password=PASSWORD, default_job_delay=0.2, cache_dir=cache_dir) as emu:
        job_code = emu.add_job(JobSpec(report="Sale Orders", content=csv_path.read_bytes()))
        with tempfile.TemporaryDirectory(prefix="uniware-width-") as tmp:
            profiler = Profiler(interval=0.005, async_mode="disabled")
            with profiler:
                result = child_library(emu.base_url, job_code, Path(tmp))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"width-{rows}.html").write_text(profiler.output_html())
    (out / f"width-{rows}.txt").write_text(profiler.output_text(show_all=False, timeline=False))
    print(profiler.output_text(show_all=False))
    print(json.dumps(result), f"profile in {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds per size")
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--cache-dir", default=str(ROOT / ".emulator-cache"), help="where exports are kept")
    parser.add_argument("--work-dir", default=None, help="where each contender's files go (default: temp)")
    parser.add_argument("--profile", action="store_true", help="profile the library way at the first size")
    args = parser.parse_args()
    cache_dir = Path(args.cache_dir)
    if args.profile:
        profile(args.rows[0], cache_dir, ROOT / "benchmarks" / "results")
        return
    table = measure(
        args.rows, args.ways, args.repeat, cache_dir, Path(args.work_dir) if args.work_dir else None
    )
    print_table(table, args.ways)


def _child_main(argv: list[str]) -> None:
    kind, workdir = argv[0], Path(argv[-1])
    if kind == "library":
        result = child_library(argv[1], argv[2], workdir)
    else:
        result = child_duckdb(Path(argv[1]), workdir)
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child_main(sys.argv[2:])
    else:
        main()
