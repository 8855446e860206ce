"""Type drift acted on (load/widening.py), against a destination stand-in that records the
ALTERs asked of it or refuses them, and without a SQL destination at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dlt.common.schema import Schema
from dlt.common.schema.utils import new_table

from uniware_source.jobs import ExportJob
from uniware_source.load import widening
from uniware_source.load.drift import type_name
from uniware_source.typed_csv.model import ColumnPlan
from uniware_source.typed_csv.reader import plan_file

TABLE = "stock_moves"
QUARANTINE = "stock_moves__quarantine"


class Destination:
    """The SqlDestination calls widening makes: its real columns, date spans and ALTERs."""

    def __init__(self, columns: dict[str, dict[str, Any]], refuse: tuple[str, ...] = ()) -> None:
        self.real = {name: {"name": name, **column} for name, column in columns.items()}
        self.refuse = refuse  # the types (dlt names) the destination will not change a column to
        self.altered: list[tuple[str, str, str]] = []
        self.span: tuple[date | None, date | None] = (None, None)

    def columns(self, table: str, *, staging: bool = False) -> dict[str, Any]:
        return {} if staging else self.real

    def date_span(self, table: str, column: str) -> tuple[date | None, date | None]:
        return self.span

    def has_values(self, table: str, column: str) -> bool:
        return True  # rows loaded before hold values in every column here

    def alter(self, table: str, column: str, before: ColumnPlan, after: ColumnPlan, timezone: str) -> None:
        if type_name(after) in self.refuse:
            raise RuntimeError(f"cannot change {column}\nDETAIL: a view depends on it")
        self.altered.append((column, type_name(before), type_name(after)))


def use(monkeypatch: pytest.MonkeyPatch, destination: Destination | None) -> None:
    @contextmanager
    def sql_destination() -> Iterator[Destination | None]:
        yield destination

    monkeypatch.setattr(widening, "sql_destination", sql_destination)


def schema_with(columns: dict[str, dict[str, Any]], *, seen: bool = True) -> Schema:
    schema = Schema("test")
    table = new_table(TABLE, columns=[{"name": n, **c} for n, c in columns.items()])  # type: ignore[misc]
    if seen:
        table["x-normalizer"] = {"seen-data": True}
    schema.update_table(table)
    return schema


def jobs_of(tmp_path: Path, *contents: str) -> list[ExportJob]:
    out = []
    for i, content in enumerate(contents):
        path = tmp_path / f"J{i}.csv"
        path.write_text(content)
        job = ExportJob(f"J{i}", "Stock Moves", None, TABLE)
        job.local_file, job.plan = path, plan_file(path, normalize=str.lower)
        out.append(job)
    return out


BIGINT = {"data_type": "bigint"}
TEXT = {"data_type": "text"}


def widen(schema: Schema, jobs: list[ExportJob]) -> widening.Widened:
    return widening.widen_for(schema, TABLE, jobs, "Asia/Kolkata", QUARANTINE)


def test_without_sql_a_drifting_job_goes_to_quarantine_and_the_others_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(monkeypatch, None)
    schema = schema_with({"code": TEXT, "qty": BIGINT})
    fits, drifts = jobs_of(tmp_path, "code,qty\nA,1\n", "code,qty\nB,abc\nC,2\n")
    widened = widen(schema, [fits, drifts])
    assert widened.quarantined == {"J1"} and widened.exists is None
    assert widened.columns["qty"].kind == "integer"
    assert fits.message is None
    assert drifts.message == (
        f"rows loaded into table {QUARANTINE} as text, not into {TABLE}: column qty is bigint there, "
        f"values such as 'abc' need text, and {widening.NO_SQL}"
    )
    assert schema.tables[TABLE]["columns"]["qty"]["data_type"] == "bigint"


def test_without_sql_a_table_that_never_loaded_takes_every_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(monkeypatch, None)
    schema = schema_with({"code": TEXT, "qty": BIGINT}, seen=False)
    first, second = jobs_of(tmp_path, "code,qty\nA,1\n", "code,qty\nB,abc\n")
    widened = widen(schema, [first, second])
    assert widened.quarantined == set() and widened.columns["qty"].kind == "text"
    assert first.message is None
    assert second.message == (
        f"column qty typed text in table {TABLE}, where this run's other files give bigint (values 'abc')"
    )


def test_a_column_is_widened_in_the_destination_and_in_dlt_s_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    decimal = {"data_type": "decimal", "precision": 38, "scale": 2}
    destination = Destination({"code": TEXT, "qty": BIGINT, "amount": decimal})
    use(monkeypatch, destination)
    schema = schema_with({"code": TEXT, "qty": BIGINT, "amount": decimal})
    fits, drifts = jobs_of(tmp_path, "code,qty,amount\nA,1,1.5\n", "code,qty,amount\nB,x,1.12345\n")
    widened = widen(schema, [fits, drifts])
    assert destination.altered == [("qty", "bigint", "text"), ("amount", "decimal(38,2)", "decimal(38,5)")]
    assert widened.quarantined == set() and widened.exists is True
    assert [(c.kind, c.scale) for c in (widened.columns["qty"], widened.columns["amount"])] == [
        ("text", 0),
        ("decimal", 5),
    ]
    columns = schema.tables[TABLE]["columns"]
    assert columns["qty"]["data_type"] == "text" and "precision" not in columns["qty"]
    assert (columns["amount"]["precision"], columns["amount"]["scale"]) == (38, 5)
    assert fits.message is None
    assert drifts.message == (
        f"column qty widened from bigint to text in table {TABLE} (values 'x'); "
        f"column amount widened from decimal(38,2) to decimal(38,5) in table {TABLE} (values '1.12345')"
    )


def test_a_widening_the_destination_refuses_falls_back_to_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    destination = Destination({"amount": {"data_type": "decimal", "precision": 38, "scale": 2}})
    destination.refuse = ("decimal(38,5)",)
    use(monkeypatch, destination)
    (drifts,) = jobs_of(tmp_path, "amount\n1.12345\n")
    widened = widen(schema_with({}), [drifts])
    assert destination.altered == [("amount", "decimal(38,2)", "text")]
    assert widened.columns["amount"].kind == "text"
    assert (
        drifts.message
        == f"column amount widened from decimal(38,2) to text in table {TABLE} (values '1.12345')"
    )


def test_a_change_the_destination_refuses_quarantines_only_the_jobs_that_needed_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    destination = Destination({"code": TEXT, "qty": BIGINT}, refuse=("text", "decimal(38,1)"))
    use(monkeypatch, destination)
    fits, text, decimals = jobs_of(tmp_path, "code,qty\nA,1\n", "code,qty\nB,x\n", "code,qty\nC,1.5\n")
    widened = widen(schema_with({"code": TEXT, "qty": BIGINT}), [fits, text, decimals])
    assert widened.quarantined == {"J1", "J2"}
    assert widened.columns["qty"].kind == "integer"
    assert fits.message is None
    assert text.message == (
        f"rows loaded into table {QUARANTINE} as text, not into {TABLE}: column qty is bigint there, "
        "values such as 'x' need text, and the destination refused the change (cannot change qty)"
    )
    assert decimals.message is not None and "values such as '1.5' need text" in decimals.message


def test_a_column_widened_by_a_run_that_died_is_put_right_in_dlt_s_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The destination has text where dlt's schema (restored from before the ALTER) says bigint:
    nothing is altered again, dlt's schema is told, and the job that needed it is told."""
    destination = Destination({"code": TEXT, "qty": TEXT})
    use(monkeypatch, destination)
    schema = schema_with({"code": TEXT, "qty": BIGINT})
    fits, drifted = jobs_of(tmp_path, "code,qty\nA,1\n", "code,qty\nB,abc\n")
    widened = widen(schema, [fits, drifted])
    assert destination.altered == []
    assert widened.columns["qty"].kind == "text"
    assert schema.tables[TABLE]["columns"]["qty"]["data_type"] == "text"
    assert fits.message is None
    assert drifted.message == f"column qty widened from bigint to text in table {TABLE} (values 'abc')"


def test_dates_outside_the_span_known_to_be_exact_become_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    destination = Destination({"day": {"data_type": "date"}})
    use(monkeypatch, destination)
    (times,) = jobs_of(tmp_path, "day\n2024-01-05 10:30:00\n")
    destination.span = (date(1960, 1, 1), date(2024, 1, 1))
    assert widen(schema_with({}), [times]).columns["day"].kind == "text"
    destination.span = (date(1990, 1, 1), date(2024, 1, 1))
    assert widen(schema_with({}), [times]).columns["day"].kind == "timestamp"
    assert destination.altered == [("day", "date", "text"), ("day", "date", "timestamp")]
