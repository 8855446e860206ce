"""Type drift decisions on column plans alone: which type holds a destination column's values
and a file's, which columns change, which jobs are told, and the values a note names."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest

from uniware_source.jobs import ExportJob
from uniware_source.load.drift import (
    Note,
    changes,
    destination_column,
    fits,
    misfits,
    notes,
    targets,
    type_name,
)
from uniware_source.load.drift_samples import drifted_values
from uniware_source.typed_csv.kinds import KINDS, Kind
from uniware_source.typed_csv.model import ColumnPlan, FilePlan
from uniware_source.typed_csv.reader import plan_file, unify
from uniware_source.typed_csv.rules import holding


def col(kind: Kind, scale: int = 0, values: int = 1, name: str = "x") -> ColumnPlan:
    return ColumnPlan(name, name, kind, scale, values=values)


def job(code: str, *columns: ColumnPlan) -> ExportJob:
    out = ExportJob(code, "Stock Moves", None, "stock_moves")
    out.plan = FilePlan(Path(f"{code}.csv"), columns, 1, ())
    return out


@pytest.mark.parametrize(
    ("have", "file", "expected"),
    [
        (col("integer"), col("integer"), col("integer")),
        (col("integer"), col("decimal", 2), col("decimal", 2)),
        (col("integer"), col("text"), col("text")),
        (col("integer"), col("boolean"), col("text")),
        (col("integer"), col("date"), col("text")),
        (col("decimal", 2), col("integer"), col("decimal", 2)),
        (col("decimal", 2), col("decimal", 1), col("decimal", 2)),
        (col("decimal", 2), col("decimal", 5), col("decimal", 5)),
        (col("decimal", 2), col("text"), col("text")),
        (col("decimal", 2), col("timestamp"), col("text")),
        (col("boolean"), col("integer"), col("text")),
        (col("boolean"), col("boolean"), col("boolean")),
        (col("date"), col("timestamp"), col("timestamp")),
        (col("date"), col("text"), col("text")),
        (col("date"), col("integer"), col("text")),
        (col("timestamp"), col("date"), col("timestamp")),  # a file's date: midnight in the zone
        (col("timestamp"), col("text"), col("text")),
        (col("text"), col("decimal", 4), col("text")),
        (col("integer"), col("text", values=0), col("integer")),  # no value: nothing to hold
    ],
)
def test_the_type_that_holds_a_destination_column_and_a_file(
    have: ColumnPlan, file: ColumnPlan, expected: ColumnPlan
) -> None:
    held = holding(have, file)
    assert (held.kind, held.scale) == (expected.kind, expected.scale)
    assert fits(have, file) == (held is have)


def test_a_date_column_becomes_text_when_timestamps_would_not_be_exact() -> None:
    held = holding(col("date"), col("timestamp"), dates_to_timestamps=False)
    assert held.kind == "text"
    assert holding(col("timestamp"), col("date"), dates_to_timestamps=False).kind == "timestamp"


def test_the_type_held_holds_both_and_is_the_same_in_either_order() -> None:
    """For every pair of kinds and scales: the result holds the file's values and the old
    column's (widening it again changes nothing), whichever of the two came first."""
    types = [col(kind, scale) for kind in KINDS for scale in ((0, 2, 5) if kind == "decimal" else (0,))]
    for have, file in product(types, types):
        held = holding(have, file)
        assert fits(held, file) and fits(held, have), (have, file)
        assert holding(held, file) is held
        other = holding(file, have)
        assert (held.kind, held.scale) == (other.kind, other.scale)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ({"data_type": "text"}, ("text", 0)),
        ({"data_type": "bigint", "precision": 64, "scale": 0}, ("integer", 0)),
        ({"data_type": "bigint"}, ("integer", 0)),
        ({"data_type": "bigint", "precision": 32}, None),  # an INTEGER: narrower than our integers
        ({"data_type": "decimal", "precision": 38, "scale": 2}, ("decimal", 2)),
        ({"data_type": "decimal", "precision": 18, "scale": 3}, None),
        ({"data_type": "decimal"}, None),  # unconstrained: no scale to compare
        ({"data_type": "bool"}, ("boolean", 0)),
        ({"data_type": "date"}, ("date", 0)),
        ({"data_type": "timestamp", "precision": 6}, ("timestamp", 0)),
        ({"data_type": "double"}, None),
        ({}, None),
    ],
)
def test_a_destination_column_in_kinds_of_ours(column: dict, expected: tuple[str, int] | None) -> None:
    got = destination_column("x", column)
    assert (None if got is None else (got.kind, got.scale)) == expected


def test_type_names_are_dlt_s() -> None:
    assert [type_name(col(k, 3)) for k in KINDS] == [
        "text",
        "bigint",
        "decimal(38,3)",
        "bool",
        "date",
        "timestamp",
    ]


def test_targets_widen_the_destination_columns_and_type_the_new_ones() -> None:
    have = {"qty": col("integer", name="qty"), "amount": col("decimal", 2, name="amount")}
    first = job("J1", col("integer", name="qty"), col("decimal", 1, name="amount"), col("date", name="day"))
    second = job(
        "J2", col("text", name="qty"), col("decimal", 5, name="amount"), col("timestamp", name="day")
    )
    final = targets(have, [first.plan, second.plan])
    assert {n: (c.kind, c.scale) for n, c in final.items()} == {
        "qty": ("text", 0),
        "amount": ("decimal", 5),
        "day": ("timestamp", 0),  # new to the destination: as one run's files unify
    }
    assert set(changes(have, final)) == {"qty", "amount"}
    assert changes(have, targets(have, [first.plan])) == {}


def test_a_destination_date_column_kept_from_timestamps_becomes_text() -> None:
    have = {"day": col("date", name="day")}
    plans = [job("J1", col("timestamp", name="day")).plan]
    assert targets(have, plans)["day"].kind == "timestamp"
    assert targets(have, plans, keep_dates={"day"})["day"].kind == "text"
    assert targets(have, plans, exact_dates=False)["day"].kind == "text"


def test_misfits_are_the_jobs_a_column_as_it_is_cannot_hold() -> None:
    have = {"qty": col("integer", name="qty"), "amount": col("decimal", 2, name="amount")}
    jobs = [
        job("fits", col("integer", name="qty"), col("decimal", 2, name="amount")),
        job("text", col("text", name="qty"), col("decimal", 5, name="amount")),
        job("empty", col("text", values=0, name="qty")),
    ]
    assert misfits(have, {"qty"}, jobs) == {"text": ["qty"]}
    assert misfits(have, {"qty", "amount"}, jobs) == {"text": ["qty", "amount"]}


def test_every_job_that_needed_a_destination_column_widened_is_told() -> None:
    have = {"qty": col("integer", name="qty")}
    jobs = [
        job("ints", col("integer", name="qty")),
        job("text", col("text", name="qty")),
        job("decimals", col("decimal", 1, name="qty")),  # does not fit bigint either
    ]
    told = notes(have, targets(have, [j.plan for j in jobs]), jobs)
    assert [(n.job.job_code, type_name(n.before), type_name(n.after), n.new_column) for n in told] == [
        ("text", "bigint", "text", False),
        ("decimals", "bigint", "text", False),
    ]
    assert told[0].text("stock_moves", ["abc"]) == (
        "column qty widened from bigint to text in table stock_moves (values 'abc')"
    )


def test_a_new_column_tells_the_jobs_that_made_it_wider_than_the_others() -> None:
    jobs = [
        job("ints", col("integer", name="qty")),
        job("cents", col("decimal", 2, name="qty")),
        job("text", col("text", name="qty")),
        job("more_text", col("text", name="qty")),
    ]
    told = notes({}, targets({}, [j.plan for j in jobs]), jobs)
    assert [(n.job.job_code, type_name(n.before), type_name(n.after)) for n in told] == [
        ("text", "decimal(38,2)", "text"),
        ("more_text", "decimal(38,2)", "text"),
    ]
    assert (
        told[0].text("t")
        == "column qty typed text in table t, where this run's other files give decimal(38,2)"
    )
    agreeing = [job("a", col("integer", name="qty")), job("b", col("integer", name="qty"))]
    assert notes({}, targets({}, [j.plan for j in agreeing]), agreeing) == []


def test_a_note_names_nothing_when_nothing_changed() -> None:
    have = {"qty": col("decimal", 2, name="qty")}
    jobs = [job("a", col("integer", name="qty")), job("b", col("decimal", 1, name="qty"))]
    assert notes(have, targets(have, [j.plan for j in jobs]), jobs) == []
    assert isinstance(Note(jobs[0], "qty", have["qty"], have["qty"], False).text("t"), str)


def test_unify_takes_the_destination_column_s_scale(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("qty,amount,day\n1,1.5,2024-01-05\n")
    plan = plan_file(path, normalize=str.lower)
    existing = {"qty": col("decimal", 3, name="qty"), "amount": col("decimal", 5, name="amount")}
    existing["day"] = col("timestamp", name="day")
    schema = unify([plan], existing)
    assert [(c.kind, c.scale) for c in schema.columns] == [("decimal", 3), ("decimal", 5), ("timestamp", 0)]
    assert schema.columns[2].formats == plan.columns[2].formats  # the file's dates, read as midnight


def test_the_values_a_note_names_are_those_the_old_type_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    lines = ["qty,amount,day,flag"] + [f"{i},1.5,2024-01-0{1 + i % 9},yes" for i in range(20)]
    lines += ["abc,1.12345,2024-01-05 10:30:00,maybe", " 7 ,2.1,-,no", "abc,NA,,y", "def,3.999,2024-01-06,n"]
    path.write_text("\n".join(lines) + "\n")
    plan = plan_file(path, normalize=str.lower)
    assert drifted_values(path, plan, "qty", col("integer")) == ["abc", "def"]
    assert drifted_values(path, plan, "amount", col("decimal", 2)) == ["1.12345", "3.999"]
    assert drifted_values(path, plan, "amount", col("decimal", 5)) == []
    assert drifted_values(path, plan, "day", col("date")) == ["2024-01-05 10:30:00"]
    assert drifted_values(path, plan, "flag", col("boolean")) == ["maybe"]
    assert drifted_values(path, plan, "missing", col("integer")) == []
    assert drifted_values(tmp_path / "gone.csv", plan, "qty", col("integer")) == []


@pytest.mark.parametrize(("value", "have"), [("2024-01-1२", "date"), ("1२", "integer"), ("1.२", "decimal")])
def test_a_value_in_other_scripts_digits_is_shown_as_one_the_column_cannot_hold(
    tmp_path: Path, value: str, have: Kind
) -> None:
    """A value written with Devanagari digits makes its column text (no cast or strptime takes
    them): the drift note names it among the values the destination's column cannot hold."""
    path = tmp_path / "f.csv"
    held = {"date": "2024-01-1{}", "integer": "1{}", "decimal": "1.{}"}[have]  # values the column holds
    rows = "".join(f"C{i},{held.format(i % 9)}\n" for i in range(20))
    path.write_text(f"Code,When\n{rows}C99,{value}\n")
    plan = plan_file(path, normalize=lambda label: label.lower())
    assert plan.columns[1].kind == "text"
    formats = ("%Y-%m-%d",) if have == "date" else ()
    column = ColumnPlan("When", "when", have, 2 if have == "decimal" else 0, formats, 20)
    assert drifted_values(path, plan, "when", column) == [value]
