"""One run of a pipeline at a time, on one machine.

A second run of the same pipeline (same pipelines folder and name) would create the same export
jobs on the tenant again and race the first over the job ledger and the load packages. The
command takes an exclusive lock on a file beside the pipeline's working folder (not inside it:
dlt may wipe that folder) before it changes anything, and gives up at once if another run holds
it. The lock is the operating system's (`filelock`): it is released when its process ends, even
when killed, so a crash never leaves it held. It covers one machine; runs on several machines
(an orchestrator's workers) must be kept apart by the orchestrator.

A run from a user's own code (`pipeline.run(uniware_source(...))`) takes the same lock when the
source's data is first read (`hold_for_run`), and lets it go when dlt ends the run's trace (a
module of dlt's trace hooks, `_LetGo`), or when the process ends: two such runs at once of a
pipeline whose tables were empty both appended their rows (every row twice). A run that finds a
load package an interrupted run left never reads the source (dlt loads the package and stops):
it takes the lock when its trace starts, waiting for a run that holds it, since dlt gives a trace
module no way to refuse a run; else it loaded that package beside the command loading it too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from uniware_source.api.errors import ConfigurationError, UniwareError

logger = logging.getLogger("uniware_source")
SCHEMA = "uniware"  # the source's schema: a pipeline that has it loads Uniware data


class RunLocked(UniwareError):
    """Another run of the same pipeline holds the lock: this one changed nothing."""


def project_path(pipelines_dir: str | Path, pipeline_name: str) -> Path:
    """Where the command notes the project directory a pipeline's runs start from."""
    return Path(pipelines_dir) / f".{pipeline_name}.uniware.project"


def check_project(
    pipelines_dir: str | Path, pipeline_name: str, project: Path, *, note_it: bool = True
) -> None:
    """dlt keeps one working folder per pipeline name (its state: cursors, loaded jobs), whatever
    the directory a run starts from: a second project with the same pipeline name would go on from
    the first one's progress and ignore its own start_date. The first run notes its project
    directory (`note_it`); a run from another one is refused, naming `--pipeline-name`."""
    note = project_path(pipelines_dir, pipeline_name)
    here = str(project.resolve())
    if note.exists():
        first = note.read_text(encoding="utf-8").strip()
        if first and first != here and (Path(pipelines_dir) / pipeline_name).exists():
            raise ConfigurationError(
                f"pipeline {pipeline_name!r} belongs to the project in {first} (dlt keeps its state in "
                f"{Path(pipelines_dir) / pipeline_name}); this is {here}: give this project its own "
                f"pipeline with --pipeline-name, or delete {note} if the project moved"
            )
    if note_it:
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(here + "\n", encoding="utf-8")


def lock_path(pipelines_dir: str | Path, pipeline_name: str) -> Path:
    return Path(pipelines_dir).absolute() / f".{pipeline_name}.uniware.lock"


# the run locks this process holds, by path: the command's (run_lock), and those of runs from a
# user's own code (hold_for_run), which dlt's end of the run lets go
_held: dict[Path, FileLock] = {}
_for_runs: set[Path] = set()
_guard = threading.Lock()


def _acquire(path: Path, pipeline_name: str, *, wait: bool = False) -> FileLock:
    """The lock at `path`, noting this process as its holder. If another run holds it: RunLocked,
    or with `wait`, a warning that says so, and the lock once that run lets it go."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise RunLocked(
                f"another run of pipeline {pipeline_name!r} is in progress ({_holder(path)}it holds "
                f"{path}); this run changed nothing"
            ) from None
        logger.warning(
            "pipeline %s: another run holds %s (%s); waiting for it to end before loading the "
            "pending package",
            pipeline_name,
            path,
            _holder(path).rstrip("; "),
        )
        lock.acquire()
    _note_holder(path)
    return lock


def _for_run(path: Path, lock: FileLock) -> None:
    """Hold `lock` until dlt ends the run's trace (_LetGo.on_end_trace); under _guard."""
    _held[path] = lock
    _for_runs.add(path)


def _holder_path(path: Path) -> Path:
    return path.with_name(path.name + ".holder")


def _note_holder(path: Path) -> None:
    """Beside the lock (whose file each attempt to take it empties): which process holds it, since
    when, so that a run refused can say how long the other has run (one blocked for hours, by a
    destination's lock that a session idle in a transaction holds, is worth looking at)."""
    with contextlib.suppress(OSError):
        _holder_path(path).write_text(f"{os.getpid()} {time.time():.0f}\n", encoding="utf-8")


def _holder(path: Path) -> str:
    """`process 123, running for 2 h 05 min; ` from the note of the run that holds the lock."""
    try:
        pid, since = _holder_path(path).read_text(encoding="utf-8").split()
        minutes = max(0, int((time.time() - float(since)) // 60))
    except (OSError, ValueError):
        return ""
    return f"process {pid}, running for {minutes // 60} h {minutes % 60:02d} min; "


@contextmanager
def run_lock(pipelines_dir: str | Path, pipeline_name: str) -> Iterator[Path]:
    """Hold the pipeline's lock for the block; RunLocked at once if another run holds it."""
    path = lock_path(pipelines_dir, pipeline_name)
    lock = _acquire(path, pipeline_name)
    with _guard:
        _held[path] = lock
    try:
        yield path
    finally:
        with _guard:
            _held.pop(path, None)
        lock.release()


def hold_for_run(pipeline: Any) -> None:
    """The run lock of `pipeline` for a run from a user's own code, held until dlt ends the run
    (its trace) or the process ends; nothing if this process holds it already (the command, or
    an earlier resource of the same run), and nothing where dlt traces no run (the source read
    outside one, or runtime traces switched off): no end would let it go. RunLocked if another
    process holds it."""
    if getattr(pipeline, "_trace", None) is None:
        return
    path = lock_path(pipeline.pipelines_dir, pipeline.pipeline_name)
    with _guard:
        if path not in _held:
            _for_run(path, _acquire(path, pipeline.pipeline_name))


def _loads_uniware(pipeline: Any) -> bool:
    """Whether the pipeline loads this source's data: its schema, under its name or another's
    (a source renamed), has the audit table."""
    from uniware_source.load.audit import AUDIT_TABLE

    if SCHEMA in pipeline.schema_names:
        return True
    return any(AUDIT_TABLE in schema.tables for schema in pipeline.schemas.values())


def watch_runs() -> None:
    """Let dlt's trace hooks take and let go the run locks of runs from a user's own code (`_LetGo`):
    from when the package is imported (a process that only attaches to a pipeline and loads what
    is pending makes no source), before any run starts."""
    _LetGo.install()


class _LetGo:
    """One of dlt's trace modules (dlt.pipeline.trace.TRACKING_MODULES, as dlt's own are): at the
    start of a run that only loads a pending package, the lock is taken (waiting); at the end of
    a pipeline's run, the lock taken for it (here or by hold_for_run) is let go."""

    installed = False

    @classmethod
    def install(cls) -> None:
        from dlt.pipeline import trace

        if not cls.installed and trace.TRACKING_MODULES is not None:
            trace.TRACKING_MODULES.append(cls)
            cls.installed = True

    @staticmethod
    def on_start_trace(trace: Any, step: Any, pipeline: Any) -> None:
        """A run (or load) of a Uniware pipeline that finds a pending package loads it without
        reading the source: the lock is taken here, waiting for another run that holds it."""
        if step not in ("run", "normalize", "load") or not _loads_uniware(pipeline):
            return
        if not pipeline.has_pending_data:
            return
        path = lock_path(pipeline.pipelines_dir, pipeline.pipeline_name)
        with _guard:
            if path in _held:  # the command's (which loads a pending package in a run of its own)
                return
        if step == "run":
            logger.warning(
                "pipeline %s: a load package that an interrupted run left is loaded first, and this "
                "run reads no Uniware job (dlt loads pending packages and stops there): run it again "
                "to load the jobs it was given",
                pipeline.pipeline_name,
            )
        lock = _acquire(path, pipeline.pipeline_name, wait=True)  # not under _guard: it may wait
        with _guard:
            _for_run(path, lock)

    @staticmethod
    def on_start_trace_step(trace: Any, step: Any, pipeline: Any) -> None:
        pass

    @staticmethod
    def on_end_trace_step(trace: Any, step: Any, pipeline: Any, step_info: Any, send_state: bool) -> None:
        pass

    @staticmethod
    def on_end_trace(trace: Any, pipeline: Any, send_state: bool) -> None:
        path = lock_path(pipeline.pipelines_dir, pipeline.pipeline_name)
        with _guard:
            if path not in _for_runs:
                return
            _for_runs.discard(path)
            lock = _held.pop(path)
        lock.release()
