"""A Sale Orders export at a real tenant's width, fast: 138 columns, about 1.1 kB a row.

    python benchmarks/wide_sale_orders.py 1000000 /tmp/wide.csv     # ~1.1 GB, about 20 s

The emulator's own Sale Orders report has about 30 columns; a live tenant's export has about 140
(the labels below, in the order such a tenant's export produced them, including a repeated
`Delivery Time` from a custom field). This generator is independent of the emulator's: each
column gets a shape of the kind real files show (facts only; values are made up):
- money as Java BigDecimal text with fixed scales of 2 to 7, zero sometimes `0E-7`;
- IST wall-clock timestamps `yyyy-mm-dd hh:mm:ss`, date-only `dd-mm-yyyy` columns;
- identifiers that look numeric but are text (pincodes with leading zeros, phones, EANs, IMEIs);
- names and addresses with commas, quotes and non-ASCII letters;
- many columns that are empty on most rows (reverse pickups, returns, custom fields).
Rows come in orders of one or two items; order-level codes repeat on each item row.

Every column is one vectorised polars expression over pseudo-random integer columns (hashes of
the row number), chunk by chunk, so a million rows take seconds, not minutes. The file is
written with CRLF line ends and RFC 4180 quoting, as the tenant's files were.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

VERSION = 1  # change when the bytes a (rows, seed) pair produces change
CHUNK_ROWS = 100_000
_BASE_EPOCH = 1_711_909_800  # 2024-04-01 00:00 IST, as a UTC epoch
_SPAN_S = 730 * 86_400  # two years of orders
_IST = 19_800

_NAMES = [
    "Priya Iyer",
    "राहुल शर्मा",
    "Anil Kumar",
    "José D'Souza",
    'Ravi "Ricky" Verma',
    "Kumar, Suresh",
    "அருண் குமார்",
    "Fatima Khan",
    "Meera Nair",
    "Harpreet Singh",
    "সৌরভ গাঙ্গুলী",
    "Zoë Fernandes",
]
_STREETS = ["MG Road", "Link Road, Andheri West", "Sector 18", "Anna Salai", "Park Street", "NA", "None"]
_CITIES = ["Bengaluru", "Mumbai", "New Delhi", "Chennai", "Kolkata", "Hyderabad", "Pune", "Jaipur"]
_STATES = ["KA", "MH", "DL", "TN", "WB", "TS", "RJ", "UP"]
_ITEMS = [
    "Cotton T-Shirt, Blue (M)",
    'Steel Bottle 1L "Hydro"',
    "Masala Chai 250g",
    "Bluetooth Speaker 10W",
    "Kurta Set\nwith Dupatta",
    "Running Shoes, Size 9",
    "Basmati Rice 5kg",
    "Yoga Mat 6mm",
]
_CHANNELS = ["AMAZON_IN", "FLIPKART", "MYNTRA", "SHOPIFY", "CUSTOM", "MEESHO"]
_STATUSES = ["COMPLETE", "PROCESSING", "CANCELLED", "CREATED", "PENDING_VERIFICATION"]
_ITEM_STATUSES = ["DELIVERED", "DISPATCHED", "CANCELLED", "CREATED", "RETURNED", "FULFILLABLE"]
_COURIERS = ["Delhivery", "BlueDart", "Ekart", "XpressBees", "Shadowfax", "DTDC"]
_COLORS = ["Black", "Blue", "Red", "White", "Green", "-"]
_SIZES = ["S", "M", "L", "XL", "Free Size", "9", "10"]
_BRANDS = ["Acme", "Zeta Home", "Naturals", "Urban Fit", "Chai Co."]
_PAYMENT = ["PREPAID", "COD", "UPI", "CARD", "NETBANKING"]
_REASONS = ["Size issue", "Damaged item", "Not as described, wrong colour", "Customer cancelled"]

Col = Callable[["_Draw"], pl.Expr]


class _Draw:
    """Random integer columns for one file: each a hash of the row number with a seed of its own,
    so a row's values do not depend on how the file is cut into chunks."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.drawn = 0

    def ints(self, low: int, high: int) -> pl.Expr:
        """A fresh column of pseudo-random integers in [low, high)."""
        self.drawn += 1
        hashed = pl.col("row").hash(self.seed * 7919 + self.drawn)
        return (hashed % (high - low)).cast(pl.Int64) + low

    def chance(self, p: float) -> pl.Expr:
        """True on about a share `p` of the rows."""
        return self.ints(0, 1_000_000) < int(p * 1_000_000)


def _sometimes(p_present: float, value: Col) -> Col:
    """`value` on a share `p_present` of the rows, empty elsewhere."""
    return lambda d: pl.when(d.chance(p_present)).then(value(d)).otherwise(None)


def _pick(values: list[str]) -> Col:
    return lambda d: pl.lit(pl.Series(values)).get(d.ints(0, len(values)))


def _digits(width: int) -> Col:
    """A numeric-looking identifier of `width` digits, leading zeros kept."""
    if width <= 18:
        return lambda d: d.ints(0, 10**width).cast(pl.String).str.zfill(width)
    return lambda d: pl.concat_str(_digits(18)(d), _digits(width - 18)(d))


def _hex(chars: int) -> Col:
    """`chars` hexadecimal digits (an e-invoice reference number): the hex of random digit text."""
    return lambda d: _digits(chars // 2)(d).str.encode("hex")


def _money(scale: int, high: int, zero_share: float = 0.0) -> Col:
    """BigDecimal text of a fixed scale (`1299.5000000`); a share `zero_share` of zeros."""

    def build(d: _Draw) -> pl.Expr:
        units = d.ints(0, high * 100)
        text = pl.concat_str(
            (units // 100).cast(pl.String),
            pl.lit("."),
            (units % 100).cast(pl.String).str.zfill(2),
            pl.lit("0" * (scale - 2)),
        )
        if zero_share:
            # Java's BigDecimal writes a zero of scale 7 or more as 0E-7; below that as 0.00
            zero = f"0E-{scale}" if scale >= 7 else "0." + "0" * scale
            return pl.when(d.chance(zero_share)).then(pl.lit(zero)).otherwise(text)
        return text

    return build


def _rate() -> Col:
    return lambda d: pl.lit(pl.Series(["0.00", "5.00", "12.00", "18.00", "28.00"])).get(d.ints(0, 5))


def _integer(low: int, high: int) -> Col:
    return lambda d: d.ints(low, high).cast(pl.String)


def _decimal3(high: int) -> Col:
    return lambda d: pl.format("{}.{}", d.ints(0, high), d.ints(0, 1000).cast(pl.String).str.zfill(3))


def _coordinate(low: int, high: int) -> Col:
    return lambda d: pl.format("{}.{}", d.ints(low, high), d.ints(0, 1_000_000).cast(pl.String).str.zfill(6))


def _order_seconds(d: _Draw) -> pl.Expr:
    """The order's time: rising through the file, as an export by date would."""
    return pl.col("order") * 37 % _SPAN_S + _BASE_EPOCH


def _timestamp(after_hours: int = 0) -> Col:
    """IST wall-clock `yyyy-mm-dd hh:mm:ss`, some hours after the order."""

    def build(d: _Draw) -> pl.Expr:
        seconds = _order_seconds(d) + _IST + (d.ints(0, after_hours * 3600) if after_hours else 0)
        return pl.from_epoch(seconds, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")

    return build


def _date_only(after_days: int) -> Col:
    def build(d: _Draw) -> pl.Expr:
        seconds = _order_seconds(d) + _IST + d.ints(0, after_days * 86_400)
        return pl.from_epoch(seconds, time_unit="s").dt.strftime("%d-%m-%Y")

    return build


def _code(prefix: str, of: str = "order", width: int = 8) -> Col:
    return lambda d: pl.concat_str(pl.lit(prefix), pl.col(of).cast(pl.String).str.zfill(width))


def _bool() -> Col:
    return _pick(["true", "false", "false", "false"])


def _text(values: list[str]) -> Col:
    return _pick(values)


def _address(kind: str) -> list[tuple[str, Col]]:
    """The eleven columns of an address (shipping or billing)."""
    return [
        (f"{kind} Address Id", _integer(1, 90_000_000)),
        (f"{kind} Address Name", _text(_NAMES)),
        (f"{kind} Address Line 1", lambda d: pl.format("{}, {}", d.ints(1, 999), _pick(_STREETS)(d))),
        (
            f"{kind} Address Line 2",
            _sometimes(0.4, _text(["Near City Mall", "Opp. Metro Station", "Flat 4B"])),
        ),
        (f"{kind} Address City", _text(_CITIES)),
        (f"{kind} Address State", _text(_STATES)),
        (f"{kind} Address Country", lambda d: pl.lit("IN")),
        (f"{kind} Address Pincode", _digits(6)),
        (f"{kind} Address Latitude", _sometimes(0.3, _coordinate(8, 30))),
        (f"{kind} Address Longitude", _sometimes(0.3, _coordinate(70, 90))),
        (f"{kind} Address Phone", _digits(10)),
    ]


# The columns in the order of the tenant's export (138 labels, `Delivery Time` twice).
COLUMNS: list[tuple[str, Col]] = [
    ("Sale Order Item Code", lambda d: pl.format("SOI-{}-{}", pl.col("order"), pl.col("item"))),
    ("Display Order Code", _code("#", width=9)),
    ("Reverse Pickup Code", _sometimes(0.02, _code("RP", "row"))),
    ("Reverse Pickup Created Date", _sometimes(0.02, _timestamp(240))),
    ("Reverse Pickup Reason", _sometimes(0.02, _text(_REASONS))),
    ("Notification Email", lambda d: pl.format("buyer{}@example.in", d.ints(1, 5_000_000))),
    ("Notification Mobile", _digits(10)),
    ("Require Customization", _bool()),
    ("COD", _bool()),
    *_address("Shipping")[:1],
    ("Category", _text(["Apparel", "Home", "Grocery", "Electronics", "Footwear"])),
    ("Invoice Code", _sometimes(0.8, _code("INV", "order", 9))),
    ("Invoice Created", _sometimes(0.8, _timestamp(48))),
    ("EWayBill No", _sometimes(0.05, _digits(12))),
    ("EWayBill Date", _sometimes(0.05, _timestamp(48))),
    ("EWayBill Valid Till", _sometimes(0.05, _timestamp(240))),
    *_address("Shipping")[1:],
    *_address("Billing"),
    ("Shipping Method", _text(["STD", "EXPRESS", "PICKUP"])),
    ("Item SKU Code", lambda d: pl.format("SKU-{}", d.ints(1, 40_000))),
    ("Channel Product Id", _digits(10)),
    ("Item Type Name", _text(_ITEMS)),
    ("Item Type Color", _text(_COLORS)),
    ("Item Type Size", _text(_SIZES)),
    ("Item Type Brand", _text(_BRANDS)),
    ("Channel Name", _text(_CHANNELS)),
    ("SKU Require Customization", _bool()),
    ("Gift Wrap", _bool()),
    ("Gift Message", _sometimes(0.01, _text(["Happy birthday!", "With love, from all of us"]))),
    ("HSN Code", _digits(8)),
    ("MRP", _money(7, 5000)),
    ("Total Price", _money(7, 5000)),
    ("Selling Price", _money(7, 5000)),
    ("Cost Price", _money(6, 4000)),
    ("Prepaid Amount", _money(7, 5000, zero_share=0.4)),
    ("Subtotal", _money(7, 5000)),
    ("Discount", _money(7, 500, zero_share=0.6)),
    ("GST Tax Type Code", _text(["GST_5", "GST_12", "GST_18", "GST_28"])),
    ("CGST", _money(7, 300, zero_share=0.5)),
    ("IGST", _money(7, 600, zero_share=0.5)),
    ("SGST", _money(7, 300, zero_share=0.5)),
    ("UTGST", _money(7, 1, zero_share=0.98)),
    ("CESS", _money(7, 1, zero_share=0.98)),
    ("CGST Rate", _rate()),
    ("IGST Rate", _rate()),
    ("SGST Rate", _rate()),
    ("UTGST Rate", _rate()),
    ("CESS Rate", _rate()),
    ("TCS Amount", _money(5, 20, zero_share=0.3)),
    ("Tax %", _rate()),
    ("Tax Value", _money(7, 600)),
    ("Voucher Code", _sometimes(0.05, _text(["SAVE10", "FESTIVE", "WELCOME50"]))),
    ("Shipping Charges", _money(2, 100, zero_share=0.5)),
    ("Shipping Method Charges", _money(2, 50, zero_share=0.8)),
    ("COD Service Charges", _money(2, 50, zero_share=0.7)),
    ("Gift Wrap Charges", _money(2, 30, zero_share=0.9)),
    ("Packet Number", _integer(1, 4)),
    ("Order Date as dd/mm/yyyy hh:MM:ss", _timestamp()),
    ("Sale Order Code", _code("SO", width=9)),
    ("On Hold", _bool()),
    ("Sale Order Status", _text(_STATUSES)),
    ("Priority", _integer(0, 3)),
    ("Currency", lambda d: pl.lit("INR")),
    ("Currency Conversion Rate", lambda d: pl.lit("1.000000")),
    ("Sale Order Item Status", _text(_ITEM_STATUSES)),
    ("Cancellation Reason", _sometimes(0.08, _text(_REASONS))),
    ("Shipping provider", _sometimes(0.9, _text(_COURIERS))),
    ("Shipping Courier", _sometimes(0.9, _text(_COURIERS))),
    ("Shipping Arranged By", _text(["CHANNEL", "SELF"])),
    ("Shipping Package Code", _sometimes(0.9, _code("SP", "order", 9))),
    ("Shipping Package Creation Date", _sometimes(0.9, _timestamp(24))),
    ("Shipping Package Status Code", _sometimes(0.9, _text(["DISPATCHED", "DELIVERED", "PACKED"]))),
    ("Shipping Package Type", _sometimes(0.9, _text(["DEFAULT", "FLYER", "BOX"]))),
    ("Length(mm)", _integer(50, 800)),
    ("Width(mm)", _integer(50, 600)),
    ("Height(mm)", _integer(10, 400)),
    ("Delivery Time", _sometimes(0.6, _timestamp(120))),
    ("Tracking Number", _sometimes(0.9, _digits(14))),
    ("Dispatch Date", _sometimes(0.85, _timestamp(72))),
    ("Facility", _text(["WH-BLR", "WH-BOM", "WH-DEL"])),
    ("Return Date", _sometimes(0.04, _date_only(30))),
    ("Return Reason", _sometimes(0.04, _text(_REASONS))),
    ("Return Remarks", _sometimes(0.02, _text(['customer says: "too small"', "box torn, item ok"]))),
    ("Created", _timestamp()),
    ("Updated", _timestamp(200)),
    ("Combination Identifier", _sometimes(0.03, _code("CMB", "order", 6))),
    ("Combination Description", _sometimes(0.03, _text(["Combo of 2", "Gift set"]))),
    ("Transfer Price", _money(7, 4000, zero_share=0.3)),
    ("Item Code", _sometimes(0.5, _code("IC", "row", 10))),
    ("IMEI", _sometimes(0.05, _digits(15))),
    ("Weight", _decimal3(5)),
    ("GSTIN", _text(["29ABCDE1234F1Z5", "27AAACR5055K1Z7"])),
    ("Customer GSTIN", _sometimes(0.03, _text(["07AAGFF2194N1Z1", "33AABCT1332L1ZZ"]))),
    ("TIN", _sometimes(0.01, _digits(11))),
    ("Payment Instrument", _text(_PAYMENT)),
    ("Fulfillment TAT", _timestamp(72)),
    ("Adjustment In Selling Price", _money(7, 1, zero_share=0.97)),
    ("Adjustment In Discount", _money(7, 1, zero_share=0.97)),
    ("Store Credit", _money(7, 1, zero_share=0.95)),
    ("IRN", _sometimes(0.05, _hex(64))),
    ("Acknowledgement Number", _sometimes(0.05, _digits(15))),
    ("Bundle SKU Code Number", _sometimes(0.03, lambda d: pl.format("BNDL-{}", d.ints(1, 999)))),
    ("SKU Name", _text(_ITEMS)),
    ("Batch Code", _sometimes(0.1, _code("B", "order", 7))),
    ("Vendor Batch Number", _sometimes(0.05, _digits(9))),
    ("Seller SKU Code", lambda d: pl.format("SSKU{}", d.ints(1, 40_000))),
    ("Item Type EAN", _sometimes(0.7, _digits(13))),
    ("Shipping Courier Status", _sometimes(0.85, _text(["IN_TRANSIT", "DELIVERED", "RTO"]))),
    ("Shipping Tracking Status", _sometimes(0.85, _text(["Shipment delivered", "Out for delivery"]))),
    ("Item Seal Id", _sometimes(0.02, _digits(8))),
    ("Parent Sale Order Code", _sometimes(0.02, _code("SO", width=9))),
    ("Item Tag", _sometimes(0.05, _text(["fragile", "premium"]))),
    ("Shipment Tag", _sometimes(0.05, _text(["priority", "bulky"]))),
    ("Delivery Slot Type", _sometimes(0.02, _text(["MORNING", "EVENING"]))),
    ("Delivery Date", _sometimes(0.6, _date_only(10))),
    ("Delivery Time", _sometimes(0.02, _text(["10:00-13:00", "16:00-19:00"]))),
    ("Delivery Type", _sometimes(0.3, _text(["STANDARD", "SAME_DAY", "NEXT_DAY"]))),
    ("pin pointly latitude", _sometimes(0.02, _coordinate(8, 30))),
    ("pinpointly longitude", _sometimes(0.02, _coordinate(70, 90))),
]
LABELS = [label for label, _ in COLUMNS]


def _chunk(seed: int, start: int, rows: int) -> pl.DataFrame:
    """Rows [start, start + rows) of the file."""
    draw = _Draw(seed)
    exprs = [build(draw).alias(f"col{i}") for i, (_, build) in enumerate(COLUMNS)]
    row = pl.int_range(start, start + rows, dtype=pl.Int64).alias("row")
    # orders of one to three items (two orders every three rows): items count from 1 in each
    order = (pl.col("row") * 2 // 3).alias("order")
    return (
        pl.select(row)
        .with_columns(order)
        .with_columns((pl.col("row") - (pl.col("order") * 3 + 1) // 2 + 1).alias("item"))
        .select(exprs)
    )


def write_wide_csv(path: Path, rows: int, seed: int = 7) -> int:
    """Write a `rows`-row export to `path` (atomically, via a temporary name); its byte size."""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as out:
        out.write(b"\xef\xbb\xbf")  # a BOM, as many exports have
        out.write((",".join(_quoted(label) for label in LABELS) + "\r\n").encode())
        for start in range(0, rows, CHUNK_ROWS):
            _chunk(seed, start, min(CHUNK_ROWS, rows - start)).write_csv(
                out, include_header=False, line_terminator="\r\n"
            )
    tmp.replace(path)
    return path.stat().st_size


def _quoted(field: str) -> str:
    return f'"{field}"' if any(c in field for c in ',"\n\r') else field


def cached_wide_csv(directory: Path, rows: int, seed: int = 7) -> Path:
    """The export of `rows` rows in `directory`, generated once."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"wide-sale-orders-v{VERSION}-polars{pl.__version__}-{rows}-{seed}.csv"
    if not path.exists():
        write_wide_csv(path, rows, seed)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    size = write_wide_csv(args.out, args.rows, args.seed)
    print(
        f"{args.out}: {args.rows:,} rows, {len(LABELS)} columns, {size / 1e6:.0f} MB, "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
