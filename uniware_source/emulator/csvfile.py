"""Writing report frames as Uniware writes its CSV files.

UTF-8, display labels in the header, minimal RFC-4180 quoting (only a field with a comma, quote or
line break is quoted). Files are seen both with a byte-order mark and CRLF line ends and without
a mark and with LF line ends (embedded line breaks in a quoted field stay as they are). The
frames are written by polars straight to the file; the few rows that must be malformed on purpose
(one field too many or too few) are written by hand between slices.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import polars as pl

BOM = b"\xef\xbb\xbf"
CRLF = "\r\n"


def quote_field(value: str | None) -> str:
    """RFC-4180 quoting: quote only when the value needs it."""
    if value is None:
        return ""
    if any(ch in value for ch in (",", '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


LF = "\n"


def format_line(values: Sequence[str | None], newline: str = CRLF) -> bytes:
    return (",".join(quote_field(v) for v in values) + newline).encode("utf-8")


def _malformed_line(values: list[str | None], ordinal: int, newline: str) -> bytes:
    """Even ordinals get an extra field, odd ones lose their last field (when there is one to lose)."""
    if ordinal % 2 == 0 or len(values) < 2:
        return format_line([*values, "UNEXPECTED"], newline)
    return format_line(values[:-1], newline)


def _write_frame(fh: BinaryIO, frame: pl.DataFrame, newline: str) -> None:
    if frame.height:
        frame.write_csv(fh, include_header=False, line_terminator=newline, quote_style="necessary")


def write_csv_frames(
    fh: BinaryIO,
    labels: Sequence[str],
    frames: Iterable[pl.DataFrame],
    *,
    malformed_rows: Iterable[int] = (),
    newline: str = CRLF,
    bom: bool = True,
) -> int:
    """Write BOM (if `bom`), header and every frame; returns the number of data rows written.

    `malformed_rows` are 1-based data-row numbers over the whole file.
    """
    bad = sorted({int(r) for r in malformed_rows if int(r) >= 1})
    ordinal_of = {row: i for i, row in enumerate(bad)}
    if bom:
        fh.write(BOM)
    fh.write(format_line(list(labels), newline))
    written = 0
    for frame in frames:
        lo, hi = written + 1, written + frame.height
        inside = [r for r in bad if lo <= r <= hi]
        cursor = 0
        for row in inside:
            local = row - lo
            _write_frame(fh, frame.slice(cursor, local - cursor), newline)
            values = [None if v is None else str(v) for v in frame.row(local)]
            fh.write(_malformed_line(values, ordinal_of[row], newline))
            cursor = local + 1
        _write_frame(fh, frame.slice(cursor), newline)
        written += frame.height
    return written


def write_atomically(path: Path, writer: Callable[[BinaryIO], int]) -> int:
    """Run `writer(fh) -> int` on a temp file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as fh:
            count = writer(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
