"""The other reports the emulated tenant writes with real columns and values: Inventory
Snapshot, Item Master, Invoice, Return Invoices and Tally GST Report.

Each report is data: (export key, header label) pairs and one polars expression per key over a
few base columns. Snapshots have one row per SKU of the facility's catalogue (the SKU codes,
names and MRPs of its Sale Orders); dated reports have `rows_per_day` rows per IST day, each a
pure function of (seed, facility, report, row number), so windows partition them like the Sale
Orders. Files are written as the real ones seen: LF line ends, no BOM, minimal quoting, money as
BigDecimal text (`0E-7`), `Qty` as `1` in one report and `1.0000` in its sister, a date-only
`dd-mm-yyyy` column, a header label with a trailing space (`Voucher Type Name `).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import polars as pl

from uniware_source.emulator.randomness import below, pick, rand
from uniware_source.emulator.sale_order_columns import CITIES, item_name, mrp_paise, sku_code
from uniware_source.emulator.tenant import TenantShape
from uniware_source.emulator.values import NONE, bigdecimal, digits, ist, when, zero_padded

_TIME = "%Y-%m-%d %H:%M:%S"
SNAPSHOT_SKUS = 1200  # SKUs in a facility's catalogue: the rows of a snapshot made through the API
CHUNK_ROWS = 200_000

Values = Callable[[TenantShape], dict[str, pl.Expr]]


@dataclass(frozen=True)
class ReportModel:
    name: str
    columns: tuple[tuple[str, str], ...]  # (export key, header label), in the tenant's order
    values: Values
    rows_per_day: int = 0  # 0: a snapshot, one row per SKU

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.columns)

    def label(self, key: str) -> str:
        return dict(self.columns).get(key, key)


def _common(shape: TenantShape) -> dict[str, pl.Expr]:
    """Base columns every report may use: the SKU (`_sku`, its hash `_hs`), row hashes, MRP."""
    return {
        "_hs": rand(pl.col("_sku"), shape.salt("sku")),
    }


def _sku_values(shape: TenantShape) -> dict[str, pl.Expr]:
    hs = pl.col("_hs")
    return {
        "sku": sku_code(pl.col("_sku"), hs),
        "name": item_name(hs),
        "mrp": mrp_paise(hs),
        "ean": pl.concat_str([pl.lit("890"), zero_padded(hs // 17, 10)]),
        "hsn": pick(hs // 64, ["61091000", "73239990", "85176290", "09023010", "33049990"]),
        "brand": pick(hs // 13, ["Kalpa", "Urbanic", "Noise", "Tata", "Himalaya", "Generic"]),
        "category": pick(hs // 64, ["APPAREL", "HOME_KITCHEN", "ELECTRONICS", "GROCERY", "BEAUTY"]),
    }


# ---------------------------------------------------------------------------------- snapshots
def _inventory(shape: TenantShape) -> dict[str, pl.Expr]:
    v, h = _sku_values(shape), pl.col("_h")
    stock = below(h, 400) - 20  # a few SKUs oversold: negative open stock is what the tenant shows
    return {
        "facility": pl.lit(shape.facility),
        "itemTypeName": v["name"],
        "itemtypeSku": v["sku"],
        "ean": v["ean"],
        "brand": v["brand"],
        "categoryName": v["category"],
        "MRP": bigdecimal(v["mrp"], 2),
        "openSale": below(h // 3, 12).cast(pl.String),
        "inventory": stock.clip(0).cast(pl.String),
        "inventoryBlocked": below(h // 5, 6).cast(pl.String),
        "badInventory": when(below(h // 7, 10) == 0, below(h // 11, 4) + 1, pl.lit(0)).cast(pl.String),
        "putawayPending": below(h // 13, 3).cast(pl.String),
        "openPurchase": when(stock < 30, below(h // 17, 100) + 20, pl.lit(0)).cast(pl.String),
        "enabled": when(below(h // 19, 25) == 0, pl.lit("false"), pl.lit("true")),
        "updated": ist(pl.col("_at") - below(h // 23, 30 * 86_400), _TIME),
        "costPrice": bigdecimal(when(below(h // 29, 20) == 0, pl.lit(0), v["mrp"] * 45 // 100), 7),
    }


def _item_master(shape: TenantShape) -> dict[str, pl.Expr]:
    v, h = _sku_values(shape), pl.col("_h")
    return {
        "skuCode": v["sku"],
        "itemTypeName": v["name"],
        "categoryCode": v["category"],
        "description": pl.concat_str([v["name"], pl.lit(", by "), v["brand"]]),
        "ean": v["ean"],
        "brand": v["brand"],
        "color": pick(h // 3, ["Blue", "Black", "Red", "White", "-"]),
        "size": pick(h // 5, ["S", "M", "L", "XL", "Free Size", ""]),
        "length": (100 + below(h // 7, 400)).cast(pl.String),
        "width": (50 + below(h // 11, 300)).cast(pl.String),
        "height": (10 + below(h // 13, 200)).cast(pl.String),
        "weight": (50 + below(h // 17, 5000)).cast(pl.String),
        "MRP": bigdecimal(v["mrp"], 2),
        "basePrice": bigdecimal(v["mrp"] * 80 // 100, 2),
        "costPrice": bigdecimal(when(below(h // 19, 20) == 0, pl.lit(0), v["mrp"] * 45 // 100), 7),
        "hsn": v["hsn"],
        "type": when(below(h // 23, 30) == 0, pl.lit("BUNDLE"), pl.lit("SIMPLE")),
        "enabled": when(below(h // 29, 25) == 0, pl.lit("false"), pl.lit("true")),
        "updated": ist(pl.col("_at") - below(h // 31, 200 * 86_400), _TIME),
    }


# ---------------------------------------------------------------------------------- dated
def _tax(shape: TenantShape, amount: pl.Expr) -> dict[str, pl.Expr]:
    """GST inside `amount` (paise): CGST+SGST or IGST by the row's city, as money of scale 7."""
    h = pl.col("_h")
    rate = pick(h // 37, ["5", "12", "18"]).cast(pl.Int64)
    intra = below(h // 41, 3) == 0
    tax = amount * rate // (100 + rate)
    zero = pl.lit(0)
    return {
        "rate": rate,
        "tax": tax,
        "cgst": bigdecimal(when(intra, tax // 2, zero), 7),
        "sgst": bigdecimal(when(intra, tax - tax // 2, zero), 7),
        "igst": bigdecimal(when(intra, zero, tax), 7),
        "utgst": bigdecimal(zero, 7),
        "cess": bigdecimal(zero, 7),
    }


def _invoice_codes(shape: TenantShape) -> dict[str, pl.Expr]:
    i = pl.col("i").cast(pl.Int64)
    return {
        "invoice": pl.concat_str([pl.lit(f"INV/{shape.tag}/"), (i + 10_000_000).cast(pl.String)]),
        "order": (i * 16 + 1_000_000 + shape.fac_index).cast(pl.String),
        "package": pl.concat_str([pl.lit(f"SP{shape.tag}"), (i + 10_000_000).cast(pl.String)]),
    }


def _invoice(shape: TenantShape) -> dict[str, pl.Expr]:
    v, h, at = _sku_values(shape), pl.col("_h"), pl.col("_at")
    codes = _invoice_codes(shape)
    qty = when(below(h // 3, 6) == 0, below(h // 5, 3) + 2, pl.lit(1))
    price = v["mrp"] * (70 + below(h // 7, 31)) // 100 * qty
    shipping = when(price < 49_900, pl.lit(4_000), pl.lit(0))
    tax = _tax(shape, price)
    cancelled = below(h // 11, 40) == 0
    return {
        "invoiceCode": codes["invoice"],
        "invoiceDate": ist(at, "%d-%m-%Y"),  # date-only, dd-mm-yyyy
        "orderCode": codes["order"],
        "shippingPackageCode": codes["package"],
        "channelName": pick(h // 13, ["AMAZON_IN", "FLIPKART", "MYNTRA", "SHOPIFY", "CUSTOM"]),
        "skuCode": v["sku"],
        "skuName": v["name"],
        "quantity": qty.cast(pl.String),  # `1`, where the sister report writes `1.0000`
        "invoiceTax": bigdecimal(tax["tax"], 7),
        "invoiceTotal": bigdecimal(when(cancelled, pl.lit(0), price + shipping), 7),
        "invoiceCancelled": when(cancelled, pl.lit("true"), pl.lit("false")),
        "hsn": v["hsn"],
        "cgst": tax["cgst"],
        "igst": tax["igst"],
        "sgst": tax["sgst"],
        "utgst": tax["utgst"],
        "cess": tax["cess"],
        "taxPercentage": bigdecimal(tax["rate"] * 100, 2),
        "shipping": bigdecimal(shipping, 7),
        "mrp": bigdecimal(v["mrp"], 2),
        "customerName": pick(
            h // 17, ["Priya Iyer", "Kumar, Suresh", 'Ravi "Ricky" Verma', "Müller", "Anil Kumar"]
        ),
    }


def _return_invoice(shape: TenantShape) -> dict[str, pl.Expr]:
    v, h, at = _sku_values(shape), pl.col("_h"), pl.col("_at")
    codes = _invoice_codes(shape)
    transfer = v["mrp"] * 60 // 100
    tax = _tax(shape, transfer)
    return {
        "returnInvoiceCode": pl.concat_str(
            [pl.lit(f"RINV/{shape.tag}/"), (pl.col("i") + 500_000).cast(pl.String)]
        ),
        "invoiceCode": codes["invoice"],
        "displayorderCode": when(
            below(h // 3, 2) == 0,
            digits(h // 5, 10),
            pl.concat_str(
                [
                    ist(at - 10 * 86_400, "%y%m%d"),
                    pl.lit("-"),
                    zero_padded(h // 7, 3),
                    pl.lit("-"),
                    zero_padded(h // 11, 6),
                ]
            ),
        ),
        "ShippingPackageCode": codes["package"],
        # date-only dd-mm-yyyy on some rows, a full time on others
        "returnedDate": when(below(h // 13, 2) == 0, ist(at, "%d-%m-%Y"), ist(at, _TIME)),
        "skuCode": v["sku"],
        "itemTypeName": v["name"],
        "qty": pl.lit("1.0000"),
        "transferPrice": bigdecimal(transfer, 6),
        "cgst": tax["cgst"],
        "igst": tax["igst"],
        "sgst": tax["sgst"],
        "utgst": tax["utgst"],
        "cess": tax["cess"],
    }


def _tally_gst(shape: TenantShape) -> dict[str, pl.Expr]:
    v, h, at = _sku_values(shape), pl.col("_h"), pl.col("_at")
    codes = _invoice_codes(shape)
    price = v["mrp"] * (70 + below(h // 7, 31)) // 100
    tax = _tax(shape, price)
    cancelled = below(h // 11, 40) == 0
    city = below(h // 19, len(CITIES))
    # UTC midnights rendered in IST (05:30:00) on some rows, plain midnights on others
    day = (at + 19_800) // 86_400 * 86_400
    return {
        "voucherTypeName": pick(h // 3, ["Sales", "Sales - Amazon", "Sales - Flipkart"]),
        "voucherNumber": codes["invoice"],
        "date": ist(at, "%d-%m-%Y"),
        "voucherDate": when(
            below(h // 23, 2) == 0, ist(day, _TIME), pl.from_epoch(day, time_unit="s").dt.strftime(_TIME)
        ),
        "partyName": pick(h // 13, ["Amazon Seller Services", "Flipkart Internet", "Cash Customer"]),
        "partyGstin": when(
            below(h // 29, 4) == 0, pl.concat_str([pl.lit("29AABCF"), digits(h // 31, 4), pl.lit("Q1ZA")])
        ),
        "placeOfSupply": city.replace_strict(dict(enumerate(s for _, s in CITIES)), return_dtype=pl.String),
        "itemSku": v["sku"],
        "hsn": v["hsn"],
        "qty": pl.lit("1.0000"),
        "rate": bigdecimal(price - tax["tax"], 7),
        "taxRate": bigdecimal(tax["rate"] * 100, 2),
        "cgst": tax["cgst"],
        "sgst": tax["sgst"],
        "igst": tax["igst"],
        "channelEntry": bigdecimal(when(below(h // 37, 3) == 0, price // 10, pl.lit(0)), 7),  # money here
        "total": bigdecimal(when(cancelled, pl.lit(0), price), 7),
        "narration": when(cancelled, pl.lit("Cancelled,\nreversed"), NONE),
    }


REPORT_MODELS: dict[str, ReportModel] = {
    model.name.lower(): model
    for model in (
        ReportModel(
            "Inventory Snapshot",
            (
                ("facility", "Facility"), ("itemTypeName", "Item Type Name"), ("itemtypeSku", "Item SkuCode"),
                ("ean", "EAN"), ("brand", "Brand"), ("categoryName", "Category Name"), ("MRP", "MRP"),
                ("openSale", "Open Sale"), ("inventory", "Inventory"),
                ("inventoryBlocked", "Inventory Blocked"),
                ("badInventory", "Bad Inventory"), ("putawayPending", "Putaway Pending"),
                ("openPurchase", "Open Purchase"), ("enabled", "Enabled"), ("updated", "Updated"),
                ("costPrice", "Cost Price"),
            ),
            _inventory,
        ),
        ReportModel(
            "Item Master",
            (
                ("skuCode", "Product Code"), ("itemTypeName", "Name"), ("categoryCode", "Category Code"),
                ("description", "Description"), ("ean", "EAN"), ("brand", "Brand"), ("color", "Color"),
                ("size", "Size"), ("length", "Length (mm)"), ("width", "Width (mm)"),
                ("height", "Height (mm)"),
                ("weight", "Weight (gms)"), ("MRP", "MRP"), ("basePrice", "Base Price"),
                ("costPrice", "Cost Price"),
                ("hsn", "HSN Code"), ("type", "Type"), ("enabled", "Enabled"), ("updated", "Updated"),
            ),
            _item_master,
        ),
        ReportModel(
            "Invoice",
            (
                ("invoiceCode", "Invoice Code"), ("invoiceDate", "Invoice Date"),
                ("orderCode", "Sale Order Code"),
                ("shippingPackageCode", "Shipping Package Code"), ("channelName", "Channel Name"),
                ("skuCode", "SKU Code"), ("skuName", "SKU Name"), ("quantity", "Qty"),
                ("invoiceTax", "Tax Amount"),
                ("invoiceTotal", "Total"), ("invoiceCancelled", "Cancelled"), ("hsn", "HSN"),
                ("cgst", "CGST"),
                ("igst", "IGST"), ("sgst", "SGST"), ("utgst", "UTGST"), ("cess", "CESS"),
                ("taxPercentage", "Tax %"),
                ("shipping", "Shipping Charges"), ("mrp", "MRP"), ("customerName", "Customer Name"),
            ),
            _invoice,
            rows_per_day=20,
        ),
        ReportModel(
            "Return Invoices",
            (
                ("returnInvoiceCode", "Return Invoice Code"), ("invoiceCode", "Invoice Code"),
                ("displayorderCode", "Display Order Code"), ("ShippingPackageCode", "Shipping Package Code"),
                ("returnedDate", "Return Date"), ("skuCode", "Item SKU Code"),
                ("itemTypeName", "Item Type Name"),
                ("qty", "Qty"), ("transferPrice", "Transfer Price"), ("cgst", "CGST"), ("igst", "IGST"),
                ("sgst", "SGST"), ("utgst", "UTGST"), ("cess", "CESS"),
            ),
            _return_invoice,
            rows_per_day=3,
        ),
        ReportModel(
            "Tally GST Report",
            (
                ("voucherTypeName", "Voucher Type Name "), ("voucherNumber", "Voucher Number"),
                ("date", "Date"),
                ("voucherDate", "Voucher Date"), ("partyName", "Party Name"), ("partyGstin", "Party GSTIN"),
                ("placeOfSupply", "Place Of Supply"), ("itemSku", "SKU Code"), ("hsn", "HSN"), ("qty", "Qty"),
                ("rate", "Rate"), ("taxRate", "Tax Rate"), ("cgst", "CGST"), ("sgst", "SGST"),
                ("igst", "IGST"),
                ("channelEntry", "Channel Entry"), ("total", "Total"), ("narration", "Narration"),
            ),
            _tally_gst,
            rows_per_day=20,
        ),
    )
}  # fmt: skip

TALLY_GST_COLUMNS: tuple[str, ...] = REPORT_MODELS["tally gst report"].keys


def report_model(report: str) -> ReportModel | None:
    return REPORT_MODELS.get(report.strip().lower())


def report_frames(
    model: ReportModel,
    columns: Sequence[str],
    *,
    shape: TenantShape,
    rows: int | None,
    window: tuple[int, int] | None,
    now_s: int,
) -> Iterator[pl.DataFrame]:
    """The frames of a report file, in order: one String column per key (c0, c1, ...).

    A snapshot has `rows` rows (SNAPSHOT_SKUS when None), as of `now_s`. A dated report has
    the first `rows` rows of the tenant when `window` is None, else its rows in the window."""
    values = model.values(shape)
    selected = [(values.get(key, NONE)).alias(f"c{i}") for i, key in enumerate(columns)]
    for lo, hi, at in _row_ranges(model, shape, rows, window, now_s):
        base = pl.DataFrame({"i": pl.int_range(lo, hi, dtype=pl.UInt64, eager=True)}).lazy()
        base = base.with_columns(at.alias("_at"), rand(pl.col("i"), shape.salt(model.name)).alias("_h"))
        if window is not None and model.rows_per_day:
            base = base.filter(pl.col("_at").is_between(window[0] // 1000, window[1] // 1000))
        sku = pl.col("i") if not model.rows_per_day else below(pl.col("_h") // 1024, 5000)
        base = base.with_columns(sku.alias("_sku")).with_columns(**_common(shape))
        frame = base.select(selected).collect()
        if frame.height:
            yield frame


def _row_ranges(
    model: ReportModel, shape: TenantShape, rows: int | None, window: tuple[int, int] | None, now_s: int
) -> Iterator[tuple[int, int, pl.Expr]]:
    """(first row, end row, the rows' time) of each chunk of the file."""
    if not model.rows_per_day:
        total = SNAPSHOT_SKUS if rows is None else rows
        for lo in range(0, total, CHUNK_ROWS):
            yield lo, min(lo + CHUNK_ROWS, total), pl.lit(now_s, dtype=pl.Int64)
        return
    per_day = model.rows_per_day
    span = 86_400 // per_day
    i = pl.col("i").cast(pl.Int64)
    at = shape.start_epoch + (i // per_day) * 86_400 + (i % per_day) * span
    at = at + below(rand(pl.col("i"), shape.salt(model.name + ":at")), span)
    if window is None:
        total = rows or 0
        lo_row, hi_row = 0, total
    else:
        first_day = max(0, (window[0] // 1000 - shape.start_epoch) // 86_400)
        last_day = (window[1] // 1000 - shape.start_epoch) // 86_400
        if last_day < first_day:
            return
        lo_row, hi_row = first_day * per_day, (last_day + 1) * per_day
    for lo in range(lo_row, hi_row, CHUNK_ROWS):
        yield lo, min(lo + CHUNK_ROWS, hi_row), at
