"""A CSV file as a sequence of byte chunks that each hold whole records.

polars maps a file it scans into memory, so a scan of a 1.6 GB file keeps 1.6 GB resident. Reading
the file with plain `read()` calls in chunks of a fixed size, and handing each chunk to polars as
bytes, keeps memory bounded by the chunk size, whatever the size of the file.

A chunk's memory grows with the cells it holds more than with its bytes: polars keeps every
field as a 16-byte view beside its text, and the typing's expressions make temporaries per column.
So the chunk size is a budget of cells: CHUNK_BYTES up to CHUNK_COLUMNS columns, and less in
proportion beyond (`chunk_bytes`). Measured on a 139-column export (about 1 kB a row, 7 bytes a
field): 12 MB chunks peaked at 426 MB in the two passes, 4 MB ones at 275 MB. Each chunk also
costs a fixed time, polars' planning of pass 1's aggregations (about 10 ms per thousand of them,
and a 139-column file has about 600): at 300k rows of that file, 3.5 MB chunks took pass 1 4.0-4.5 s,
7 MB ones 3.7 s and 14 MB ones 3.1 s, at 250, 312 and 442 MB. The 7 MB that 139 columns get
keep pass 1 below what the load itself peaks at (540 MB there, DuckDB included). At 21 and 29
columns, 12 MB chunks peaked at 588-652 MB over the whole run and 8 MB ones at 525-578 MB (the
load's own peak then), in the same CPU time within the machine's noise (1M rows, two runs of
each file and way in).

A chunk ends after a line break that is outside any quoted field: with RFC 4180 quoting (a quote
inside a quoted field is doubled) that is a line break preceded by an even number of quote
characters since the start of the record stream.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator
from io import FileIO
from pathlib import Path
from typing import TypeVar

CHUNK_BYTES = 8 << 20
CHUNK_COLUMNS = 120  # a chunk of CHUNK_BYTES up to this many columns; fewer bytes beyond
MIN_CHUNK_BYTES = 1 << 20
T = TypeVar("T")


def chunk_bytes(columns: int) -> int:
    """The chunk size for a file of `columns` columns: about the same number of cells in every
    chunk, whatever the width (CHUNK_BYTES is read at each call: tests shrink it)."""
    scaled = CHUNK_BYTES * CHUNK_COLUMNS // max(columns, CHUNK_COLUMNS)
    return max(scaled, min(CHUNK_BYTES, MIN_CHUNK_BYTES))


def _last_boundary(buf: bytearray, end: int) -> int:
    """Offset just after the last line break of `buf[:end]` that ends a record; 0 if there is none.

    `buf` starts at a record boundary."""
    quotes_before = buf.count(b'"', 0, end)
    pos = buf.rfind(b"\n", 0, end)
    while pos >= 0:
        quotes_before -= buf.count(b'"', pos + 1, end)
        if quotes_before % 2 == 0:
            return pos + 1
        end = pos + 1
        pos = buf.rfind(b"\n", 0, pos)
    return 0


# what may stand just before a quote that opens a quoted field (a comma or LF outside quotes) and
# just after one that closes it (a comma, CR or LF), a doubled quote aside: the rule of a quote at
# the edge of a field, here and in frames.commas_between
BEFORE_OPENING_QUOTE = b",\n"
AFTER_CLOSING_QUOTE = b",\r\n"
# a quote that is not at the edge of a field, seen where the text outside quotes is joined with
# NUL SOH at each quoted part: other than AFTER_CLOSING_QUOTE just after a quoted part (after its
# SOH), or other than BEFORE_OPENING_QUOTE just before one (before its NUL: a lookbehind, so that
# the pattern starts with its literal byte, which Python's re finds at memchr speed; the text
# reversed and searched again, as before, cost a copy of the chunk). A doubled quote leaves an
# empty part between two markers: SOH then NUL, allowed on both sides.
_QUOTE_THEN_TEXT = re.compile(rb"\x01[^" + re.escape(AFTER_CLOSING_QUOTE) + rb"\x00]")
_TEXT_THEN_QUOTE = re.compile(rb"\x00(?<=[^" + re.escape(BEFORE_OPENING_QUOTE) + rb"\x01]\x00)")


_BLANK_AFTER = re.compile(rb"\n(?=\r?\n)")


def _blank_lines(text: bytes) -> int:
    """The blank lines of `text` (whole records, none in quotes): polars reads each as a record
    whose every field is null, as if it held all its commas."""
    return len(_BLANK_AFTER.findall(text)) + text.startswith((b"\n", b"\r\n"))


def separators(chunk: bytes, blank_as: int = 0) -> int | None:
    """The commas of `chunk` (whole records) that separate fields: those outside quoted fields,
    and `blank_as` for each blank line (the commas of a record of the header's width: polars reads
    a blank line as such a record, of nulls, which pass 1 drops as empty).
    The chunk starts outside any quote, so splitting it at its quote characters leaves the quoted
    text in every other piece (a doubled quote only splits a field in two).

    That holds only where every quote opens or closes a quoted field: a CSV reader takes a quote
    inside an unquoted field (`32" LED TV`) as a character, and counting it as an edge would turn
    the text after it inside out. So None, not a count, for a chunk with such a quote, with an odd
    number of quotes, or with a NUL or SOH byte (the check's own markers): the caller then proves
    nothing from the commas. Holding the GIL, about 4 ms a MB of a file quoted in every record
    (frames.commas_between leaves out the search for blank lines where polars read none)."""
    if b'"' not in chunk:
        return chunk.count(b",") + (blank_as and blank_as * _blank_lines(chunk))
    parts = chunk.split(b'"')
    if len(parts) % 2 == 0 or b"\x00" in chunk or b"\x01" in chunk:
        return None
    outside = b"\x00\x01".join(parts[0::2])
    if _QUOTE_THEN_TEXT.search(outside) or _TEXT_THEN_QUOTE.search(outside):
        return None
    return outside.count(b",") + (blank_as and blank_as * _blank_lines(outside))


class DownloadAborted(Exception):
    """The file being read was still downloading, and its download failed."""


class Arrival:
    """How much of a file being downloaded is on disk, so that reading can start before the
    download ends. The downloader reports each write (`wrote`) and the end (`finish` or `fail`);
    readers wait for the bytes they need (`wait_for`)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._size = 0
        self.done = False
        self._failed = False

    def wrote(self, size: int) -> None:
        with self._changed:
            self._size = size
            self._changed.notify_all()

    def finish(self) -> None:
        with self._changed:
            self.done = True
            self._changed.notify_all()

    def fail(self) -> None:
        with self._changed:
            self._failed = True
            self._changed.notify_all()

    def wait_for(self, end: int) -> int:
        """The bytes on disk once there are at least `end` of them or the download has ended.
        Raises DownloadAborted if the download fails meanwhile."""
        with self._changed:
            self._changed.wait_for(lambda: self._failed or self.done or self._size >= end)
            if self._failed:
                raise DownloadAborted("the download of this file failed while it was being read")
            return self._size


def byte_chunks(
    path: Path, start: int, size: int = CHUNK_BYTES, first: int = 0, arrival: Arrival | None = None
) -> Iterator[bytes]:
    """The bytes of `path` from offset `start` (a record boundary), in chunks of about `size` bytes
    (the first one of about `first`, if given) that each end at a record boundary (the last one
    ends where the file does). With `arrival`, the file may still be downloading: each read waits
    for its bytes, and the file ends where the finished download does.

    The file is read into one buffer, kept for the whole file, behind the start of the record that
    the last chunk left unfinished; each chunk is then one copy out of it. Read as new bytes and
    joined to the unfinished record, then cut at the boundary, each chunk took three new blocks of
    its size: a third of the page faults of typing a file quoted in every record."""
    with path.open("rb", buffering=0) as fh:
        fh.seek(start)
        position = start
        buffer = bytearray(max(first, size))
        held = 0  # the bytes of an unfinished record at the start of `buffer`
        read = first or size
        while True:
            if arrival is not None:
                read = min(read, arrival.wait_for(position + read) - position)
            if held + read > len(buffer):  # a record longer than a chunk: room for it to go on
                buffer = buffer[:held] + bytearray(max(read, len(buffer)))
            got = _read_into(fh, memoryview(buffer)[held : held + max(read, 0)])
            position += got
            read = size
            if not got:
                if held:
                    yield bytes(memoryview(buffer)[:held])
                return
            end = held + got
            cut = _last_boundary(buffer, end)
            if cut == 0:  # one record longer than a chunk: read on
                held = end
                continue
            yield bytes(memoryview(buffer)[:cut])
            held = end - cut
            buffer[:held] = buffer[cut:end]


def _read_into(fh: FileIO, view: memoryview) -> int:
    """Fill `view` from `fh`; fewer bytes only where the file ends."""
    filled = 0
    while filled < len(view):
        got = fh.readinto(view[filled:])
        if not got:
            break
        filled += got
    return filled


def prefetched(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of `items`, produced on a worker thread up to `depth` items ahead of the consumer.

    polars and pyarrow release the GIL while they work, so reading and parsing the next chunk
    overlaps with processing the current one. An error of the producer is raised to the consumer;
    a consumer that stops early stops the producer (and closes `items`) before returning."""
    slots: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def offer(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        error: BaseException | None = None
        try:
            for item in items:
                if not offer((item, None)):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            error = exc
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        offer((done, error))

    worker = threading.Thread(target=produce, name="uniware-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


_FIELD_START = frozenset(b',\n\r"')
_ASCII_BLANK = frozenset(b" \t\x0b\x0c")
_MAX_APOSTROPHES = 20_000


def may_hold_guard(chunk: bytes) -> bool:
    """Whether some field of `chunk` (whole records) may start with an apostrophe, the text guard
    Excel leaves ('2320617), after optional whitespace and an opening quote.

    A miss would load a guard as data, so this errs the other way: any byte of a multi-byte
    character counts as possible whitespace, a quote before the apostrophe counts as a field's
    opening quote, and a chunk with very many apostrophes is simply said to hold one. Apostrophes
    inside words (D'Souza) are the common case, and are passed over."""
    pos = chunk.find(b"'")
    seen = 0
    while pos >= 0:
        seen += 1
        if seen > _MAX_APOSTROPHES:
            return True
        i = pos - 1
        while i >= 0 and (chunk[i] in _ASCII_BLANK or chunk[i] >= 0x80):
            i -= 1
        if i < 0 or chunk[i] in _FIELD_START:
            return True
        pos = chunk.find(b"'", pos + 1)
    return False
