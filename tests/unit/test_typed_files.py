"""Typed files' row groups: DuckDB's own row group size, whatever the sizes of the batches."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from uniware_source.load.typed_files import ROW_GROUP_ROWS, RowGroups


def batches(sizes: list[int]) -> list[pa.Table]:
    out, start = [], 0
    for n in sizes:
        out.append(
            pa.table({"n": pa.array(range(start, start + n), pa.int64()), "s": [f"v{i}" for i in range(n)]})
        )
        start += n
    return out


def write(path: Path, sizes: list[int], **options: int) -> list[int]:
    given = batches(sizes)
    writer = RowGroups(path, given[0].schema, **options)
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


def test_a_wide_tables_row_groups_are_its_batches(tmp_path: Path) -> None:
    # two columns, as if wider than max_columns: a row group a batch, none held
    assert write(tmp_path / "w.parquet", [10_000, 7, 30_000], max_columns=1) == [10_000, 7, 30_000]
