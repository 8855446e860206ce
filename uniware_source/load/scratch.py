"""A run's scratch folders (downloaded files, key hashes), named after the process that made them,
so that the next run can take away those of a run that was killed.

A run removes its folders when it ends; a run killed (SIGKILL, the machine's OOM killer, a
container stopped) leaves them, with every file it had downloaded, and each such run more. A new
folder's name carries its process id (`uniware-<pid>-...`); each run, as it makes its own, removes
the folders beside it whose process no longer exists. A folder of a live process, or one this
user may not remove, is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

_OURS = re.compile(r"^uniware-(?:keys-)?(\d+)-")


def scratch_dir(kind: str, parent: str | Path | None = None) -> Path:
    """A new folder `uniware-[kind-]<pid>-...` in `parent` (the system's temporary folder if None),
    after removing the ones there that killed runs left."""
    where = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    sweep(where)
    prefix = f"uniware-{kind}-" if kind else "uniware-"
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def sweep(where: Path) -> None:
    """Remove the folders of our runs in `where` whose process is gone."""
    try:
        entries = list(where.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _OURS.match(entry.name)
        if match is None or _alive(int(match.group(1))) or not entry.is_dir():
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            logger.info("removed %s, which a killed run left", entry)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True
