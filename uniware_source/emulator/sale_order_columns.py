"""The columns of the Sale Orders report: one vectorised polars expression per export key.

The base columns (hashes, status, prices) are computed in stages; every export key is then one
expression over them: the core columns here, the rest of the tenant's ~140 in
`sale_order_more.py`. Polars prunes the base columns a file does not need, so a narrow file pays
only for its own columns.

Values carry the shapes seen in real files: IST wall-clock timestamps, a column mixing three date
formats, a date-only `dd-mm-yyyy` column, BigDecimal money of several scales (`0E-7` for zero),
identifiers with leading zeros, `-` for empty, non-ASCII names, item names with commas, quotes and
newlines, and a `Sale Order Code` that is numeric for the first rows of a file and alphanumeric
after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from uniware_source.emulator import sale_order_more
from uniware_source.emulator.randomness import below, pick, pick_weighted, rand
from uniware_source.emulator.sale_order_keys import CUSTOM_FIELD_PREFIX, DEFAULT_SALE_ORDER_COLUMNS
from uniware_source.emulator.tenant import TenantShape
from uniware_source.emulator.values import NONE, bigdecimal, digits, ist, utc, when, zero_padded

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
GST_RATES = (0, 5, 12, 18, 28)
# (city, state): the shipping addresses; the facility's own state makes an order intra-state
CITIES = (
    ("Bengaluru", "Karnataka"),
    ("Mysuru", "Karnataka"),
    ("New Delhi", "Delhi"),
    ("Mumbai", "Maharashtra"),
    ("Pune", "Maharashtra"),
    ("Chennai", "Tamil Nadu"),
    ("Kolkata", "West Bengal"),
    ("Hyderabad", "Telangana"),
    ("Chandigarh", "Chandigarh"),
    ("Jaipur", "Rajasthan"),
    ("Lucknow", "Uttar Pradesh"),
    ("Kochi", "Kerala"),
)
UNION_TERRITORIES = ("Chandigarh",)
FACILITY_STATES = {"WH-BLR": "Karnataka", "WH-DEL": "Delhi", "WH-MUM": "Maharashtra"}

Columns = dict[str, pl.Expr]
CORE_KEYS = frozenset(DEFAULT_SALE_ORDER_COLUMNS)  # the keys of _core_columns


def sku_code(sku: pl.Expr, hs: pl.Expr) -> pl.Expr:
    """The tenant's SKU code of SKU number `sku` (hs: its hash): `SKU-00769`, or `000769`."""
    return (
        pl.when(below(hs, 4) == 0)
        .then(sku.cast(pl.String).str.zfill(6))
        .otherwise(pl.concat_str([pl.lit("SKU-"), sku.cast(pl.String).str.zfill(5)]))
    )


def item_name(hs: pl.Expr) -> pl.Expr:
    return pick(hs // 4, _ITEM_NAMES)


def mrp_paise(hs: pl.Expr) -> pl.Expr:
    """A SKU's MRP in paise: Rs 99 to 4,998, and Rs 1,58,400 for one SKU in about a thousand."""
    return pl.when(below(hs, 997) == 0).then(158_400 * 100).otherwise((99 + below(hs // 1024, 4900)) * 100)


def _bool(flag: pl.Expr, style: BoolStyle) -> pl.Expr:
    yes, no = {"truefalse": ("true", "false"), "yesno": ("yes", "no"), "10": ("1", "0")}[style]
    return pl.when(flag).then(pl.lit(yes)).otherwise(pl.lit(no))


def _base_columns(shape: TenantShape, wide: bool) -> list[list[pl.Expr]]:
    """Intermediate columns, in stages (a stage may use the columns of the stages before it and
    `_row`, the row's number in the file)."""
    n, j = pl.col("n"), pl.col("j").cast(pl.UInt64)
    item_key = n * 8 + j
    s = shape.salt
    first = [
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
    mrp = mrp_paise(pl.col("_hs"))
    fourth = [item_status.alias("_istatus"), mrp.alias("_mrp")]
    fifth = [
        pl.col("_istatus").is_in(["DISPATCHED", "DELIVERED", "RETURNED"]).alias("_shipped"),
    ]
    if not wide:
        return [first, second, third, fourth, fifth]
    # only for the columns of sale_order_more.py: a narrow file does not compute them
    sixth = [
        _order3_hash(shape).alias("_h3"),
        below(pl.col("_ho2") // 256, len(CITIES)).alias("_city"),
        _rate().alias("_rate"),
        _selling().alias("_selling"),
    ]
    return [first, second, third, fourth, fifth, sixth]


def _order3_hash(shape: TenantShape) -> pl.Expr:
    return rand(pl.col("n"), shape.salt("order3"))


def _rate() -> pl.Expr:
    """The item's GST rate in percent (by SKU)."""
    index = below(pl.col("_hs") // 8, len(GST_RATES))
    expr: pl.Expr = pl.lit(GST_RATES[-1], dtype=pl.Int64)
    for i in range(len(GST_RATES) - 2, -1, -1):
        expr = pl.when(index == i).then(pl.lit(GST_RATES[i], dtype=pl.Int64)).otherwise(expr)
    return expr


def _selling() -> pl.Expr:
    """The item's selling price in paise: 70-100 % of its MRP."""
    return pl.col("_mrp") * (70 + below(pl.col("_hi") // 512, 31)) // 100


def _core_columns(shape: TenantShape, bool_style: BoolStyle, numeric_prefix_rows: int) -> Columns:
    """Export key -> string expression over the base columns: the columns of the default file."""
    n = pl.col("n").cast(pl.Int64)
    ho, hi2, hp, h3 = pl.col("_ho"), pl.col("_hi2"), pl.col("_hp"), _order3_hash(shape)
    created, updated = pl.col("created"), pl.col("updated")
    shipped = pl.col("_shipped")
    dash = pl.lit("-")
    code_no = (n * 16 + 1_000_000 + shape.fac_index).cast(pl.String)
    pkg_no = (pl.col("_pkey") + 10_000_000).cast(pl.String)
    phone_base = ((6 + below(h3, 4)) * 1_000_000_000 + below(h3 // 8, 1_000_000_000)).cast(pl.String)
    phone_kind = below(h3 // (1 << 40), 20)
    pin_raw = below(ho // (1 << 20), 1_000_000)
    delivered_at = updated + 3600
    fulfil = created + 2 * 86_400 + below(ho // 64, 86_400)
    fulfil_kind = below(ho // (1 << 33), 3)
    delivery_kind = below(hp // (1 << 20), 6)
    # a web store's order numbers: digits on one order, `221030-023-089506` on the next
    web_no = digits(h3 // 7, 15)
    web_order = when(
        n % 2 == 0,
        code_no,
        pl.concat_str(
            [web_no.str.slice(0, 6), pl.lit("-"), web_no.str.slice(6, 3), pl.lit("-"), web_no.str.slice(9, 6)]
        ),
    )
    awb_15 = below(hp // 8, 9 * 10**14) + 10**14
    awb = pl.when(below(hp // 32, 3) == 0).then(awb_15).otherwise(awb_15 // 10)  # 15 or 14 digits
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
            pl.concat_str([pl.lit("402-"), zero_padded(h3, 7), pl.lit("-"), zero_padded(h3 // (1 << 24), 7)])
        )
        .when(pl.col("_channel") == "FLIPKART")
        .then(pl.concat_str([pl.lit("OD"), (below(h3, 10**17) + 10**17).cast(pl.String)]))
        .when(pl.col("_channel") == "SHOPIFY")
        .then(pl.concat_str([pl.lit("#"), (n + 1001).cast(pl.String)]))
        .otherwise(web_order),
        "saleOrderCode": pl.when(pl.col("_first_row") < numeric_prefix_rows)
        .then(code_no)
        .otherwise(pl.concat_str([pl.lit("SO-77"), code_no])),
        "status": pl.col("_ostatus"),
        "SoiStatus": pl.col("_istatus"),
        "channel": pl.col("_channel"),
        "skuCode": sku_code(pl.col("_sku"), pl.col("_hs")),
        "itemTypeName": item_name(pl.col("_hs")),
        "maxRetailPrice": bigdecimal(pl.col("_mrp"), 2),
        "sellingPrice": bigdecimal(_selling(), 7),
        "discount": when(below(hi2, 5) == 0, pl.lit("-50.0000000"), pl.lit("0E-7")),  # BigDecimal, scale 7
        "tax": pick(pl.col("_hs") // 8, [f"{rate}.00000" for rate in GST_RATES]),  # as _rate() picks it
        "created": ist(created, "%Y-%m-%d %H:%M:%S"),
        "updated": ist(updated, "%Y-%m-%d %H:%M:%S"),
        "displayOrderDateTime": ist(created - below(ho // 4096, 1800), "%Y-%m-%d %H:%M:%S"),
        "fulfillmentTat": pl.when(fulfil_kind == 0)
        .then(ist(fulfil, "%d-%m-%Y %H:%M"))
        .when(fulfil_kind == 1)
        .then(ist(fulfil, "%d/%m/%Y %H:%M:%S"))
        .otherwise(ist(fulfil, "%Y-%m-%d %H:%M:%S")),
        # a date-only dd-mm-yyyy custom field
        "saleOrderCustomFields_Delivery_Date": ist(created + (3 + below(h3 // 5, 4)) * 86_400, "%d-%m-%Y"),
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
        "shippingPackageLength": when(shipped, (150 + below(hp, 450)).cast(pl.String)),
        "actualWeight": when(
            shipped,
            pl.concat_str(
                [below(hp // 1024, 12).cast(pl.String), pl.lit("."), below(hp // 16, 10).cast(pl.String)]
            ),
            pl.lit("0.0"),
        ),
        "ShippingPackageCode": when(shipped, pl.concat_str([pl.lit("SP" + shape.tag), pkg_no]), dash),
        # AWB numbers: 14 or 15 digits; Flipkart's own courier writes FMPP and 10 digits
        "TrackingNumber": pl.when(shipped & (pl.col("_channel") == "FLIPKART"))
        .then(pl.concat_str([pl.lit("FMPP"), digits(hp // 8, 10)]))
        .when(shipped)
        .then(awb.cast(pl.String))
        .otherwise(NONE),
        "invoiceCode": when(shipped, pl.concat_str([pl.lit("INV/" + shape.tag + "/"), pkg_no])),
        "deliveryTime": pl.when(pl.col("_istatus") != "DELIVERED")
        .then(dash)
        .when(delivery_kind == 0)
        .then(ist(delivered_at, "%Y-%m-%dT%H:%M:%S+05:30"))
        .when(delivery_kind == 1)
        .then(utc(delivered_at, "%Y-%m-%dT%H:%M:%SZ"))
        .when(delivery_kind == 2)
        .then(ist(delivered_at, "%Y-%m-%d %H:%M:%S IST"))
        .when(delivery_kind == 3)
        .then(utc(delivered_at, "%d/%m/%Y %H:%M GMT"))
        .when(delivery_kind == 4)
        .then(ist(delivered_at, "%a %b %d %H:%M:%S IST %Y"))
        .otherwise(NONE),
        "facility": pl.lit(shape.facility),
    }


def _context(shape: TenantShape, bool_style: BoolStyle) -> sale_order_more.Context:
    return sale_order_more.Context(
        shape=shape,
        bool_text=lambda flag: _bool(flag, bool_style),
        names=_NAMES,
        item_names=_ITEM_NAMES,
        cities=CITIES,
        union_territories=UNION_TERRITORIES,
        facility_state=FACILITY_STATES.get(shape.facility, "Karnataka"),
    )


class SaleOrderFormat:
    """How item rows become the CSV frame of one file: one String column per requested key, in
    order (c0, c1, ...), then, with `unrequested`, the two columns a real tenant adds unasked.

    The expressions are built once per file (building ~140 of them costs more than running a
    narrow file's). A custom field the tenant table does not list gets short text; any other
    unknown key an empty column."""

    def __init__(
        self,
        shape: TenantShape,
        columns: Sequence[str],
        *,
        bool_style: BoolStyle,
        numeric_prefix_rows: int,
        unrequested: bool = False,
    ) -> None:
        wide = not set(columns) <= CORE_KEYS or unrequested
        self.stages = _base_columns(shape, wide)
        core = _core_columns(shape, bool_style, numeric_prefix_rows)
        context = _context(shape, bool_style)
        exprs = {**sale_order_more.more_columns(context, core), **core} if wide else core

        def value(key: str) -> pl.Expr:
            if key in exprs:
                return exprs[key]
            if key.startswith(CUSTOM_FIELD_PREFIX):
                return sale_order_more.custom_field(context, key)
            return NONE

        selected = [value(key) for key in columns]
        if unrequested:
            selected += sale_order_more.unrequested_columns(context)
        self.selected = [expr.alias(f"c{i}") for i, expr in enumerate(selected)]

    def frame(self, items: pl.DataFrame, row_offset: int) -> pl.DataFrame:
        """The frame of `items`, the first of which is data row `row_offset` (0-based) of the file."""
        row = (pl.int_range(pl.len(), dtype=pl.Int64) + row_offset).alias("_row")
        lazy = items.lazy().with_columns(row)
        for stage in self.stages:
            lazy = lazy.with_columns(stage)
        return lazy.select(self.selected).collect()
