"""A Sale Orders export into a Delta table on the local filesystem, partitioned by IST day.

    python benchmarks/bench_delta.py                 # 1M rows, then a 100k-row merge
    python benchmarks/bench_delta.py --rows 200000

Prints the seconds of dlt's extract (download and typing), normalize and load, rows/s of
normalize + load and of the whole run, and the process's peak RSS. The emulator runs in this
process, as in target 4 of bench_targets.py. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_end_to_end import PASSWORD, USERNAME  # noqa: E402


def load(pipeline, emu, rows: int, seed: int, work: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from uniware_source import UniwareCredentials, uniware_source
    from uniware_source.emulator import JobSpec

    source = uniware_source(
        job_codes=[emu.add_job(JobSpec(rows=rows, seed=seed))],
        base_url=emu.base_url,
        credentials=UniwareCredentials(username=USERNAME, password=PASSWORD),
        poll_interval=0.1,
        max_poll_interval=0.5,
        download_dir=str(work),
    )
    started = time.perf_counter()
    pipeline.extract(source, table_format="delta")
    extracted = time.perf_counter()
    pipeline.normalize()
    normalized = time.perf_counter()
    pipeline.load()
    finished = time.perf_counter()
    return {
        "extract_s": extracted - started,
        "normalize_s": normalized - extracted,
        "load_s": finished - normalized,
        "rows_per_s": rows / (finished - extracted),
        "end_to_end_rows_per_s": rows / (finished - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--merge-rows", type=int, default=100_000)
    parser.add_argument("--cache-dir", default=str(ROOT / ".emulator-cache"))
    args = parser.parse_args()

    import dlt
    from deltalake import DeltaTable

    from uniware_source.emulator import Emulator

    work = Path(tempfile.mkdtemp(prefix="uniware-delta-"))
    (work / "downloads").mkdir()
    try:
        pipeline = dlt.pipeline(
            pipeline_name="bench_delta",
            destination=dlt.destinations.filesystem(bucket_url=str(work / "lake")),
            dataset_name="uniware",
            pipelines_dir=str(work / "pipelines"),
        )
        with Emulator(
            username=USERNAME, password=PASSWORD, default_job_delay=0.2, cache_dir=Path(args.cache_dir)
        ) as emu:
            for label, rows, seed in (("first load", args.rows, 11), ("merge", args.merge_rows, 12)):
                run = load(pipeline, emu, rows, seed, work / "downloads")
                print(
                    f"{label}: {rows:,} rows, extract {run['extract_s']:.1f} s, normalize "
                    f"{run['normalize_s']:.1f} s, load {run['load_s']:.1f} s: "
                    f"{run['rows_per_s'] / 1000:.0f}k rows/s normalize + load, "
                    f"{run['end_to_end_rows_per_s'] / 1000:.0f}k rows/s end to end",
                    flush=True,
                )
        table = DeltaTable(str(work / "lake" / "uniware" / "sale_orders"))
        files = table.file_uris()
        print(
            f"table: {table.to_pyarrow_dataset().count_rows():,} rows in {len(files)} files, partitioned by "
            f"{table.metadata().partition_columns}"
        )
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
