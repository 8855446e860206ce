"""Typed files' row groups: DuckDB's own row group size, whatever the sizes of the batches."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from uniware_source.load.typed_files import (
    GROUP_BYTES_UNBOUNDED,
    ROW_GROUP_BYTES,
    ROW_GROUP_COLUMNS,
    ROW_GROUP_ROWS,
    RowGroups,
    group_rows,
)


def batches(sizes: list[int], columns: int = 2) -> list[pa.Table]:
    out, start = [], 0
    for n in sizes:
        text = {f"s{c}": [f"v{i}" for i in range(n)] for c in range(columns - 1)}
        out.append(pa.table({"n": pa.array(range(start, start + n), pa.int64()), **text}))
        start += n
    return out


def write(path: Path, sizes: list[int], columns: int = 2, whole_groups: bool = False) -> list[int]:
    given = batches(sizes, columns)
    writer = RowGroups(path, given[0].schema, whole_groups)
    for batch in given:
        writer.write(batch)
    writer.close()
    meta = pq.ParquetFile(path).metadata
    assert pq.read_table(path).column("n").to_pylist() == list(range(sum(sizes)))  # every row, in order
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_row_groups_hold_duckdbs_row_group_whatever_the_batches(tmp_path: Path) -> None:
    assert write(tmp_path / "a.parquet", [38_383] * 8) == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 61_304]
    assert write(tmp_path / "b.parquet", [300_000, 7]) == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 54_247]
    assert write(tmp_path / "c.parquet", [5]) == [5]
    at_the_limit = ROW_GROUP_COLUMNS
    assert write(tmp_path / "d.parquet", [100_000, 30_000], at_the_limit) == [ROW_GROUP_ROWS, 7_120]


def test_a_wide_tables_row_groups_are_its_batches(tmp_path: Path) -> None:
    wide = ROW_GROUP_COLUMNS + 1  # a row group a batch, none held
    assert write(tmp_path / "w.parquet", [10_000, 7, 30_000], wide) == [10_000, 7, 30_000]


def test_a_wide_table_gets_whole_row_groups_when_asked(tmp_path: Path) -> None:
    """For DuckDB's defaults (no memory limit, insertion order kept), whatever the width."""
    wide = ROW_GROUP_COLUMNS + 1
    sizes = [10_000, 7, 30_000, 90_000, 1]
    assert write(tmp_path / "w.parquet", sizes, wide, whole_groups=True) == [ROW_GROUP_ROWS, 7_128]


def long_rows(rows: int, width: int, views: bool = False) -> pa.Table:
    text = pa.array(["x" * width] * rows, pa.string_view() if views else pa.string())
    return pa.table({"n": pa.array(range(rows), pa.int64()), "note": text})


def test_a_row_group_of_long_rows_stays_within_its_bytes() -> None:
    """Rows of 2 kB of text (as plain strings or as polars' string views alike) make row groups of
    the bytes a row group of the usual rows has, not of its rows; short rows keep whole groups."""
    for views in (False, True):
        two_kb = long_rows(1_000, 2_000, views)
        per_row = 2_000 + 4 + 8
        assert group_rows(two_kb, ROW_GROUP_BYTES) == ROW_GROUP_BYTES // per_row // 2_048 * 2_048 == 32_768
        assert group_rows(two_kb, GROUP_BYTES_UNBOUNDED) == GROUP_BYTES_UNBOUNDED // per_row // 2_048 * 2_048
        assert group_rows(long_rows(1_000, 300, views), ROW_GROUP_BYTES) == ROW_GROUP_ROWS
        assert group_rows(long_rows(10, 10_000_000, views), ROW_GROUP_BYTES) == 2_048  # never less


def test_row_groups_of_long_rows_are_written_within_their_bytes(tmp_path: Path) -> None:
    path = tmp_path / "long.parquet"
    batch = long_rows(6_000, 20_000, views=True)  # 120 MB of text: 3,276 rows in 64 MB
    writer = RowGroups(path, batch.schema)
    writer.write(batch)
    writer.close()
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [2_048, 2_048, 1_904]


def test_a_row_group_that_fails_to_write_behind_fails_the_next_write_or_the_close(tmp_path: Path) -> None:
    """Whole row groups are written on a thread of their own: an error there is raised by the
    next write that hands over a row group, or by close(); a file given up (not complete) closes
    without raising it, with whatever was written before."""
    right = batches([ROW_GROUP_ROWS])[0]
    wrong = right.cast(pa.schema([pa.field("n", pa.int32()), right.schema.field("s0")]))  # not the file's

    for last_call in ("write", "close"):
        path = tmp_path / f"{last_call}.parquet"
        writer = RowGroups(path, right.schema)
        writer.write(wrong)  # a whole row group, handed to the writer's thread
        try:
            if last_call == "write":
                writer.write(right)
            else:
                writer.close()
        except ValueError as exc:
            assert "schema does not match" in str(exc)
        else:
            raise AssertionError(f"the failed row group was not reported by {last_call}()")
        writer.close(complete=False)  # what a caller does with a file it gives up

    given_up = RowGroups(tmp_path / "given_up.parquet", right.schema)
    given_up.write(right)
    given_up.write(wrong)
    given_up.close(complete=False)
    assert pq.read_table(tmp_path / "given_up.parquet").num_rows == ROW_GROUP_ROWS
