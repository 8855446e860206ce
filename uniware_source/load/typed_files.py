"""Typed rows on disk: the parquet files that dlt imports as they are.

pyarrow writes each file with exactly the table's Arrow schema (key columns non-null, as dlt
declares them), so dlt's normalizer passes it on without rewriting it. No dictionary encoding
(for these files it doubled the time of the write and saved nothing at the destination), no
statistics (the file is read once, whole, by the load) and no stored Arrow schema: the text is
written from polars' string views and read back, by dlt and by a destination, as plain strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from uniware_source.typed_csv.chunks import prefetched

# a job of at most this many bytes of typed rows (held in memory until then) joins the table's
# shared file: a budget of bytes, not rows, so that a wide table holds as little as a narrow one
# (about 50,000 rows at 29 columns, 15,000 at 139); the shared file is imported at this many rows
SMALL_JOB_BYTES = 24 << 20
SHARED_FILE_ROWS = 1_000_000
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "snappy",
    "use_dictionary": False,
    "write_statistics": False,
    "store_schema": False,
}


# DuckDB inserts a parquet file whose row groups hold exactly its own row groups' rows straight
# into row groups of its own, on every thread, even while it keeps insertion order (its default,
# which a library user has): at 1M rows of 29 columns, 1.7 s and 322 MB, against 2.6 s and 686 MB
# for row groups of one chunk each (38,383 rows), and 3.0 s and 579 MB for half its size. A row
# group is held in memory until it is whole, which costs little up to ROW_GROUP_COLUMNS. A wider
# table's row groups stay one batch each where DuckDB's memory is bounded (the command's 250 MB):
# its parquet reader holds a whole row group of every column per thread, and 49,000-row groups of
# 80 columns ran a one-thread insert out of its 250 MB. With DuckDB's defaults (no memory limit,
# insertion order kept: `whole_groups`), every width gets whole row groups: at 300k rows of 139
# columns, DuckDB inserted them in 4.2-4.7 s at a peak of 725-738 MB, against 7.3-7.6 s and
# 974-1,022 MB for one batch each; our side then holds a row group until it is whole (192 MB of
# Arrow there as plain strings, as the string views of the typed chunks about 290 MB more at the
# typing's peak), below DuckDB's own peak.
# Those row counts assume rows of the usual size. A row group of long rows (a few columns of 2 kB
# text, one multi-line field of 7 kB) held 250-600 MB: our side peaked at 707-956 MB, and the
# command's DuckDB, reading such a group whole on each of two threads, ran out of its 250 MB again
# and again (dlt's retries got the load through, or not). So a row group also holds at most
# ROW_GROUP_BYTES of Arrow data as plain strings (GROUP_BYTES_UNBOUNDED with DuckDB's defaults,
# which keeps the 139 columns of a real tenant's export at whole groups), fewer rows if need be.
ROW_GROUP_ROWS = 122_880
ROW_GROUP_COLUMNS = 32
ROW_GROUP_BYTES = 64 << 20
GROUP_BYTES_UNBOUNDED = 200 << 20
# a column's CSV label (typed_csv/names.label_keys), kept in the dlt schema: a label keeps its
# column in every later file and run, also where two labels normalise to one name
LABEL_HINT = "x-uniware-label"


def group_rows(batch: pa.Table, budget: int) -> int:
    """The rows of a row group of `batch`'s rows within `budget` bytes of Arrow data (text counted
    as plain strings: its bytes, not its views), at most ROW_GROUP_ROWS, in whole 2,048-row vectors
    of DuckDB's."""
    if not batch.num_rows:
        return ROW_GROUP_ROWS
    size = 0
    for column in batch.columns:
        if pa.types.is_string_view(column.type):  # its data buffers (a string of 12 bytes or
            for chunk in column.chunks:  # fewer is kept in its view, and not counted)
                size += sum(b.size for b in chunk.buffers()[2:] if b is not None) + 4 * len(chunk)
        elif pa.types.is_string(column.type):
            size += (pc.sum(pc.binary_length(column)).as_py() or 0) + 4 * len(column)
        else:
            size += column.nbytes
    rows = budget * batch.num_rows // max(size, 1)
    return max(2_048, min(ROW_GROUP_ROWS, rows // 2_048 * 2_048))


class RowGroups:
    """A parquet writer whose row groups hold ROW_GROUP_ROWS rows (the last one fewer), or fewer
    within ROW_GROUP_BYTES (group_rows, by the first batch), for a table of up to
    ROW_GROUP_COLUMNS columns, or of any width with `whole_groups` (then within
    GROUP_BYTES_UNBOUNDED), whatever the sizes of the batches written; a row group a batch
    otherwise.

    A whole row group is encoded on a thread of its own while the next one fills: written by the
    caller, its batches' typing stopped for the whole group's encoding (about 17 chunks' worth at
    139 columns), and the typing of a 139-column file ran at 1.70 of 2 cores instead of 1.88. One
    group at most is being written while the next fills, so memory grows by one group at most."""

    def __init__(self, path: Path, schema: pa.Schema, whole_groups: bool = False) -> None:
        self._writer = pq.ParquetWriter(path, schema, **PARQUET_OPTIONS)
        self._grouped = whole_groups or len(schema) <= ROW_GROUP_COLUMNS
        self._budget = GROUP_BYTES_UNBOUNDED if whole_groups else ROW_GROUP_BYTES
        self._max_rows = 0  # decided by the first batch
        self._pending: list[pa.Table] = []
        self._rows = 0
        self._pool: ThreadPoolExecutor | None = None
        self._writing: Future[None] | None = None  # the row group being written

    def write(self, batch: pa.Table) -> None:
        if not self._grouped:  # a wide table: the batch as it comes
            self._writer.write_table(batch, row_group_size=max(batch.num_rows, 1))
            return
        if not self._max_rows:
            self._max_rows = group_rows(batch, self._budget)
        self._pending.append(batch)
        self._rows += batch.num_rows
        if self._rows >= self._max_rows:
            table = pa.concat_tables(self._pending)
            whole = self._rows // self._max_rows * self._max_rows
            self._write_behind(table.slice(0, whole))
            rest = table.slice(whole)
            self._pending = [rest] if rest.num_rows else []
            self._rows = rest.num_rows

    def _write_behind(self, table: pa.Table) -> None:
        """Write whole row groups of `table` on the writer's thread, once the last ones are
        written (whose error, if any, is raised here)."""
        self._written()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="uniware-rowgroups")
        self._writing = self._pool.submit(self._writer.write_table, table, row_group_size=self._max_rows)

    def _written(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def close(self, complete: bool = True) -> None:
        """Write the last row group (unless not `complete`: a file given up, whose rows are
        dropped) and close the file."""
        try:
            try:
                self._written()
            except Exception:
                if complete:
                    raise
            if self._pending and complete:
                # rows are pending only once a batch has set _max_rows
                self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._max_rows)
        finally:
            self._pending = []
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            self._writer.close()


def hints_items(
    table: str, hints: Any, schema: pa.Schema | None = None, labels: Mapping[str, str] | None = None
) -> Iterator[Any]:
    """A table's hints for dlt, after the columns dlt derives from the Arrow `schema` of its files
    if given, with no rows: dlt writes no file for them. (An empty Arrow table would carry them as
    well, but becomes an empty parquet file in the load package, which dlt's ADBC copy into
    PostgreSQL fails on: `Must pass schema, or at least one RecordBatch`.) `labels`: a column's
    CSV label, kept in its schema as LABEL_HINT."""
    if schema is not None:
        from dlt.common.libs.pyarrow import py_arrow_to_table_schema_columns

        from uniware_source.load.destination import fit_columns, running_destination_type

        columns = fit_columns(py_arrow_to_table_schema_columns(schema), running_destination_type())
        for name, label in (labels or {}).items():
            if name in columns:
                columns[name][LABEL_HINT] = label  # type: ignore[literal-required]
        columns_hints = dlt.mark.make_hints(table_name=table, columns=columns)
        yield dlt.mark.with_hints([], columns_hints, create_table_variant=True)
    yield dlt.mark.with_hints([], hints, create_table_variant=True)


def write_job_file(
    batches: Iterator[pa.Table], out: Path, each: Callable[[pa.Table], pa.Table], whole_groups: bool = False
) -> tuple[int, list[pa.Table]]:
    """Write a job's typed batches, each through `each` first: (rows, batches held). A job of at
    most SMALL_JOB_BYTES is held in memory, for the shared file, and nothing is written; a
    larger one goes to `out` as it is typed (the next batch is typed on a worker thread while
    this one is written), and nothing is held."""
    rows = held_bytes = 0
    held: list[pa.Table] = []
    writer: RowGroups | None = None
    try:
        for typed in prefetched(batches):
            batch = each(typed)
            if not batch.num_rows:
                continue
            rows += batch.num_rows
            held_bytes += batch.nbytes
            if writer is None and held_bytes <= SMALL_JOB_BYTES:
                held.append(batch)
                continue
            if writer is None:
                writer = RowGroups(out, batch.schema, whole_groups)
                for earlier in held:
                    writer.write(earlier)
                held = []
            writer.write(batch)
    except BaseException:
        if writer is not None:
            writer.close(complete=False)  # the error is the job's, not a half-written file's
        raise
    if writer is not None:
        writer.close()
    return rows, held


def held_or_moved(typed: Path, schema: pa.Schema, out: Path) -> list[pa.Table]:
    """A job's rows already in a typed file of `schema`, as write_job_file leaves a job's rows:
    held in memory for the shared file when they are at most SMALL_JOB_BYTES, else the file moved
    to `out` (and nothing held)."""
    meta = pq.read_metadata(typed)
    if sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) <= SMALL_JOB_BYTES:
        rows = pq.read_table(typed).cast(schema)
        if rows.nbytes <= SMALL_JOB_BYTES:  # as write_job_file counts a job's bytes
            return [rows]
    typed.rename(out)
    return []


def keep_last(files: Sequence[Path], key: Sequence[str], latest: str | None, out: Path) -> int:
    """Write to `out` the rows of `files` (in order) with one row per `key`: of the rows sharing a
    key, the one with the greatest `latest` value if given (nulls count least), else the last one
    written; returns its rows. For a destination that merges only by upsert (a Delta table), whose
    merge fails when a key comes twice in one load."""
    import polars as pl

    table = pa.concat_tables([pq.read_table(path) for path in files])
    order = pl.DataFrame(table.select([*key, *([latest] if latest else [])])).with_row_index("_row")
    if latest:
        order = order.sort(latest, nulls_last=False, maintain_order=True)
    kept = order.unique(subset=list(key), keep="last").get_column("_row").sort()
    rows = table.take(kept.to_arrow())
    pq.write_table(rows, out, **PARQUET_OPTIONS)
    return rows.num_rows


class SharedFile:
    """The small jobs of one table, gathered in one file: one load job for the many small exports
    of a scheduled run, instead of one each."""

    def __init__(self, directory_name: str, whole_groups: bool = False) -> None:
        self._name = directory_name
        self._whole_groups = whole_groups
        self._open: tuple[Path, RowGroups] | None = None
        self._rows = 0
        self._count = 0

    def add(self, held: Sequence[pa.Table], directory: Path) -> Path | None:
        """Append a small job's batches; the file's path once it is large enough to import."""
        if self._open is None:
            self._count += 1
            path = directory / f"{self._name}-shared-{self._count}.parquet"
            self._open = (path, RowGroups(path, held[0].schema, self._whole_groups))
            self._rows = 0
        for batch in held:
            self._open[1].write(batch)
            self._rows += batch.num_rows
        return self._open[0] if self._rows >= SHARED_FILE_ROWS else None

    def close(self) -> Iterator[tuple[Path, int]]:
        """The file to import, with its rows, if one is open; closed first."""
        if self._open is None:
            return
        (path, writer), rows = self._open, self._rows
        self._open = None
        writer.close()
        yield path, rows
