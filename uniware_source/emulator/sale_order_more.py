"""The rest of a real tenant's ~140 Sale Orders columns (the core ones are in
`sale_order_columns.py`): addresses, taxes, charges, shipping, returns, e-way bills, custom fields.

Each is one polars expression over the base columns; values that belong together agree (CGST and
SGST for an order shipped within the facility's state, IGST otherwise; return columns only on
returned items; the billing address is the shipping address). The shapes are those seen in real
files: BigDecimal money of scales 2, 5, 6 and 7 with `0E-7` for zero, `NA` and `None` in address
lines, a date-only `dd-mm-yyyy` column, a column mixing `dd-mm-yyyy` with `yyyy-mm-dd hh:mm:ss`,
UTC midnights written in IST (`05:30:00`) beside plain midnights, 13-digit EANs, 15-digit IMEIs,
coordinates with 7 decimals, HSN codes with leading zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from uniware_source.emulator.randomness import below, pick, rand
from uniware_source.emulator.tenant import TenantShape
from uniware_source.emulator.values import NONE, bigdecimal, coordinate, digits, ist, when, zero_padded

_TIME = "%Y-%m-%d %H:%M:%S"
_CATEGORIES = ["Apparel", "Home & Kitchen", "Electronics", "Grocery", "Beauty, Personal Care"]
_HSN = ["61091000", "73239990", "85176290", "09023010", "33049990"]  # by category; tea keeps its 0
_COLOURS = ["Blue", "Black", "Red", "White", "Multicolour", "-"]
_SIZES = ["S", "M", "L", "XL", "9", "Free Size", ""]
_BRANDS = ["Kalpa", "Urbanic", "Noise", "Tata", "Himalaya", "Generic"]
_LINE1 = ["12, MG Road", "Flat 4B, Lake View Apts", "#221 5th Cross, Indiranagar", "H.No. 3-45/2", "Plot 7"]
_LINE2 = ["Near City Mall", "NA", "None", "", "Opp. Bus Stand,\nBehind Temple", "Sector 17"]
_PROVIDERS = ["Delhivery", "BlueDart", "Xpressbees", "Ecom Express", "Amazon Shipping"]
_RETURN_REASONS = ["Size issue", "Damaged product", "Not as described, wrong colour", "Customer refused"]
_CANCEL_REASONS = ["Customer cancelled", "Out of stock", "Payment failed", "Duplicate order"]
_PAYMENTS = ["PREPAID", "UPI", "CREDIT_CARD", "NET_BANKING"]
_GIFT_MESSAGES = ["Happy birthday, Ria!\nLove, Mom", 'With love — "A"', "Congratulations!"]
_SLOTS = ["10:00-13:00", "13:00-16:00", "16:00-19:00", "19:00-22:00"]
_GSTIN = {"Karnataka": "29", "Delhi": "07", "Maharashtra": "27"}


@dataclass(frozen=True)
class Context:
    shape: TenantShape
    bool_text: Callable[[pl.Expr], pl.Expr]
    names: Sequence[str]
    item_names: Sequence[str]
    cities: Sequence[tuple[str, str]]
    union_territories: Sequence[str]
    facility_state: str


def _h(ctx: Context, name: str, per: str = "item") -> pl.Expr:
    """A fresh hash per item (or per order, or per package) for one field."""
    if per == "order":
        key = pl.col("n")
    elif per == "package":
        key = pl.col("_pkey").cast(pl.UInt64)
    else:
        key = pl.col("n") * 8 + pl.col("j").cast(pl.UInt64)
    return rand(key, ctx.shape.salt(name))


def _taxes(ctx: Context) -> dict[str, pl.Expr]:
    """GST inside the selling price: CGST+SGST (or UTGST) within the state, IGST across states."""
    city = pl.col("_city")
    same = [i for i, (_, state) in enumerate(ctx.cities) if state == ctx.facility_state]
    uts = [i for i, (_, state) in enumerate(ctx.cities) if state in ctx.union_territories]
    intra = city.is_in(same)
    ut = city.is_in(uts) & intra
    rate, selling = pl.col("_rate"), pl.col("_selling")
    tax = selling * rate // (100 + rate)
    half = tax // 2
    zero = pl.lit(0)
    cgst = when(intra, half, zero)
    state_part = when(intra, tax - half, zero)
    rate100 = rate * 100
    return {
        "cgst": bigdecimal(cgst, 7),
        "sgst": bigdecimal(when(ut, zero, state_part), 7),
        "utgst": bigdecimal(when(ut, state_part, zero), 7),
        "igst": bigdecimal(when(intra, zero, tax), 7),
        "cess": bigdecimal(when(rate == 28, selling // 100, zero), 7),
        "cgstrate": bigdecimal(when(intra, rate100 // 2, zero), 2),
        "sgstrate": bigdecimal(when(intra & ~ut, rate100 // 2, zero), 2),
        "utgstrate": bigdecimal(when(ut, rate100 // 2, zero), 2),
        "igstrate": bigdecimal(when(intra, zero, rate100), 2),
        "cessrate": bigdecimal(when(rate == 28, pl.lit(100), zero), 2),
        "taxValue": bigdecimal(tax, 7),
        "TCSAmount": bigdecimal(
            when(pl.col("_channel").is_in(["AMAZON_IN", "FLIPKART"]), (selling - tax) // 200, zero), 7
        ),
        "gstTaxTypeCode": pl.concat_str([pl.lit("GST_"), rate.cast(pl.String)]),
    }


def _address(ctx: Context, prefix: str, line2: pl.Expr, core: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    ho2 = pl.col("_ho2")
    city = pl.col("_city")
    located = below(ho2 // (1 << 40), 3) > 0
    return {
        f"{prefix}AddressId": (pl.col("n").cast(pl.Int64) * 2 + 5_000_000 + (prefix == "billing")).cast(
            pl.String
        ),
        f"{prefix}AddressName": core["shippingAddressName"],
        f"{prefix}AddressLine1": pick(ho2 // (1 << 12), list(_LINE1)),
        f"{prefix}AddressLine2": line2,
        f"{prefix}AddressCity": city.replace_strict(
            dict(enumerate(c for c, _ in ctx.cities)), return_dtype=pl.String
        ),
        f"{prefix}AddressState": city.replace_strict(
            dict(enumerate(s for _, s in ctx.cities)), return_dtype=pl.String
        ),
        f"{prefix}AddressCountry": pl.lit("IN"),
        f"{prefix}AddressPincode": core["shippingAddressPincode"],
        f"{prefix}AddressPhone": core["shippingAddressPhone"],
        f"{prefix}AddressLatitude": when(located, coordinate(_h(ctx, "lat", "order"), 8.0, 22.0)),
        f"{prefix}AddressLongitude": when(located, coordinate(_h(ctx, "lon", "order"), 70.0, 18.0)),
    }


def _shipping(ctx: Context, core: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    shipped, created, hp = pl.col("_shipped"), pl.col("created"), pl.col("_hp")
    status = pl.col("_istatus")
    packed_at = created + 3600 + below(hp // 3, 20 * 3600)
    dispatched_at = packed_at + 1800 + below(hp // 5, 6 * 3600)
    flipkart = pl.col("_channel") == "FLIPKART"
    provider = pl.when(flipkart).then(pl.lit("Ekart")).otherwise(pick(hp // 7, _PROVIDERS))
    tracking = {"DELIVERED": "Delivered", "RETURNED": "RTO Delivered", "DISPATCHED": "In Transit"}
    courier = {"DELIVERED": "DELIVERED", "RETURNED": "RETURNED", "DISPATCHED": "IN_TRANSIT"}
    package_status = {
        "PACKED": "PACKED",
        "DISPATCHED": "DISPATCHED",
        "DELIVERED": "DELIVERED",
        "RETURNED": "RETURNED",
    }
    return {
        "shippingMethod": pick(pl.col("_ho") // 99, ["Standard", "Express", "Standard"]),
        "shippingProvider": when(shipped, provider),
        "shippingCourier": when(shipped, pl.concat_str([provider, pl.lit(" Surface")])),
        "shippingArrangedBy": when(
            flipkart | (pl.col("_channel") == "AMAZON_IN"), pl.lit("CHANNEL"), pl.lit("SELF")
        ),
        "ShippingPackageCreationDate": when(shipped | (status == "PACKED"), ist(packed_at, _TIME)),
        "shippingPackageStatusCode": status.replace_strict(
            package_status, default=None, return_dtype=pl.String
        ),
        "shippingPackageTypeCode": when(shipped, pick(hp // 11, ["DEFAULT", "FLYER_M", "BOX_S"])),
        "shippingPackageWidth": when(shipped, (100 + below(hp // 13, 300)).cast(pl.String)),
        "shippingPackageHeight": when(shipped, (20 + below(hp // 17, 200)).cast(pl.String)),
        "dispatchDate": when(shipped, ist(dispatched_at, _TIME)),
        "invoiceCreated": when(shipped, ist(packed_at + 600, _TIME)),
        "shippingCourierStatus": status.replace_strict(courier, default=None, return_dtype=pl.String),
        "shippingTrackingStatus": status.replace_strict(tracking, default=None, return_dtype=pl.String),
        "packetNumber": when(shipped, (pl.col("_pkg") + 1).cast(pl.String)),
        "itemCode": when(
            shipped, pl.concat_str([pl.lit("IT" + ctx.shape.tag), digits(_h(ctx, "barcode"), 10)])
        ),
    }


def _eway_bill(ctx: Context) -> dict[str, pl.Expr]:
    """For some shipped packages (a consignment over Rs 50,000 in real life): an e-way bill. Its
    date is a midnight, written as the UTC midnight rendered in IST (`05:30:00`) on some rows and
    as a plain `00:00:00` on others; it is valid till a date written `dd-mm-yyyy` on some rows and
    `yyyy-mm-dd hh:mm:ss` on others."""
    hp = pl.col("_hp")
    has = pl.col("_shipped") & ((pl.col("_mrp") >= 50_000 * 100) | (below(hp // 43, 8) == 0))
    day = (pl.col("created") + 19_800) // 86_400 * 86_400  # the IST day, as a UTC midnight
    ist_rendered = below(hp // 19, 2) == 0
    valid_till = day + 86_400 * (1 + below(hp // 23, 3))
    return {
        "ewbNo": when(has, digits(hp // 29, 12)),
        "ewbDate": when(
            has, when(ist_rendered, ist(day, _TIME), pl.from_epoch(day, time_unit="s").dt.strftime(_TIME))
        ),
        "ewbValidTill": when(
            has,
            when(below(hp // 31, 2) == 0, ist(valid_till, "%d-%m-%Y"), ist(valid_till + 23 * 3600, _TIME)),
        ),
    }


def _returns(ctx: Context) -> dict[str, pl.Expr]:
    returned = pl.col("_istatus") == "RETURNED"
    cancelled = pl.col("_istatus") == "CANCELLED"
    h = _h(ctx, "return")
    picked_at = pl.col("updated") - 86_400 - below(h, 86_400)
    returned_at = pl.col("updated") - below(h // 3, 3600)
    return {
        "reversePickupCode": when(returned, pl.concat_str([pl.lit("RP" + ctx.shape.tag), digits(h // 5, 7)])),
        "reversePickupCreatedDate": when(returned, ist(picked_at, _TIME)),
        "reversePickupReason": when(returned, pick(h // 7, _RETURN_REASONS)),
        # date-only dd-mm-yyyy on some rows, a full time on others
        "returnedDate": when(
            returned, when(below(h // 11, 2) == 0, ist(returned_at, "%d-%m-%Y"), ist(returned_at, _TIME))
        ),
        "returnReason": when(returned, pick(h // 13, _RETURN_REASONS)),
        "returnRemarks": when(returned & (below(h // 17, 3) == 0), pl.lit("Item unused, tags intact")),
        "cancellationReason": when(cancelled, pick(h // 19, _CANCEL_REASONS)),
    }


def _money(ctx: Context) -> dict[str, pl.Expr]:
    selling, mrp = pl.col("_selling"), pl.col("_mrp")
    cod = below(pl.col("_ho") // (1 << 50), 10) < 4
    gift = below(_h(ctx, "gift", "order"), 20) == 0
    zero = pl.lit(0)
    shipping = when(selling < 49_900, pl.lit(4_000), zero)
    return {
        "totalPrice": bigdecimal(selling + shipping, 7),
        "subtotal": bigdecimal(selling, 7),
        "costPrice": bigdecimal(mrp * 45 // 100, 7),
        "transferPrice": bigdecimal(selling * 82 // 100, 6),
        "prepaidAmount": bigdecimal(when(cod, zero, selling + shipping), 6),
        "shippingCharges": bigdecimal(shipping, 7),
        "shippingMethodCharges": bigdecimal(zero, 7),
        "cashOnDeliveryCharges": bigdecimal(when(cod, pl.lit(3_000), zero), 7),
        "giftWrapCharges": bigdecimal(when(gift, pl.lit(2_500), zero), 7),
        "storeCredit": bigdecimal(when(below(_h(ctx, "credit", "order"), 25) == 0, pl.lit(10_000), zero), 7),
        "ajustmentInSellingPrice": bigdecimal(zero, 7),
        "ajustmentInDiscount": bigdecimal(zero, 7),
        "currencyConversionRate": bigdecimal(pl.lit(100), 5),
        "giftWrap": ctx.bool_text(gift),
        "giftMessage": when(gift, pick(_h(ctx, "msg", "order"), _GIFT_MESSAGES)),
        "paymentInstrc": when(cod, pl.lit("COD"), pick(_h(ctx, "pay", "order"), _PAYMENTS)),
        "voucherCode": when(below(_h(ctx, "voucher", "order"), 12) == 0, pl.lit("FIRST50")),
    }


def _item(ctx: Context, core: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    hs, sku = pl.col("_hs"), pl.col("_sku")
    category = below(hs // 64, len(_CATEGORIES))
    electronics = category == 2
    grocery = category == 3
    return {
        "category": category.replace_strict(dict(enumerate(_CATEGORIES)), return_dtype=pl.String),
        "hsnCode": category.replace_strict(dict(enumerate(_HSN)), return_dtype=pl.String),
        "itemTypeColor": pick(hs // 7, _COLOURS),
        "itemTypeSize": pick(hs // 11, _SIZES),
        "itemTypeBrand": pick(hs // 13, _BRANDS),
        "itemTypeEAN": pl.concat_str([pl.lit("890"), zero_padded(hs // 17, 10)]),
        "skuName": core["itemTypeName"],
        "sellerSkuCode": pl.concat_str([pl.lit("SELLER-"), sku.cast(pl.String)]),
        "channelProductId": pl.when(pl.col("_channel") == "AMAZON_IN")
        .then(pl.concat_str([pl.lit("B0"), zero_padded(hs // 19, 8)]))
        .when(pl.col("_channel") == "SHOPIFY")
        .then(digits(hs // 23, 14))
        .otherwise(digits(hs // 29, 10)),
        "imei": when(electronics & pl.col("_shipped"), digits(_h(ctx, "imei"), 15)),
        "batchCode": when(
            grocery, pl.concat_str([pl.lit("B"), ist(pl.col("created") - 30 * 86_400, "%Y%m")])
        ),
        "vendorBatchNumber": when(grocery, pl.concat_str([pl.lit("VB-"), digits(hs // 31, 6)])),
        "itemRequireCustomization": ctx.bool_text(pl.lit(False)),
        "requireCustomization": ctx.bool_text(pl.lit(False)),
        "combinationIdentifier": when(
            below(hs // 37, 40) == 0, pl.concat_str([pl.lit("COMBO-"), digits(hs // 41, 5)])
        ),
        "combinationDescription": when(below(hs // 37, 40) == 0, pl.lit("Combo pack, 2 items")),
        "bundleSkuCode": when(
            below(hs // 37, 40) == 0, pl.concat_str([pl.lit("BNDL-"), sku.cast(pl.String)])
        ),
    }


def _customer(ctx: Context, core: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    h = _h(ctx, "customer", "order")
    b2b = below(h, 15) == 0
    gstin_state = _GSTIN.get(ctx.facility_state, "29")
    irn_seed = pl.concat_str([digits(h // 3, 18), digits(h // 5, 14)])
    return {
        "notificationEmail": pl.concat_str([pl.lit("customer"), digits(h // 7, 6), pl.lit("@example.com")]),
        "notificationMobile": when(
            core["shippingAddressPhone"].str.len_chars() == 10, core["shippingAddressPhone"]
        ),
        "gsttin": pl.lit(f"{gstin_state}AAACU{ctx.shape.fac_index:04d}F1Z5"),
        "Cgsttin": when(b2b, pl.concat_str([pl.lit("27AABCT"), digits(h // 11, 4), pl.lit("K1ZP")])),
        "tin": NONE,
        "irn": when(b2b & pl.col("_shipped"), irn_seed.str.encode("hex")),
        "acknowledgementNumber": when(b2b & pl.col("_shipped"), digits(h // 13, 15)),
        "priority": pl.lit("0"),
        "currency": pl.lit("INR"),
        "parentSaleOrderCode": NONE,
        "itemSealId": NONE,
        "itemTag": NONE,
        "shipmentTag": when(below(h // 17, 10) == 0, pl.lit("FRAGILE")),
    }


def _custom_fields(ctx: Context) -> dict[str, pl.Expr]:
    h = _h(ctx, "custom", "order")
    pinned = below(h, 3) == 0
    return {
        "saleOrderCustomFields_DeliverySlotType": pick(h // 3, ["Morning", "Evening", ""]),
        "saleOrderCustomFields_Delivery_Time": pick(h // 5, _SLOTS),  # its label repeats "Delivery Time"
        "saleOrderCustomFields_Delivery_Type": pick(h // 7, ["Standard", "Express"]),
        "saleOrderCustomFields_pinpointly_latitude": when(pinned, coordinate(h // 11, 8.0, 22.0)),
        "saleOrderCustomFields_pinpointly_longitude": when(pinned, coordinate(h // 13, 70.0, 18.0)),
    }


def more_columns(ctx: Context, core: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    """Export key -> string expression for every non-core key of the tenant's Sale Orders."""
    line2 = pick(pl.col("_ho2") // (1 << 24), list(_LINE2))
    return {
        **_taxes(ctx),
        **_address(ctx, "shipping", line2, core),
        **_address(ctx, "billing", line2.replace("NA", "None"), core),
        **_shipping(ctx, core),
        **_eway_bill(ctx),
        **_returns(ctx),
        **_money(ctx),
        **_item(ctx, core),
        **_customer(ctx, core),
        **_custom_fields(ctx),
    }


def unrequested_columns(ctx: Context) -> list[pl.Expr]:
    """The two columns a real tenant adds unasked: `Channel Shipping` and `Item Details`."""
    h = _h(ctx, "details")
    channel_shipping = ctx.bool_text(pl.col("_channel").is_in(["AMAZON_IN", "FLIPKART"]))
    details = when(
        below(h, 6) == 0, pick(h // 3, ['{"size":"M"}', "Engraving: A.K.", "colour: Red, size: L"])
    )
    return [channel_shipping, details]


def custom_field(ctx: Context, key: str) -> pl.Expr:
    """A custom field the tenant table does not know: short text on some orders, empty on others."""
    h = rand(pl.col("n"), ctx.shape.salt(key))
    return when(below(h, 3) > 0, pick(h // 3, ["Yes", "No", "Call before delivery", "Leave at door, gate 2"]))
