"""The `uniware` command gives back the pages of polars' and Arrow's code once the typing is done.

A process's resident memory (RSS) counts the pages of every library's code it has run, for as long
as they stay mapped. When the typing of a real tenant's 139 columns ends, 130-170 MB of the
command's RSS are such pages, polars' runtime and Arrow's libraries the most of them; dlt's load
into DuckDB runs neither, and DuckDB's insert then adds 310-390 MB of its own, so the load's peak
carried code that nothing ran any more. These pages are clean copies of files on disk: the kernel
drops them by itself under memory pressure (a container's limit, say), and
`madvise(MADV_PAGEOUT)` asks it to drop them now. Nothing is lost: a page touched again is read
back from its file (the next batch of a long backfill, which types again, reads them back once).
Measured through the command on 1M rows of the 139 columns: a peak of 496-543 MB (5 runs) against
546-626 MB (4 runs), the file pages at the peak 79-97 MB against 132-166 MB, in the same time
(57-63 s both). A page that another process maps too stays (the kernel drops only pages mapped
once): there the gain is smaller.

Only read-only mappings of the two libraries' own files are advised (their code and constants);
their writable data stays. Linux 5.4 and later; elsewhere, or where the call is refused, nothing
happens. The command turns it on (`enable`, from process_settings.apply_command_defaults); a
library user's process is never touched.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Iterable

logger = logging.getLogger(__name__)

MADV_PAGEOUT = 21  # linux/mman.h, since Linux 5.4
# parts of the paths of the files mapped by the typing libraries: polars' runtime (polars 2 keeps
# all its native code there), pyarrow's libraries and extension modules
TYPING_LIBRARIES = ("/_polars_runtime", "/pyarrow/")

_enabled = False


def enable() -> None:
    """Give back the typing libraries' pages after each typing (the command's choice)."""
    global _enabled
    _enabled = True


def give_back_typing_pages() -> int:
    """Where enabled: ask the kernel to drop the resident pages of the typing libraries' read-only
    mappings. Returns the bytes of the mappings advised (not all of them were resident)."""
    if not _enabled or not sys.platform.startswith("linux"):
        return 0
    madvise = ctypes.CDLL(None, use_errno=True).madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    advised = 0
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for start, end in read_only_mappings(maps, TYPING_LIBRARIES):
                if madvise(start, end - start, MADV_PAGEOUT) == 0:
                    advised += end - start
    except OSError as exc:  # no /proc: nothing to give back
        logger.debug("library pages not given back: %s", exc)
    logger.debug("gave back the pages of %d MB of typing libraries' mappings", advised >> 20)
    return advised


def read_only_mappings(maps: Iterable[str], parts: tuple[str, ...]) -> list[tuple[int, int]]:
    """The (start, end) of each mapping in /proc/<pid>/maps lines that is not writable and maps a
    file whose path holds one of `parts`."""
    found: list[tuple[int, int]] = []
    for line in maps:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or "w" in fields[1] or not any(part in fields[5] for part in parts):
            continue
        start, _, end = fields[0].partition("-")
        found.append((int(start, 16), int(end, 16)))
    return found
