"""What a run's outcome means for the next run: how far each cursor moves, which window size to
start from, and which fetched windows may load at all.

The cursor of an export and facility moves to the end of the last window of an unbroken run of
loaded windows, no further: a window that did not load is read again next time. Both live in
the resource state, which dlt commits together with the data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from uniware_source.incremental.plan import WindowTask, grid_cell
from uniware_source.incremental.specs import ExportSpec
from uniware_source.jobs import ExportJob, Outcome


def leaves(tasks: Sequence[WindowTask]) -> Iterator[WindowTask]:
    """The tasks that were not split, in window order."""
    for task in tasks:
        if task.split_into:
            yield from leaves(task.split_into)
        else:
            yield task


def _by_export_and_facility(tasks: Sequence[WindowTask]) -> dict[tuple[str, str], list[WindowTask]]:
    groups: dict[tuple[str, str], list[WindowTask]] = {}
    for task in tasks:
        if task.window is not None:
            groups.setdefault((task.spec.key, task.facility), []).append(task)
    return groups


def advance_cursors(tasks: Sequence[WindowTask], book: dict[str, Any]) -> bool:
    """Move each export/facility cursor of `book` (the incremental cursors, or a backfill's) over
    the unbroken run of loaded windows, no further; whether one moved."""
    cursors = book.setdefault("cursors", {})
    moved = False
    for (key, facility), group in _by_export_and_facility(tasks).items():
        done = sorted(leaves(group), key=lambda t: t.window.start if t.window else datetime.min)
        cursor: datetime | None = None
        for task in done:
            if not task.loaded:
                break
            assert task.window is not None
            cursor = task.window.end
        previous = cursors.get(key, {}).get(facility)
        if cursor is not None and (previous is None or cursor > datetime.fromisoformat(previous)):
            cursors.setdefault(key, {})[facility] = cursor.isoformat()
            moved = True
    return moved


def remember_window_sizes(tasks: Sequence[WindowTask], state: dict[str, Any]) -> None:
    """After a split of a whole window, the size of the pieces that loaded is where the next run
    starts (it stays on the window grid: a half, a quarter, ...). A run with no split and every
    window loaded doubles it again, back up to the export's window size."""
    sizes = state.setdefault("window_hours", {})
    for (key, facility), group in _by_export_and_facility(tasks).items():
        remembered = sizes.get(key, {}).get(facility)
        worked = _split_sizes_that_loaded(group)
        if worked:
            sizes.setdefault(key, {})[facility] = min([*worked, *([remembered] if remembered else [])])
        elif remembered and all(leaf.loaded for leaf in leaves(group)):
            grown = remembered * 2
            if grown >= group[0].spec.window.total_seconds() / 3600:
                del sizes[key][facility]
            else:
                sizes[key][facility] = grown


def _split_sizes_that_loaded(group: Sequence[WindowTask]) -> list[float]:
    """The hours of the loaded pieces of whole windows that were split."""
    return [
        leaf.window.hours
        for task in group
        if task.split_into and task.full
        for leaf in leaves([task])
        if leaf.window is not None and leaf.loaded
    ]


def loadable(spec: ExportSpec, tasks: Sequence[WindowTask], zone: str) -> list[ExportJob]:
    """The downloaded jobs of `spec` that may load. The others of its tasks end ERROR here, saying
    why: a snapshot replaces its whole table, so never with a facility missing; a keyless report
    replaces a whole grid cell, so only when every piece of the cell is here."""
    mine = [task for task in leaves(tasks) if task.spec is spec]
    if spec.is_snapshot:
        _refuse_partial_snapshot(mine)
    elif not spec.report.key:
        _refuse_incomplete_cells(spec, mine, zone)
    return [task.fetched for task in mine if task.fetched is not None and task.ready]


def _refuse_partial_snapshot(tasks: Sequence[WindowTask]) -> None:
    missing = [task.facility for task in tasks if not task.ready]
    if missing:
        _refuse(tasks, f"snapshot not replaced: no usable file for {', '.join(missing)}")


def _refuse_incomplete_cells(spec: ExportSpec, tasks: Sequence[WindowTask], zone: str) -> None:
    cells: dict[tuple[str, datetime], list[WindowTask]] = {}
    for task in tasks:
        assert task.window is not None
        cells.setdefault((task.facility, grid_cell(spec, task.window.start, zone)), []).append(task)
    for (facility, cell), pieces in cells.items():
        if not all(piece.ready for piece in pieces):
            _refuse(
                pieces,
                f"not loaded: another piece of the window from {cell:%Y-%m-%d %H:%M} UTC "
                f"({facility}) did not download, and a report without a key is replaced a whole "
                "window at a time",
            )


def _refuse(tasks: Sequence[WindowTask], message: str) -> None:
    for task in tasks:
        if task.fetched is not None and task.ready:
            task.fetched.finish(Outcome.ERROR, message)


def note_backlog(book: dict[str, Any], left: Sequence[WindowTask]) -> None:
    """Which export/facility pairs have windows left for the next run: it goes on from their
    cursors without the lookback (which re-reads what changed late, not what was never read)."""
    cut: dict[str, list[str]] = {}
    for task in left:
        if task.window is not None and task.facility not in cut.setdefault(task.spec.key, []):
            cut[task.spec.key].append(task.facility)
    book["cut"] = {key: facilities for key, facilities in cut.items() if facilities}
