"""Pass 2 run during pass 1, on the kinds the file has shown so far: most files then need no
second pass.

Pass 1 decides a column's kind only at the end of the file, and pass 2 converts with that kind.
But a column's kind rarely changes after the first chunk, least of all where the catalogue names
it. So after each chunk is profiled, its records are converted right away, on a thread of its
own, with the kinds the counts so far give (`plan._columns` of the file as if it ended there:
every value seen so far fits them, this chunk's included), and written to a typed file of the
table's layout. At the end of the file:
- if no column's type (kind, and scale) ever changed, the typed file is exactly what pass 2
  would write with the file's own plan, and the plan carries it (`FilePlan.typed`);
- a column with no value so far (its kind only a default) that gets its first values may change
  type: the rows typed so far hold only nulls for it, so they are copied into a new typed file with
  the new type (while the rows copied in all stay within COPIES times the rows typed so far);
- so may a column of numbers that widens exactly (`exact_widening`): whole numbers that meet a
  decimal, or a decimal that meets more places. Its values typed so far are cast in the copy, and
  a cast of a value already exact at the narrower type gives the value pass 2 parses from its text
  at the wider one (12 is 12.00, 1.5 at scale 1 is 1.50 at scale 2); a cast that would not fit
  fails the copy, and pass 2 reads the CSV. Not for a required column, whose hashes were taken of
  the narrower values;
- otherwise it is deleted as soon as a type changes, and pass 2 reads the CSV as before.

With `open_keys` (a table merged on a key), the key columns of each typed chunk also go, on the same
thread, to a file of their hashes (`TypedFile.keys`), so that the loader need not read them back.

The loader uses the typed file only when the table's schema is the file's own (one file, or files
typed alike, and a destination that agrees), with the same constant columns: the conversion is
then the same, value for value, as pass 2's. A chunk whose conversion fails for any reason, a file
with ragged records (pass 2 leaves them out), and a required column (a merge key) with a null all
give the typed file up; pass 2 then does what it always did, and reports what it always reported.

Why values match: a chunk is converted with kinds that all of its values fit (its counts are in
the provisional plan), with the same expressions pass 2 uses (convert.convert_expr). A date
column's formats only grow; a value has the shape of exactly one format, so it parses the same
with more of them. Where a count that only chooses a cheaper expression differs (null tokens,
padding, Excel guards: none so far means none in this chunk), both expressions give the same value.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import polars as pl
import pyarrow as pa

from uniware_source.typed_csv.convert import table_exprs
from uniware_source.typed_csv.frames import filtered
from uniware_source.typed_csv.layout import exact_widening, laid_out, types_of
from uniware_source.typed_csv.model import ColumnPlan, FilePlan, TableSchema, TypedFile

logger = logging.getLogger(__name__)

# how many profiled chunks may wait for their conversion (on the one-pass thread, one at a time)
# while pass 1 goes on: a chunk's raw frame each. With one, pass 1 waited 0.6 s of a 4.2 s file
CONVERTING = 2

# how many rows a file's copies for new types may read and write in all, as a multiple of the rows
# typed so far: a copy of 1M typed rows of 21 columns took 1.1-1.4 CPU-s, a third of pass 2's
# reading of the CSV, so copies within three times the rows cost at most what pass 2 would have
# after them (as three copies at most did before), and many columns getting their first values
# early cost little
COPIES = 3


class TypedWriter(Protocol):
    def write(self, batch: pa.Table) -> None: ...
    def close(self, complete: bool = True) -> None: ...


class OnePass:
    """The typed file of one job, written while pass 1 reads the CSV (see the module's docstring).

    `open_writer(path, schema)` opens the file; `constants` are the columns every row gets (the
    job code, tags), `required` the columns that must have a value in every row (a merge key);
    `open_keys(path)`, if given, opens the file their hashes go to (load/keys.KeyHashes)."""

    def __init__(
        self,
        out: Path,
        open_writer: Callable[[Path, pa.Schema], TypedWriter],
        *,
        constants: Mapping[str, str],
        required: Collection[str] = (),
        timezone: str = "Asia/Kolkata",
        open_keys: Callable[[Path], TypedWriter] | None = None,
    ) -> None:
        self.out = out
        self._open_writer = open_writer
        self._constants = dict(constants)
        self._required = tuple(required)
        self._timezone = timezone
        self._types: tuple[tuple[str, str, int], ...] | None = None
        self._schema: pa.Schema | None = None
        self._writer: TypedWriter | None = None
        self._open_keys = open_keys if required else None
        self._keys: TypedWriter | None = None
        self._rows = 0
        self._pending: deque[Future[int]] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self.given_up: str | None = None  # why, once the typed file is given up
        self._valueless: set[str] = set()  # the columns without a value so far
        self._copied = 0  # rows copied for new types (_retype)

    def add(
        self,
        path: Path,
        df: pl.DataFrame,
        columns: Callable[[], tuple[ColumnPlan, ...]],
        empty: bool,
        in_span: Collection[str] = (),
    ) -> None:
        """Convert and write one profiled chunk (its raw columns c0..cN) with the kinds `columns()`
        gives after it; `empty`: it holds all-empty records, which are left out as pass 2 does;
        `in_span`: its raw columns whose date-like values pass 1 found all in 1970-2100
        (convert.table_exprs)."""
        if self.given_up is not None:
            return
        try:
            self._add(df, columns(), empty, in_span)
        except Exception as exc:  # pass 1 and pass 2 meet the file as they always did, and report it
            self.give_up(_why(exc))

    def _add(
        self, df: pl.DataFrame, plan: tuple[ColumnPlan, ...], empty: bool, in_span: Collection[str]
    ) -> None:
        types = types_of(plan)
        if self._types is None:
            self._start(plan, types)
        elif types != self._types:
            changed = [a[0] for a, b in zip(self._types, types, strict=True) if a != b]
            if not self._retype(plan, types, changed):
                self.give_up(f"the type of {', '.join(changed)} changed after the first rows")
                return
        self._valueless = {c.name for c in plan if c.values == 0}
        if empty:
            df = filtered(df, 0, len(plan), (), True)
        self._wait(CONVERTING - 1)  # a bounded queue of chunks to convert: memory stays bounded
        if self.given_up is None:
            exprs = table_exprs(plan, TableSchema(plan), self._constants, self._timezone, in_span)
            assert self._pool is not None
            self._pending.append(self._pool.submit(self._write, df, exprs))

    def _start(self, plan: tuple[ColumnPlan, ...], types: tuple[tuple[str, str, int], ...]) -> None:
        self._types = types
        self._schema = self._layout(plan)
        if any(name not in self._schema.names for name in self._required):
            self.give_up("a required column is missing")
            return
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="uniware-onepass")

    def _retype(
        self, plan: tuple[ColumnPlan, ...], types: tuple[tuple[str, str, int], ...], changed: list[str]
    ) -> bool:
        """Go on with the new types when every column whose type changed had no value in the rows
        typed so far (a sparse column's first values, after its kind was only a default), or
        widens exactly (exact_widening): those rows are copied into a new typed file with the new
        types, the columns' nulls as nulls of the new type, their numbers cast, while the rows
        copied in all stay within COPIES times the rows typed so far; False when that cannot be
        done."""
        before = {t[0]: t for t in self._types or ()}
        after = {t[0]: t for t in types}
        if not all(
            name in self._valueless
            or (name not in self._required and exact_widening(before[name], after[name]))
            for name in changed
        ):
            return False
        self._wait()
        if self.given_up is not None or self._copied + self._rows > COPIES * self._rows:
            return False
        old, self._writer = self._writer, None
        schema = self._layout(plan)
        if old is not None:
            old.close(complete=True)
            moved = self.out.with_name(self.out.name + ".retype")
            self.out.rename(moved)
            try:
                self._writer = self._open_writer(self.out, schema)
                for batch in laid_out(moved, schema):  # the changed columns' nulls cast to their new type
                    self._writer.write(batch)
            finally:
                moved.unlink(missing_ok=True)
        self._types, self._schema = types, schema
        self._copied += self._rows
        logger.debug("%s: %s typed anew after their first values", self.out.name, ", ".join(changed))
        return True

    def _layout(self, plan: tuple[ColumnPlan, ...]) -> pa.Schema:
        schema = TableSchema(plan).arrow_schema(list(self._constants), views=True)
        return pa.schema([f.with_nullable(False) if f.name in self._required else f for f in schema])

    def _write(self, df: pl.DataFrame, exprs: list[pl.Expr]) -> int:
        assert self._schema is not None
        typed = df.lazy().select(exprs).collect()
        if self._required and any(typed.get_column(name).null_count() for name in self._required):
            raise _GiveUp("a required column has an empty value")
        batch = typed.to_arrow(compat_level=pl.CompatLevel.newest()).cast(self._schema)
        if self._writer is None:
            self._writer = self._open_writer(self.out, self._schema)
        self._writer.write(batch)
        if self._open_keys is not None:
            if self._keys is None:
                self._keys = self._open_keys(self._keys_path)
            self._keys.write(batch.select(list(self._required)))
        return batch.num_rows

    @property
    def _keys_path(self) -> Path:
        return self.out.with_name(self.out.name + ".keys")

    def _wait(self, keep: int = 0) -> None:
        """The chunks converting done, all but the last `keep`: their rows counted, or the typed
        file given up."""
        while len(self._pending) > keep and self.given_up is None:
            pending = self._pending.popleft()
            try:
                self._rows += pending.result()
            except _GiveUp as exc:
                self.give_up(str(exc))
            except Exception as exc:  # pass 2 will meet it again, and report it
                self.give_up(_why(exc))

    def give_up(self, why: str) -> None:
        """Delete the typed file: pass 2 reads the CSV."""
        if self.given_up is None:
            self.given_up = why
            logger.debug("%s: typed in a second pass: %s", self.out.name, why)
        self._close(complete=False)

    def finish(self, plan: FilePlan) -> TypedFile | None:
        """The typed file, if it holds exactly what pass 2 would write for `plan`; else None."""
        self._wait()
        if self.given_up is None:
            if plan.skip_records:
                self.give_up("the file has ragged records, which pass 2 leaves out")
            elif self._types is None or self._rows == 0:
                self.give_up("the file has no rows")
            elif self._types != types_of(plan.columns):
                self.give_up("a column's type changed at the end of the file")
            elif self._rows != plan.rows or self._writer is None:
                self.give_up(f"{self._rows} rows typed, the plan has {plan.rows}")
        if self.given_up is not None:
            return None
        self._close(complete=True)
        assert self._schema is not None
        keys = self._keys_path if self._open_keys is not None else None
        return TypedFile(self.out, self._schema, self._rows, tuple(self._constants.items()), keys)

    def _close(self, complete: bool) -> None:
        pending, self._pending = self._pending, deque()
        for future in pending:
            future.cancel()
            if not future.cancelled():
                future.exception()  # let it end; its result no longer counts
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        writer, self._writer = self._writer, None
        keys, self._keys = self._keys, None
        try:
            if writer is not None:
                writer.close(complete=complete)
        finally:
            try:
                if keys is not None:
                    keys.close(complete=complete)
            finally:
                if not complete:
                    self.out.unlink(missing_ok=True)
                    self._keys_path.unlink(missing_ok=True)


class _GiveUp(Exception):
    pass


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
