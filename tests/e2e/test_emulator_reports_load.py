"""Files shaped like a live tenant's, through the real client into DuckDB: every shape of the
reference's "Seen in real export files" lands with the right type and no value changed.

The emulator writes them: the ~140 Sale Orders columns (BigDecimal money of scales 2, 5, 6 and 7
with `0E-7` for zero, `NA`/`None` in address lines, a date-only `dd-mm-yyyy` custom field, a
column mixing `dd-mm-yyyy` with `yyyy-mm-dd hh:mm:ss`, UTC midnights in IST beside plain ones,
13-digit EANs, 14-15-digit AWBs, IMEIs, coordinates, GST rates, two `Delivery Time` columns, the
unrequested columns, an unknown custom field, columns reordered by the tenant, LF line ends, no
BOM), the Tally GST Report (`Voucher Type Name ` with a trailing space, `Channel Entry` money),
Invoice (`Qty` `1`) and Return Invoices (`Qty` `1.0000`). The oracle is Python's csv and decimal
modules over the bytes the emulator served.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import dlt
import pytest

from tests.conftest import PASSWORD, USERNAME, fetch_export, make_source
from uniware_source.emulator import Emulator, JobSpec
from uniware_source.emulator.data import ALL_SALE_ORDER_KEYS

NULLS = {"", "-", "na", "n/a", "null", "none"}
UNKNOWN_CUSTOM_FIELD = "saleOrderCustomFields_Gift_Note"
REPORTS = {
    "sale_orders": JobSpec(
        rows=3000,
        columns=(UNKNOWN_CUSTOM_FIELD, *reversed(ALL_SALE_ORDER_KEYS)),
        tenant_order=True,
        newline="\n",
        bom=False,
    ),
    "tally_gst_report": JobSpec(report="Tally GST Report", rows=800),
    "invoice": JobSpec(report="Invoice", rows=600),
    "return_invoices": JobSpec(report="Return Invoices", rows=400),
}
REPORT_NAMES = {"sale_orders": "Sale Orders", "tally_gst_report": "Tally GST Report"}


class Loaded:
    """The loaded tables and the oracle: each table's CSV rows (header first)."""

    def __init__(self, pipeline: dlt.Pipeline, files: dict[str, bytes]) -> None:
        self.pipeline = pipeline
        self.files = files
        self.rows = {
            table: list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
            for table, data in files.items()
        }

    def column(self, table: str, label: str, nth: int = 0) -> list[str]:
        header = self.rows[table][0]
        index = [i for i, name in enumerate(header) if name == label][nth]
        return [row[index] for row in self.rows[table][1:]]

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with self.pipeline.sql_client() as client:
            return list(client.execute_sql(query))

    def type_of(self, table: str, column: str) -> str:
        found = self.sql(
            "SELECT data_type FROM information_schema.columns "
            f"WHERE table_schema = 'shapes' AND table_name = '{table}' AND column_name = '{column}'"
        )
        assert found, f"{table}.{column} was not loaded"
        return str(found[0][0])


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    base = tmp_path_factory.mktemp("real-shapes")
    with Emulator(
        username=USERNAME, password=PASSWORD, default_job_delay=0.2, seed=5, cache_dir=base / "cache"
    ) as emu:
        pipeline = dlt.pipeline(
            pipeline_name="real_shapes",
            destination=dlt.destinations.duckdb(str(base / "warehouse.duckdb")),
            dataset_name="shapes",
            pipelines_dir=str(base / "pipelines"),
        )
        files = {}
        for table, spec in REPORTS.items():
            code = emu.add_job(spec)
            files[table] = fetch_export(emu, code)
            info = pipeline.run(make_source(emu, [code], report=spec.report, table_name=table))
            assert not info.has_failed_jobs
        yield Loaded(pipeline, files)


def _decimal_sum(values: list[str]) -> Decimal:
    return sum((Decimal(v) for v in values if v.strip().lower() not in NULLS), Decimal(0))


def _present(values: list[str]) -> int:
    return sum(1 for v in values if v.strip().lower() not in NULLS)


# -- the files have the shapes -------------------------------------------------------------------
def test_the_files_have_every_shape(loaded: Loaded) -> None:
    so = loaded.files["sale_orders"]
    assert not so.startswith(b"\xef\xbb\xbf") and b"\r\n" not in so  # LF, no BOM
    header = loaded.rows["sale_orders"][0]
    assert header.count("Delivery Time") == 2 and header[-2:] == ["Channel Shipping", "Item Details"]
    assert header[0] == "Sale Order Item Code" and "Gift Note" in header  # reordered by the tenant
    assert {"0E-7"} <= set(loaded.column("sale_orders", "CGST"))
    assert {"NA", "None"} <= set(loaded.column("sale_orders", "Shipping Address Line 2"))
    ewb = {v[-8:] for v in loaded.column("sale_orders", "EWayBill Date") if v}
    assert ewb == {"05:30:00", "00:00:00"}
    assert loaded.rows["tally_gst_report"][0][0] == "Voucher Type Name "
    assert {"0E-7"} <= set(loaded.column("tally_gst_report", "Total"))
    assert set(loaded.column("return_invoices", "Qty")) == {"1.0000"}
    assert "1" in set(loaded.column("invoice", "Qty"))


def test_every_row_landed(loaded: Loaded) -> None:
    for table, rows in loaded.rows.items():
        assert loaded.sql(f"SELECT count(*) FROM shapes.{table}")[0][0] == len(rows) - 1, table


# -- money: exact decimals, 0E-7 is zero ---------------------------------------------------------
MONEY = [
    ("sale_orders", "MRP", "mrp"),
    ("sale_orders", "Selling Price", "selling_price"),
    ("sale_orders", "Prepaid Amount", "prepaid_amount"),
    ("sale_orders", "Tax %", "taxx"),
    ("sale_orders", "CGST Rate", "cgst_rate"),
    ("sale_orders", "Shipping Address Latitude", "shipping_address_latitude"),
    ("invoice", "Tax Amount", "tax_amount"),
    ("return_invoices", "Transfer Price", "transfer_price"),
    ("return_invoices", "Qty", "qty"),
]
MONEY_WITH_ZERO_EXPONENT = [
    ("sale_orders", "CGST", "cgst"),
    ("sale_orders", "Discount", "discount"),
    ("sale_orders", "Shipping Charges", "shipping_charges"),
    ("tally_gst_report", "Total", "total"),
    ("tally_gst_report", "Channel Entry", "channel_entry"),
    ("invoice", "Total", "total"),
]


def _check_decimal(loaded: Loaded, table: str, label: str, column: str) -> None:
    assert loaded.type_of(table, column).startswith("DECIMAL"), (table, column)
    landed = loaded.sql(f"SELECT sum({column}), count({column}) FROM shapes.{table}")[0]
    values = loaded.column(table, label)
    assert landed == (_decimal_sum(values), _present(values)), (table, label)


@pytest.mark.parametrize(("table", "label", "column"), MONEY)
def test_money_is_exact(loaded: Loaded, table: str, label: str, column: str) -> None:
    _check_decimal(loaded, table, label, column)


@pytest.mark.parametrize(("table", "label", "column"), MONEY_WITH_ZERO_EXPONENT)
def test_money_with_0e7_is_exact(loaded: Loaded, table: str, label: str, column: str) -> None:
    _check_decimal(loaded, table, label, column)


def test_qty_has_one_exact_type_in_sister_reports(loaded: Loaded) -> None:
    """`Qty` is `1` in Invoice and `1.0000` in Return Invoices: the catalogue gives both one type."""
    assert loaded.type_of("invoice", "qty") == loaded.type_of("return_invoices", "qty") == "DECIMAL(38,9)"
    for table in ("invoice", "return_invoices"):
        values = loaded.column(table, "Qty")
        assert loaded.sql(f"SELECT sum(qty) FROM shapes.{table}")[0][0] == sum(
            Decimal(v) for v in values if v
        )


# -- dates ---------------------------------------------------------------------------------------
DATES = [
    ("sale_orders", "Delivery Date", "delivery_date"),
    ("invoice", "Invoice Date", "invoice_date"),
    ("tally_gst_report", "Date", "date"),
]
TIMESTAMPS = [
    ("sale_orders", "Created", "created"),
    ("sale_orders", "EWayBill Date", "e_way_bill_date"),
    ("sale_orders", "EWayBill Valid Till", "e_way_bill_valid_till"),
    ("sale_orders", "Return Date", "return_date"),
    ("return_invoices", "Return Date", "return_date"),
    ("tally_gst_report", "Voucher Date", "voucher_date"),
]


@pytest.mark.parametrize(("table", "label", "column"), DATES)
def test_date_only_columns_are_dates(loaded: Loaded, table: str, label: str, column: str) -> None:
    assert loaded.type_of(table, column) == "DATE", (table, column)
    values = loaded.column(table, label)
    landed = loaded.sql(f"SELECT count({column}), min({column}), max({column}) FROM shapes.{table}")[0]
    days = sorted(v[6:] + v[3:5] + v[:2] for v in values)  # dd-mm-yyyy -> yyyymmdd
    assert landed[0] == _present(values)
    assert (landed[1].strftime("%Y%m%d"), landed[2].strftime("%Y%m%d")) == (days[0], days[-1])


@pytest.mark.parametrize(("table", "label", "column"), TIMESTAMPS)
def test_mixed_and_midnight_columns_are_timestamps(
    loaded: Loaded, table: str, label: str, column: str
) -> None:
    assert loaded.type_of(table, column).startswith("TIMESTAMP"), (table, column)
    values = loaded.column(table, label)
    assert loaded.sql(f"SELECT count({column}) FROM shapes.{table}")[0][0] == _present(values)


# -- identifiers stay text, exactly ---------------------------------------------------------------
IDENTIFIERS = [
    ("sale_orders", "Display Order Code", "display_order_code"),
    ("sale_orders", "Tracking Number", "tracking_number"),
    ("sale_orders", "Shipping Address Pincode", "shipping_address_pincode"),
    ("sale_orders", "Billing Address Pincode", "billing_address_pincode"),
    ("sale_orders", "HSN Code", "hsn_code"),
    ("sale_orders", "Channel Product Id", "channel_product_id"),
    ("return_invoices", "Display Order Code", "display_order_code"),
]
NUMERIC_LOOKING_IDENTIFIERS = [
    ("sale_orders", "Item Type EAN", "item_type_ean"),
    ("sale_orders", "IMEI", "imei"),
    ("sale_orders", "Acknowledgement Number", "acknowledgement_number"),
    ("sale_orders", "EWayBill No", "e_way_bill_no"),
    ("sale_orders", "Billing Address Phone", "billing_address_phone"),
    ("sale_orders", "Notification Mobile", "notification_mobile"),
    ("sale_orders", "Shipping Address Id", "shipping_address_id"),
]


def _check_text(loaded: Loaded, table: str, label: str, column: str) -> None:
    assert loaded.type_of(table, column) == "VARCHAR", (table, column)
    landed = sorted(
        v for (v,) in loaded.sql(f"SELECT {column} FROM shapes.{table} WHERE {column} IS NOT NULL")
    )
    assert landed == sorted(v for v in loaded.column(table, label) if v.strip().lower() not in NULLS)


@pytest.mark.parametrize(("table", "label", "column"), IDENTIFIERS)
def test_identifiers_stay_text(loaded: Loaded, table: str, label: str, column: str) -> None:
    _check_text(loaded, table, label, column)


@pytest.mark.parametrize(("table", "label", "column"), NUMERIC_LOOKING_IDENTIFIERS)
def test_numeric_looking_identifiers_stay_text(loaded: Loaded, table: str, label: str, column: str) -> None:
    _check_text(loaded, table, label, column)


# -- text and odd headers ------------------------------------------------------------------------
def test_na_and_none_in_address_lines_are_empty(loaded: Loaded) -> None:
    for label, column in (
        ("Shipping Address Line 2", "shipping_address_line_2"),
        ("Billing Address Line 2", "billing_address_line_2"),
    ):
        values = loaded.column("sale_orders", label)
        assert loaded.sql(f"SELECT count({column}) FROM shapes.sale_orders")[0][0] == _present(values)


def test_odd_headers_land_as_columns(loaded: Loaded) -> None:
    columns = {
        c
        for (c,) in loaded.sql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'shapes' AND table_name = 'sale_orders'"
        )
    }
    assert {"channel_shipping", "item_details", "gift_note"} <= columns
    assert len([c for c in columns if c.startswith("delivery_time")]) == 2  # the two `Delivery Time`s
    (count,) = loaded.sql("SELECT count(voucher_type_name) FROM shapes.tally_gst_report")[0]
    assert count == len(loaded.rows["tally_gst_report"]) - 1  # `Voucher Type Name `, trailing space
