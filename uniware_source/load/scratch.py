"""A run's scratch folders (downloaded files, key hashes), named after the process that made them,
so that the next run can take away those of a run that was killed.

A run removes its folders when it ends; a run killed (SIGKILL, the machine's OOM killer, a
container stopped) leaves them, with every file it had downloaded, and each such run more. A new
folder's name carries the host's name and its process id (`uniware-<host>-<pid>-<8 characters of
mkdtemp>`); each run, as it makes its own, removes the folders of its own host beside it whose
process no longer exists. Not another host's (containers that share a download folder each have
their own process ids), nor a folder of a live process, one this user may not remove, or any
other name (`uniware-2024-archive`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)


def _host() -> str:
    """The host's name, as a folder name may hold it."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"


def scratch_dir(kind: str, parent: str | Path | None = None) -> Path:
    """A new folder `uniware-[kind-]<host>-<pid>-...` in `parent` (the system's temporary folder if
    None), after removing the ones there that killed runs of this host left."""
    where = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    sweep(where)
    prefix = f"uniware-{kind}-" if kind else "uniware-"
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{_host()}-{os.getpid()}-", dir=parent))


def sweep(where: Path) -> None:
    """Remove the folders of this host's runs in `where` whose process is gone."""
    try:
        entries = list(where.iterdir())
    except OSError:
        return
    ours = re.compile(rf"^uniware-(?:keys-)?{re.escape(_host())}-(\d+)-[a-z0-9_]{{8}}$")
    for entry in entries:
        match = ours.match(entry.name)
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
