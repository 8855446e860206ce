"""The poll loop driven by a clock the test owns, against a fake of the HTTP side.

Time passes only when the poller sleeps with nothing in flight: a 30-minute job timeout takes no
time at all, and nothing here waits on a wall-clock timer. Calls run on the poller's real worker
threads; the fake client answers at once, so the clock waits for them, not for time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from uniware_source.api.budget import RetryBudget
from uniware_source.api.client import DownloadResult, StatusAnswer
from uniware_source.api.errors import (
    AuthError,
    CsvFormatError,
    JobNotFoundError,
    LinkExpiredError,
    TransportError,
)
from uniware_source.jobs import Backoff, ExportJob, JobPoller, Outcome, PollSettings
from uniware_source.typed_csv.chunks import Arrival

START = 1000.0
FAKE_CALL_LIMIT = 30.0  # real seconds a fake call may take before the test calls it hung


class FakeClock:
    """A clock whose time moves only when the poller sleeps."""

    def __init__(self) -> None:
        self._now = START
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self.slept += seconds

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        # the fake client answers at once: wait for its call to end, not for the clock
        if not event.wait(FAKE_CALL_LIMIT):
            raise AssertionError("a fake call never finished")
        return True


@dataclass
class FakeJob:
    done_at: float | None = START  # on the fake clock; None: never
    final: str = "COMPLETE"
    message: str | None = None
    failing: list[bool] = field(default_factory=list)  # per status call, in order: raise a TransportError
    refused_links: int = 0  # downloads refused as expired, first
    polls: list[float] = field(default_factory=list)  # when each status call came
    downloads: int = 0
    links: int = 0


class FakeTenant:
    """The HTTP side the poller talks to: `export_job_status`, `download` and the retry budget."""

    def __init__(self, clock: FakeClock, budget: RetryBudget | None = None) -> None:
        self.clock = clock
        self.budget = budget or RetryBudget()
        self.jobs: dict[str, FakeJob] = {}
        self.reported: set[str] = set()  # jobs whose end the tenant has told the poller
        self.auth_refused = False
        self.lock = threading.Lock()

    def add(self, code: str, **spec: Any) -> ExportJob:
        self.jobs[code] = FakeJob(**spec)
        return ExportJob(job_code=code, report="Sale Orders", facility="WH-1", table_name="sale_orders")

    def running(self) -> int:
        """Jobs the poller has not yet heard the end of."""
        with self.lock:
            return len(self.jobs) - len(self.reported)

    def export_job_status(self, job_code: str) -> StatusAnswer:
        now = self.clock.now()
        if self.auth_refused:
            raise AuthError("login refused")
        job = self.jobs.get(job_code)
        if job is None:
            raise JobNotFoundError(
                f"Uniware refused status of job {job_code}: Invalid job code (code 100001, field jobCode)",
                code=100001,
                field="jobCode",
                errors=[{"code": 100001, "fieldName": "jobCode", "message": "Invalid job code"}],
            )
        with self.lock:
            job.polls.append(now)
            if job.failing and job.failing.pop(0):
                raise TransportError(f"Uniware status of job {job_code}: HTTP 503 after retries")
            if job.done_at is None or now < job.done_at:
                return StatusAnswer(job_code, "RUNNING", None, None)
            self.reported.add(job_code)
            if job.final != "COMPLETE":
                return StatusAnswer(job_code, job.final, None, job.message)
            job.links += 1
            return StatusAnswer(
                job_code, "COMPLETE", f"https://files.example/{job_code}-{job.links}.csv", None
            )

    def download(self, url: str, dest: Path, *, job_code: str, progress: Any = None) -> DownloadResult:
        job = self.jobs[job_code]
        with self.lock:
            job.downloads += 1
            refused = job.downloads <= job.refused_links
        if refused:
            raise LinkExpiredError(f"job {job_code}: the file host refused {url} (HTTP 403)")
        data = f"Code,Qty\n{job_code},1\n".encode()
        dest.write_bytes(data)
        if progress is not None:
            progress(len(data))
        return DownloadResult(dest, len(data), "sha")


def plan_whole_file(job: ExportJob, path: Path, arrival: Arrival) -> Any:
    """A planner that reads the file once its download has ended."""
    arrival.wait_for(1 << 62)
    return ("planned", path.read_bytes())


def make_poller(
    tenant: FakeTenant, tmp_path: Path, *, planner: Any = plan_whole_file, **settings: Any
) -> JobPoller:
    options: dict[str, Any] = {"backoff": Backoff(initial=2.0, cap=20.0, jitter=0.0), "max_workers": 2}
    options.update(settings)
    return JobPoller(
        tenant, PollSettings(**options), download_dir=tmp_path, planner=planner, clock=tenant.clock
    )


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


# -- the poll schedule ---------------------------------------------------------------------------
def test_polls_stay_within_the_backoff_bound(clock: FakeClock, tmp_path: Path) -> None:
    backoff = Backoff(initial=2.0, cap=20.0, jitter=0.2)
    tenant = FakeTenant(clock)
    runs = [5.0, 30.0, 120.0, 600.0]
    jobs = [tenant.add(f"J{i}", done_at=START + seconds) for i, seconds in enumerate(runs)]
    ended = list(make_poller(tenant, tmp_path, backoff=backoff).run(jobs))
    assert sorted(j.job_code for j in ended) == ["J0", "J1", "J2", "J3"]
    for job, seconds in zip(jobs, runs, strict=True):
        assert job.outcome is None and job.plan == ("planned", f"Code,Qty\n{job.job_code},1\n".encode())
        assert job.polls <= backoff.max_polls(seconds), (job.job_code, job.polls)
        polls = tenant.jobs[job.job_code].polls
        assert polls[0] == START  # polled as soon as admitted
        # and the end is noticed within one capped delay (20 s + 20 % jitter)
        assert START + seconds <= polls[-1] <= START + seconds + backoff.cap * (1 + backoff.jitter)
    assert clock.slept >= 600.0  # ten minutes of polling, on the fake clock only


def test_a_job_past_its_deadline_gets_one_last_poll_then_times_out(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock)
    job = tenant.add("STUCK", done_at=None)
    (ended,) = make_poller(tenant, tmp_path, job_timeout=1800.0).run([job])
    assert ended.outcome is Outcome.TIMED_OUT
    assert ended.message == f"job STUCK not done after 1800 s ({job.polls} polls, last status 'RUNNING')"
    polls = tenant.jobs["STUCK"].polls
    deadline = START + 1800.0
    assert [t for t in polls if t >= deadline] == [polls[-1]]  # exactly one poll after the deadline
    assert polls[-2] < deadline
    assert len(polls) == job.polls


def test_a_job_that_ends_at_its_last_chance_is_fetched(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock)
    job = tenant.add("LATE", done_at=START + 59.0)
    (ended,) = make_poller(tenant, tmp_path, job_timeout=50.0).run([job])
    assert tenant.jobs["LATE"].polls[-1] >= START + 59.0
    assert ended.outcome is None and ended.plan is not None


# -- outcomes on the server's word ---------------------------------------------------------------
def test_not_found_failed_and_cancelled_end_their_jobs(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock)
    failed = tenant.add("F", done_at=START + 10, final="FAILED", message="export queue broke")
    cancelled = tenant.add("C", done_at=START + 4, final="CANCELLED")
    good = tenant.add("G", done_at=START + 7)
    missing = ExportJob(job_code="NOPE", report="Sale Orders", facility="WH-1", table_name="sale_orders")
    ended = list(make_poller(tenant, tmp_path).run([failed, cancelled, good, missing]))
    assert [j.job_code for j in ended] == ["NOPE", "C", "G", "F"]  # in the order they ended
    assert (failed.outcome, failed.message, failed.server_status) == (
        Outcome.FAILED,
        "export queue broke",
        "FAILED",
    )
    assert (cancelled.outcome, cancelled.message) == (Outcome.CANCELLED, "Uniware reports CANCELLED")
    assert missing.outcome is Outcome.NOT_FOUND and "jobCode" in (missing.message or "")
    assert missing.errors == [{"code": 100001, "fieldName": "jobCode", "message": "Invalid job code"}]
    assert missing.audit_row(datetime.now(UTC))["errors"] == "[100001] jobCode: Invalid job code"
    assert good.outcome is None and good.plan is not None
    assert all(j.finished_at is not None for j in (failed, cancelled, missing))


def test_a_refused_login_stops_the_run(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock)
    tenant.auth_refused = True
    jobs = [tenant.add(f"J{i}") for i in range(3)]
    with pytest.raises(AuthError):
        list(make_poller(tenant, tmp_path).run(jobs))


# -- failed status calls -------------------------------------------------------------------------
def test_a_streak_of_failed_status_calls_gives_up_after_the_budget(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock, RetryBudget(status_errors=5))
    down = tenant.add("DOWN", failing=[True] * 100)
    # four failures, an answer, four more: never five in a row, so it is polled to its end
    flaky = tenant.add("FLAKY", done_at=START + 60, failing=[True] * 4 + [False] + [True] * 4)
    ended = list(make_poller(tenant, tmp_path).run([down, flaky]))
    assert {j.job_code for j in ended} == {"DOWN", "FLAKY"}
    assert down.outcome is Outcome.ERROR and "HTTP 503" in (down.message or "")
    assert len(tenant.jobs["DOWN"].polls) == 5
    assert flaky.outcome is None and flaky.plan is not None
    assert len(tenant.jobs["FLAKY"].polls) >= 10


# -- the in-flight cap ---------------------------------------------------------------------------
class CountingFeeder:
    """Creates jobs on the fake tenant when the poller asks, checking that it has room."""

    def __init__(self, tenant: FakeTenant, count: int, cap: int, runs_for: float) -> None:
        self.tenant, self.left, self.cap, self.runs_for = tenant, count, cap, runs_for
        self.most_running = 0
        self.settled: list[ExportJob] = []

    def take(self) -> ExportJob | None:
        if not self.left:
            return None
        running = self.tenant.running()
        assert running < self.cap, f"asked for a job with {running} running (cap {self.cap})"
        self.left -= 1
        code = f"FED-{self.left}"
        self.most_running = max(self.most_running, running + 1)
        return self.tenant.add(code, done_at=self.tenant.clock.now() + self.runs_for)

    def next_ready_at(self) -> float | None:
        return self.tenant.clock.now() if self.left else None

    def settle(self, job: ExportJob) -> None:
        self.settled.append(job)


def test_the_feeder_is_asked_only_while_fewer_than_the_cap_run(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock)
    feeder = CountingFeeder(tenant, count=7, cap=3, runs_for=10.0)
    ended = list(make_poller(tenant, tmp_path).run(feeder=feeder, max_in_flight=3))
    assert len(ended) == 7 and all(j.outcome is None and j.plan for j in ended)
    assert feeder.settled == ended  # the feeder heard of every job, as it ended
    assert feeder.most_running == 3  # the cap was used, and never passed
    # three rounds of ~10 s jobs: the cap, not the workers, set the pace
    assert clock.now() - START >= 30.0


def test_jobs_given_and_fed_share_the_cap(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock)
    given = [tenant.add(f"GIVEN-{i}", done_at=START + 5) for i in range(2)]
    feeder = CountingFeeder(tenant, count=2, cap=2, runs_for=5.0)
    ended = list(make_poller(tenant, tmp_path).run(given, feeder=feeder, max_in_flight=2))
    assert {j.job_code for j in ended[:2]} == {"GIVEN-0", "GIVEN-1"}  # the feeder waited for them
    assert len(ended) == 4


# -- the fetch step ------------------------------------------------------------------------------
def test_a_refused_link_is_fetched_again_with_a_fresh_one(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock)
    job = tenant.add("J", refused_links=2)
    (ended,) = make_poller(tenant, tmp_path).run([job])
    assert ended.outcome is None and ended.plan is not None
    assert tenant.jobs["J"].downloads == 3 and tenant.jobs["J"].links == 3
    assert ended.file_url == "https://files.example/J-3.csv"
    assert ended.polls == 3  # the first answer, then one for each fresh link


def test_a_download_gives_up_after_the_budget(clock: FakeClock, tmp_path: Path) -> None:
    tenant = FakeTenant(clock, RetryBudget(download_attempts=4))
    job = tenant.add("J", refused_links=100)
    (ended,) = make_poller(tenant, tmp_path).run([job])
    assert ended.outcome is Outcome.DOWNLOAD_FAILED
    assert "(gave up after 4 attempts)" in (ended.message or "")
    assert tenant.jobs["J"].downloads == 4
    assert not list(tmp_path.iterdir())


def test_a_file_that_is_not_csv_is_invalid(clock: FakeClock, tmp_path: Path) -> None:
    def refuse(job: ExportJob, path: Path, arrival: Arrival) -> Any:
        arrival.wait_for(1 << 62)
        raise CsvFormatError("no header")

    tenant = FakeTenant(clock)
    job = tenant.add("J")
    (ended,) = make_poller(tenant, tmp_path, planner=refuse).run([job])
    assert (ended.outcome, ended.message) == (Outcome.INVALID_FILE, "job J: no header")
    assert not list(tmp_path.iterdir())


def test_a_planner_bug_ends_that_job_only(clock: FakeClock, tmp_path: Path) -> None:
    def broken(job: ExportJob, path: Path, arrival: Arrival) -> Any:
        if job.job_code == "BAD":
            raise ZeroDivisionError("oops")
        return plan_whole_file(job, path, arrival)

    tenant = FakeTenant(clock)
    bad, good = tenant.add("BAD"), tenant.add("GOOD")
    ended = list(make_poller(tenant, tmp_path, planner=broken).run([bad, good]))
    assert len(ended) == 2
    assert bad.outcome is Outcome.ERROR and "ZeroDivisionError" in (bad.message or "")
    assert good.outcome is None and good.plan is not None


def test_one_file_is_typed_at_a_time_while_the_others_download(clock: FakeClock, tmp_path: Path) -> None:
    """Typing a file holds a few chunks of it and keeps the cores busy by itself: files are typed
    one after another (memory is one file's, whatever the number of jobs), and the downloads of the
    others go on meanwhile. The first planner holds its turn until every file has downloaded: by
    then every planner has been handed to the pool, and none but the first has started."""
    tenant = FakeTenant(clock)
    jobs = [tenant.add(f"J{i}") for i in range(4)]
    lock, started, at_release = threading.Lock(), [], []
    everything_downloaded = threading.Event()

    def download(url: str, dest: Path, *, job_code: str, progress: Any = None) -> DownloadResult:
        result = FakeTenant.download(tenant, url, dest, job_code=job_code, progress=progress)
        if sum(job.downloads for job in tenant.jobs.values()) == len(jobs):
            everything_downloaded.set()
        return result

    def planner(job: ExportJob, path: Path, arrival: Arrival) -> Any:
        with lock:
            started.append(job.job_code)
            first = len(started) == 1
        if first:
            assert everything_downloaded.wait(FAKE_CALL_LIMIT), "the downloads waited for the typing"
            with lock:
                at_release.extend(started)
        return plan_whole_file(job, path, arrival)

    tenant.download = download  # type: ignore[method-assign]
    ended = list(make_poller(tenant, tmp_path, planner=planner, max_workers=8).run(jobs))
    assert len(at_release) == 1  # every download done, and still only the first file being typed
    assert sorted(started) == sorted(job.job_code for job in jobs)
    assert all(job.outcome is None and job.plan is not None for job in ended)
