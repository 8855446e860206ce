"""A file's records read exactly, with Python's `csv` module: the header, the check that the file is
UTF-8 text, and where the ragged records are (physical line, raw text).

Far slower than polars, so a file is read this way in full only when polars saw ragged records,
which is rare.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

from uniware_source.api.errors import CsvFormatError
from uniware_source.typed_csv.model import RejectedRow

_SNIFF_BYTES = 1 << 16


def check_text(path: Path) -> None:
    """Refuse files that are not UTF-8 text (looking at the start; polars checks the rest)."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise CsvFormatError(f"{path}: not a text file (NUL bytes); expected a UTF-8 CSV")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def records(path: Path) -> Iterator[tuple[int, int, str]]:
    """Every record of the file as (first physical line, field count, raw text without line break).

    The header is the first record. A blank line is a record of 0 fields. Lines without a quote are
    counted by their commas; a line with a quote goes through `csv.reader`, which pulls the further
    lines of a quoted multi-line field itself."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lines = iter(fh)
        lineno = 0
        pending: list[str] = []
        consumed: list[str] = []

        def feed() -> Iterator[str]:
            nonlocal lineno
            while True:
                if pending:
                    line = pending.pop()
                else:
                    nxt = next(lines, None)
                    if nxt is None:
                        return
                    lineno += 1
                    line = nxt
                consumed.append(line)
                yield line

        reader = csv.reader(feed(), strict=False)
        for line in lines:
            lineno += 1
            if '"' not in line:
                body = line.rstrip("\r\n")
                yield lineno, (body.count(",") + 1 if body else 0), body
                continue
            start = lineno
            pending.append(line)
            consumed.clear()
            try:
                row = next(reader)
            except (csv.Error, StopIteration) as exc:
                raise CsvFormatError(f"{path}: line {start}: unreadable CSV record ({exc})") from exc
            raw = "".join(consumed)
            yield start, len(row), raw[:-2] if raw.endswith("\r\n") else raw.rstrip("\r\n")


def read_header(path: Path) -> list[str]:
    """The labels of the header record, BOM stripped; [] if the file has no record."""
    first = next(records(path), None)
    if first is None:
        return []
    row = next(csv.reader([first[2]], strict=False), [])
    return [label.lstrip("\ufeff") for label in row]


def locate_rejects(path: Path, width: int) -> tuple[list[RejectedRow], list[int], int]:
    """The records that do not have `width` fields (blank lines aside), their 0-based indexes among
    the data records, and the number of data records."""
    rejected: list[RejectedRow] = []
    indexes: list[int] = []
    count = -1
    for count, (line, fields, raw) in enumerate(records(path)):
        if count and fields and fields != width:
            rejected.append(RejectedRow(line, raw, f"expected {width} fields, found {fields}"))
            indexes.append(count - 1)
    return rejected, indexes, max(count, 0)
