"""Chunk sizes follow the width of the file: about the same number of cells in every chunk."""

from __future__ import annotations

from uniware_source.typed_csv import chunks


def test_narrow_files_read_in_full_chunks_and_wide_ones_in_smaller_ones_of_as_many_cells() -> None:
    assert chunks.chunk_bytes(29) == chunks.chunk_bytes(chunks.CHUNK_COLUMNS) == chunks.CHUNK_BYTES
    wide = chunks.chunk_bytes(139)
    assert wide < chunks.CHUNK_BYTES
    # cells per chunk stay within a byte's rounding of the narrow file's budget
    assert abs(wide * 139 - chunks.CHUNK_BYTES * chunks.CHUNK_COLUMNS) < 139


def test_very_wide_files_keep_a_floor_and_a_shrunk_chunk_size_is_kept() -> None:
    assert chunks.chunk_bytes(100_000) == chunks.MIN_CHUNK_BYTES
    saved = chunks.CHUNK_BYTES
    try:
        chunks.CHUNK_BYTES = 256  # as tests shrink it to get many chunks
        assert chunks.chunk_bytes(3) == 256
        assert chunks.chunk_bytes(100_000) == 256
    finally:
        chunks.CHUNK_BYTES = saved
