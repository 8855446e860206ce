"""A CSV file as a sequence of byte chunks that each hold whole records.

polars maps a file it scans into memory, so a scan of a 1.6 GB file keeps 1.6 GB resident. Reading
the file with plain `read()` calls in chunks of a fixed size, and handing each chunk to polars as
bytes, keeps memory bounded by the chunk size, whatever the size of the file.

A chunk ends after a line break that is outside any quoted field: with RFC 4180 quoting (a quote
inside a quoted field is doubled) that is a line break preceded by an even number of quote
characters since the start of the record stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

CHUNK_BYTES = 24 << 20


def _last_boundary(buf: bytes) -> int:
    """Offset just after the last line break of `buf` that ends a record; 0 if there is none.

    `buf` starts at a record boundary."""
    quotes_before = buf.count(b'"')
    end = len(buf)
    pos = buf.rfind(b"\n")
    while pos >= 0:
        quotes_before -= buf.count(b'"', pos + 1, end)
        if quotes_before % 2 == 0:
            return pos + 1
        end = pos + 1
        pos = buf.rfind(b"\n", 0, pos)
    return 0


def header_end(path: Path) -> int:
    """Byte offset just after the header record (its line break included); the file size if the
    header is the only record."""
    with path.open("rb") as fh:
        buf = b""
        while True:
            data = fh.read(1 << 16)
            if not data:
                return len(buf)
            start = len(buf)
            buf += data
            pos = buf.find(b"\n", start)
            while pos >= 0:
                if buf.count(b'"', 0, pos) % 2 == 0:
                    return pos + 1
                pos = buf.find(b"\n", pos + 1)


def byte_chunks(path: Path, start: int, size: int = CHUNK_BYTES, first: int = 0) -> Iterator[bytes]:
    """The bytes of `path` from offset `start` (a record boundary), in chunks of about `size` bytes
    (the first one of about `first`, if given) that each end at a record boundary (the last one
    ends where the file does)."""
    with path.open("rb") as fh:
        fh.seek(start)
        carry = b""
        read = first or size
        while True:
            data = fh.read(read)
            read = size
            if not data:
                if carry:
                    yield carry
                return
            buf = carry + data if carry else data
            cut = _last_boundary(buf)
            if cut == 0:  # one record longer than a chunk: read on
                carry = buf
                continue
            carry = buf[cut:]
            yield buf[:cut] if cut < len(buf) else buf
