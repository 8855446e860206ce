"""One run of a pipeline at a time, on one machine.

A second run of the same pipeline (same pipelines folder and name) would create the same export
jobs on the tenant again and race the first over the job ledger and the load packages. The
command takes an exclusive lock on a file beside the pipeline's working folder (not inside it:
dlt may wipe that folder) before it changes anything, and gives up at once if another run holds
it. The lock is the operating system's (`filelock`): it is released when its process ends, even
when killed, so a crash never leaves it held. It covers one machine; runs on several machines
(an orchestrator's workers) must be kept apart by the orchestrator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from uniware_source.api.errors import ConfigurationError, UniwareError


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
    return Path(pipelines_dir) / f".{pipeline_name}.uniware.lock"


@contextmanager
def run_lock(pipelines_dir: str | Path, pipeline_name: str) -> Iterator[Path]:
    """Hold the pipeline's lock for the block; RunLocked at once if another run holds it."""
    path = lock_path(pipelines_dir, pipeline_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunLocked(
            f"another run of pipeline {pipeline_name!r} is in progress (it holds {path}); "
            "this run changed nothing"
        ) from None
    try:
        yield path
    finally:
        lock.release()
