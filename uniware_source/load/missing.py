"""A run in which some job ended without its data raises, after everything else has loaded.

The resources know which jobs are missing only at the end of extract, and raising there would
throw away the whole load package, the good jobs with it. dlt 1.31 has no hook a source can use
after the load, but every step of a pipeline runs inside the pipeline's progress collector
(`pipeline.collector`, dlt's own extension point for step progress): the load of a package is
`with collector("Load <schema> in <load_id>")`, and that block ends only after the package is
complete and its state (loaded jobs, cursors) committed.

So when the audit rows name a missing job, the source wraps the pipeline's collector in a
`MissingJobsCheck` that passes everything on to it, and raises `MissingJobsError` when the load
of this run's package has ended without an error of its own. dlt reports it as a failed load step
(`PipelineStepFailed` from `pipeline.run`, the error as its `exception`), so an orchestrator marks
the task failed; the data, the audit rows and the state are in the destination already. The
setting `fail_on_missing_jobs = false` turns it off (the `uniware` command does, and exits 1).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dlt.common.runtime.collector_base import Collector

from uniware_source.api.errors import UniwareError

if TYPE_CHECKING:
    import dlt

    from uniware_source.jobs import ExportJob

logger = logging.getLogger(__name__)

_DONE = ("LOADED", "SKIPPED")


class MissingJobsError(UniwareError):
    """Jobs of the run ended without their data; every other job of the run loaded. `jobs` holds
    (job code, outcome, report, facility) of each."""

    def __init__(self, jobs: Sequence[tuple[str, str, str, str | None]]) -> None:
        self.jobs = list(jobs)
        named = ", ".join(
            f"{code} {outcome} ({report} / {facility or '-'})" for code, outcome, report, facility in jobs
        )
        super().__init__(
            f"{len(jobs)} job(s) ended without their data: {named}. Everything else loaded; "
            "see table export_jobs for why (set fail_on_missing_jobs = false to not raise)"
        )


def missing_jobs(jobs: Sequence[ExportJob]) -> list[tuple[str, str, str, str | None]]:
    """The jobs whose data is missing: not loaded (now or before), and no later attempt of the
    run took over their window."""
    return [
        (job.job_code or "(not created)", str(job.outcome), job.report, job.facility)
        for job in jobs
        if str(job.outcome) not in _DONE and not job.superseded
    ]


def check_after_load(pipeline: dlt.Pipeline, load_id: str, missing: Sequence[Any]) -> None:
    """Have the load of package `load_id` end with `MissingJobsError` for `missing` (added to
    what other resources of the package registered)."""
    current = pipeline.collector
    check = current if isinstance(current, MissingJobsCheck) else MissingJobsCheck(pipeline, current)
    check.expect(load_id, missing)
    pipeline.collector = check


class MissingJobsCheck(Collector):
    """The pipeline's collector, passed everything, that raises once the package it watches has loaded."""

    def __init__(self, pipeline: dlt.Pipeline, inner: Collector) -> None:
        self.pipeline = pipeline
        self.inner = inner
        self.step = None  # type: ignore[assignment]
        self.load_id: str | None = None
        self.missing: list[Any] = []

    def expect(self, load_id: str, missing: Sequence[Any]) -> None:
        if load_id != self.load_id:
            self.load_id, self.missing = load_id, []
        self.missing.extend(missing)

    def update(
        self,
        name: str,
        inc: int = 1,
        total: int | None = None,
        inc_total: int | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        self.inner.update(name, inc, total, inc_total, message, label)  # type: ignore[arg-type]

    def __call__(self, step: str) -> MissingJobsCheck:
        self.step = step
        self.inner(step)
        return self

    def _start(self, step: str) -> None:
        self.inner._start(step)

    def _stop(self) -> None:
        self.inner._stop()

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        step = self.step
        self.step = None  # type: ignore[assignment]
        self._stop()
        if not (step and self.load_id and step.startswith("Load ") and step.endswith(f" {self.load_id}")):
            return
        self.pipeline.collector = self.inner  # once: the next run starts clean
        if exc_type is None and self.missing:
            raise MissingJobsError(self.missing)

    def __deepcopy__(self, memo: dict[int, Any]) -> Collector:
        """dlt copies a pipeline's collector into a pipeline it derives (another name): the copy
        is the plain collector, without this run's check."""
        return copy.deepcopy(self.inner, memo)

    def on_start_trace(self, *args: Any) -> None:
        self.inner.on_start_trace(*args)

    def on_start_trace_step(self, *args: Any) -> None:
        self.inner.on_start_trace_step(*args)

    def on_end_trace_step(self, *args: Any) -> None:
        self.inner.on_end_trace_step(*args)

    def on_end_trace(self, *args: Any) -> None:
        self.inner.on_end_trace(*args)
