"""The shapes of real tenants' export files, through both passes: numbers as Java's
BigDecimal.toString() writes them, date-only and mixed date columns, labels with a trailing space
or written twice, and the catalogue's types that do not depend on a file's size."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_source.reports import SALE_ORDER_LABELS, report_spec
from uniware_source.typed_csv.explain import decision_table, file_notes
from uniware_source.typed_csv.kinds import Kind
from uniware_source.typed_csv.model import ColumnPlan, FilePlan, TableSchema
from uniware_source.typed_csv.reader import plan_file, read_batches, unify
from uniware_source.typed_csv.rules import holding

NORMALIZE = NamingConvention().normalize_identifier
UTC = dt.UTC


def write(tmp_path: Path, header: str, rows: list[str], name: str = "f.csv") -> Path:
    """LF line ends, no BOM: as Uniware writes its files."""
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def plan(path: Path, hints: dict[str, Kind] | None = None) -> FilePlan:
    return plan_file(path, normalize=NORMALIZE, hints=hints)


def rows(path: Path, file_plan: FilePlan, schema: TableSchema | None = None) -> pa.Table:
    schema = schema or unify([file_plan])
    return pa.concat_tables(read_batches(path, file_plan, schema))


def column(file_plan: FilePlan, name: str) -> tuple[str, int]:
    (col,) = [c for c in file_plan.columns if c.name == name]
    return col.kind, col.scale


# -- numbers ---------------------------------------------------------------------------------------
BIGDECIMALS = [
    "952.0000000",
    "1.00000",
    "1",
    "1.0000",
    "0E-7",
    "0E+3",
    "1.5E+3",
    "-1.23E-5",
    "-0.00",
    "12.50",
]


def test_every_bigdecimal_text_parses_exactly_at_one_scale(tmp_path: Path) -> None:
    path = write(tmp_path, "Total", BIGDECIMALS)
    file_plan = plan(path)
    assert column(file_plan, "total") == ("decimal", 7)  # -1.23E-5 is -0.0000123: 7 places
    loaded = rows(path, file_plan).column("total").to_pylist()
    assert loaded == [Decimal(v) for v in BIGDECIMALS]  # Decimal reads the exponent form exactly
    assert sum(loaded) == sum(Decimal(v) for v in BIGDECIMALS)


def test_eighteen_zeros_in_exponent_form_among_decimals_load_as_decimal(tmp_path: Path) -> None:
    values = ["0E-7"] * 18 + ["1499.00", "35.5000000", "2"]
    path = write(tmp_path, "Total", values)
    file_plan = plan(path)
    assert column(file_plan, "total") == ("decimal", 7)
    assert sum(rows(path, file_plan).column("total").to_pylist()) == Decimal("1536.5")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1.5E+3", "2"], ("decimal", 0)),  # 1500 at scale 0: an exponent makes it a decimal
        (["0E-7"], ("decimal", 7)),
        (["0E+3", "4"], ("decimal", 0)),
        (["-1.23E-5"], ("decimal", 7)),
        (["1.5e3", "-2.25E-1"], ("decimal", 3)),  # lower-case e, and Double's unsigned exponent
        (["1E+37"], ("decimal", 0)),  # 38 digits: the widest decimal still holds it
        # the widths of plain numbers and of those with an exponent, taken apart, then together
        (["12345.678", "0E-2", "7"], ("decimal", 3)),
        (["1.5E+3", "2.25E-4", "1.5E+3", "12.25"], ("decimal", 6)),  # 0.000225: scale 6
    ],
)
def test_an_exponent_gives_the_scale_of_the_plain_number(
    tmp_path: Path, values: list[str], expected: tuple[str, int]
) -> None:
    path = write(tmp_path, "Amount", values)
    file_plan = plan(path)
    assert column(file_plan, "amount") == expected
    assert rows(path, file_plan).column("amount").to_pylist() == [Decimal(v) for v in values]


@pytest.mark.parametrize("big", ["1E+38", "1.5E+40", "123456789012345678901234567890.123456789"])
def test_a_number_wider_than_a_decimal_loads_as_text_with_a_note(tmp_path: Path, big: str) -> None:
    path = write(tmp_path, "Amount", ["1.25", big])
    file_plan = plan(path)
    assert column(file_plan, "amount") == ("text", 0)
    assert rows(path, file_plan).column("amount").to_pylist() == ["1.25", big]  # as written, not rounded
    (note,) = file_notes(file_plan)
    assert note.startswith("column 'amount' ('Amount'): its numbers need ")
    assert "more than a decimal holds (38): loads as text" in note


def test_digits_before_the_point_and_after_it_add_up_across_the_two_forms(tmp_path: Path) -> None:
    """31 digits before the point (1E+30) and 9 after it (a plain number's) fit no decimal of 38,
    though each number alone does: the column loads as text, as written."""
    values = ["1E+30", "12345678.123456789"]
    path = write(tmp_path, "Amount", values)
    file_plan = plan(path)
    assert column(file_plan, "amount") == ("text", 0)
    assert rows(path, file_plan).column("amount").to_pylist() == values


def test_a_word_with_an_e_is_no_number(tmp_path: Path) -> None:
    path = write(tmp_path, "Size", ["1E", "2E+", "E5", "3"])
    assert column(plan(path), "size") == ("text", 0)


# -- dates -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [["15-03-2024", "01-12-2023"], ["2024-03-15", "2023-12-01"]])
def test_a_date_only_column_is_a_date(tmp_path: Path, values: list[str]) -> None:
    path = write(tmp_path, "Return Date", values)
    file_plan = plan(path)
    assert column(file_plan, "return_date") == ("date", 0)
    assert rows(path, file_plan).column("return_date").to_pylist() == [
        dt.date(2024, 3, 15),
        dt.date(2023, 12, 1),
    ]
    assert file_notes(file_plan) == []


def test_dates_among_times_are_ist_midnight_and_said_once(tmp_path: Path) -> None:
    values = ["15-03-2024", "2024-03-16 10:20:30", "17-03-2024", "-"]
    path = write(tmp_path, "Invoice Created", values)
    file_plan = plan(path)
    assert column(file_plan, "invoice_created") == ("timestamp", 0)
    assert rows(path, file_plan).column("invoice_created").to_pylist() == [
        dt.datetime(2024, 3, 14, 18, 30, tzinfo=UTC),  # midnight IST, the instant the date begins
        dt.datetime(2024, 3, 16, 4, 50, 30, tzinfo=UTC),
        dt.datetime(2024, 3, 16, 18, 30, tzinfo=UTC),
        None,
    ]
    assert file_notes(file_plan) == [
        "column 'invoice_created' ('Invoice Created'): 2 of its 3 values are dates without a time: "
        "each loads as midnight in Asia/Kolkata (the instant a date of this report means), "
        "the others as written"
    ]


@pytest.mark.parametrize("first_time", [0, 150_000, 299_999])
def test_the_count_of_dates_among_times_is_exact_over_many_chunks(tmp_path: Path, first_time: int) -> None:
    """300,000 values in chunks of their own: dates, and times at three rows (the first time in
    the first chunk, in the middle or on the last row). The note counts every date, whichever
    chunks held them and whichever formats were known when each was read."""
    times = {first_time, 200_000, 299_999}
    values = ["2024-03-16 10:20:30" if i in times else "15-03-2024" for i in range(300_000)]
    file_plan = plan(write(tmp_path, "Invoice Created", values))
    assert column(file_plan, "invoice_created") == ("timestamp", 0)
    (note,) = file_notes(file_plan)
    assert f"{300_000 - len(times)} of its 300000 values are dates without a time" in note, note


def test_utc_midnights_rendered_in_ist_beside_plain_midnights_keep_their_instants(tmp_path: Path) -> None:
    path = write(tmp_path, "Updated", ["2024-03-15 05:30:00", "2024-03-16 00:00:00"])
    file_plan = plan(path)
    assert column(file_plan, "updated") == ("timestamp", 0)
    assert rows(path, file_plan).column("updated").to_pylist() == [
        dt.datetime(2024, 3, 15, 0, 0, tzinfo=UTC),
        dt.datetime(2024, 3, 15, 18, 30, tzinfo=UTC),
    ]
    assert file_notes(file_plan) == []


# -- labels ----------------------------------------------------------------------------------------
def test_a_label_with_a_trailing_space_takes_its_hint_and_loads_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, "Voucher Type Name ,Channel Entry,Voucher Number", ["Sales,12.5,0012", "7,3,0013"])
    file_plan = plan(path, report_spec("Tally GST Report").hints)
    assert [(c.label, c.name, c.kind) for c in file_plan.columns] == [
        ("Voucher Type Name ", "voucher_type_name", "text"),  # `7` stays text: the catalogue says so
        ("Channel Entry", "channel_entry", "decimal"),
        ("Voucher Number", "voucher_number", "text"),
    ]


def test_a_label_means_what_its_report_says_in_sister_reports(tmp_path: Path) -> None:
    """`Channel Entry` is money in the Tally GST Report and a channel's code in its sister report of
    returns, which the catalogue knows too (no 'did you mean' for it): `0012` stays as written."""
    path = write(tmp_path, "Channel Entry,Total", ["12.5,0E-7", "0012,1.5E+3"])
    sales = plan(path, report_spec("Tally GST Report").hints)
    returns = plan(path, report_spec("Tally Return GST Report").hints)
    assert column(sales, "channel_entry") == ("decimal", 9)
    codes = write(tmp_path, "Channel Entry,Total", ["12,0E-7", "0012,1.5E+3"], "codes.csv")
    whole = plan(codes, report_spec("Tally GST Report").hints)  # money, but `0012` beside whole numbers
    assert column(whole, "channel_entry") == ("text", 0)
    assert "1 of its values have a leading zero" in file_notes(whole)[0]
    assert column(returns, "channel_entry") == ("text", 0) and file_notes(returns) == []
    assert column(returns, "total") == ("decimal", 9)
    assert rows(path, returns).column("channel_entry").to_pylist() == ["12.5", "0012"]


def test_a_repeated_label_loads_both_columns_and_warns(tmp_path: Path) -> None:
    path = write(tmp_path, "Sale Order Item Code,Delivery Time,Delivery Time", ["A1,10:00-12:00,slot 3"])
    file_plan = plan(path, report_spec("Sale Orders").hints)
    assert rows(path, file_plan).to_pylist() == [
        {"sale_order_item_code": "A1", "delivery_time": "10:00-12:00", "delivery_time_2": "slot 3"}
    ]
    assert file_notes(file_plan) == [
        "column 'delivery_time_2' ('Delivery Time'): the label repeats column 2's: this column 3 loads as "
        "'delivery_time_2'"
    ]


def test_reordered_files_with_an_unknown_column_unify_by_name(tmp_path: Path) -> None:
    first = write(tmp_path, "Invoice Code,Qty,Total", ["I1,1,10.5"], "a.csv")
    second = write(tmp_path, "Total,Custom Field X,Invoice Code,Qty", ["0E-7,x,I2,1.0000"], "b.csv")
    hints = report_spec("Invoice").hints
    plans = [plan(first, hints), plan(second, hints)]
    schema = unify(plans)
    assert [(c.name, c.kind, c.scale) for c in schema.columns] == [
        ("invoice_code", "text", 0),
        ("qty", "decimal", 9),
        ("total", "decimal", 9),
        ("custom_field_x", "text", 0),
    ]
    loaded = pa.concat_tables([rows(first, plans[0], schema), rows(second, plans[1], schema)]).to_pylist()
    assert loaded == [
        {"invoice_code": "I1", "qty": Decimal(1), "total": Decimal("10.5"), "custom_field_x": None},
        {"invoice_code": "I2", "qty": Decimal(1), "total": Decimal(0), "custom_field_x": "x"},
    ]


def test_files_whose_decimals_together_need_too_many_digits_load_as_text(tmp_path: Path) -> None:
    """A rate of 35 places in one file and 1234.5 in another: one decimal holding both would need
    39 digits, so the column is text and both files load their values as written (the larger
    scale alone failed the second file's conversion, in this run and every later one)."""
    rate = "0.01204819277108433734939759036144578"
    first = write(tmp_path, "Code,Rate", [f"A1,{rate}"], "a.csv")
    second = write(tmp_path, "Code,Rate", ["B1,1234.5"], "b.csv")
    plans = [plan(first), plan(second)]
    assert [column(p, "rate") for p in plans] == [("decimal", 35), ("decimal", 1)]
    for ordered in (plans, plans[::-1]):
        schema = unify(ordered)
        assert [(c.name, c.kind) for c in schema.columns] == [("code", "text"), ("rate", "text")]
    schema = unify(plans)
    loaded = pa.concat_tables([rows(first, plans[0], schema), rows(second, plans[1], schema)])
    assert loaded.column("rate").to_pylist() == [rate, "1234.5"]


def test_a_destination_scale_that_leaves_too_few_digits_is_widened_to_text(tmp_path: Path) -> None:
    """The destination's column is decimal(38,35): a later file's 1234.5 does not fit it, so the
    file keeps its own type and the drift widens the destination column to text."""
    second = write(tmp_path, "Code,Rate", ["B1,1234.5"])
    file_plan = plan(second)
    have = ColumnPlan("Rate", "rate", "decimal", 35)
    schema = unify([file_plan], {"rate": have})
    assert [(c.name, c.kind, c.scale) for c in schema.columns][1] == ("rate", "decimal", 1)
    assert holding(have, schema.columns[1]).kind == "text"
    assert holding(have, ColumnPlan("Rate", "rate", "decimal", 2, values=1, int_digits=3)) == have


# -- the catalogue ---------------------------------------------------------------------------------
def test_the_sale_orders_catalogue_has_every_label_of_a_real_export() -> None:
    labels = [label for label, _ in SALE_ORDER_LABELS]
    assert len(labels) == 138 and labels.count("Delivery Time") == 2
    hints = report_spec("Sale Orders").hints
    assert hints["Item Type EAN"] == hints["IMEI"] == hints["HSN Code"] == "text"
    assert hints["Total Price"] == hints["CGST"] == "decimal"
    assert hints["Created"] == "timestamp"
    assert "Return Date" not in hints  # a date or a timestamp, as its values are


def test_a_small_and_a_large_file_of_a_report_type_alike(tmp_path: Path) -> None:
    """Three rows or three thousand, whole or with places: the catalogue's types do not move."""
    header = "Invoice Code,Sale Order Code,HSN Code,Qty,Total,CGST,Invoice Date"
    small = write(tmp_path, header, ["1,221030,6109,1,100,0E-7,15-03-2024"] * 3, "small.csv")
    big_rows = [
        f"INV{i},221030-023-{i:06d},61091000,{i % 3}.0000,{i}.1250000,1.5E+1,2024-03-15" for i in range(3000)
    ]
    big = write(tmp_path, header, big_rows, "big.csv")
    hints = report_spec("Invoice").hints
    types = [{c.name: (c.kind, c.scale) for c in plan(path, hints).columns} for path in (small, big)]
    assert (
        types[0]
        == types[1]
        == {
            "invoice_code": ("text", 0),
            "sale_order_code": ("text", 0),
            "hsn_code": ("text", 0),
            "qty": ("decimal", 9),
            "total": ("decimal", 9),
            "cgst": ("decimal", 9),
            "invoice_date": ("date", 0),
        }
    )


def test_the_decision_table_names_each_columns_type_and_whose_word(tmp_path: Path) -> None:
    path = write(tmp_path, "Invoice Code,Total,Narration,Extra", ["I1,0E-7,12,3"])
    hints = {**report_spec("Invoice").hints, "Narration": "text"}
    file_plan = plan(path, hints)
    text = decision_table("invoice", unify([file_plan]), [file_plan], hints, {"Narration": "text"})
    assert text.splitlines() == [
        "table invoice: the type of each column (1 file(s))",
        "  invoice_code  text            catalogue    'Invoice Code'",
        "  total         decimal(38,9)   catalogue    'Total'",
        "  narration     text            column_types 'Narration'",
        "  extra         integer         values       'Extra'",
    ]
    logging.getLogger(__name__).info(text)


def test_notes_of_two_columns_whose_names_differ_by_a_digit_are_each_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Dates among times in `Delivery Date 1` and `Delivery Date 2`, in two files: each column's
    note is a warning of its own (the first file's), and each is named again once, for the other
    file: a note's counts are not its column's digits."""
    from uniware_source.typed_csv.explain import FileNotes

    rows = ["15-03-2024,2024-03-16 10:20:30", "2024-03-16 10:20:30,16-03-2024"]
    plans = [plan(write(tmp_path, "Delivery Date 1,Delivery Date 2", rows, f"{i}.csv")) for i in (1, 2)]
    notes = FileNotes("sale_orders", logging.getLogger("uniware_source.test_notes"))
    with caplog.at_level(logging.INFO, logger="uniware_source.test_notes"):
        for code, file_plan in zip(("EXP-1", "EXP-2"), plans, strict=True):
            notes.tell(code, file_plan)
        notes.summarize()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 4, warned
    for name in ("delivery_date_1", "delivery_date_2"):
        assert any(m.startswith(f"job EXP-1, table sale_orders: column '{name}'") for m in warned)
        assert any(
            f"column '{name}' ('Delivery Date" in m and "in 1 more job(s) of this run (EXP-2)" in m
            for m in warned
        )
