"""Process-wide settings for a bounded, fast load.

Two kinds, applied in two ways:

- The allocators of polars and pyarrow belong to this process, and the package sets them itself,
  once, when it is imported (`uniware_source/__init__.py` calls `apply_allocator_defaults` before
  anything else), so that a library user gets the bounded path without knowing about it. polars'
  allocator (jemalloc) keeps freed pages for 10 s by default and pyarrow's pool (mimalloc) keeps
  its own: told to return them promptly, one chunk's memory serves the next. Each is read once,
  when its library loads: the package imports neither until a load runs, so setting them at its
  import is in time, unless the user's program imported polars or pyarrow first; then the
  setting cannot take effect, and `notes()` says so (logged once, at INFO, when a source is made).
  A value already in the environment always wins.
- DuckDB's memory limit and insertion order belong to the destination, which is the user's
  project: the `uniware` command sets them (`apply_duckdb_defaults`, unless configured), while a
  library load only says, once at INFO, which setting to add (`duckdb_note`). Without a limit
  DuckDB keeps whatever it touched (1.6 GB to merge a million rows); with one, it spills to
  <database>.duckdb.tmp. Insertion order is not needed to load a table. One DuckDB thread: an
  insert's memory grows with threads x columns (each thread fills row groups of its own, every
  column's buffers at once), so 250 MB held two threads at 29 columns but ran out at a real
  tenant's 139, while one thread loaded those 139 within 120 MB.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("uniware_source")

DUCKDB_CONFIG_VARIABLE = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"
DUCKDB_DEFAULTS = {"memory_limit": "250MB", "preserve_insertion_order": False, "threads": 1}
ALLOCATOR_DEFAULTS = {
    "_RJEM_MALLOC_CONF": "background_thread:true,dirty_decay_ms:300,muzzy_decay_ms:0",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}
# the library that reads each variable when it loads
_READ_BY = {"_RJEM_MALLOC_CONF": "polars", "ARROW_DEFAULT_MEMORY_POOL": "pyarrow"}

_notes: list[str] = []  # what could not be applied, told once by tell_once()
_told = False


def apply_allocator_defaults() -> list[str]:
    """Put each allocator default the environment lacks into it, where its library has not loaded
    yet. Returns the names of those that came too late (their library was imported before us),
    and keeps a note of them for `tell_once`."""
    late: list[str] = []
    for name, value in ALLOCATOR_DEFAULTS.items():
        if name in os.environ:
            continue  # the user's own setting
        if _READ_BY[name] in sys.modules:
            late.append(name)
            continue
        os.environ[name] = value
    if late:
        libraries = " and ".join(sorted({_READ_BY[name] for name in late}))
        settings = " ".join(f"{name}={ALLOCATOR_DEFAULTS[name]!r}" for name in late)
        _notes.append(
            f"{libraries} was imported before uniware_source, so its allocator keeps freed memory "
            f"longer and a load's peak memory is higher; import uniware_source first, or set {settings} "
            "in the environment before Python starts"
        )
    return late


def tell_once() -> None:
    """Once per process, at INFO, when a load starts: the allocator settings that came too late
    (apply_allocator_defaults), and the DuckDB setting a destination without a memory limit
    lacks (duckdb_note)."""
    global _told
    if _told:
        return
    _told = True
    for note in _notes:
        logger.info(note)
    duckdb = _duckdb_note_of_running_pipeline()
    if duckdb:
        logger.info(duckdb)


def apply_duckdb_defaults() -> None:
    """DuckDB's global_config, unless the user configured it (environment or .dlt/secrets.toml:
    dlt reads DuckDB credentials from secrets only). The `uniware` command calls this."""
    if DUCKDB_CONFIG_VARIABLE in os.environ:
        return
    import dlt

    try:
        configured: object = dlt.secrets.get("destination.duckdb.credentials.global_config")
    except Exception:  # an unreadable secrets file is dlt's to report, when the run needs it
        configured = None
    if configured is None:
        os.environ[DUCKDB_CONFIG_VARIABLE] = json.dumps(DUCKDB_DEFAULTS)


def duckdb_note(global_config: Mapping[str, Any] | None) -> str | None:
    """What to tell a library user whose DuckDB destination has no memory limit (`global_config`:
    its credentials' global_config); None if it has one."""
    config = {str(k).lower(): v for k, v in (global_config or {}).items()}
    if "memory_limit" in config or "max_memory" in config:
        return None
    return (
        "the DuckDB destination has no memory_limit, so DuckDB may hold up to 80% of the machine's "
        "memory during a load; to bound it (DuckDB spills to disk beyond), add "
        'global_config = {memory_limit = "250MB", preserve_insertion_order = false, threads = 1} under '
        "[destination.duckdb.credentials] in .dlt/secrets.toml, or set "
        f"{DUCKDB_CONFIG_VARIABLE}='{json.dumps(DUCKDB_DEFAULTS)}'"
    )


def _duckdb_note_of_running_pipeline() -> str | None:
    """duckdb_note for the running pipeline's destination, if that is DuckDB. Asks nothing of
    the database itself; a pipeline it cannot read is left alone."""
    import dlt

    try:
        pipeline = dlt.current.pipeline()
        if pipeline.destination is None or pipeline.destination.destination_type != "dlt.destinations.duckdb":
            return None
        credentials = pipeline.destination_client().config.credentials
        return duckdb_note(getattr(credentials, "global_config", None))
    except Exception as exc:  # no pipeline, or one dlt cannot configure: dlt's to report, not ours
        logger.debug("could not read the DuckDB destination's settings (%s)", type(exc).__name__)
        return None
