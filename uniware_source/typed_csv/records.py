"""A file's records read exactly, with Python's `csv` module: the header, the checks that the file is
UTF-8 text and comma-separated, and where the ragged records are (physical line, raw text). Also,
read the same way, where the header ends in bytes (`header_end`, where the chunks of data start)
and the first quote of a chunk that CSV's quoting does not explain (`quote_problem`, for an error
message), and a file written anew with CSV's quoting (`requote`).

Far slower than polars, so a file is read this way in full only when polars saw ragged records,
which is rare.

A file separated by something other than commas is refused, never guessed at: Uniware always
writes commas, so a `;`, tab or `|` file has been through other hands (a spreadsheet in another
locale, a script), and whatever else they changed (decimal commas, date formats) we could not
tell. Read with commas, such a file would load as one column named after the whole header line,
every real column missing. `check_separator` raises CsvFormatError (the job ends INVALID_FILE,
with the reason) when all of these hold, for one of `;`, tab, `|`:

- the header is one field when read with commas;
- read with that separator (quotes honoured), the header has at least two non-blank labels;
- the data records in the first 64 KiB (blank lines aside) have as many fields as that header,
  all of them or all but one in ten (a malformed record or two, which Uniware writes at times,
  do not hide what the file is).

So a one-column comma file whose label happens to hold the separator (`Notes; remarks`) still
loads, as long as its values do not split into the same number of fields; a quoted label
(`"Notes; remarks"`) never splits. A header-only file has no record to disagree: its header
alone decides, since loading it would add a column named after the whole header line.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from uniware_source.api.errors import CsvFormatError
from uniware_source.typed_csv.model import RejectedRow

_SNIFF_BYTES = 1 << 16
# the separators a file that is not comma-separated is recognised by, named for the message
SEPARATORS: dict[str, str] = {";": "`;`", "\t": "tab", "|": "`|`"}


def check_text(path: Path) -> None:
    """Refuse files that are not UTF-8 text (looking at the start; polars checks the rest)."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise CsvFormatError(f"{path}: not a text file (NUL bytes); expected a UTF-8 CSV")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        line = head.count(b"\n", 0, exc.start) + 1
        raise CsvFormatError(
            f"{path}: line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc


def header_end(path: Path) -> int:
    """Byte offset just after the header record (its line break included); the file size if the
    header is the only record. The header is read as Python's csv module reads it (records.py
    takes its labels that way): a quote opens a quoted label only at the start of a field, so a
    label such as `Size (in")` ends where its line does. Raises CsvFormatError for a carriage
    return that ends no line (a file of CR-only line ends): polars would read the whole file as
    its header."""
    with path.open("rb") as fh:
        buf = b""
        while True:
            data = fh.read(max(1 << 16, len(buf)))  # doubling: each look starts again at the top
            buf += data
            end = _first_record_end(buf, not data, path)
            if end is not None:
                return end
            if not data:
                return len(buf)


_HEADER_SPECIAL = re.compile(rb'[",\r\n]')
_BOM = b"\xef\xbb\xbf"


def _closing_quote(buf: bytes, pos: int) -> int:
    """The offset of the quote that closes a quoted field whose text starts at `pos` (a doubled
    quote is text); -1 if `buf` ends first."""
    while (q := buf.find(b'"', pos)) >= 0 and buf[q + 1 : q + 2] == b'"':
        pos = q + 2
    return q


def _first_record_end(buf: bytes, final: bool, path: Path) -> int | None:
    """Offset just after the line break that ends the first record of `buf`; None if `buf` does not
    hold it yet (with `final`, `buf` is the whole file: None means no line break ends it)."""
    start = len(_BOM) if buf.startswith(_BOM) else 0
    pos = start
    while (found := _HEADER_SPECIAL.search(buf, pos)) is not None:
        i = found.start()
        byte = buf[i : i + 1]
        if byte == b'"' and (i == start or buf[i - 1 : i] == b","):  # else a quote inside a label
            q = _closing_quote(buf, i + 1)
            if q < 0 or (q + 1 == len(buf) and not final):  # the next byte may double it
                return None
            pos = q + 1
        elif byte in (b'"', b","):
            pos = i + 1
        elif byte == b"\n":
            return i + 1
        elif i + 1 == len(buf):  # \r last: its \n may follow
            return None if not final else i + 1
        elif buf[i + 1 : i + 2] == b"\n":
            return i + 2
        else:
            raise CsvFormatError(
                f"{path}: the header line holds a carriage return that ends no line (byte {i}): "
                "line ends must be LF or CR LF, not CR alone"
            )
    return None


def quote_problem(chunk: bytes) -> tuple[str, int] | None:
    """The first quote of `chunk` (whole records) that CSV's quoting does not explain, and how:
    ("inch", at) a quote inside a field that does not start with one (`32" TV`); ("unclosed", at)
    a quoted field opening at `at` that no quote closes, or that a quote closes only on a later
    line and with text after it (a field's closing quote is missing, and a later field's opening
    one closed it); ("after", at) text after the quote that closes a field (`"abc"def`). None if
    there is none. For error messages, and to tell an inch mark (which reads one way) apart."""
    pos = 0
    while (found := _HEADER_SPECIAL.search(chunk, pos)) is not None:
        i = found.start()
        if chunk[i : i + 1] == b'"':
            if i and chunk[i - 1 : i] not in (b",", b"\n"):
                return "inch", i
            q = _closing_quote(chunk, i + 1)
            if q < 0:
                return "unclosed", i
            if chunk[q + 1 : q + 2] not in (b"", b",", b"\r", b"\n"):
                return ("unclosed", i) if b"\n" in chunk[i:q] else ("after", q)
            i = q
        pos = i + 1
    return None


def stray_quote(chunk: bytes) -> int | None:
    """The offset of the first quote of `chunk` (whole records) that neither opens a field, nor
    closes or doubles one inside a quoted field: an inch mark in an unquoted field (`32" TV`), or
    text after a closing quote (`"abc"def`). None if there is none (quote_problem tells more)."""
    problem = quote_problem(chunk)
    return problem[1] if problem is not None and problem[0] != "unclosed" else None


def requote(path: Path) -> None:
    """Write `path` anew with each field quoted as CSV quotes it, reading it as Python's csv module
    reads it strictly (as Excel does): a quote inside a field that does not start with one is
    text (`32" TV`, `5" x 7"`). Records, their fields and the physical lines they start on stay
    as they were. Raises CsvFormatError naming the line where the file does not read that way
    either (text after the quote that closes a field, `"abc"def`)."""
    out = path.with_name(path.name + ".requoted")
    try:
        # a BOM read as text would become part of the first label, quoted and doubled in the copy
        with (
            path.open(encoding="utf-8-sig", newline="") as src,
            out.open("w", encoding="utf-8", newline="") as dst,
        ):
            reader = csv.reader(src, strict=True)
            writer = csv.writer(dst, lineterminator="\n")
            try:
                writer.writerows(reader)
            except csv.Error as exc:
                raise CsvFormatError(
                    f"{path}: line {reader.line_num}: {exc}: not a CSV we can read "
                    "(CSV quotes a field holding a quote, and doubles it)"
                ) from exc
        out.replace(path)
    finally:
        out.unlink(missing_ok=True)


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
    """The records that do not have `width` fields, their 0-based indexes among the data records,
    and the number of data records. A record without a value, a blank line or nothing but commas,
    is no reject whatever its width: polars reads it as a record of nulls, which is dropped."""
    rejected: list[RejectedRow] = []
    indexes: list[int] = []
    count = -1
    for count, (line, fields, raw) in enumerate(records(path)):
        if count and fields != width and raw.strip(","):
            rejected.append(RejectedRow(line, raw, f"expected {width} fields, found {fields}"))
            indexes.append(count - 1)
    return rejected, indexes, max(count, 0)


def check_separator(path: Path, labels: list[str]) -> None:
    """Refuse a file whose one-field header is a line of labels separated by `;`, tab or `|` (see
    the module's docstring for the rule)."""
    if len(labels) != 1:
        return
    sample = _head_records(path)
    for sep, name in SEPARATORS.items():
        records = sample.get(sep)
        if not records:
            continue
        header, data = records[0], [r for r in records[1:] if r]
        if sum(1 for label in header if label.strip()) < 2:
            continue
        agree = sum(1 for r in data if len(r) == len(header))
        if len(data) - agree <= agree // 9:  # at least nine in ten, or no record at all
            shown = labels[0] if len(labels[0]) <= 120 else labels[0][:117] + "..."
            fields = f", and {len(header)} fields in {agree} of {len(data)} data records" if data else ""
            raise CsvFormatError(
                f"{path}: header {shown!r} looks {name}-separated ({len(header)} labels{fields}); "
                "Uniware exports are comma-separated"
            )


def _head_records(path: Path) -> dict[str, list[list[str]]]:
    """The records at the start of the file (BOM stripped) as read with each candidate separator;
    a record the sample may have cut is left out. A separator the sample cannot be read with
    has none."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
        whole = not fh.read(1)
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, final=whole)
    text = text.removeprefix("\ufeff")
    out: dict[str, list[list[str]]] = {}
    for sep in SEPARATORS:
        try:
            records = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False))
        except csv.Error:
            continue
        out[sep] = records if whole or len(records) < 2 else records[:-1]
    return out
