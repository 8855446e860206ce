"""The key tracker: hashes of a run's merge keys, added from rows or adopted from the files the
one pass writes, tell whether a key repeats within the load."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from uniware_source.load.keys import KeyHashes, KeyTracker


def hashes_file(path: Path, keys: list[str]) -> Path:
    written = KeyHashes(path)
    written.write(pa.table({"k": keys}))
    written.close()
    return path


def test_added_and_adopted_hashes_are_checked_together(tmp_path: Path) -> None:
    tracker = KeyTracker()
    tracker.add("t", pa.table({"k": ["a", "b"]}))
    tracker.adopt("t", hashes_file(tmp_path / "one.keys", ["c", "d"]))
    tracker.add("t", pa.table({"k": ["e"]}))
    assert not (tmp_path / "one.keys").exists()
    assert tracker.repeats("t") is False
    tracker.adopt("t", hashes_file(tmp_path / "two.keys", ["d"]))
    assert tracker.repeats("t") is True
    assert tracker.repeats("other") is False
    tracker.add("t", pa.table({"k": ["a", "a"]}))
    assert tracker.repeated("t") == 3  # "d" once more, "a" twice more


def test_a_file_that_cannot_be_adopted_leaves_the_table_checkable(tmp_path: Path) -> None:
    """A move that fails (here the file is gone; a full disk does the same) fails that job only:
    the table's other hashes are still checked, with no part left that cannot be read."""
    tracker = KeyTracker()
    tracker.add("t", pa.table({"k": ["a", "b"]}))
    with pytest.raises(OSError):
        tracker.adopt("t", tmp_path / "gone.keys")
    assert tracker.repeats("t") is False
    tracker.adopt("t", hashes_file(tmp_path / "later.keys", ["a"]))
    assert tracker.repeats("t") is True
