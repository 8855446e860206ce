"""The emulated tenant's order stream: when each order of a facility was created and updated.

Every facility receives `orders_per_day` sale orders per IST day from `start` (2024-01-01), each
with 1-4 items (about 1.85 on average). Order number `n` falls on day `n // orders_per_day`; all of
an item's values are pure functions of (seed, facility, n, item index), so any slice of the stream
can be generated alone and adjacent windows partition the rows. `Updated` is 0-72 h after `Created`.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime
from typing import Literal

import polars as pl

from uniware_source.emulator.randomness import below, rand, salt_for

IST_OFFSET_S = 5 * 3600 + 30 * 60
TENANT_START = date(2024, 1, 1)
DEFAULT_ORDERS_PER_DAY = 100
MAX_UPDATE_LAG_S = 3 * 86400
DEFAULT_FACILITIES = ("WH-BLR", "WH-DEL", "WH-MUM")

DateField = Literal["created", "updated"]


def facility_index(facility: str) -> int:
    """Stable small number of a facility (position in the default list, else from its code)."""
    if facility in DEFAULT_FACILITIES:
        return DEFAULT_FACILITIES.index(facility)
    return 3 + zlib.crc32(facility.encode("utf-8")) % 13


def facility_tag(facility: str) -> str:
    """Short upper-case tag used inside codes: "WH-BLR" -> "BLR"."""
    tag = "".join(ch for ch in facility.split("-")[-1].upper() if ch.isalnum())
    return tag[:6] or "FAC"


def ist_midnight_epoch(day: date) -> int:
    """Epoch seconds of 00:00 IST on `day`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) - IST_OFFSET_S


class TenantShape:
    """Everything that fixes the tenant stream of one facility."""

    def __init__(self, *, seed: int, facility: str, orders_per_day: int, start: date) -> None:
        if not 1 <= orders_per_day <= 86_400:
            raise ValueError("orders_per_day must be between 1 and 86400")
        self.seed = seed
        self.facility = facility
        self.fac_index = facility_index(facility)
        self.tag = facility_tag(facility)
        self.opd = orders_per_day
        self.start_epoch = ist_midnight_epoch(start)

    def salt(self, name: str) -> int:
        return salt_for(self.seed, self.facility, name)


def order_items(shape: TenantShape, n_lo: int, n_hi: int) -> pl.DataFrame:
    """Item rows of orders [n_lo, n_hi): columns n, j, created, updated (epoch seconds, UTC)."""
    span = 86_400 // shape.opd
    n = pl.col("n")
    h_k = rand(n, shape.salt("items"))
    k = (
        pl.when(below(h_k, 100) < 50)
        .then(1)
        .when(below(h_k, 100) < 75)
        .then(2)
        .when(below(h_k, 100) < 90)
        .then(3)
        .otherwise(4)
    )
    day = (n // shape.opd).cast(pl.Int64)
    slot = (n % shape.opd).cast(pl.Int64)
    created = shape.start_epoch + day * 86_400 + slot * span + below(rand(n, shape.salt("second")), span)
    orders = pl.DataFrame({"n": pl.int_range(n_lo, n_hi, dtype=pl.UInt64, eager=True)}).with_columns(
        k=k, created=created
    )
    items = orders.with_columns(j=pl.int_ranges(0, pl.col("k"))).explode("j").drop("k")
    h_lag = rand(n * 8 + pl.col("j").cast(pl.UInt64), shape.salt("lag"))
    lag = (
        pl.when(below(h_lag, 10) < 4)
        .then(below(h_lag // 16, 3600))
        .otherwise(below(h_lag // 16, MAX_UPDATE_LAG_S))
    )
    return items.with_columns(j=pl.col("j").cast(pl.Int64), updated=pl.col("created") + lag)
