"""One run of the scheduled exports, as the resource and `--plan` both see it.

`ExportRun` holds what a run needs (settings, export specs, sync settings) and plans its windows
from the stored progress: the cursors and window sizes in the resource's dlt state, and the
ledger of jobs earlier runs created. `--plan` plans with the ledger opened read-only, so it
shows a run without changing anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from uniware_source.api.client import UniwareClient
from uniware_source.incremental.plan import Plan, PlanContext, plan_tasks
from uniware_source.incremental.specs import ExportSpec
from uniware_source.jobs.ledger import JobLedger, LedgerStore
from uniware_source.settings import SourceSettings, SyncSettings

RESOURCE_NAME = "uniware_exports"
# a ledger entry (and the record of a loaded job that prunes it) is kept this long at most
LEDGER_MAX_AGE = timedelta(days=3)


@dataclass(frozen=True)
class ExportRun:
    """Everything one run of the exports needs, so that `--plan` can show it without running it."""

    settings: SourceSettings
    specs: Sequence[ExportSpec]
    sync: SyncSettings

    def open_ledger(self, state: dict[str, Any], store: LedgerStore | None, *, read_only: bool) -> JobLedger:
        """The ledger of pending jobs, less those that loaded or grew too old."""
        ledger = JobLedger.open(store, read_only=read_only)
        ledger.prune(state.get("loaded_jobs", {}), max_age=LEDGER_MAX_AGE)
        return ledger

    def plan(self, state: dict[str, Any], ledger: JobLedger, client: UniwareClient | None = None) -> Plan:
        """The jobs a run would create or re-attach to now. Creates nothing; `client` (one the
        run goes on using, so that it logs in once) lists the facilities of "all"."""
        context = PlanContext(
            now=datetime.now(UTC).replace(second=0, microsecond=0),
            zone=self.settings.timezone,
            state=state,
            ledger=ledger,
            backfill=self.sync.backfill,
            limit=self.sync.commit_every_windows,
            snapshots=self.sync.snapshots,
        )
        return plan_tasks(self.specs, context, (client or self.settings.client()).list_facilities)


def exports_state(pipeline_state: Mapping[str, Any]) -> dict[str, Any]:
    """The exports resource's part of a pipeline's state."""
    sources = pipeline_state.get("sources", {})
    return dict(sources.get("uniware", {}).get("resources", {}).get(RESOURCE_NAME, {}))


def backlog(pipeline_state: Mapping[str, Any]) -> tuple[int, int]:
    """(windows left for a next run, windows the last run loaded), as the last run stored them.
    The windows loaded count only if a cursor moved: a batch behind a window that did not load (a
    job still running on Uniware, one that failed) loads the windows after it again and again,
    and the next batch would too; the batches then stop, and the next run starts at that window."""
    batch = exports_state(pipeline_state).get("batch", {})
    return int(batch.get("left", 0)), int(batch.get("loaded", 0)) if batch.get("moved", True) else 0
