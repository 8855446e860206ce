"""Deterministic, vectorised pseudo-randomness for the emulator's data.

Every value in a generated report is a pure function of (seed, facility, entity id, field salt): no
random state is carried between rows, so any slice of the tenant can be generated on its own and
adjacent slices agree. The mixing function is splitmix64, written twice: once over polars `UInt64`
expressions (which wrap on overflow) and once in plain Python for salts.
"""

from __future__ import annotations

import zlib

import polars as pl

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def splitmix64(value: int) -> int:
    """The splitmix64 finaliser over one Python int (reference for the vectorised version)."""
    z = value & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def salt_for(seed: int, *parts: str | int) -> int:
    """A 64-bit salt from a seed and any labels (facility code, field name, ...)."""
    z = splitmix64(seed * _GOLDEN + 1)
    for part in parts:
        token = part if isinstance(part, int) else zlib.crc32(part.encode("utf-8"))
        z = splitmix64(z ^ ((token * _GOLDEN) & _MASK))
    return z


def u64(value: int) -> pl.Expr:
    return pl.lit(value & _MASK, dtype=pl.UInt64)


def mix(expr: pl.Expr) -> pl.Expr:
    """splitmix64 over a UInt64 expression (u64 multiplication wraps in polars)."""
    z = (expr ^ (expr // u64(1 << 30))) * u64(_M1)
    z = (z ^ (z // u64(1 << 27))) * u64(_M2)
    return z ^ (z // u64(1 << 31))


def rand(key: pl.Expr, salt: int) -> pl.Expr:
    """Uniform u64 for an integer key expression under a salt."""
    return mix(key.cast(pl.UInt64) * u64(_GOLDEN) + u64(salt))


def below(h: pl.Expr, modulus: int) -> pl.Expr:
    """`h % modulus` as Int64 (h is a u64 from `rand`)."""
    return (h.cast(pl.UInt64) % u64(modulus)).cast(pl.Int64)


def pick(h: pl.Expr, choices: list[str]) -> pl.Expr:
    """Uniform choice of a string from `choices`."""
    mapping = dict(enumerate(choices))
    return below(h, len(choices)).replace_strict(mapping, return_dtype=pl.String)


def pick_weighted(h: pl.Expr, choices: list[tuple[str, int]]) -> pl.Expr:
    """Choice by integer weights (they need not add to 100)."""
    total = sum(weight for _, weight in choices)
    roll = below(h, total)
    thresholds: list[int] = []
    running = 0
    for _, weight in choices:
        running += weight
        thresholds.append(running)
    expr: pl.Expr = pl.lit(choices[-1][0])
    for (value, _), threshold in zip(reversed(choices[:-1]), reversed(thresholds[:-1]), strict=True):
        expr = pl.when(roll < threshold).then(pl.lit(value)).otherwise(expr)
    return expr
