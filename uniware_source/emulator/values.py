"""Value shapes of real Uniware export files, as polars expressions (vectorised, no Python per row).

Money is Java BigDecimal text: a fixed scale per column (2, 5, 6 or 7 decimals occur in one
file), and a zero of scale 7 or more written as `0E-7`, which is what `BigDecimal.toString` gives
when the exponent falls below -6. Times are IST wall-clock text.
"""

from __future__ import annotations

import polars as pl

from uniware_source.emulator.randomness import below
from uniware_source.emulator.tenant import IST_OFFSET_S

NONE = pl.lit(None, dtype=pl.String)


def ist(epoch: pl.Expr, fmt: str) -> pl.Expr:
    """Epoch seconds (UTC) -> IST wall-clock text in `fmt`."""
    return pl.from_epoch(epoch + IST_OFFSET_S, time_unit="s").dt.strftime(fmt)


def utc(epoch: pl.Expr, fmt: str) -> pl.Expr:
    return pl.from_epoch(epoch, time_unit="s").dt.strftime(fmt)


def bigdecimal(paise: pl.Expr, scale: int) -> pl.Expr:
    """Integer paise -> BigDecimal text of `scale` decimals (scale >= 2): `952.0000000`,
    `-50.00`, and zero as `0E-7` when the scale is 7 or more (`0.00000` below)."""
    sign = pl.when(paise < 0).then(pl.lit("-")).otherwise(pl.lit("", dtype=pl.String))
    absolute = paise.abs()
    text = pl.concat_str(
        [
            sign,
            (absolute // 100).cast(pl.String),
            pl.lit("."),
            (absolute % 100).cast(pl.String).str.zfill(2),
            pl.lit("0" * (scale - 2)),
        ]
    )
    if scale < 7:
        return text
    return pl.when(paise == 0).then(pl.lit(f"0E-{scale}")).otherwise(text)


def digits(h: pl.Expr, count: int) -> pl.Expr:
    """A `count`-digit number (no leading zero) from a hash, as text."""
    return (below(h, 9 * 10 ** (count - 1)) + 10 ** (count - 1)).cast(pl.String)


def zero_padded(h: pl.Expr, count: int) -> pl.Expr:
    """`count` digits from a hash, leading zeros kept."""
    return below(h, 10**count).cast(pl.String).str.zfill(count)


def when(condition: pl.Expr, value: pl.Expr, otherwise: pl.Expr = NONE) -> pl.Expr:
    return pl.when(condition).then(value).otherwise(otherwise)


def coordinate(h: pl.Expr, low: float, span: float) -> pl.Expr:
    """A latitude or longitude with 7 decimals in [low, low + span), as GPS apps write them."""
    micro = below(h, int(span * 10**7)) + int(low * 10**7)
    return pl.concat_str(
        [(micro // 10**7).cast(pl.String), pl.lit("."), (micro % 10**7).cast(pl.String).str.zfill(7)]
    )
