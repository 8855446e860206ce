"""The job ledger: every export job we created, written down the moment Uniware accepts it.

dlt state is committed only together with a load, so a run killed while polling would forget
the jobs it created. The ledger is therefore a small JSON file in the pipeline's working
directory, replaced atomically (write, fsync, rename) after each create. The next run re-attaches
to a pending job instead of creating its window again. Entries go once the committed dlt state
says their job loaded, once they failed, or when they are older than `max_age`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from uniware_source.incremental.windows import Window

logger = logging.getLogger(__name__)

LEDGER_FILE = "uniware_job_ledger.json"


@dataclass(frozen=True)
class LedgerEntry:
    job_code: str
    export: str  # ExportSpec.key
    facility: str
    window: list[str] | None  # Window.to_state(), None for a snapshot
    created_at: str
    attempt: int = 1

    def window_value(self) -> Window | None:
        return Window.from_state(self.window) if self.window else None


class JobLedger:
    def __init__(
        self, path: Path | None, entries: Iterable[LedgerEntry] = (), *, read_only: bool = False
    ) -> None:
        self.path = path
        self.entries: dict[str, LedgerEntry] = {entry.job_code: entry for entry in entries}
        self.read_only = read_only  # changes stay in memory: what `--plan` looks through

    @classmethod
    def open(cls, directory: Path | None, *, read_only: bool = False) -> JobLedger:
        path = directory / LEDGER_FILE if directory else None
        entries: list[LedgerEntry] = []
        if path is not None and path.exists():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                entries = [LedgerEntry(**item) for item in raw.get("jobs", [])]
            except (ValueError, TypeError) as exc:
                # a damaged ledger must not stop loading: at worst some windows are created again
                logger.warning("ignoring unreadable job ledger %s: %s", path, exc)
        return cls(path, entries, read_only=read_only)

    def pending(self, export: str, facility: str) -> list[LedgerEntry]:
        return [e for e in self.entries.values() if e.export == export and e.facility == facility]

    def add(self, entry: LedgerEntry) -> None:
        self.entries[entry.job_code] = entry
        self._save()

    def drop(self, job_codes: Iterable[str]) -> None:
        removed = [code for code in job_codes if self.entries.pop(code, None) is not None]
        if removed:
            self._save()

    def prune(self, loaded: Iterable[str], *, max_age: timedelta, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        loaded_codes = set(loaded)
        stale = [
            code
            for code, entry in self.entries.items()
            if code in loaded_codes or now - datetime.fromisoformat(entry.created_at) > max_age
        ]
        self.drop(stale)

    def _save(self) -> None:
        if self.path is None or self.read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        payload = {"jobs": [asdict(entry) for entry in self.entries.values()]}
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
