"""The settings the package applies itself at import, and what it tells a library user.

Each case runs in a fresh Python process: allocators are chosen when polars and pyarrow load,
once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from uniware_source.process_settings import (
    ALLOCATOR_DEFAULTS,
    DUCKDB_CONFIG_VARIABLE,
    DUCKDB_DEFAULTS,
    duckdb_note,
    insert_defaults,
)

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, cwd: Path = ROOT, **env: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter whose environment has no allocator setting but `env`;
    its last line of output, as JSON."""
    clean = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_DEFAULTS}
    clean.pop(DUCKDB_CONFIG_VARIABLE, None)
    clean.pop("LOAD__DELETE_COMPLETED_JOBS", None)
    clean["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, cwd=cwd, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


IMPORT_US_FIRST = """
import json, os, sys
import uniware_source
loaded = [m for m in ("polars", "pyarrow") if m in sys.modules]
import pyarrow
print(json.dumps({"loaded": loaded, "pool": pyarrow.default_memory_pool().backend_name,
                  "env": {k: os.environ.get(k) for k in ("_RJEM_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL")}}))
"""


def test_import_sets_the_allocators_before_polars_and_pyarrow_load() -> None:
    seen = run_python(IMPORT_US_FIRST)
    assert seen["loaded"] == []  # importing the package loads neither
    assert seen["env"] == ALLOCATOR_DEFAULTS
    assert seen["pool"] == "system"


def test_the_users_own_setting_wins() -> None:
    seen = run_python(IMPORT_US_FIRST, ARROW_DEFAULT_MEMORY_POOL="mimalloc", _RJEM_MALLOC_CONF="narenas:1")
    assert seen["env"] == {"_RJEM_MALLOC_CONF": "narenas:1", "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}
    assert seen["pool"] == "mimalloc"


PYARROW_FIRST = """
import json, logging, os
logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
import pyarrow
import uniware_source
from uniware_source import process_settings
process_settings.tell_once()
process_settings.tell_once()
print(json.dumps({"env": os.environ.get("ARROW_DEFAULT_MEMORY_POOL"),
                  "polars_env": os.environ.get("_RJEM_MALLOC_CONF")}))
"""


def test_pyarrow_imported_first_is_told_once_at_info() -> None:
    clean = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_DEFAULTS}
    out = subprocess.run(
        [sys.executable, "-c", PYARROW_FIRST], env=clean, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["env"] is None  # too late to set: not pretended
    assert seen["polars_env"] == ALLOCATOR_DEFAULTS["_RJEM_MALLOC_CONF"]  # polars had not loaded
    notes = [line for line in out.stderr.splitlines() if "imported before uniware_source" in line]
    assert len(notes) == 1
    assert notes[0].startswith("uniware_source INFO pyarrow was imported")
    assert "ARROW_DEFAULT_MEMORY_POOL='system'" in notes[0]


def test_duckdb_note_names_the_setting_only_without_a_limit() -> None:
    note = duckdb_note(None)
    assert note is not None and "\n" not in note
    assert DUCKDB_CONFIG_VARIABLE in note and json.dumps(DUCKDB_DEFAULTS) in note
    assert "[destination.duckdb.credentials]" in note and "memory_limit" in note
    assert duckdb_note({"preserve_insertion_order": False}) is not None
    assert duckdb_note({"memory_limit": "1GB"}) is None
    assert duckdb_note({"MAX_MEMORY": "1GB"}) is None


def test_duckdbs_insert_defaults_are_no_limit_and_insertion_order_kept() -> None:
    assert insert_defaults({}) and insert_defaults({"threads": 4, "preserve_insertion_order": True})
    assert not insert_defaults({"memory_limit": "4GB"}) and not insert_defaults({"max_memory": "4GB"})
    for off in (False, "false", "False", 0, "0"):
        assert not insert_defaults({"preserve_insertion_order": off})
    assert not insert_defaults(DUCKDB_DEFAULTS)  # the command's own config


THREADS = """
import json, os
from uniware_source import process_settings as ps
ps.apply_duckdb_defaults()
seen = [json.loads(os.environ["DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"]).get("threads")]
for columns, csv_bytes, rows in json.loads(os.environ["FILES"]):
    seen.append(ps.fit_duckdb_threads(ps.row_footprint(csv_bytes * rows, rows, columns), rows))
seen.append(ps.fewer_duckdb_threads())
print(json.dumps({"seen": seen, "config": os.environ["DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"]}))
"""
# (columns, CSV bytes a row, rows) of each file a run loads, in order
SHORT_THEN_LONG = [(29, 330, 200_000), (21, 312, 1_000), (29, 330, 1_000_000), (21, 312, 300_000)]
WIDE = [(139, 1000, 600_000), (139, 1000, 10_000), (139, 1000, 60_000), (29, 330, 1_000_000)]
TOO_WIDE = [(29, 330, 1_000_000), (175, 1300, 1_000_000)]


TWO = 2 if (os.cpu_count() or 1) > 1 else 1  # one core: one thread, whatever the files


def test_the_command_gives_duckdb_two_threads_once_a_file_is_long_and_every_file_takes_them() -> None:
    # one thread before any file and for short ones; two from the first long file on, which
    # shorter narrow files keep
    assert run_python(THREADS, FILES=json.dumps(SHORT_THEN_LONG))["seen"] == [1, 1, 1, TWO, TWO, TWO == 2]
    # a long wide file takes two, and a small wide one keeps them; a wide file too short to fill
    # its threads' row groups (60k rows of 139 columns ran out of memory with two) takes them away
    # for the rest of the run
    seen = run_python(THREADS, FILES=json.dumps(WIDE))
    assert seen["seen"] == [1, TWO, TWO, 1, 1, False]
    assert json.loads(str(seen["config"])) == {**DUCKDB_DEFAULTS, "threads": 1}
    # a row too wide for two threads at any length
    assert run_python(THREADS, FILES=json.dumps(TOO_WIDE))["seen"] == [1, TWO, 1, False]


def test_a_users_config_without_threads_keeps_its_settings_and_gets_threads_chosen() -> None:
    mine = json.dumps({"memory_limit": "1GB"})
    seen = run_python(THREADS, FILES=json.dumps(WIDE), **{DUCKDB_CONFIG_VARIABLE: mine})
    assert seen["seen"] == [1, TWO, TWO, 1, 1, False]
    assert json.loads(str(seen["config"])) == {"memory_limit": "1GB", "threads": 1}


def test_a_users_threads_are_never_changed() -> None:
    for name in ("threads", "worker_threads"):  # DuckDB's two names for it
        mine = json.dumps({"memory_limit": "1GB", name: 4})
        seen = run_python(THREADS, FILES=json.dumps(WIDE), **{DUCKDB_CONFIG_VARIABLE: mine})
        assert seen["seen"][1:] == [None, None, None, None, False]
        assert seen["config"] == mine


FALLBACK = """
import json, os
from uniware_source import process_settings as ps
ps.apply_duckdb_defaults()
first = ps.fit_duckdb_threads(800.0, 1_000_000)
lowered = ps.fewer_duckdb_threads()
after = ps.fit_duckdb_threads(800.0, 1_000_000)  # a long narrow file after running out of memory: still one
print(json.dumps({"seen": [first, lowered, after, ps.fewer_duckdb_threads()]}))
"""


def test_after_running_out_of_memory_the_command_keeps_one_thread() -> None:
    expected = [2, True, 1, False] if TWO == 2 else [1, False, 1, False]
    assert run_python(FALLBACK)["seen"] == expected


DELETE_FILES = """
import json, os
from uniware_source import process_settings as ps
ps.apply_command_defaults()
print(json.dumps({"delete": os.environ.get("LOAD__DELETE_COMPLETED_JOBS")}))
"""


def test_the_command_deletes_loaded_files_unless_the_user_says_otherwise(tmp_path: Path) -> None:
    assert run_python(DELETE_FILES, cwd=tmp_path)["delete"] == "true"
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text("[load]\ndelete_completed_jobs = false\n")
    assert run_python(DELETE_FILES, cwd=tmp_path)["delete"] is None  # config.toml's false stands
    assert run_python(DELETE_FILES, cwd=tmp_path, LOAD__DELETE_COMPLETED_JOBS="false")["delete"] == "false"
