"""End to end against DuckDB's own CSV import: both files, both ways in, side by side, in one run.

    python benchmarks/bench_end_to_end.py                       # 1M rows: 4 rows of results
    python benchmarks/bench_end_to_end.py --rows 100000 1000000 5000000
    python benchmarks/bench_end_to_end.py --files messy --ways library --repeat 1
    python benchmarks/bench_end_to_end.py --files wide --repeat 2    # a real tenant's width

Two files of the same size, served by the emulator (in this process):
- default: the emulator's Sale Orders export (uniware_source/emulator);
- messy: benchmarks/messy_file.py, quoted multi-line fields in every record, Devanagari and Tamil
  text, a column of three date formats, mostly-null columns, `-` for null, BOM and CR LF;
- wide (only when asked for): benchmarks/wide_sale_orders.py, a Sale Orders export at a live
  tenant's width (138 columns, about 1 kB a row), from a generator of its own rather than the
  emulator's, so that it checks the reader on shapes the emulator does not write.
Two ways in, each a fresh process exactly as a user starts it:
- cli: `python pipelines/run.py --job-code ...`, settings from SOURCES__UNIWARE__* variables;
- library: benchmarks/library_user.py, a plain script that runs
  `dlt.pipeline(destination="duckdb").run(uniware_source(job_codes=[...]))`, nothing else set.
The reference is DuckDB loading the same downloaded file with `read_csv(..., sample_size=-1)` into
a table of a new database file, also a fresh Python process.

Every figure is the whole process: wall time from start to exit (Python's start and imports
included), CPU time and peak RSS (`wait4`'s ru_maxrss), taken by a small launcher process that
starts it (see LAUNCHER: started from this large parent, a child's ru_maxrss would start at the
parent's peak). The machine's speed drifts by
20-30 % over a minute, so each of ours runs right after a reference run of the same file
(alternating pairs), `--repeat` times (3) at the largest size up to 1M rows, once at the
others (a smaller size only shows the scaling); the table gives
the median time of each and the highest peak RSS seen. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

USERNAME, PASSWORD = "bench", "bench-password"
FILES = ("default", "messy", "wide")
DEFAULT_FILES = ("default", "messy")  # wide is asked for by name: 1 GB of CSV per million rows
WAYS = ("cli", "library")
PIPELINE, DATASET = "bench", "uniware_data"
# the environment a child starts from: the parent's, less anything that would configure it (the
# parent imported uniware_source, which put its allocator defaults into os.environ)
_CONFIGURING = ("SOURCES__", "DESTINATION__", "RUNTIME__", "NORMALIZE__", "LOAD__", "DATA_WRITER__")
_ALLOCATOR = ("_RJEM_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL", "MIMALLOC_PURGE_DELAY")

REFERENCE = """
import sys, duckdb
with duckdb.connect(sys.argv[2]) as db:
    db.execute("CREATE TABLE sale_orders AS SELECT * FROM read_csv(?, sample_size=-1)", [sys.argv[1]])
"""


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # user + system, all threads: less sensitive to a busy machine than wall time
    rows: int


@dataclass
class Result:
    rows: int
    file: str
    way: str
    size_mb: float
    ours: list[Run]
    reference: list[Run]

    def seconds(self, side: str) -> float:
        return statistics.median(r.seconds for r in getattr(self, side))

    def cpu(self, side: str) -> float:
        return statistics.median(r.cpu_seconds for r in getattr(self, side))

    def peak_mb(self, side: str) -> float:
        return max(r.peak_rss_mb for r in getattr(self, side))

    @property
    def ratio(self) -> float:
        return self.seconds("ours") / self.seconds("reference")


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CONFIGURING) and k not in _ALLOCATOR}
    env.update(extra)
    return env


# Runs the measured command as its own child and reports that child's wait4 figures. A process
# started from this (large) parent would inherit the parent's peak RSS in its own ru_maxrss: Linux
# records the old address space's high-water mark at exec, and this parent holds the emulator
# and the messy file's bytes. Started from this small launcher, the command starts small.
LAUNCHER = """
import json, os, sys, time
result, command = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(command[0], command)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(result, "w") as out:
    json.dump([os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss / 1024,
               usage.ru_utime + usage.ru_stime], out)
"""


def spawn(command: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Run `command` to its end: (wall seconds, peak RSS MB, CPU seconds), as measured by a small
    launcher process (see LAUNCHER). Raises SystemExit if it fails."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile(suffix=".json") as result:
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, result.name, *command],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            check=False,
        )
        code, seconds, peak, cpu = json.loads(Path(result.name).read_text() or "[1, 0, 0, 0]")
        if code != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-3000:]
            raise SystemExit(f"{command[1]} exited {code}:\n{tail}")
    return seconds, peak, cpu


def count_rows(database: Path, table: str) -> int:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as db:
        (rows,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[misc]
    return int(rows)


def run_reference(csv_path: Path, work: Path) -> Run:
    database = work / "reference.duckdb"
    seconds, peak, cpu = spawn(
        [sys.executable, "-c", REFERENCE, str(csv_path), str(database)], work, child_env()
    )
    return Run(seconds, peak, cpu, count_rows(database, "sale_orders"))


def run_ours(way: str, base_url: str, job_code: str, work: Path) -> Run:
    if way == "cli":
        command = [
            sys.executable,
            str(ROOT / "pipelines" / "run.py"),
            "--job-code",
            job_code,
            "--pipeline-name",
            PIPELINE,
            "--dataset",
            DATASET,
        ]
        env = child_env(
            DLT_DATA_DIR=str(work / ".dlt-data"),
            SOURCES__UNIWARE__BASE_URL=base_url,
            SOURCES__UNIWARE__CREDENTIALS__USERNAME=USERNAME,
            SOURCES__UNIWARE__CREDENTIALS__PASSWORD=PASSWORD,
            SOURCES__UNIWARE__POLL_INTERVAL="0.1",
            SOURCES__UNIWARE__MAX_POLL_INTERVAL="0.5",
        )
    else:
        script = str(ROOT / "benchmarks" / "library_user.py")
        command = [sys.executable, script, base_url, USERNAME, PASSWORD, str(work), job_code]
        env = child_env(DLT_DATA_DIR=str(work / ".dlt-data"))
    seconds, peak, cpu = spawn(command, work, env)
    return Run(seconds, peak, cpu, count_rows(work / f"{PIPELINE}.duckdb", f"{DATASET}.sale_orders"))


def download(base_url: str, job_code: str, dest: Path) -> None:
    import requests

    token = requests.get(
        f"{base_url}/oauth/token",
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
            f"{base_url}/services/rest/v1/export/job/status",
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


def job_factory(emu: Any, file: str, rows: int, cache_dir: Path) -> Callable[[], str]:
    """A function that adds a new job serving the file, and returns its code once the emulator
    has the file ready (so that building it never runs beside a measured process)."""
    from uniware_source.emulator import JobSpec

    if file == "default":

        def spec() -> JobSpec:
            return JobSpec(rows=rows, seed=11)

    else:
        from messy_file import messy_file
        from wide_sale_orders import cached_wide_csv

        path = messy_file(cache_dir, rows) if file == "messy" else cached_wide_csv(cache_dir / "wide", rows)
        content = path.read_bytes()

        def spec() -> JobSpec:
            return JobSpec(rows=rows, content=content)

    def add() -> str:
        code = emu.add_job(spec())
        emu.jobs[code].file_ready.wait()
        return str(code)

    return add


def measure(
    sizes: Sequence[int],
    cache_dir: Path,
    repeat: int = 3,
    files: Sequence[str] = DEFAULT_FILES,
    ways: Sequence[str] = WAYS,
    report: Callable[[str], None] = print,
) -> list[Result]:
    """Every (size, file, way): `repeat` alternating pairs of a reference run and ours at the
    largest size up to 1M rows, one pair at the others; each run printed as it ends."""
    from uniware_source.emulator import Emulator

    repeated = max((rows for rows in sizes if rows <= 1_000_000), default=0)
    results: list[Result] = []
    with Emulator(username=USERNAME, password=PASSWORD, default_job_delay=0.2, cache_dir=cache_dir) as emu:
        for rows in sizes:
            for file in files:
                report(f"preparing the {rows:,}-row {file} file ...")
                add_job = job_factory(emu, file, rows, cache_dir)
                with tempfile.TemporaryDirectory(prefix="uniware-bench-") as tmp:
                    work = Path(tmp)
                    csv_path = work / "export.csv"
                    download(emu.base_url, add_job(), csv_path)
                    size_mb = csv_path.stat().st_size / 1e6
                    mine = {way: Result(rows, file, way, size_mb, [], []) for way in ways}
                    for run in range(repeat if rows == repeated else 1):
                        for way in ways:
                            result = mine[way]
                            result.reference.append(_in_fresh(work / "ref", run_reference, csv_path))
                            code = add_job()
                            result.ours.append(_in_fresh(work / way, run_ours, way, emu.base_url, code))
                            ref, ours = result.reference[-1], result.ours[-1]
                            flag = (
                                "" if ours.rows == ref.rows else f"  ROWS DIFFER: {ours.rows} vs {ref.rows}"
                            )
                            report(
                                f"  {rows:,} {file} {way} run {run + 1}: ours {ours.seconds:.2f} s "
                                f"(cpu {ours.cpu_seconds:.1f} s) {ours.peak_rss_mb:.0f} MB; duckdb "
                                f"{ref.seconds:.2f} s (cpu {ref.cpu_seconds:.1f} s) "
                                f"{ref.peak_rss_mb:.0f} MB{flag}"
                            )
                    results.extend(mine.values())
    return results


def _in_fresh(work: Path, fn: Callable[..., Run], *args: Any) -> Run:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return fn(*args, work)


def table(results: Sequence[Result]) -> str:
    """The results side by side, one line per (size, file, way)."""
    lines = [
        f"{'rows':>10} {'file':<8} {'way in':<8} {'CSV MB':>7} | {'ours s':>7} {'duckdb s':>8} "
        f"{'ratio':>6} | {'cpu ratio':>9} | {'ours MB':>8} {'duckdb MB':>9} | rows loaded",
    ]
    for r in results:
        rows_loaded = statistics.median(run.rows for run in r.ours)
        lines.append(
            f"{r.rows:>10,} {r.file:<8} {r.way:<8} {r.size_mb:>7.0f} | {r.seconds('ours'):>7.2f} "
            f"{r.seconds('reference'):>8.2f} {r.ratio:>5.2f}x | "
            f"{r.cpu('ours') / r.cpu('reference'):>8.2f}x | "
            f"{r.peak_mb('ours'):>8.0f} "
            f"{r.peak_mb('reference'):>9.0f} | {int(rows_loaded):,}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="alternating pairs per size up to 1M rows")
    parser.add_argument("--files", nargs="+", choices=FILES, default=list(DEFAULT_FILES))
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--cache-dir", default=str(ROOT / ".emulator-cache"), help="where files are kept")
    args = parser.parse_args()
    results = measure(args.rows, Path(args.cache_dir), args.repeat, args.files, args.ways)
    print()
    print(table(results))
    print(
        f"\nmachine: {os.cpu_count()} cores; whole processes (start to exit), medians of alternating "
        "pairs; ours = status + download + typing + dlt load into DuckDB; "
        "duckdb = read_csv(sample_size=-1) of the downloaded file into a table"
    )


if __name__ == "__main__":
    main()
