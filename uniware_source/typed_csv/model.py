"""What pass 1 decides and pass 2 follows: a plan per file (the kind of each column, the records
left out), and one schema per destination table, the union of its files' plans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from uniware_source.typed_csv.kinds import Kind, arrow_type


@dataclass(frozen=True)
class RejectedRow:
    line_number: int  # physical 1-based line where the record starts; the header is line 1
    raw_line: str  # the record as written, without its trailing line break
    reason: str


@dataclass(frozen=True)
class ColumnPlan:
    label: str  # header label as in the file (BOM stripped)
    name: str  # normalised name used in Arrow/destination
    kind: Kind
    scale: int = 0  # for decimal
    formats: tuple[str, ...] = ()  # for date/timestamp: the strptime formats that matched
    values: int = -1  # non-null values seen in the file; 0 = all null (its kind is then only a default)
    guarded: bool = False  # some values carry an Excel text guard ('2320617) to strip
    null_tokens: int = -1  # values that are null tokens (-, NA, ...) in the file; -1 = not counted
    padded: int = -1  # typed kinds: values that trimming or the guard changes; -1 = not counted
    note: str = ""  # what the file's typing of this column should tell its reader (a fallback, ...)
    int_digits: int = 0  # numbers: most digits before the point among its values (0: unknown)
    bools: bool = False  # an integer column whose every value is 1 or 0: it also loads as boolean


@dataclass(frozen=True)
class TypedFile:
    """A file's rows typed during pass 1 (onepass.py): what pass 2 would write with the file's own
    plan and these constant columns."""

    path: Path
    schema: pa.Schema  # text as string views; the required columns (a merge key) not null
    rows: int
    constants: tuple[tuple[str, str], ...]
    keys: Path | None = None  # the hashes of its key columns, row by row (load/keys.KeyHashes)


@dataclass(frozen=True)
class FilePlan:
    path: Path
    columns: tuple[ColumnPlan, ...]  # in file order
    rows: int  # data rows that will load (rejects excluded)
    rejected: tuple[RejectedRow, ...]
    skip_records: tuple[int, ...] = ()  # 0-based data record indexes excluded from loading (the rejects)
    drop_empty_records: bool = False  # the file has blank lines / all-empty records, filtered out
    typed: TypedFile | None = None  # its rows already typed, if pass 1 could (no pass 2 needed)
    retyped: str = ""  # why pass 1 could not keep the rows it typed, if it tried
    note: str = ""  # what reading the file took that its reader should know (quotes read as text)


@dataclass(frozen=True)
class TableSchema:
    """One Arrow schema for all batches of one destination table."""

    columns: tuple[ColumnPlan, ...]  # ordered union over files, kinds widened
    _cache: dict[tuple[tuple[str, ...], bool], pa.Schema] = field(
        default_factory=dict, compare=False, repr=False
    )

    def arrow_schema(self, constants: Sequence[str] = (), *, views: bool = False) -> pa.Schema:
        """Data columns, then one string column per constant (never null), in the order given. With `views`,
        text columns are `string_view`, the layout polars holds them in (no copy to convert)."""
        key = (tuple(constants), views)
        if key not in self._cache:
            fields = [pa.field(c.name, arrow_type(c.kind, c.scale), nullable=True) for c in self.columns]
            # a constant is in every row: declared required, as dlt declares a merge key column
            fields += [pa.field(name, pa.string(), nullable=False) for name in key[0]]
            names = [f.name for f in fields]
            if len(set(names)) != len(names):
                raise ValueError(f"constant column names clash with data columns: {sorted(key[0])}")
            schema = pa.schema(fields)
            self._cache[key] = string_views(schema) if views else schema
        return self._cache[key]


def string_views(schema: pa.Schema) -> pa.Schema:
    """`schema` with its `string` fields as `string_view`."""
    return pa.schema([f.with_type(pa.string_view()) if f.type == pa.string() else f for f in schema])


def plain_strings(schema: pa.Schema) -> pa.Schema:
    """`schema` with its `string_view` fields as `string`: what dlt understands."""
    return pa.schema([f.with_type(pa.string()) if f.type == pa.string_view() else f for f in schema])
