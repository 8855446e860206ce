"""The columns of the Sale Orders report: one vectorised polars expression per export key.

Values carry the quirks seen in real files: IST wall-clock timestamps, a column mixing three date
formats, a date-only column, 4-decimal money, identifiers with leading zeros, `-` for empty,
non-ASCII names, item names with commas, quotes and newlines, and a `Sale Order Code` that is
numeric for the first rows of a file and alphanumeric after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from uniware_source.emulator.randomness import below, pick, pick_weighted, rand
from uniware_source.emulator.tenant import IST_OFFSET_S, TenantShape

BoolStyle = Literal["truefalse", "yesno", "10"]

_NAMES = [
    "राहुल शर्मा",
    "Priya Iyer",
    "Müller",
    "Anil Kumar",
    "Sneha Reddy",
    "அருண் குமார்",
    "José D'Souza",
    "Fatima Khan",
    'Ravi "Ricky" Verma',
    "Ólafur Jónsson",
    "Kumar, Suresh",
    "সৌরভ গাঙ্গুলী",
    "Meera Nair",
    "Zoë Fernandes",
    "Harpreet Singh",
]
_ITEM_NAMES = [
    "Cotton T-Shirt, Blue (M)",
    'Steel Bottle 1L "Hydro"',
    "Masala Chai 250g",
    "Bluetooth Speaker 10W",
    "Phone Case – Black",
    "Basmati Rice 5kg",
    "Running Shoes, Size 9",
    "LED Bulb 9W (Pack of 4)",
    "Yoga Mat 6mm",
    "Kurta Set\nwith Dupatta",
    "Notebook A5, 200 pages",
    "Hair Oil 200ml",
    "USB-C Cable 1m",
    'Silk Saree "Kanjivaram", Red',
    "Pressure Cooker 3L",
    "Ghee 1L",
    "Wall Clock",
    "Kids Backpack",
    "Face Wash 100ml",
    "Desk Lamp",
]
_CHANNELS = [("AMAZON_IN", 35), ("FLIPKART", 30), ("MYNTRA", 10), ("SHOPIFY", 15), ("CUSTOM", 10)]
_ORDER_STATUS = [("COMPLETE", 60), ("PROCESSING", 25), ("CANCELLED", 8), ("PENDING_VERIFICATION", 7)]
_TAX = ["0.0000", "5.0000", "12.0000", "18.0000", "28.0000"]


def _ist(epoch: pl.Expr, fmt: str) -> pl.Expr:
    return pl.from_epoch(epoch + IST_OFFSET_S, time_unit="s").dt.strftime(fmt)


def _money(paise: pl.Expr) -> pl.Expr:
    """Integer paise -> "1299.5000" (4 fixed decimals, as Uniware writes money)."""
    sign = pl.when(paise < 0).then(pl.lit("-")).otherwise(pl.lit("", dtype=pl.String))
    absolute = paise.abs()
    return pl.concat_str(
        [
            sign,
            (absolute // 100).cast(pl.String),
            pl.lit("."),
            (absolute % 100).cast(pl.String).str.zfill(2),
            pl.lit("00"),
        ]
    )


def _bool(flag: pl.Expr, style: BoolStyle) -> pl.Expr:
    yes, no = {"truefalse": ("true", "false"), "yesno": ("yes", "no"), "10": ("1", "0")}[style]
    return pl.when(flag).then(pl.lit(yes)).otherwise(pl.lit(no))


def _base_columns(shape: TenantShape, row_offset: int) -> list[list[pl.Expr]]:
    """Intermediate columns, in stages (a stage may use the columns of the stages before it)."""
    n, j = pl.col("n"), pl.col("j").cast(pl.UInt64)
    item_key = n * 8 + j
    s = shape.salt
    first = [
        (pl.int_range(pl.len(), dtype=pl.Int64) + row_offset).alias("_row"),
        rand(n, s("order")).alias("_ho"),
        rand(n, s("order2")).alias("_ho2"),
        rand(item_key, s("item")).alias("_hi"),
        rand(item_key, s("item2")).alias("_hi2"),
    ]
    second = [
        pl.col("_row").min().over("n").alias("_first_row"),
        pl.when(below(pl.col("_ho2"), 10) < 3).then(pl.col("j") // 2).otherwise(0).alias("_pkg"),
        below(pl.col("_hi"), 5000).alias("_sku"),
        pick_weighted(pl.col("_ho"), _CHANNELS).alias("_channel"),
        pick_weighted(pl.col("_ho") // 128, _ORDER_STATUS).alias("_ostatus"),
    ]
    pkey = n * 4 + pl.col("_pkg").cast(pl.UInt64)
    third = [
        (pl.col("n").cast(pl.Int64) * 4 + pl.col("_pkg")).alias("_pkey"),
        rand(pkey, s("package")).alias("_hp"),
        rand(pl.col("_sku"), s("sku")).alias("_hs"),
    ]
    hp = pl.col("_hp")
    item_status = (
        pl.when(pl.col("_ostatus") == "CANCELLED")
        .then(pl.lit("CANCELLED"))
        .when(pl.col("_ostatus") == "PENDING_VERIFICATION")
        .then(pl.lit("CREATED"))
        .when(pl.col("_ostatus") == "PROCESSING")
        .then(pick(hp, ["CREATED", "PICKING", "PACKED", "DISPATCHED"]))
        .otherwise(pick_weighted(hp, [("DELIVERED", 85), ("RETURNED", 8), ("DISPATCHED", 7)]))
    )
    mrp = (
        pl.when(below(pl.col("_hs"), 997) == 0)
        .then(158_400 * 100)
        .otherwise((99 + below(pl.col("_hs") // 1024, 4900)) * 100)
    )
    fourth = [item_status.alias("_istatus"), mrp.alias("_mrp")]
    fifth = [pl.col("_istatus").is_in(["DISPATCHED", "DELIVERED", "RETURNED"]).alias("_shipped")]
    return [first, second, third, fourth, fifth]


def _column_exprs(shape: TenantShape, bool_style: BoolStyle, numeric_prefix_rows: int) -> dict[str, pl.Expr]:
    """Export key -> string expression over the base columns."""
    s = shape.salt
    n = pl.col("n").cast(pl.Int64)
    ho, hi, hi2, hp = pl.col("_ho"), pl.col("_hi"), pl.col("_hi2"), pl.col("_hp")
    created, updated = pl.col("created"), pl.col("updated")
    shipped = pl.col("_shipped")
    dash = pl.lit("-")
    none = pl.lit(None, dtype=pl.String)
    code_no = (n * 16 + 1_000_000 + shape.fac_index).cast(pl.String)
    pkg_no = (pl.col("_pkey") + 10_000_000).cast(pl.String)
    h_ord3 = rand(pl.col("n"), s("order3"))
    phone_base = ((6 + below(h_ord3, 4)) * 1_000_000_000 + below(h_ord3 // 8, 1_000_000_000)).cast(pl.String)
    phone_kind = below(h_ord3 // (1 << 40), 20)
    pin_raw = below(ho // (1 << 20), 1_000_000)
    delivered_at = updated + 3600
    fulfil = created + 2 * 86_400 + below(ho // 64, 86_400)
    fulfil_kind = below(ho // (1 << 33), 3)
    delivery_kind = below(hp // (1 << 20), 6)
    selling = pl.col("_mrp") * (70 + below(hi // 512, 31)) // 100
    return {
        "soicode": pl.concat_str(
            [
                pl.lit(shape.tag),
                n.cast(pl.String).str.zfill(8),
                pl.lit("-"),
                (pl.col("j") + 1).cast(pl.String),
            ]
        ),
        "displayorderCode": pl.when(pl.col("_channel") == "AMAZON_IN")
        .then(
            pl.concat_str(
                [
                    pl.lit("402-"),
                    below(h_ord3, 10_000_000).cast(pl.String).str.zfill(7),
                    pl.lit("-"),
                    below(h_ord3 // (1 << 24), 10_000_000).cast(pl.String).str.zfill(7),
                ]
            )
        )
        .when(pl.col("_channel") == "FLIPKART")
        .then(pl.concat_str([pl.lit("OD"), (below(h_ord3, 10**17) + 10**17).cast(pl.String)]))
        .when(pl.col("_channel") == "SHOPIFY")
        .then(pl.concat_str([pl.lit("#"), (n + 1001).cast(pl.String)]))
        .otherwise(code_no),
        "saleOrderCode": pl.when(pl.col("_first_row") < numeric_prefix_rows)
        .then(code_no)
        .otherwise(pl.concat_str([pl.lit("SO-77"), code_no])),
        "status": pl.col("_ostatus"),
        "SoiStatus": pl.col("_istatus"),
        "channel": pl.col("_channel"),
        "skuCode": pl.when(below(pl.col("_hs"), 4) == 0)
        .then(pl.col("_sku").cast(pl.String).str.zfill(6))
        .otherwise(pl.concat_str([pl.lit("SKU-"), pl.col("_sku").cast(pl.String).str.zfill(5)])),
        "itemName": pick(pl.col("_hs") // 4, _ITEM_NAMES),
        "maxRetailPrice": _money(pl.col("_mrp")),
        "sellingPrice": _money(selling),
        "discount": pl.when(below(hi2, 5) == 0).then(pl.lit("-50.0000")).otherwise(pl.lit("0.0000")),
        "tax": pick(pl.col("_hs") // 8, _TAX),
        "created": _ist(created, "%Y-%m-%d %H:%M:%S"),
        "updated": _ist(updated, "%Y-%m-%d %H:%M:%S"),
        "displayOrderDateTime": _ist(created - below(ho // 4096, 1800), "%Y-%m-%d %H:%M:%S"),
        "fulfillmentTat": pl.when(fulfil_kind == 0)
        .then(_ist(fulfil, "%d-%m-%Y %H:%M"))
        .when(fulfil_kind == 1)
        .then(_ist(fulfil, "%d/%m/%Y %H:%M:%S"))
        .otherwise(_ist(fulfil, "%Y-%m-%d %H:%M:%S")),
        "expectedDeliveryDate": _ist(created + 5 * 86_400, "%Y-%m-%d"),
        "shippingAddressName": pick(ho // (1 << 12), _NAMES),
        "shippingAddressPincode": pl.when(below(pin_raw, 10) == 0)
        .then(below(pin_raw // 10, 99_999).add(1).cast(pl.String).str.zfill(6))
        .otherwise((110_001 + below(pin_raw, 750_000)).cast(pl.String)),
        "shippingAddressPhone": pl.when(phone_kind == 0)
        .then(pl.concat_str([pl.lit("0"), phone_base]))
        .when(phone_kind == 1)
        .then(pl.concat_str([pl.lit("+91"), phone_base]))
        .when(phone_kind == 2)
        .then(dash)
        .when(phone_kind == 3)
        .then(pl.lit(""))
        .otherwise(phone_base),
        "cod": _bool(below(ho // (1 << 50), 10) < 4, bool_style),
        "onhold": _bool(below(ho // (1 << 45), 50) == 0, bool_style),
        "shippingPackageLength": pl.when(shipped)
        .then((150 + below(hp, 450)).cast(pl.String))
        .otherwise(none),
        "actualWeight": pl.when(shipped)
        .then(
            pl.concat_str(
                [(below(hp // 1024, 12)).cast(pl.String), pl.lit("."), below(hp // 16, 10).cast(pl.String)]
            )
        )
        .otherwise(pl.lit("0.0")),
        "ShippingPackageCode": pl.when(shipped)
        .then(pl.concat_str([pl.lit("SP" + shape.tag), pkg_no]))
        .otherwise(dash),
        "TrackingNumber": pl.when(shipped & (pl.col("_channel") == "FLIPKART"))
        .then(pl.concat_str([pl.lit("FMPP"), (below(hp // 8, 10**10) + 10**10).cast(pl.String)]))
        .when(shipped)
        .then((below(hp // 8, 10**11) + 10**11).cast(pl.String))
        .otherwise(none),
        "invoiceCode": pl.when(shipped)
        .then(pl.concat_str([pl.lit("INV/" + shape.tag + "/"), pkg_no]))
        .otherwise(none),
        "deliveryTime": pl.when(pl.col("_istatus") != "DELIVERED")
        .then(dash)
        .when(delivery_kind == 0)
        .then(_ist(delivered_at, "%Y-%m-%dT%H:%M:%S+05:30"))
        .when(delivery_kind == 1)
        .then(pl.from_epoch(delivered_at, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        .when(delivery_kind == 2)
        .then(_ist(delivered_at, "%Y-%m-%d %H:%M:%S IST"))
        .when(delivery_kind == 3)
        .then(pl.from_epoch(delivered_at, time_unit="s").dt.strftime("%d/%m/%Y %H:%M GMT"))
        .when(delivery_kind == 4)
        .then(_ist(delivered_at, "%a %b %d %H:%M:%S IST %Y"))
        .otherwise(none),
        "facility": pl.lit(shape.facility),
    }


def format_sale_order_items(
    items: pl.DataFrame,
    shape: TenantShape,
    columns: Sequence[str],
    *,
    row_offset: int,
    bool_style: BoolStyle,
    numeric_prefix_rows: int,
) -> pl.DataFrame:
    """Item rows -> the CSV frame: one String column per requested key, named by its label."""
    lazy = items.lazy()
    for stage in _base_columns(shape, row_offset):
        lazy = lazy.with_columns(stage)
    exprs = _column_exprs(shape, bool_style, numeric_prefix_rows)
    selected = [
        (exprs[key] if key in exprs else pl.lit(None, dtype=pl.String)).alias(f"c{i}")
        for i, key in enumerate(columns)
    ]
    return lazy.select(selected).collect()
