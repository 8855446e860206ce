"""The job ledger: every export job we created, written down the moment Uniware accepts it.

dlt state is committed only together with a load, so a run killed while polling would forget
the jobs it created, and the next run would create them again. The ledger remembers them: the
next run re-attaches to a pending job instead of creating its window again. Entries go once the
committed dlt state says their job loaded, once they failed, or when they are older than
`max_age`.

Where it is kept decides what it survives. The pipeline's working folder does not survive much:
dlt wipes it on a first run whose dataset does not exist yet, and a new machine or an
orchestrator's fresh worker has none. So with a destination that speaks SQL the ledger is a table
of the dataset, `_uniware_job_ledger`, written row by row as jobs are created and dropped, beside
dlt's own state. Only a destination without SQL (files) keeps it as a JSON file in the working
folder, replaced atomically (write, fsync, rename).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tenacity import retry, retry_if_exception, wait_exponential

from uniware_source.incremental.windows import Window

if TYPE_CHECKING:
    import dlt

logger = logging.getLogger(__name__)

LEDGER_FILE = "uniware_job_ledger.json"
LEDGER_TABLE = "_uniware_job_ledger"
_COLUMNS = ("job_code", "export", "facility", "window_start", "window_end", "created_at", "attempt")


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

    def row(self) -> tuple[Any, ...]:
        start, end = self.window or (None, None)
        return (self.job_code, self.export, self.facility, start, end, self.created_at, self.attempt)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> LedgerEntry:
        code, export, facility, start, end, created_at, attempt = row
        window = [str(start), str(end)] if start and end else None
        return cls(str(code), str(export), str(facility), window, str(created_at), int(attempt or 1))


class LedgerStore(Protocol):
    """Where the ledger's entries live."""

    def read(self) -> list[LedgerEntry]: ...

    def write(
        self, added: Sequence[LedgerEntry], removed: Sequence[str], all_entries: Sequence[LedgerEntry]
    ) -> None:
        """Make the store hold `all_entries`: `added` and `removed` say what changed."""


class FileStore:
    """A JSON file, replaced atomically on each change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[LedgerEntry]:
        if not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [LedgerEntry(**item) for item in raw.get("jobs", [])]
        except (ValueError, TypeError) as exc:
            # a damaged ledger must not stop loading: at worst some windows are created again
            logger.warning("ignoring unreadable job ledger %s: %s", self.path, exc)
            return []

    def write(
        self, added: Sequence[LedgerEntry], removed: Sequence[str], all_entries: Sequence[LedgerEntry]
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        payload = {"jobs": [asdict(entry) for entry in all_entries]}
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)


WRITE_PATIENCE = 120.0  # seconds a ledger write waits for the destination to come back


def _terminal(exc: BaseException) -> bool:
    from dlt.destinations.exceptions import DatabaseTerminalException

    return isinstance(exc, DatabaseTerminalException)


class DestinationStore:
    """A table in the pipeline's dataset, beside dlt's state; the dataset is created if need be."""

    def __init__(self, pipeline: dlt.Pipeline) -> None:
        self.pipeline = pipeline
        self._ready = False

    def read(self) -> list[LedgerEntry]:
        from dlt.destinations.exceptions import DatabaseUndefinedRelation

        with self.pipeline.sql_client() as client:
            table = client.make_qualified_table_name(LEDGER_TABLE)
            try:
                rows = client.execute_sql(f"SELECT {', '.join(_COLUMNS)} FROM {table}")
            except DatabaseUndefinedRelation:  # no job was ever created into this dataset
                return []
        return [LedgerEntry.from_row(row) for row in rows or []]

    # a destination busy for a moment (another process reading a DuckDB file) or away for one (a
    # PostgreSQL restart) is waited for, up to WRITE_PATIENCE: a ledger row is the only record of
    # a created job, without which the next run creates its window again. An error the
    # destination calls terminal (a table it refuses) fails at once
    @retry(
        stop=lambda state: (state.seconds_since_start or 0.0) >= WRITE_PATIENCE,
        wait=wait_exponential(multiplier=0.2, max=10),
        retry=retry_if_exception(lambda exc: not _terminal(exc)),
        before_sleep=lambda state: logger.info("the job ledger could not be written; trying again"),
        reraise=True,
    )
    def write(
        self, added: Sequence[LedgerEntry], removed: Sequence[str], all_entries: Sequence[LedgerEntry]
    ) -> None:
        with self.pipeline.sql_client() as client:
            table = client.make_qualified_table_name(LEDGER_TABLE)
            if not self._ready:
                if not client.has_dataset():
                    client.create_dataset()
                client.execute_sql(
                    f"CREATE TABLE IF NOT EXISTS {table} (job_code VARCHAR PRIMARY KEY, export VARCHAR, "
                    "facility VARCHAR, window_start VARCHAR, window_end VARCHAR, created_at VARCHAR, "
                    "attempt BIGINT)"
                )
                self._ready = True
            if removed:
                placeholders = ", ".join(["%s"] * len(removed))
                client.execute_sql(f"DELETE FROM {table} WHERE job_code IN ({placeholders})", *removed)
            for entry in added:
                client.execute_sql(f"DELETE FROM {table} WHERE job_code = %s", entry.job_code)
                values = ", ".join(["%s"] * len(_COLUMNS))
                client.execute_sql(
                    f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES ({values})", *entry.row()
                )


def store_for(pipeline: dlt.Pipeline) -> LedgerStore:
    """The destination when it speaks SQL; otherwise a file in the pipeline's working folder."""
    try:
        with pipeline.sql_client():
            pass
    except Exception as exc:  # no SQL client (a filesystem destination, say): the working folder
        logger.info("keeping the job ledger in the pipeline's working folder (%s)", type(exc).__name__)
        return FileStore(Path(pipeline.working_dir) / LEDGER_FILE)
    return DestinationStore(pipeline)


class JobLedger:
    def __init__(
        self, store: LedgerStore | None, entries: Iterable[LedgerEntry] = (), *, read_only: bool = False
    ) -> None:
        self.store = store  # None: in memory only (a source iterated outside a pipeline)
        self.entries: dict[str, LedgerEntry] = {entry.job_code: entry for entry in entries}
        self.read_only = read_only  # changes stay in memory: what `--plan` looks through

    @classmethod
    def open(cls, store: LedgerStore | None, *, read_only: bool = False) -> JobLedger:
        return cls(store, store.read() if store is not None else (), read_only=read_only)

    def pending(self, export: str, facility: str) -> list[LedgerEntry]:
        return [e for e in self.entries.values() if e.export == export and e.facility == facility]

    def add(self, entry: LedgerEntry) -> None:
        self.entries[entry.job_code] = entry
        self._save([entry], [])

    def drop(self, job_codes: Iterable[str]) -> None:
        removed = [code for code in job_codes if self.entries.pop(code, None) is not None]
        if removed:
            self._save([], removed)

    def prune(self, loaded: Iterable[str], *, max_age: timedelta, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        loaded_codes = set(loaded)
        stale = [
            code
            for code, entry in self.entries.items()
            if code in loaded_codes or now - datetime.fromisoformat(entry.created_at) > max_age
        ]
        self.drop(stale)

    def _save(self, added: Sequence[LedgerEntry], removed: Sequence[str]) -> None:
        if self.store is None or self.read_only:
            return
        self.store.write(added, removed, list(self.entries.values()))
