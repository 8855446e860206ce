"""Library use: a job that ends without its data fails `pipeline.run`, after the rest has loaded."""

from __future__ import annotations

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from tests.conftest import PASSWORD, USERNAME, audit, make_source, rows
from uniware_source import MissingJobsError
from uniware_source.emulator import JobSpec


def test_a_missing_job_raises_after_the_good_one_loaded(emulator, pipeline) -> None:
    good = emulator.add_job(JobSpec(rows=120))
    with pytest.raises(PipelineStepFailed) as failed:  # fail_on_missing_jobs: its default, true
        pipeline.run(make_source(emulator, [good, "NOPE-1"], fail_on_missing_jobs=True))
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
    info = pipeline.run(make_source(emulator, [good], fail_on_missing_jobs=True))
    assert not info.has_failed_jobs
    assert audit(pipeline)[good]["status"] == "SKIPPED"


def test_the_opt_out_returns_normally(emulator, pipeline) -> None:
    good = emulator.add_job(JobSpec(rows=30))
    bad = emulator.add_job(JobSpec(rows=10, outcome="FAILED"))
    info = pipeline.run(make_source(emulator, [good, bad], fail_on_missing_jobs=False))
    assert not info.has_failed_jobs
    assert audit(pipeline)[bad]["status"] == "FAILED"
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(30,)]


def test_the_default_raises_and_the_environment_opts_out(emulator, pipeline, monkeypatch) -> None:
    from uniware_source import UniwareCredentials, uniware_source

    def source(code: str):  # no fail_on_missing_jobs argument: the default, or the environment's
        return uniware_source(
            job_codes=[code],
            base_url=emulator.base_url,
            credentials=UniwareCredentials(username=USERNAME, password=PASSWORD),
            poll_interval=0.05,
        )

    with pytest.raises(PipelineStepFailed, match="NOPE-3 NOT_FOUND"):
        pipeline.run(source("NOPE-3"))
    monkeypatch.setenv("SOURCES__UNIWARE__FAIL_ON_MISSING_JOBS", "false")
    info = pipeline.run(source("NOPE-2"))
    assert audit(pipeline)["NOPE-2"]["status"] == "NOT_FOUND"
    assert info.loads_ids
