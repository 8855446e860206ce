"""The command gives back the resident pages of polars' and Arrow's code after the typing
(uniware_source/library_pages.py): only where enabled, only read-only mappings of those libraries,
and the pages really leave the process's resident set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.unit.test_process_settings import ROOT, run_python
from uniware_source.library_pages import TYPING_LIBRARIES, read_only_mappings

MAPS = """\
7f0000000000-7f0000100000 r--p 00000000 08:01 11 /venv/_polars_runtime_32/_polars_runtime.abi3.so
7f0000100000-7f0004000000 r-xp 00100000 08:01 11 /venv/_polars_runtime_32/_polars_runtime.abi3.so
7f0004000000-7f0004200000 rw-p 03f00000 08:01 11 /venv/_polars_runtime_32/_polars_runtime.abi3.so
7f0005000000-7f0006000000 r-xp 00000000 08:01 12 /venv/site-packages/pyarrow/libarrow.so.2600
7f0007000000-7f0008000000 r-xp 00000000 08:01 13 /venv/site-packages/_duckdb.cpython-311-x86_64-linux-gnu.so
7f0009000000-7f0009100000 rw-p 00000000 00:00 0
7f000a000000-7f000a100000 r--p 00000000 08:01 14 /data/my polars notes/readme.txt
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
"""


def test_only_the_typing_libraries_read_only_mappings_are_chosen() -> None:
    chosen = read_only_mappings(MAPS.splitlines(keepends=True), TYPING_LIBRARIES)
    assert chosen == [
        (0x7F0000000000, 0x7F0000100000),  # polars' constants
        (0x7F0000100000, 0x7F0004000000),  # polars' code
        (0x7F0005000000, 0x7F0006000000),  # Arrow's code
    ]  # not polars' writable data, DuckDB (the load runs it), anonymous memory or the stack


PAGES = """
import json, sys
import polars as pl
from uniware_source import library_pages

def resident_mb():  # the pages of polars' runtime that only this process maps
    total, path = 0, ""
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and ":" not in fields[0]:
                path = fields[5] if len(fields) > 5 else ""
            elif fields[0] == "Private_Clean:" and "_polars_runtime" in path:
                total += int(fields[1])
    return total / 1024

frame = pl.DataFrame({"a": [str(i) for i in range(200_000)]})
frame.with_columns(pl.col("a").str.to_integer().alias("b")).group_by("b").len().sort("b")
import _polars_runtime_32
seen = {"runtime": _polars_runtime_32.__file__}
seen.update(typed=resident_mb(), off=library_pages.give_back_typing_pages())
seen["kept"] = resident_mb()
library_pages.enable()
seen["advised"] = library_pages.give_back_typing_pages()
seen["after"] = resident_mb()
print(json.dumps(seen))
"""


def test_the_pages_leave_the_resident_set_only_once_enabled(tmp_path: Path) -> None:
    # a copy of polars' runtime of the child's own: the kernel leaves a page that two processes map,
    # and the test's own process, or a worker beside it, maps the installed one
    import _polars_runtime_32  # type: ignore[import-not-found]

    copy = shutil.copytree(Path(_polars_runtime_32.__file__).parent, tmp_path / "_polars_runtime_32")
    for written in copy.iterdir():  # on disk, so that its pages are clean copies of the file
        if written.is_file():
            with open(written, "rb+") as out:
                os.fsync(out.fileno())
    seen = run_python(PAGES, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    assert seen["runtime"].startswith(str(tmp_path)), seen
    assert seen["off"] == 0 and seen["kept"] >= seen["typed"] - 1  # a library user's: untouched
    assert seen["advised"] > 0
    # polars' runtime kept MBs of its file resident after its work, and they are given back
    assert seen["typed"] > 5 and seen["after"] < seen["typed"] / 4, seen
