"""Library use: a job that ends without its data fails `pipeline.run`, after the rest has loaded."""

from __future__ import annotations

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from tests.conftest import PASSWORD, audit, make_source, rows
from uniware_source import MissingJobsError
from uniware_source.emulator import JobSpec


def test_a_missing_job_raises_after_the_good_one_loaded(emulator, pipeline) -> None:
    good = emulator.add_job(JobSpec(rows=120))
    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.run(make_source(emulator, [good, "NOPE-1"]))
    error = failed.value.exception
    assert isinstance(error, MissingJobsError)
    assert error.jobs == [("NOPE-1", "NOT_FOUND", "Sale Orders", "WH-BLR")]
    assert "NOPE-1 NOT_FOUND" in str(failed.value) and good not in str(error)
    assert PASSWORD not in str(failed.value)
    # the good job's rows, both audit rows and the state are in the destination
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(120,)]
    outcomes = {code: row["status"] for code, row in audit(pipeline).items()}
    assert outcomes == {good: "LOADED", "NOPE-1": "NOT_FOUND"}
    assert not pipeline.has_pending_data

    # the next run starts clean: the good code is skipped, nothing raises
    info = pipeline.run(make_source(emulator, [good]))
    assert not info.has_failed_jobs
    assert audit(pipeline)[good]["status"] == "SKIPPED"


def test_the_opt_out_returns_normally(emulator, pipeline) -> None:
    good = emulator.add_job(JobSpec(rows=30))
    bad = emulator.add_job(JobSpec(rows=10, outcome="FAILED"))
    info = pipeline.run(make_source(emulator, [good, bad], fail_on_missing_jobs=False))
    assert not info.has_failed_jobs
    assert audit(pipeline)[bad]["status"] == "FAILED"
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(30,)]


def test_the_opt_out_as_an_environment_setting(emulator, pipeline, monkeypatch) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__FAIL_ON_MISSING_JOBS", "false")
    info = pipeline.run(make_source(emulator, ["NOPE-2"]))
    assert audit(pipeline)["NOPE-2"]["status"] == "NOT_FOUND"
    assert info.loads_ids
