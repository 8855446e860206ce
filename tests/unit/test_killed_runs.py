"""What a killed or blocked run leaves to the next: its scratch folders, which carry its process
id and which the next run removes, and the run lock, whose refusal names the holder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from uniware_source.load.scratch import _host, scratch_dir


def _dead_pid() -> int:
    """The id of a process that has ended (and been waited for)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_new_scratch_folder_takes_away_those_killed_runs_left_and_nothing_else(tmp_path: Path) -> None:
    host = _host()
    dead = _dead_pid()
    left = [tmp_path / f"uniware-{host}-{dead}-a1b2c3d4", tmp_path / f"uniware-keys-{host}-{dead}-e5f6g7h8"]
    for folder in left:
        folder.mkdir()
        (folder / "export.csv").write_bytes(b"x" * 1000)  # a killed run's download
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        kept = [
            tmp_path / f"uniware-{host}-{live.pid}-abcd1234",  # another run, still running
            tmp_path / f"uniware-{host}-{os.getpid()}-efgh5678",  # this process's own
            tmp_path / f"uniware-other_host-{dead}-a1b2c3d4",  # another container's: its own pids
            tmp_path / "uniware-2024-archive",  # a user's folders
            tmp_path / f"uniware-{dead}-12-backup",
            tmp_path / f"uniware-{host}-{dead}-a1b2c3d4-old",
            tmp_path / f"other-{dead}-x",
        ]
        for folder in kept:
            folder.mkdir()
            (folder / "keep.csv").write_bytes(b"y")
        made = scratch_dir("", tmp_path)
    finally:
        live.communicate(b"")
    assert made.name.startswith(f"uniware-{host}-{os.getpid()}-") and made.is_dir()
    assert not any(folder.exists() for folder in left)
    assert all((folder / "keep.csv").exists() for folder in kept)
    assert scratch_dir("keys", tmp_path).name.startswith(f"uniware-keys-{host}-{os.getpid()}-")


def test_a_run_refused_by_the_lock_says_which_process_holds_it_and_for_how_long(tmp_path: Path) -> None:
    """A run blocked for hours (a destination lock that a session idle in a transaction holds)
    keeps every later run out: the refusal names the holder's process and how long it has run."""
    import pytest

    from uniware_source.run_lock import RunLocked, run_lock

    with run_lock(tmp_path, "uniware"), pytest.raises(RunLocked) as refused, run_lock(tmp_path, "uniware"):
        pass
    said = re.search(
        r"in progress \(process (\d+), running for \d+ h \d\d min; it holds ", str(refused.value)
    )
    assert said and int(said.group(1)) == os.getpid(), refused.value
