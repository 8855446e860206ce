"""Time windows for export jobs: cut a range at local (IST) midnights, split a window in halves.

A window is half-open, `[start, end)`, in UTC. Uniware's `dateRange` is inclusive, so it is sent
as `start` .. `end - 1 ms`, in epoch milliseconds. Window boundaries fall on local midnights
counted from a fixed anchor (the export's `start_date`), so the windows of one run line up with
those of the next, and a re-read window replaces exactly what an earlier read of it loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Window:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"empty window {self.start} .. {self.end}")

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def date_range(self) -> dict[str, int]:
        """Uniware's inclusive `dateRange` in epoch milliseconds."""
        start_ms = int(self.start.timestamp() * 1000)
        end_ms = int(self.end.timestamp() * 1000) - 1
        return {"start": start_ms, "end": end_ms}

    def halves(self) -> tuple[Window, Window]:
        middle = self.start + (self.end - self.start) / 2
        middle = middle.replace(microsecond=0)
        return Window(self.start, middle), Window(middle, self.end)

    def label(self, zone: str) -> str:
        tz = ZoneInfo(zone)
        return f"{self.start.astimezone(tz):%Y-%m-%d %H:%M} .. {self.end.astimezone(tz):%Y-%m-%d %H:%M}"

    def to_state(self) -> list[str]:
        return [self.start.isoformat(), self.end.isoformat()]

    @classmethod
    def from_state(cls, value: Any) -> Window:
        return cls(datetime.fromisoformat(value[0]), datetime.fromisoformat(value[1]))


def local_midnight(day: date, zone: str) -> datetime:
    """00:00 of `day` in `zone`, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def plan_windows(
    start: datetime,
    end: datetime,
    *,
    anchor: date,
    size: timedelta,
    zone: str,
) -> list[Window]:
    """Cut `[start, end)` into windows whose boundaries are `anchor`'s local midnight plus
    multiples of `size`. The first window starts at the boundary at or before `start` (so it
    re-reads whole windows), the last one ends at `end` (so it may be partial)."""
    if size <= timedelta(0):
        raise ValueError("window size must be positive")
    if end <= start:
        return []
    origin = local_midnight(anchor, zone)
    steps = (start - origin) // size
    cursor = origin + steps * size
    windows = []
    while cursor < end:
        nxt = min(cursor + size, end)
        windows.append(Window(cursor, nxt))
        cursor = nxt
    return windows
