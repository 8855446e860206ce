"""A run's scratch folders carry its process id; the next run removes those of killed runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from uniware_source.load.scratch import scratch_dir


def _dead_pid() -> int:
    """The id of a process that has ended (and been waited for)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_new_scratch_folder_takes_away_those_killed_runs_left_and_nothing_else(tmp_path: Path) -> None:
    dead = _dead_pid()
    left = [tmp_path / f"uniware-{dead}-a1b2", tmp_path / f"uniware-keys-{dead}-c3d4"]
    for folder in left:
        folder.mkdir()
        (folder / "export.csv").write_bytes(b"x" * 1000)  # a killed run's download
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        kept = [
            tmp_path / f"uniware-{live.pid}-e5f6",  # another run, still running
            tmp_path / f"uniware-{os.getpid()}-g7h8",  # this process's own
            tmp_path / "uniware-data",  # not a run's
            tmp_path / f"other-{dead}-x",
        ]
        for folder in kept:
            folder.mkdir()
        made = scratch_dir("", tmp_path)
    finally:
        live.communicate(b"")
    assert made.name.startswith(f"uniware-{os.getpid()}-") and made.is_dir()
    assert not any(folder.exists() for folder in left)
    assert all(folder.exists() for folder in kept)
    assert scratch_dir("keys", tmp_path).name.startswith(f"uniware-keys-{os.getpid()}-")
