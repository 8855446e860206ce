"""Hashes of the merge keys a run loads, to tell whether any key repeats within the load.

polars, pyarrow and DuckDB are imported when first needed: a run with nothing new to load never
needs them.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq


class KeyTracker:
    """Hashes of the keys yielded per table in one run of the source (shared by its resources).

    They go to parquet files on disk (8 bytes a row), not memory, and DuckDB checks them for
    repeats out of core under a small memory limit: memory stays flat whatever the load's size.
    """

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._parts: dict[str, list[Path]] = {}

    def add(self, table: str, keys: pa.Table) -> None:
        import polars as pl
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = pl.from_arrow(keys)
        assert isinstance(frame, pl.DataFrame)
        hashed = frame.to_series().hash() if frame.width == 1 else frame.hash_rows()
        writer = self._writers.get(table)
        if writer is None:
            if self._directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix="uniware-keys-"))
                weakref.finalize(self, shutil.rmtree, self._directory, ignore_errors=True)
            part = self._directory / f"{len(self._parts.get(table, []))}-{abs(hash(table))}.parquet"
            self._parts.setdefault(table, []).append(part)
            schema = pa.schema([("h", pa.uint64())])
            writer = self._writers[table] = pq.ParquetWriter(part, schema)
        writer.write_table(pa.table([hashed.to_arrow()], schema=writer.schema))

    def repeats(self, table: str) -> bool:
        """Whether any key hash of `table` occurs twice (a 64-bit collision only costs a dedup)."""
        writer = self._writers.pop(table, None)
        if writer is not None:
            writer.close()  # a later batch of the same table starts a new part
        parts = self._parts.get(table)
        if not parts or self._directory is None:
            return False
        import duckdb

        files = ", ".join(f"'{part}'" for part in parts)
        with duckdb.connect() as db:
            db.execute(f"SET temp_directory = '{self._directory}'")
            db.execute("SET memory_limit = '64MB'")
            db.execute("SET threads = 1")
            counted = db.execute(
                f"SELECT count(*), count(DISTINCT h) FROM read_parquet([{files}])"
            ).fetchone()
        assert counted is not None
        return bool(counted[0] != counted[1])
