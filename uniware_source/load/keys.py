"""Hashes of the merge keys a run loads, to tell whether any key repeats within the load.

polars, pyarrow and DuckDB are imported when first needed: a run with nothing new to load never
needs them.

A job typed in one pass (typed_csv/onepass.py) hashes its keys as it writes its rows, on its own
thread, into a file of hashes (KeyHashes) that the tracker then takes as it is (`adopt`): the run
does not read the keys back from the typed file after the download, on its one main thread.
"""

from __future__ import annotations

import os
import shutil
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from uniware_source.load.scratch import scratch_dir

if TYPE_CHECKING:
    import pyarrow as pa


def key_hashes(keys: pa.Table) -> pa.Array:
    """One 64-bit hash per row of the key columns `keys`, the same for the same values wherever
    they come from (text as strings or string views alike)."""
    import polars as pl

    frame = pl.from_arrow(keys)
    assert isinstance(frame, pl.DataFrame)
    hashed = frame.to_series().hash() if frame.width == 1 else frame.hash_rows()
    return hashed.to_arrow()


class KeyHashes:
    """A file of the key hashes of rows as they are written (8 bytes a row, nothing held): a part
    KeyTracker.add writes, or one the one pass writes for KeyTracker.adopt."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        self._writer = pq.ParquetWriter(path, pa.schema([("h", pa.uint64())]))

    def write(self, keys: pa.Table) -> None:
        import pyarrow as pa

        self._writer.write_table(pa.table([key_hashes(keys)], schema=self._writer.schema))

    def close(self, complete: bool = True) -> None:
        self._writer.close()
        if not complete:
            self.path.unlink(missing_ok=True)


# The count runs once every file of the run is typed and before dlt's load, while the process does
# nothing else: two threads take half the time of one within the same 64 MB (1M hashes 0.18 s
# against 0.32 s, 5M 0.43-0.52 s against 0.85 s, the process at 150-160 MB either way); more
# threads would each want their share of the limit
COUNT_THREADS = min(2, os.cpu_count() or 1)


class KeyTracker:
    """Hashes of the keys yielded per table in one run of the source (shared by its resources).

    They go to parquet files on disk (8 bytes a row), not memory, and DuckDB checks them for
    repeats out of core under a small memory limit: memory stays flat whatever the load's size.
    """

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._writers: dict[str, KeyHashes] = {}
        self._parts: dict[str, list[Path]] = {}

    def add(self, table: str, keys: pa.Table) -> None:
        writer = self._writers.get(table)
        if writer is None:
            writer = self._writers[table] = KeyHashes(self._part_path(table))
            self._parts.setdefault(table, []).append(writer.path)
        writer.write(keys)

    def adopt(self, table: str, hashes: Path) -> None:
        """Take a closed file of key hashes (KeyHashes) of rows that `table` loads, moving it. A
        move that fails (a full disk, across filesystems) leaves no part behind: the job fails,
        and the table's other parts are still checked."""
        part = self._part_path(table)
        try:
            shutil.move(hashes, part)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        self._parts.setdefault(table, []).append(part)

    def _part_path(self, table: str) -> Path:
        """A new part's path (taken once it holds hashes: the count of parts names the next)."""
        if self._directory is None:
            self._directory = scratch_dir("keys")
            weakref.finalize(self, shutil.rmtree, self._directory, ignore_errors=True)
        return self._directory / f"{len(self._parts.get(table, []))}-{abs(hash(table))}.parquet"

    def repeats(self, table: str) -> bool:
        """Whether any key hash of `table` occurs twice (a 64-bit collision only costs a dedup)."""
        return self.repeated(table) > 0

    def repeated(self, table: str) -> int:
        """The rows of `table` whose key hash an earlier row of this load has: the rows a merge
        leaves out, one row per key being kept."""
        writer = self._writers.pop(table, None)
        if writer is not None:
            writer.close()  # a later batch of the same table starts a new part
        parts = self._parts.get(table)
        if not parts or self._directory is None:
            return 0
        import duckdb

        files = ", ".join(f"'{part}'" for part in parts)
        with duckdb.connect() as db:
            db.execute(f"SET temp_directory = '{self._directory}'")
            db.execute("SET memory_limit = '64MB'")
            db.execute(f"SET threads = {COUNT_THREADS}")
            counted = db.execute(
                f"SELECT count(*), count(DISTINCT h) FROM read_parquet([{files}])"
            ).fetchone()
        assert counted is not None
        return int(counted[0] - counted[1])
