"""Process-wide settings for a bounded, fast load, applied before polars, pyarrow or DuckDB load.

Each is a default: a value already in the environment (or, for DuckDB, in .dlt/secrets.toml)
wins. Measured on a 1M-row Sale Orders export (README, Speed): peak RSS 612 MB -> 566 MB.
- DuckDB spills to <database>.duckdb.tmp beyond its memory limit; without one it keeps whatever
  it touched (1.6 GB to merge a million rows). Insertion order is not needed to load a table.
- One DuckDB thread: an insert's memory grows with threads x columns (each thread fills row groups
  of its own, every column's buffers at once), so 250 MB held two threads at 29 columns but ran
  out at a real tenant's 139, while one thread loaded those 139 within 120 MB (300k rows: 214 MB
  RSS), no slower on two busy cores (26.8 s against 28.4 s with two threads and 500 MB).
- polars' allocator (jemalloc) keeps freed pages for 10 s by default, pyarrow's pool keeps its
  own: return them to the system promptly instead, so one chunk's memory serves the next.
"""

from __future__ import annotations

import json
import os

DUCKDB_CONFIG_VARIABLE = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"
DUCKDB_DEFAULTS = {"memory_limit": "250MB", "preserve_insertion_order": False, "threads": 1}
ALLOCATOR_DEFAULTS = {
    "_RJEM_MALLOC_CONF": "background_thread:true,dirty_decay_ms:300,muzzy_decay_ms:0",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}


def apply_allocator_defaults() -> None:
    """Must run before polars and pyarrow are imported: their allocators read these at start."""
    for name, value in ALLOCATOR_DEFAULTS.items():
        os.environ.setdefault(name, value)


def apply_duckdb_defaults() -> None:
    """DuckDB's global_config, unless the user configured it (environment or .dlt/secrets.toml:
    dlt reads DuckDB credentials from secrets only)."""
    if DUCKDB_CONFIG_VARIABLE in os.environ:
        return
    import dlt

    try:
        configured: object = dlt.secrets.get("destination.duckdb.credentials.global_config")
    except Exception:  # an unreadable secrets file is dlt's to report, when the run needs it
        configured = None
    if configured is None:
        os.environ[DUCKDB_CONFIG_VARIABLE] = json.dumps(DUCKDB_DEFAULTS)
