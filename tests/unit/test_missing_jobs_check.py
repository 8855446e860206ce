"""The check that fails a load whose run left jobs without their data: only at the end of its own
package's load, only when that load succeeded, once, and passing everything else on."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from dlt.common.runtime.collector import DictCollector

from uniware_source.load.missing import MissingJobsCheck, MissingJobsError, check_after_load

MISSING = [("NOPE-1", "NOT_FOUND", "Sale Orders", None)]


def _pipeline() -> SimpleNamespace:
    return SimpleNamespace(collector=DictCollector())


def test_raises_when_its_package_has_loaded_and_puts_the_collector_back() -> None:
    pipeline = _pipeline()
    inner = pipeline.collector
    check_after_load(pipeline, "111.5", MISSING)  # type: ignore[arg-type]
    check = pipeline.collector
    assert isinstance(check, MissingJobsCheck)
    with check("Normalize"):  # other steps pass through, counted by the inner collector
        check.update("Files", inc=2)
        assert inner.counters["Files"] == 2
    with check("Load uniware in 110.1"):  # another package (a killed run's): nothing
        pass
    assert pipeline.collector is check
    with (
        pytest.raises(
            MissingJobsError,
            match=r"1 job\(s\) ended without their data: NOPE-1 NOT_FOUND \(Sale Orders / -\)",
        ),
        check("Load uniware in 111.5"),
    ):
        pass
    assert pipeline.collector is inner


def test_a_failed_load_raises_its_own_error_not_ours() -> None:
    pipeline = _pipeline()
    check_after_load(pipeline, "222.5", MISSING)  # type: ignore[arg-type]
    check = pipeline.collector
    with pytest.raises(RuntimeError), check("Load uniware in 222.5"):
        raise RuntimeError("destination refused")
    assert not isinstance(pipeline.collector, MissingJobsCheck)


def test_resources_of_one_package_add_up_and_a_new_package_starts_over() -> None:
    pipeline = _pipeline()
    check_after_load(pipeline, "1.1", MISSING)  # type: ignore[arg-type]
    check_after_load(pipeline, "1.1", [("EXP-2", "FAILED", "Invoices", "WH-DEL")])  # type: ignore[arg-type]
    assert len(pipeline.collector.missing) == 2
    check_after_load(pipeline, "2.1", [("EXP-3", "TIMED_OUT", "Invoices", "WH-DEL")])  # type: ignore[arg-type]
    assert pipeline.collector.missing == [("EXP-3", "TIMED_OUT", "Invoices", "WH-DEL")]
    assert isinstance(copy.deepcopy(pipeline.collector), DictCollector)
