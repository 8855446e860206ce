"""What fails an orchestrator's task: the jobs of a unit's run that ended without their data
(uniware_source.orchestrate.missing_jobs), against the emulator, in DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.conftest import make_source, rows
from uniware_source.orchestrate import missing_jobs, split_exports

FAST = {"retry_cooldown": 0.2, "collision_wait": 0.3, "max_jobs_in_flight": 1}


def _exports(**settings: object) -> list[dict[str, object]]:
    today = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    start = (today - timedelta(days=1)).isoformat()
    return [{"report": "Sale Orders", "start_date": start, "facilities": ["WH-BLR", "WH-DEL"], **settings}]


def test_a_window_that_did_not_load_is_missing_for_its_unit_only(emulator, pipeline) -> None:
    blr, dell = split_exports(_exports(max_attempts=1, min_window_hours=24))
    emulator.shape_next_jobs(1, outcome="FAILED")  # the first window's only attempt
    since = datetime.now(UTC)
    pipeline.run(make_source(emulator, [], exports=[blr.entry], **FAST))

    (failed,) = rows(pipeline, "SELECT job_code FROM export_jobs WHERE status = 'FAILED'")
    missing = missing_jobs(pipeline, blr, since)
    assert len(missing) == 1 and missing[0].startswith(f"{failed[0]} Sale Orders / WH-BLR ")
    assert "FAILED" in missing[0]
    assert missing_jobs(pipeline, dell, since) == []  # another facility's unit: not its job
    assert missing_jobs(pipeline, blr, datetime.now(UTC)) == []  # not a run since then


def test_a_failure_that_a_retry_made_good_is_not_missing(emulator, pipeline) -> None:
    blr, _ = split_exports(_exports(max_attempts=3))
    emulator.shape_next_jobs(1, outcome="FAILED")
    since = datetime.now(UTC)
    pipeline.run(make_source(emulator, [], exports=[blr.entry], **FAST))

    statuses = [status for (status,) in rows(pipeline, "SELECT status FROM export_jobs")]
    assert statuses.count("FAILED") == 1 and "LOADED" in statuses
    assert missing_jobs(pipeline, blr, since) == []


def test_a_snapshot_loads_every_facility_in_one_batch_however_small(emulator, pipeline) -> None:
    """A batch smaller than a snapshot's facilities still takes them all: the snapshot replaces
    its whole table, so a batch of one facility would drop the others' rows (and the next batch,
    planning the snapshot afresh, would take the same facility again)."""
    exports = [{"report": "Inventory Snapshot", "facilities": ["WH-BLR", "WH-DEL"]}]
    pipeline.run(make_source(emulator, [], exports=exports, commit_every_windows=1, **FAST))
    tags = rows(pipeline, "SELECT DISTINCT split_part(facility, '-', 2) FROM inventory_snapshot")
    assert sorted(tags) == [("BLR",), ("DEL",)]
    assert pipeline.state["sources"]["uniware"]["resources"]["uniware_exports"]["batch"]["left"] == 0
