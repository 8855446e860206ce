"""Report data of the emulated tenant: deterministic, vectorised, written as Uniware writes it.

The tenant (see `tenant.py`): every facility receives `orders_per_day` sale orders per IST day from `start`
(2024-01-01), each with 1-4 items (about 1.85 on average, so ~185 item rows a day by default).
Order number `n` of a facility is placed on day `n // orders_per_day`; every value of an item is a
pure function of (seed, facility, n, item index), so a window always returns the same rows and
adjacent windows partition them. `Updated` lies 0-72 h after `Created`.

The CSV quirks the connector must survive are built in: display labels in the header, BOM, CRLF,
quoted commas/quotes/newlines, IST wall-clock timestamps, a column mixing three date formats, a
date-only column, fixed 4-decimal money, identifiers with leading zeros, `-` for empty, and a
`Sale Order Code` that is numeric for the first ~35,000 rows of a file and alphanumeric after.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import BinaryIO

import polars as pl

from uniware_source.emulator.csvfile import CRLF, LF, write_atomically, write_csv_frames
from uniware_source.emulator.randomness import below, rand, salt_for
from uniware_source.emulator.report_models import ReportModel, report_frames
from uniware_source.emulator.sale_order_columns import BoolStyle, SaleOrderFormat
from uniware_source.emulator.sale_order_keys import (
    ALL_SALE_ORDER_KEYS,
    DEFAULT_SALE_ORDER_COLUMNS,
    SALE_ORDER_KEYS,
    UNREQUESTED_LABELS,
    sale_order_label,
)
from uniware_source.emulator.tenant import (
    DEFAULT_FACILITIES,
    DEFAULT_ORDERS_PER_DAY,
    IST_OFFSET_S,
    TENANT_START,
    DateField,
    TenantShape,
    facility_tag,
    ist_midnight_epoch,
    order_items,
)

__all__ = [
    "ALL_SALE_ORDER_KEYS",
    "DEFAULT_FACILITIES",
    "DEFAULT_SALE_ORDER_COLUMNS",
    "IST_OFFSET_S",
    "SALE_ORDER_LABELS",
    "TENANT_START",
    "BoolStyle",
    "DateField",
    "ist_midnight_epoch",
    "sale_order_frames",
    "sale_order_labels",
    "write_generic_csv",
    "write_report_csv",
    "write_sale_orders_csv",
]

NUMERIC_PREFIX_ROWS = 35_000
CHUNK_ORDERS = 120_000
CHUNK_CELLS = CHUNK_ORDERS * 30  # a wide file is made in smaller chunks of orders
SNAPSHOT_DAY = date(2025, 6, 30)  # the day a snapshot made without a window is taken

SALE_ORDER_LABELS: dict[str, str] = dict(SALE_ORDER_KEYS)
"""Export key -> the display label Uniware writes in the header row (every key of the tenant)."""


def _order_ranges(n_lo: int, n_hi: int, chunk: int) -> Iterator[tuple[int, int]]:
    for lo in range(n_lo, n_hi, chunk):
        yield lo, min(lo + chunk, n_hi)


def sale_order_frames(
    *,
    seed: int,
    facility: str = "WH-BLR",
    rows: int | None = None,
    window: tuple[int, int] | None = None,
    date_field: DateField = "created",
    start: date = TENANT_START,
    orders_per_day: int | None = None,
    columns: Sequence[str] | None = None,
    bool_style: BoolStyle = "truefalse",
    numeric_prefix_rows: int = NUMERIC_PREFIX_ROWS,
    not_after_ms: int | None = None,
    unrequested: bool = False,
) -> Iterator[pl.DataFrame]:
    """Yield the formatted frames of a Sale Orders export, in file order.

    With `window` (inclusive epoch ms on `date_field`): the tenant's rows in that window (up to
    `not_after_ms`, "now"). Without: the first `rows` item rows of the tenant stream; if
    `orders_per_day` is not given it grows so that large files span about two years. With
    `unrequested`, each frame ends with the two columns a real tenant adds unasked.
    """
    cols = list(columns) if columns else list(DEFAULT_SALE_ORDER_COLUMNS)
    if window is None:
        if rows is None:
            raise ValueError("give rows or window")
        opd = orders_per_day or max(DEFAULT_ORDERS_PER_DAY, math.ceil(rows / (1.85 * 730)))
    else:
        opd = orders_per_day or DEFAULT_ORDERS_PER_DAY
    shape = TenantShape(seed=seed, facility=facility, orders_per_day=opd, start=start)

    formatter = SaleOrderFormat(
        shape, cols, bool_style=bool_style, numeric_prefix_rows=numeric_prefix_rows, unrequested=unrequested
    )
    fmt = formatter.frame

    chunk_orders = max(4096, min(CHUNK_ORDERS, CHUNK_CELLS // max(len(cols), 1)))
    written = 0
    if window is None:
        assert rows is not None
        next_order = 0
        while written < rows:
            remaining = rows - written
            count = min(chunk_orders, max(16, math.ceil(remaining / 1.7)))
            items = order_items(shape, next_order, next_order + count).head(remaining)
            next_order += count
            yield fmt(items, written)
            written += items.height
        return
    start_ms, end_ms = window
    if not_after_ms is not None:
        end_ms = min(end_ms, not_after_ms)
    first_day = (start_ms // 1000 - shape.start_epoch) // 86_400 - (4 if date_field == "updated" else 1)
    last_day = (end_ms // 1000 - shape.start_epoch) // 86_400 + 1
    if end_ms < start_ms or last_day < 0:
        return
    n_lo, n_hi = max(first_day, 0) * opd, (last_day + 1) * opd
    column = pl.col(date_field) * 1000
    for lo, hi in _order_ranges(n_lo, n_hi, chunk_orders):
        items = order_items(shape, lo, hi).filter(column.is_between(start_ms, end_ms))
        if items.height:
            yield fmt(items, written)
            written += items.height


def sale_order_labels(columns: Iterable[str] | None, *, unrequested: bool = False) -> list[str]:
    """Header labels for export keys (a custom field's from its name; any other unknown key is its
    own label), then the unrequested ones."""
    keys = list(columns) if columns else list(DEFAULT_SALE_ORDER_COLUMNS)
    return [sale_order_label(key) for key in keys] + (list(UNREQUESTED_LABELS) if unrequested else [])


def tenant_order(keys: Iterable[str]) -> list[str]:
    """Keys in the order the tenant writes its columns (the order of SALE_ORDER_KEYS), whatever
    order they were asked in; keys it does not list come last, as asked."""
    rank = {key: i for i, key in enumerate(ALL_SALE_ORDER_KEYS)}
    keys = list(keys)
    return sorted(keys, key=lambda key: (rank.get(key, len(rank)), keys.index(key)))


def write_sale_orders_csv(
    path: str | Path,
    rows: int | None,
    *,
    seed: int,
    facility: str = "WH-BLR",
    start: date = TENANT_START,
    window: tuple[int, int] | None = None,
    date_field: DateField = "created",
    orders_per_day: int | None = None,
    columns: Sequence[str] | None = None,
    malformed_rows: Iterable[int] = (),
    bool_style: BoolStyle = "truefalse",
    numeric_prefix_rows: int = NUMERIC_PREFIX_ROWS,
    not_after_ms: int | None = None,
    unrequested: bool = False,
    reorder: bool = False,
    newline: str = CRLF,
    bom: bool = True,
) -> int:
    """Write a Sale Orders export file (atomically); returns the number of data rows.

    `rows` item rows from `start` when `window` is None, else the tenant's rows in the window
    (`rows` is then ignored). `columns` are export keys (ALL_SALE_ORDER_KEYS for every column of
    a real tenant, about 140); with `reorder` they are written in the tenant's order, not as asked;
    with `unrequested` the two columns real tenants add unasked follow. Deterministic: same
    arguments, same bytes.
    """
    keys = _unique(columns or DEFAULT_SALE_ORDER_COLUMNS)
    if reorder:
        keys = tenant_order(keys)
    frames = sale_order_frames(
        seed=seed,
        facility=facility,
        rows=rows,
        window=window,
        date_field=date_field,
        start=start,
        orders_per_day=orders_per_day,
        columns=keys,
        bool_style=bool_style,
        numeric_prefix_rows=numeric_prefix_rows,
        not_after_ms=not_after_ms,
        unrequested=unrequested,
    )
    labels = sale_order_labels(keys, unrequested=unrequested)

    def writer(fh: BinaryIO) -> int:
        return write_csv_frames(fh, labels, frames, malformed_rows=malformed_rows, newline=newline, bom=bom)

    return write_atomically(Path(path), writer)


def generic_frames(
    *, report: str, columns: Sequence[str], seed: int, facility: str, rows: int, chunk: int = 200_000
) -> Iterator[pl.DataFrame]:
    """Rows of a report the emulator does not model: simple deterministic text per column."""
    salt = salt_for(seed, facility, report)
    prefix = "".join(word[0] for word in report.upper().split() if word) or "R"
    for lo in range(0, rows, chunk):
        hi = min(lo + chunk, rows)
        idx = pl.int_range(lo, hi, dtype=pl.UInt64, eager=True).alias("i")
        exprs = []
        for pos, key in enumerate(columns):
            if pos == 0:
                value = pl.concat_str(
                    [pl.lit(f"{prefix}-{facility_tag(facility)}-"), pl.col("i").cast(pl.String).str.zfill(7)]
                )
            else:
                value = pl.concat_str(
                    [pl.lit(key + "-"), below(rand(pl.col("i"), salt + pos), 1000).cast(pl.String)]
                )
            exprs.append(value.alias(f"c{pos}"))
        yield pl.DataFrame(idx).select(exprs)


def write_generic_csv(
    path: str | Path,
    *,
    report: str,
    columns: Sequence[str],
    seed: int,
    facility: str,
    rows: int,
    malformed_rows: Iterable[int] = (),
) -> int:
    keys = _unique(columns) or ["code"]
    frames = generic_frames(report=report, columns=keys, seed=seed, facility=facility, rows=rows)

    def writer(fh: BinaryIO) -> int:
        return write_csv_frames(fh, keys, frames, malformed_rows=malformed_rows)

    return write_atomically(Path(path), writer)


def _unique(keys: Iterable[str]) -> list[str]:
    """Keys in order, duplicates dropped (a header must not repeat a label)."""
    return list(dict.fromkeys(keys))


def write_report_csv(
    path: str | Path,
    model: ReportModel,
    *,
    seed: int,
    facility: str,
    columns: Sequence[str] | None = None,
    rows: int | None = None,
    window: tuple[int, int] | None = None,
    malformed_rows: Iterable[int] = (),
    newline: str = LF,
    bom: bool = False,
) -> int:
    """Write a file of a modelled report (see report_models.py): its columns by default, LF line
    ends and no BOM as the real files seen. A snapshot is as of the window's end (or a fixed day
    without a window), so that the same job always gives the same bytes."""
    keys = _unique(columns or model.keys)
    shape = TenantShape(
        seed=seed, facility=facility, orders_per_day=DEFAULT_ORDERS_PER_DAY, start=TENANT_START
    )
    as_of = window[1] // 1000 if window else ist_midnight_epoch(SNAPSHOT_DAY)
    frames = report_frames(model, keys, shape=shape, rows=rows, window=window, now_s=as_of)

    def writer(fh: BinaryIO) -> int:
        labels = [model.label(key) for key in keys]
        return write_csv_frames(fh, labels, frames, malformed_rows=malformed_rows, newline=newline, bom=bom)

    return write_atomically(Path(path), writer)
