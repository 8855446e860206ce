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
  <database>.duckdb.tmp. Insertion order is not needed to load a table.
- DuckDB's threads, for the command only, follow the length and width of the files the run loads
  (`fit_duckdb_threads`, told by each job's plan): an insert's memory grows with threads x the
  row's footprint (each thread fills row groups of its own, 122,880 rows of every column at
  once), while two threads take half the time of one. Measured under the 250 MB limit, inserting
  900k rows: 29 columns of 330 bytes, 1.7 s with two threads against 3.2 s with one; 80 columns
  of 620 bytes, 4.8 s against about 8 s. With DuckDB 1.5, 1M rows of 139 columns of 1 kB: 16.0 s
  with two threads against 28.1 s with one, at a peak of 382 MB against 355 MB (the whole
  process); files of the same rows with more columns loaded with two threads at 150 columns and
  ran out of memory from 160 on. A row's footprint is its CSV bytes plus 16 bytes a column
  (DuckDB's string header): 3.25 kB at 139 columns, 3.5 kB at 150, 3.7 kB at 160. Two threads up
  to TWO_THREADS_FOOTPRINT, one beyond. The limit set first is one thread, for packages whose files
  were typed by an earlier run; a load that still runs out of memory with two threads is loaded
  again with one (`fewer_duckdb_threads`, from load/unattended.py).
- Two threads pay only for a long file, and a shorter wide one runs them out of memory. A thread
  that never fills one of DuckDB's row groups (122,880 rows) keeps its rows in memory until the
  insert ends. Measured on the 139-column rows under the 250 MB limit, one thread against two:
  20k rows 1.0 against 1.0 s; 40k, 60k, 120k and 240k rows loaded with one and ran out of memory
  with two; 300k 11.7 against 15.0 s (peak 350 against 468 MB); 480k 16.4 against 10.1 s; 960k
  34-36 against 18-22 s. At 70 columns two threads were slower up to 240k rows (5.1 against
  6.25 s), at 29 columns about even (240k: 2.1 against 1.9 s). So two threads need a file of
  TWO_THREADS_ROWS rows or more, and every other file of the load must take them: a narrow row
  (NARROW_FOOTPRINT) or a small file (SMALL_INSERT_BYTES of footprint x rows) does.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

from uniware_source import library_pages

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
_freezing = False
# the command's DuckDB global_config, while the environment still holds what it set
_own_duckdb: dict[str, Any] | None = None
_THREADS = frozenset({"threads", "worker_threads"})  # DuckDB's two names for the setting
TWO_THREADS_FOOTPRINT = 3_400  # bytes of a row in DuckDB's insert (see the module's docstring)
TWO_THREADS_ROWS = 450_000  # a file at least this long inserts faster with two threads
NARROW_FOOTPRINT = 1_000  # a row this narrow takes two threads in a file of any length
SMALL_INSERT_BYTES = 48 << 20  # a file this small (rows x footprint) takes two threads at any width
_two_threads_pay = False  # a file of the run inserts faster with two threads
_two_threads_refused = False  # a file of the run (or the destination) cannot take two threads
_duckdb_lock = threading.Lock()  # files are planned on worker threads


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


def freeze_at_exit() -> None:
    """Once per process, when a load starts: set every object aside from the garbage collector
    (gc.freeze) as the interpreter exits, before its last collections. Those passes over the
    objects of dlt's imports and of the run free nothing that the exit would not, and took
    0.18-0.29 s of a library user's 1M-row load (0.03 s with this). An exit handler rather than a
    freeze at import, so that a long-lived process that imports the package (a notebook, an
    orchestrator's worker) keeps collecting its garbage as before; exit handlers registered
    earlier, and flushes, still run."""
    global _freezing
    if not _freezing:
        _freezing = True
        atexit.register(gc.freeze)


def apply_duckdb_defaults() -> None:
    """DuckDB's global_config for the `uniware` command: DUCKDB_DEFAULTS unless the user configured
    one (environment or .dlt/secrets.toml: dlt reads DuckDB credentials from secrets only). A
    user's config that names no `threads` is kept, and the command chooses the threads
    (fit_duckdb_threads); one that names them is left exactly as it is."""
    import dlt

    configured: object
    if DUCKDB_CONFIG_VARIABLE in os.environ:
        try:
            configured = json.loads(os.environ[DUCKDB_CONFIG_VARIABLE])
        except ValueError:  # not JSON: dlt's to read, or to report
            return
    else:
        try:
            configured = dlt.secrets.get("destination.duckdb.credentials.global_config")
        except Exception:  # an unreadable secrets file is dlt's to report, when the run needs it
            configured = None
    if configured is None:
        _set_own_duckdb(dict(DUCKDB_DEFAULTS))
    elif isinstance(configured, Mapping) and not _THREADS & {str(k).lower() for k in configured}:
        _set_own_duckdb({**configured, "threads": 1})


KEEP_LOADED_FILES_VARIABLE = "LOAD__DELETE_COMPLETED_JOBS"


def apply_command_defaults() -> None:
    """What the `uniware` command sets for a run that nobody watches, unless the user set it:
    DuckDB's config (apply_duckdb_defaults), and dlt deleting each package's data files once they
    have loaded (dlt keeps them by default, in the pipeline's folder: a copy of every row loaded,
    which a schedule would grow until the disk is full). A package with a failed job keeps its
    files either way. And the pages of polars' and Arrow's code are given back once the typing is
    done (library_pages)."""
    apply_duckdb_defaults()
    library_pages.enable()
    import dlt

    try:
        configured: object = dlt.config.get("load.delete_completed_jobs")
    except Exception:  # an unreadable config file is dlt's to report, when the run needs it
        return
    if configured is None:
        os.environ[KEEP_LOADED_FILES_VARIABLE] = "true"


def _set_own_duckdb(config: dict[str, Any]) -> None:
    global _own_duckdb
    _own_duckdb = config
    os.environ[DUCKDB_CONFIG_VARIABLE] = json.dumps(config)


def _owned_duckdb() -> dict[str, Any] | None:
    """The DuckDB config the command set, unless the environment holds another one by now."""
    if _own_duckdb is None or os.environ.get(DUCKDB_CONFIG_VARIABLE) != json.dumps(_own_duckdb):
        return None
    return _own_duckdb


def row_footprint(csv_bytes: int, rows: int, columns: int) -> float:
    """The bytes a row of a file holds in DuckDB's insert, about: its CSV bytes plus a 16-byte
    string header for every column."""
    return csv_bytes / max(rows, 1) + 16 * columns


def fit_duckdb_threads(footprint: float, rows: int) -> int | None:
    """Told of a file the run loads (its `row_footprint` and rows): the DuckDB threads of the
    command's config, set in the environment, which dlt reads when its load opens the database.
    Two once a file is long enough for them to pay (TWO_THREADS_ROWS) while every file so far can
    take them; one otherwise, and for good once a file cannot (too wide, or a wide file too short
    for its threads to fill a row group: see the module's docstring). None (and nothing changed)
    when the config is not the command's: a library user's destination is the user's own."""
    global _two_threads_pay, _two_threads_refused
    with _duckdb_lock:
        config = _owned_duckdb()
        if config is None:
            return None
        fits = footprint <= TWO_THREADS_FOOTPRINT
        long = rows >= TWO_THREADS_ROWS
        _two_threads_pay |= fits and long
        _two_threads_refused |= not (
            fits and (long or footprint <= NARROW_FOOTPRINT or footprint * rows <= SMALL_INSERT_BYTES)
        )
        threads = 2 if _two_threads_pay and not _two_threads_refused and (os.cpu_count() or 1) > 1 else 1
        if config.get("threads") != threads:
            _set_own_duckdb({**config, "threads": threads})
            logger.info(
                "DuckDB loads with %d thread(s): a file of %d rows of about %d bytes each in its insert",
                threads,
                rows,
                footprint,
            )
        return threads


def fewer_duckdb_threads() -> bool:
    """After a load ran out of memory: one DuckDB thread from now on, if the command's config had
    more; False if there is nothing to lower (one thread already, or the user's own config)."""
    global _two_threads_refused
    with _duckdb_lock:
        config = _owned_duckdb()
        if config is None or int(config.get("threads", 1)) <= 1:
            return False
        _two_threads_refused = True
        _set_own_duckdb({**config, "threads": 1})
        return True


def duckdb_note(global_config: Mapping[str, Any] | None) -> str | None:
    """What to tell a library user whose DuckDB destination has no memory limit (`global_config`:
    its credentials' global_config); None if it has one."""
    config = {str(k).lower(): v for k, v in (global_config or {}).items()}
    if not duckdb_memory_unbounded(config):
        return None
    return (
        "the DuckDB destination has no memory_limit, so DuckDB may hold up to 80% of the machine's "
        "memory during a load; to bound it (DuckDB spills to disk beyond), add "
        'global_config = {memory_limit = "250MB", preserve_insertion_order = false, threads = 1} under '
        "[destination.duckdb.credentials] in .dlt/secrets.toml, or set "
        f"{DUCKDB_CONFIG_VARIABLE}='{json.dumps(DUCKDB_DEFAULTS)}'"
    )


def running_duckdb_config() -> tuple[bool, Mapping[str, Any]]:
    """(whether the running pipeline loads into DuckDB, its credentials' global_config, with
    lower-case names). Asks nothing of the database itself; a pipeline it cannot read counts as
    not DuckDB."""
    import dlt

    try:
        pipeline = dlt.current.pipeline()
        if pipeline.destination is None or pipeline.destination.destination_type != "dlt.destinations.duckdb":
            return False, {}
        credentials = pipeline.destination_client().config.credentials
        config = getattr(credentials, "global_config", None) or {}
    except Exception as exc:  # no pipeline, or one dlt cannot configure: dlt's to report, not ours
        logger.debug("could not read the DuckDB destination's settings (%s)", type(exc).__name__)
        return False, {}
    return True, {str(k).lower(): v for k, v in config.items()}


def duckdb_memory_unbounded(config: Mapping[str, Any]) -> bool:
    """Whether a DuckDB global_config sets no memory limit (DuckDB then holds up to 80% of the
    machine's memory)."""
    return "memory_limit" not in config and "max_memory" not in config


def duckdb_defaults_in_load() -> bool:
    """Whether the running pipeline loads into DuckDB with its defaults for an insert
    (`insert_defaults`): a library user's, unless they configured it."""
    duckdb, config = running_duckdb_config()
    return duckdb and insert_defaults(config)


def insert_defaults(config: Mapping[str, Any]) -> bool:
    """Whether a DuckDB global_config (lower-case names) leaves DuckDB's defaults for an insert: no
    memory limit, insertion order kept. Such an insert is fastest and smallest from row groups of
    DuckDB's own size, at any width (load/typed_files.py)."""
    keeps_order = str(config.get("preserve_insertion_order", True)).lower() not in ("false", "0")
    return duckdb_memory_unbounded(config) and keeps_order


def _duckdb_note_of_running_pipeline() -> str | None:
    """duckdb_note for the running pipeline's destination, if that is DuckDB."""
    duckdb, config = running_duckdb_config()
    return duckdb_note(config) if duckdb else None
