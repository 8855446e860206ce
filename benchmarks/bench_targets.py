"""The six speed targets of the connector, each next to its reference, in one table.

    python benchmarks/bench_targets.py                  # 100k and 1M rows (about 12 minutes)
    python benchmarks/bench_targets.py --full           # adds 5M rows (~1.6 GB of CSV per file)
    python benchmarks/bench_targets.py --rows 200000    # other sizes for targets 1-3

Targets; every figure is measured in this run, on this machine:
1. end to end (status → download → typing → DuckDB) at 1M rows ≤ 1.5× DuckDB's own
   `read_csv(..., sample_size=-1)` of the same downloaded file, for both files (the emulator's
   default export, and benchmarks/messy_file.py's) and both ways in (pipelines/run.py, and a
   plain library script: benchmarks/library_user.py), whole processes (bench_end_to_end.py);
2. peak RSS ≤ 600 MB at 1M rows, each file and way in, and no growth at 5M rows;
3. time and memory grow linearly with rows (100k, 1M, 5M; one run each but at 1M);
4. PostgreSQL (127.0.0.1:5432, database `test`; BENCH_POSTGRES_DSN overrides) takes ≥ 150k rows/s
   at 1M rows, dlt's normalize and load counted together: our typed parquet files go in as they
   are, through ADBC (adbc-driver-postgresql), next to dlt's csv path (normalize rewrites the
   files as csv, then COPY) as the reference, alternating `--pg-repeat` times, medians; each in
   a scratch dataset that is dropped afterwards;
5. 100 small jobs in flight together: wall time minus the server-side job time < 5 s, and no more
   status requests than `Backoff.max_polls` promises;
6. a run with nothing new to load (`pipelines/run.py` as a user runs it) < 3 s, Python's start
   included.
Each contender runs in a fresh process. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_end_to_end import PASSWORD, USERNAME, Result, measure, table  # noqa: E402

PG_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres:trust@127.0.0.1:5432/test")
JOBS, JOB_DELAY, JOB_ROWS = 100, 5.0, 200
JOBS_POLL = (0.5, 2.0)  # poll_interval, max_poll_interval of target 5


class ServerCpu:
    """The CPU time PostgreSQL's backends spend for the connections named `application_name`
    (PostgreSQL runs on this machine: read from /proc), sampled every 50 ms by a child process (a
    thread of ours would wait for the GIL while the copy holds it): a busy machine stretches wall
    times, CPU seconds much less."""

    def __init__(self, application_name: str) -> None:
        self.name = application_name
        self.seconds = 0.0
        self._child: Any = None

    def __enter__(self) -> ServerCpu:
        self._child = subprocess.Popen(
            [sys.executable, "-c", _PG_CPU_CHILD, self.name, PG_DSN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._child.stdout.readline()  # "ready": sampling
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self._child.communicate("")
        self.seconds = float(out.strip().splitlines()[-1])


# the sampling child: a few imports only, so that it samples from its first second on
_PG_CPU_CHILD = """
import os, select, sys
from pathlib import Path
import psycopg2
name, dsn, seen = sys.argv[1], sys.argv[2], {}
tick = os.sysconf("SC_CLK_TCK")
with psycopg2.connect(dsn) as conn:
    conn.autocommit = True
    with conn.cursor() as cur:
        print("ready", flush=True)
        while not select.select([sys.stdin], [], [], 0.05)[0]:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            pids = cur.fetchall()
            conn.commit()  # a transaction sees one snapshot of pg_stat_activity: end it each time
            for (pid,) in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:  # ended, or PostgreSQL is not on this machine
                    continue
                seen[pid] = (int(fields[11]) + int(fields[12])) / tick
print(sum(seen.values()))
"""


def target_postgres(emu: Any, rows: int, work: Path, file_format: str | None) -> dict[str, float]:
    """Load one export into PostgreSQL: rows/s of dlt's normalize + load (extract, which downloads
    and types the file, is the same for both paths and not counted). `file_format` None is the
    connector's own choice (parquet through ADBC when the driver is installed); "csv" is dlt's
    csv path, normalize rewriting our parquet files as csv for COPY."""
    work.mkdir(parents=True, exist_ok=True)
    import dlt

    from uniware_source import UniwareCredentials, uniware_source
    from uniware_source.emulator import JobSpec

    dataset = f"bench_pg_{os.getpid()}_{file_format or 'default'}"
    os.environ["PGAPPNAME"] = dataset  # libpq's: names both dlt's and ADBC's connections
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_pg_{file_format or 'default'}",
        destination=dlt.destinations.postgres(PG_DSN),
        dataset_name=dataset,
        pipelines_dir=str(work / "pipelines"),
    )
    source = uniware_source(
        job_codes=[emu.add_job(JobSpec(rows=rows, seed=11))],
        base_url=emu.base_url,
        credentials=UniwareCredentials(username=USERNAME, password=PASSWORD),
        poll_interval=0.1,
        max_poll_interval=0.5,
        download_dir=str(work),
    )
    try:
        pipeline.extract(source, loader_file_format=file_format)  # type: ignore[arg-type]
        extracted, cpu_before = time.perf_counter(), time.process_time()
        with ServerCpu(dataset) as server:
            pipeline.normalize()
            normalized = time.perf_counter()
            info = pipeline.load()
            finished = time.perf_counter()
        client_cpu = time.process_time() - cpu_before
        formats = {
            job.job_file_info.file_format
            for package in info.load_packages
            for job in package.jobs["completed_jobs"]
            if job.job_file_info.table_name == "sale_orders"
        }
        with pipeline.sql_client() as client:
            (loaded,) = client.execute_sql(f"SELECT count(*) FROM {dataset}.sale_orders")[0]
    finally:
        import psycopg2

        with psycopg2.connect(PG_DSN) as conn, conn.cursor() as cur:
            for schema in (dataset, f"{dataset}_staging"):
                cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        shutil.rmtree(work, ignore_errors=True)
    return {
        "rows": float(loaded),
        "format": ",".join(sorted(formats)),  # type: ignore[dict-item]
        "normalize_s": normalized - extracted,
        "load_s": finished - normalized,
        "rows_per_s": loaded / (finished - extracted),
        "client_cpu_s": client_cpu,
        "server_cpu_s": server.seconds,
        "cpu_rows_per_s": loaded / (client_cpu + server.seconds),
    }


def postgres_paths(emu: Any, rows: int, work: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Both paths, alternating, `repeat` times each: the median run of each by rows/s (of an even
    number of runs, the upper of the middle two)."""
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "csv": []}
    for attempt in range(repeat):
        for name, file_format in (("ours", None), ("csv", "csv")):
            run = target_postgres(emu, rows, work / f"pg-{name}-{attempt}", file_format)
            print(
                f"  {name}: {run['format']} normalize {run['normalize_s']:.1f} s, "
                f"load {run['load_s']:.1f} s, {run['rows_per_s'] / 1000:.0f}k rows/s; CPU: ours "
                f"{run['client_cpu_s']:.1f} s + PostgreSQL {run['server_cpu_s']:.1f} s, "
                f"{run['cpu_rows_per_s'] / 1000:.0f}k rows per CPU second",
                flush=True,
            )
            runs[name].append(run)
    return {name: sorted(r, key=lambda run: run["rows_per_s"])[len(r) // 2] for name, r in runs.items()}


def target_jobs(work: Path) -> dict[str, float]:
    """100 small jobs that each take JOB_DELAY s on the server, loaded by one run.

    The run happens in a child process, as with target 1: a real tenant is another machine, and
    an emulator answering in the same process would bill its own work to the run's GIL."""
    work.mkdir(parents=True, exist_ok=True)
    from uniware_source.emulator import Emulator, JobSpec
    from uniware_source.jobs import Backoff

    with Emulator(username=USERNAME, password=PASSWORD, default_job_delay=JOB_DELAY) as emu:
        codes = [emu.add_job(JobSpec(rows=JOB_ROWS, seed=i)) for i in range(JOBS)]
        child = subprocess.run(
            [sys.executable, __file__, "--jobs-child", emu.base_url, str(work), *codes],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if child.returncode != 0:
            raise SystemExit(f"target 5 child failed:\n{child.stderr[-3000:]}")
        wall = float(child.stdout.strip().splitlines()[-1])
        status_calls = sum(1 for r in emu.requests if r.path.endswith("/export/job/status"))
    bound = JOBS * Backoff(initial=JOBS_POLL[0], cap=JOBS_POLL[1]).max_polls(JOB_DELAY)
    return {"wall_s": wall, "overhead_s": wall - JOB_DELAY, "status_calls": status_calls, "bound": bound}


def _jobs_child(base_url: str, work: Path, codes: list[str]) -> None:
    import dlt

    from uniware_source import UniwareCredentials, uniware_source

    pipeline = dlt.pipeline(
        pipeline_name="bench_jobs",
        destination=dlt.destinations.duckdb(str(work / "jobs.duckdb")),
        dataset_name="uniware",
        pipelines_dir=str(work / "pipelines"),
    )
    source = uniware_source(
        job_codes=codes,
        base_url=base_url,
        credentials=UniwareCredentials(username=USERNAME, password=PASSWORD),
        poll_interval=JOBS_POLL[0],
        max_poll_interval=JOBS_POLL[1],
        max_workers=8,
        download_dir=str(work),
    )
    started = time.perf_counter()
    pipeline.run(source)
    print(time.perf_counter() - started)


def target_nothing_new(work: Path) -> dict[str, float]:
    """`pipelines/run.py` twice on the same jobs: the second run finds nothing new."""
    work.mkdir(parents=True, exist_ok=True)
    from uniware_source.emulator import Emulator, JobSpec

    with Emulator(username=USERNAME, password=PASSWORD, default_job_delay=0.1) as emu:
        codes = [emu.add_job(JobSpec(rows=1000, seed=i)) for i in range(3)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
        env.update(
            DLT_DATA_DIR=str(work / ".dlt-data"),
            SOURCES__UNIWARE__BASE_URL=emu.base_url,
            SOURCES__UNIWARE__CREDENTIALS__USERNAME=USERNAME,
            SOURCES__UNIWARE__CREDENTIALS__PASSWORD=PASSWORD,
            SOURCES__UNIWARE__POLL_INTERVAL="0.05",
            SOURCES__UNIWARE__MAX_POLL_INTERVAL="0.3",
            SOURCES__UNIWARE__JOB_CODES="[" + ", ".join(f'"{c}"' for c in codes) + "]",
        )
        command = [sys.executable, str(ROOT / "pipelines" / "run.py")]
        first = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
        if first.returncode != 0:
            raise SystemExit(f"pipelines/run.py failed:\n{first.stderr[-2000:]}")
        started = time.perf_counter()
        again = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if again.returncode != 0:
            raise SystemExit(f"pipelines/run.py failed on the second run:\n{again.stderr[-2000:]}")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python_start = time.perf_counter() - started
    return {"seconds": seconds, "python_start_s": python_start}


def _row(target: str, ours: str, reference: str, verdict: str) -> str:
    return f"| {target} | {ours} | {reference} | {verdict} |"


def _print_postgres(pg: dict[str, dict[str, float]]) -> None:
    ours, csv = pg["ours"], pg["csv"]
    rps = ours["rows_per_s"]
    print(
        _row(
            "4. PostgreSQL, normalize + load, 1M rows (≥ 150k rows/s)",
            f"{rps / 1000:.0f}k rows/s ({ours['format']}: {ours['rows']:,.0f} rows, normalize "
            f"{ours['normalize_s']:.1f} s + load {ours['load_s']:.1f} s)",
            f"{csv['rows_per_s'] / 1000:.0f}k rows/s (dlt's csv: normalize {csv['normalize_s']:.1f} s + "
            f"COPY {csv['load_s']:.1f} s)",
            f"{rps / csv['rows_per_s']:.2f}× the csv path; {'ok' if rps >= 1.5e5 else 'MISSED'}",
        )
    )
    print(
        _row(
            "4. the same in CPU seconds (ours + PostgreSQL's backends)",
            f"{ours['cpu_rows_per_s'] / 1000:.0f}k rows per CPU s ({ours['client_cpu_s']:.1f} + "
            f"{ours['server_cpu_s']:.1f} s)",
            f"{csv['cpu_rows_per_s'] / 1000:.0f}k rows per CPU s ({csv['client_cpu_s']:.1f} + "
            f"{csv['server_cpu_s']:.1f} s)",
            f"{ours['cpu_rows_per_s'] / csv['cpu_rows_per_s']:.2f}×",
        )
    )


def end_to_end_rows(results: list[Result]) -> list[str]:
    """Targets 1-3 as rows of the table: time and memory at 1M rows per file and way in, memory
    at 5M against 1M, and the time per row from the smallest size to the largest."""
    at = {(r.rows, r.file, r.way): r for r in results}
    lines = []
    for (rows, file, way), r in at.items():
        if rows != 1_000_000:
            continue
        name, ratio, mb = f"{file} file, {way}", r.ratio, r.peak_mb("ours")
        lines.append(
            _row(
                f"1. end to end, 1M rows, {name} (≤ 1.5× DuckDB)",
                f"{r.seconds('ours'):.1f} s (cpu {r.cpu('ours'):.1f} s)",
                f"{r.seconds('reference'):.1f} s (cpu {r.cpu('reference'):.1f} s)",
                f"{ratio:.2f}× {'ok' if ratio <= 1.5 else 'MISSED'} "
                f"(cpu {r.cpu('ours') / r.cpu('reference'):.2f}×)",
            )
        )
        lines.append(
            _row(
                f"2. peak RSS, 1M rows, {name} (≤ 600 MB)",
                f"{mb:.0f} MB",
                f"{r.peak_mb('reference'):.0f} MB (DuckDB)",
                f"{mb / 600:.2f}× of 600 MB {'ok' if mb <= 600 else 'MISSED'}",
            )
        )
    for (rows, file, way), big in at.items():
        small = at.get((1_000_000, file, way))
        if rows != 5_000_000 or small is None:
            continue
        grow = big.peak_mb("ours") / small.peak_mb("ours")
        lines.append(
            _row(
                f"2. peak RSS, 5M vs 1M rows, {file} file, {way} (no growth)",
                f"{big.peak_mb('ours'):.0f} MB",
                f"{small.peak_mb('ours'):.0f} MB at 1M",
                f"{grow:.2f}× {'ok' if grow <= 1.1 else 'MISSED'}",
            )
        )
    sizes = sorted({rows for rows, _, _ in at})
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        for (rows, file, way), r in at.items():
            if rows != lo or (hi, file, way) not in at:
                continue
            per_lo, per_hi = r.seconds("ours") / lo * 1e6, at[(hi, file, way)].seconds("ours") / hi * 1e6
            lines.append(
                _row(
                    f"3. scaling, s per 1M rows at {lo:,} → {hi:,}, {file} file, {way}",
                    f"{per_lo:.1f} → {per_hi:.1f} s",
                    "linear: the same s per row",
                    f"{per_hi / per_lo:.2f}× {'ok' if per_hi <= per_lo * 1.25 else 'MISSED'}",
                )
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--full", action="store_true", help="also 5M rows (targets 2 and 3)")
    parser.add_argument("--pg-rows", type=int, default=1_000_000)
    parser.add_argument("--pg-repeat", type=int, default=3, help="alternating runs of each PostgreSQL path")
    parser.add_argument("--only-postgres", action="store_true", help="target 4 alone")
    parser.add_argument("--repeat", type=int, default=3, help="pairs at the largest size ≤ 1M rows")
    parser.add_argument("--cache-dir", default=str(ROOT / ".emulator-cache"))
    args = parser.parse_args()
    sizes = sorted(set(args.rows + ([5_000_000] if args.full else [])))

    from uniware_source.emulator import Emulator

    results: list[Result] = []
    if not args.only_postgres:
        print(f"targets 1-3: {', '.join(f'{n:,}' for n in sizes)} rows ...", flush=True)
        results = measure(sizes, Path(args.cache_dir), args.repeat)
    work = Path(tempfile.mkdtemp(prefix="uniware-bench-"))
    try:
        print(f"target 4: PostgreSQL, {args.pg_rows:,} rows ...", flush=True)
        with Emulator(
            username=USERNAME, password=PASSWORD, default_job_delay=0.2, cache_dir=Path(args.cache_dir)
        ) as emu:
            pg = postgres_paths(emu, args.pg_rows, work / "pg", args.pg_repeat)
        if args.only_postgres:
            _print_postgres(pg)
            return
        print(f"target 5: {JOBS} jobs of {JOB_DELAY:g} s ...", flush=True)
        jobs = target_jobs(work / "jobs")
        print("target 6: nothing new ...", flush=True)
        nothing = target_nothing_new(work / "nothing")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("\n| target | ours | reference | ratio / verdict |\n| --- | --- | --- | --- |")
    for line in end_to_end_rows(results):
        print(line)
    _print_postgres(pg)
    print(
        _row(
            f"5. {JOBS} jobs in flight: overhead (< 5 s)",
            f"{jobs['overhead_s']:.1f} s (wall {jobs['wall_s']:.1f} s)",
            f"{JOB_DELAY:g} s server-side",
            f"{'ok' if jobs['overhead_s'] < 5 else 'MISSED'}",
        )
    )
    print(
        _row(
            f"5. {JOBS} jobs: status requests (≤ max_polls bound)",
            f"{jobs['status_calls']:.0f}",
            f"{jobs['bound']:.0f}",
            f"{jobs['status_calls'] / jobs['bound']:.2f}× "
            f"{'ok' if jobs['status_calls'] <= jobs['bound'] else 'MISSED'}",
        )
    )
    print(
        _row(
            "6. nothing new, process wall time (< 3 s)",
            f"{nothing['seconds']:.2f} s",
            f"3 s (bare Python start {nothing['python_start_s']:.2f} s)",
            f"{nothing['seconds'] / 3:.2f}× {'ok' if nothing['seconds'] < 3 else 'MISSED'}",
        )
    )
    print("\ntargets 1-3, every size, file and way in (whole processes; medians at 1M rows):")
    print(table(results))
    print(f"\nmachine: {os.cpu_count()} cores")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--jobs-child":
        _jobs_child(sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
    else:
        main()
