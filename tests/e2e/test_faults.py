"""Faults switched on in the emulator: each job still ends up loaded or recorded with its reason."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from tests.conftest import PASSWORD, audit, item_codes, make_source, rows
from uniware_source import AuthError, UniwareCredentials, uniware_source
from uniware_source.api.client import STATUS_PATH
from uniware_source.emulator import Emulator, JobSpec
from uniware_source.jobs import Backoff


def _oauth_calls(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.path.startswith("/oauth/token"))


def _count(emu: Emulator, server: str, status: int | None = None) -> int:
    return sum(1 for r in emu.requests if r.server == server and (status is None or r.status == status))


# -- auth ---------------------------------------------------------------------------------------
def test_token_is_refreshed_before_it_expires(tmp_path_factory, pipeline) -> None:
    with Emulator(
        username="u",
        password="p",
        access_token_ttl=2.0,
        default_job_delay=5.0,
        cache_dir=tmp_path_factory.getbasetemp() / "emulator-cache",
    ) as emu:
        code = emu.add_job(JobSpec(rows=50))
        source = make_source(emu, [code], credentials=UniwareCredentials(username="u", password="p"))
        pipeline.run(source)
        assert audit(pipeline)[code]["status"] == "LOADED"
        assert emu.grants["password"] == 1  # logged in once ...
        assert emu.grants["refresh_token"] >= 1  # ... then refreshed during 5 s of polling
        assert _count(emu, "api", 401) == 0  # renewed before expiry, never after a refusal


def test_dead_refresh_token_falls_back_to_the_password(tmp_path_factory, pipeline) -> None:
    with Emulator(
        username="u",
        password="p",
        access_token_ttl=2.0,
        refresh_token_ttl=1.0,
        default_job_delay=5.0,
        cache_dir=tmp_path_factory.getbasetemp() / "emulator-cache",
    ) as emu:
        code = emu.add_job(JobSpec(rows=50))
        pipeline.run(make_source(emu, [code], credentials=UniwareCredentials(username="u", password="p")))
        assert audit(pipeline)[code]["status"] == "LOADED"
        assert emu.grants["refresh_token"] == 0
        assert emu.grants["password"] >= 2


def _wait_until(condition: Callable[[], bool], limit: float = 60.0) -> bool:
    """Whether `condition` came true; `limit` only keeps a broken run from hanging the test."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_revoked_token_mid_run_is_renewed_and_the_call_retried(emulator, pipeline) -> None:
    # The job runs until this test lets it end, so the revocation falls mid-run whatever the
    # machine's speed: after a status call went through with the token, before the job is done.
    code = emulator.add_job(JobSpec(rows=100, delay=3600.0))

    def status_answered() -> bool:
        return any(r.path == STATUS_PATH and r.status == 200 for r in emulator.requests)

    def revoke_mid_run() -> None:
        try:
            if _wait_until(status_answered):
                emulator.revoke_tokens()
                _wait_until(lambda: _count(emulator, "api", 401) >= 1)  # the old token was refused
        finally:
            with emulator.lock:
                emulator.jobs[code].delay = 0.0  # the job may end now

    watcher = threading.Thread(target=revoke_mid_run, name="revoke-mid-run")
    watcher.start()
    try:
        pipeline.run(make_source(emulator, [code]))
    finally:
        watcher.join()
    assert audit(pipeline)[code]["status"] == "LOADED"
    assert _count(emulator, "api", 401) >= 1
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(100,)]


def test_bad_password_is_a_clear_error_and_never_a_retry_loop(emulator, pipeline, caplog) -> None:
    codes = [emulator.add_job(JobSpec(rows=10, seed=i)) for i in range(20)]  # 20 polls racing to log in
    source = make_source(
        emulator, codes, credentials=UniwareCredentials(username="analyst", password="wrong-pw-42")
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(PipelineStepFailed) as failure:
        pipeline.run(source)
    cause = failure.value.__cause__
    while cause is not None and not isinstance(cause, AuthError):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, AuthError)
    assert "'analyst'" in str(cause)
    assert "wrong-pw-42" not in str(failure.value) and "wrong-pw-42" not in caplog.text
    assert _oauth_calls(emulator) == 1


def test_secrets_never_reach_logs_or_tables(emulator, pipeline, caplog) -> None:
    code = emulator.add_job(JobSpec(rows=20))
    missing = "NO-SUCH-JOB-1"
    with caplog.at_level(logging.DEBUG):
        pipeline.run(make_source(emulator, [code, missing]))
    tokens = emulator.issued_tokens()
    assert tokens, "the emulator should expose the tokens it issued, for this check"
    dumped = str(rows(pipeline, "SELECT * FROM export_jobs")) + str(
        rows(pipeline, "SELECT * FROM sale_orders")
    )
    for secret in [PASSWORD, *tokens]:
        assert secret not in caplog.text
        assert secret not in dumped


def test_unreachable_token_endpoint_leaves_no_password_in_the_trace(pipeline) -> None:
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = uniware_source(
        job_codes=["J1"],
        base_url=f"http://127.0.0.1:{port}",
        credentials=UniwareCredentials(username="u", password="SUPERSECRETPW"),
        poll_interval=0.05,
        max_poll_interval=0.1,
        request_backoff_factor=0.01,
    )
    with pytest.raises(PipelineStepFailed) as failed:  # the tenant is unreachable: the job ends in error
        pipeline.run(source)  # the run goes on, loads the audit row, then says the job is missing
    assert "J1 ERROR" in str(failed.value) and "SUPERSECRETPW" not in str(failed.value)
    job = audit(pipeline)["J1"]
    assert job["status"] == "ERROR" and "failed" in job["message"]
    assert "SUPERSECRETPW" not in str(job)
    assert "SUPERSECRETPW" not in repr(pipeline.last_trace.asdict())
    trace_files = list(Path(pipeline.working_dir).rglob("trace.pickle"))
    assert all(b"SUPERSECRETPW" not in f.read_bytes() for f in trace_files)


# -- status -------------------------------------------------------------------------------------
def test_outcomes_of_many_kinds_in_one_run(emulator, pipeline, caplog) -> None:
    good = emulator.add_job(JobSpec(rows=30))
    documented = emulator.add_job(JobSpec(rows=20, outcome="SUCCESSFUL"))
    failed = emulator.add_job(JobSpec(rows=10, outcome="FAILED"))
    cancelled = emulator.add_job(JobSpec(rows=10, outcome="CANCELLED"))
    stuck = emulator.add_job(JobSpec(rows=10, never_finish=True))
    late_file = emulator.add_job(JobSpec(rows=15, empty_file_path_polls=3))
    odd = emulator.add_job(JobSpec(rows=5, unknown_status="VALIDATING"))
    odd2 = emulator.add_job(JobSpec(rows=5, unknown_status="VALIDATING"))
    missing = "EXP-DOES-NOT-EXIST"
    codes = [good, documented, failed, cancelled, stuck, late_file, odd, odd2, missing]
    with caplog.at_level(logging.WARNING):
        info = pipeline.run(make_source(emulator, codes, job_timeout=3.0))
    assert not info.has_failed_jobs
    jobs = audit(pipeline)
    assert {c: jobs[c]["status"] for c in codes} == {
        good: "LOADED",
        documented: "LOADED",
        failed: "FAILED",
        cancelled: "CANCELLED",
        stuck: "TIMED_OUT",
        late_file: "LOADED",
        odd: "LOADED",
        odd2: "LOADED",
        missing: "NOT_FOUND",
    }
    assert jobs[late_file]["polls"] >= 4
    assert "jobCode" in (jobs[missing]["errors"] or "")
    assert jobs[failed]["message"]
    loaded = [good, documented, late_file, odd, odd2]
    assert [jobs[c]["rows_loaded"] for c in loaded] == [30, 20, 15, 5, 5]
    expected = item_codes(emulator, *loaded)
    assert rows(pipeline, "SELECT count(*), count(DISTINCT sale_order_item_code) FROM sale_orders") == [
        (len(expected), len(expected))
    ]
    # these jobs share order items: the destination was told to deduplicate, latest update first
    table = pipeline.default_schema.tables["sale_orders"]
    assert table["x-stage-data-deduplicated"] is False
    assert table["columns"]["updated"].get("dedup_sort") == "desc"
    # an unknown status is logged once, not once per poll or per job
    assert caplog.text.count("'VALIDATING' was never seen before") == 1


def test_twenty_jobs_are_polled_concurrently_within_the_backoff_bound(emulator, pipeline) -> None:
    delay = 2.0
    codes = [emulator.add_job(JobSpec(rows=20, delay=delay, seed=i)) for i in range(20)]
    started = time.monotonic()
    pipeline.run(make_source(emulator, codes, poll_interval=0.2, max_poll_interval=1.0))
    elapsed = time.monotonic() - started
    jobs = audit(pipeline)
    assert all(jobs[c]["status"] == "LOADED" for c in codes)
    assert elapsed < 20 * delay / 3  # one at a time would take 40 s
    bound = Backoff(initial=0.2, cap=1.0).max_polls(delay + 0.5)
    assert all(jobs[c]["polls"] <= bound for c in codes), ([jobs[c]["polls"] for c in codes], bound)


def test_rate_limits_and_server_errors_are_retried(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=40))
    emulator.fail_next(2, status=429, retry_after=1)
    pipeline.run(make_source(emulator, [code]))
    assert audit(pipeline)[code]["status"] == "LOADED"
    assert _count(emulator, "api", 429) == 2

    code2 = emulator.add_job(JobSpec(rows=40, seed=2))
    emulator.fail_next(3, status=503)
    pipeline.run(make_source(emulator, [code2]))
    assert audit(pipeline)[code2]["status"] == "LOADED"
    assert audit(pipeline)[code2]["rows_loaded"] == 40
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(len(item_codes(emulator, code, code2)),)]


# -- download -----------------------------------------------------------------------------------
def test_file_host_never_sees_the_bearer_token(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=50))
    pipeline.run(make_source(emulator, [code]))
    file_requests = [r for r in emulator.requests if r.server == "file"]
    assert file_requests and not any(r.had_authorization for r in file_requests)
    api_requests = [r for r in emulator.requests if r.server == "api" and not r.path.startswith("/oauth")]
    assert api_requests and all(r.had_authorization for r in api_requests)


def test_expired_link_gets_a_fresh_one(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=60, expired_links=1))
    pipeline.run(make_source(emulator, [code]))
    assert audit(pipeline)[code]["status"] == "LOADED"
    assert _count(emulator, "file", 403) == 1
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(60,)]


def test_connection_dropped_mid_file_is_downloaded_again_whole(emulator, pipeline) -> None:
    code = emulator.add_job(JobSpec(rows=2000, drop_connection_at=50_000))
    pipeline.run(make_source(emulator, [code]))
    job = audit(pipeline)[code]
    assert job["status"] == "LOADED" and job["rows_loaded"] == 2000
    assert _count(emulator, "file") == 2


def test_html_instead_of_csv_fails_that_job_only(emulator, pipeline) -> None:
    bad = emulator.add_job(JobSpec(rows=10, html_instead_of_csv=True))
    good = emulator.add_job(JobSpec(rows=25))
    pipeline.run(make_source(emulator, [bad, good]))
    jobs = audit(pipeline)
    assert jobs[bad]["status"] == "DOWNLOAD_FAILED"
    assert "HTML" in jobs[bad]["message"]
    assert jobs[good]["status"] == "LOADED"
    assert rows(pipeline, "SELECT count(*) FROM sale_orders") == [(25,)]
