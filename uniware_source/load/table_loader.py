"""From typed files to dlt: one TableLoader per destination table.

A loader hands dlt a table's typed parquet files (typed_files.py) with the table's write
disposition, and every rejected row to `rejected_rows`. For tables merged on a natural key it
writes a 64-bit hash of every key it yields to a temporary file (8 bytes a row, on disk). When
no key repeats within the load, dlt is told the staged rows are already unique,
which spares the destination a window function over the whole load (in DuckDB, that function
alone needed memory growing with the load: 1.6 GB for a million rows). When a key repeats, dlt
deduplicates as usual, keeping the row with the latest `updated` if there is one.

A table's first load skips the merge altogether: when the destination has no rows in the table yet
(its schema never saw data, and the destination confirms it) and no key repeats, the rows are
appended straight into it. Merging into an empty table gives the same rows, at the cost of a second
copy of all of them (DuckDB: copy into the staging table, then insert from it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.schema import Schema
from dlt.common.schema.utils import has_table_seen_data

from uniware_source.api.errors import UniwareError
from uniware_source.jobs import ExportJob, Outcome
from uniware_source.load.audit import JOB_CODE_COLUMN
from uniware_source.load.destination import (
    DUCKDB,
    destination_has_no_rows,
    merge_strategy,
    running_destination_type,
    typed_file_format,
)
from uniware_source.load.keys import KeyHashes, KeyTracker
from uniware_source.load.partitions import TABLE_FORMATS, partition_column, table_format, with_partition
from uniware_source.load.quarantine import quarantine_items, quarantine_table
from uniware_source.load.rejected import Rejected, rejected_items, without_empty_keys
from uniware_source.load.typed_files import (
    LABEL_HINT,
    RowGroups,
    SharedFile,
    held_or_moved,
    hints_items,
    keep_last,
    write_job_file,
)
from uniware_source.load.widening import widen_for
from uniware_source.process_settings import duckdb_defaults_in_load, fit_duckdb_threads, row_footprint
from uniware_source.reports import ReportSpec, catalogue_labels
from uniware_source.settings import SourceSettings
from uniware_source.typed_csv.chunks import Arrival
from uniware_source.typed_csv.explain import FileNotes, decision_table, mistyped_overrides
from uniware_source.typed_csv.layout import laid_out
from uniware_source.typed_csv.model import TypedFile
from uniware_source.typed_csv.names import label_keys
from uniware_source.typed_csv.onepass import OnePass
from uniware_source.typed_csv.reader import (
    FilePlan,
    TableSchema,
    plain_strings,
    plan_file,
    read_batches,
    unify,
)
from uniware_source.typed_csv.records import header_end

logger = logging.getLogger(__name__)

DEDUPLICATED_HINT = "x-stage-data-deduplicated"  # dlt's merge: the staged rows need no dedup


class TableLoader:
    """Loads the typed files of one destination table.

    `mode` is how rows replace earlier ones: "key" merges on the report's natural key, "tag"
    replaces the rows that carry the same value of `tag_column` (a job, or a window), "replace"
    replaces the whole table.
    """

    def __init__(
        self,
        settings: SourceSettings,
        report: ReportSpec,
        table: str,
        *,
        tracker: KeyTracker,
        run_started_at: datetime,
        tag_column: str = JOB_CODE_COLUMN,
        replace: bool = False,
    ) -> None:
        self.settings = settings
        self.report = report
        self.schema: Schema = dlt.current.source_schema()
        self.naming = self.schema.naming
        # as dlt names the table: the schema and the destination know it only by that name
        self.table = self.naming.normalize_table_identifier(table)
        self.tracker = tracker
        self.started_at = run_started_at
        self.key = [self.naming.normalize_identifier(label) for label in report.key]
        self.job_code_column = self.naming.normalize_identifier(JOB_CODE_COLUMN)
        self.tag_column = self.naming.normalize_identifier(tag_column)
        self.mode = "replace" if replace else "key" if self.key else "tag"
        self.file_format = typed_file_format(self.table)  # "parquet" for PostgreSQL with ADBC
        self._duckdb = running_destination_type() == DUCKDB
        # whole row groups at any width, for DuckDB's defaults (load/typed_files.py)
        self._whole_groups = self._duckdb and duckdb_defaults_in_load()
        self.strategy = merge_strategy(self.table)  # "upsert" for Delta and Iceberg tables
        # the IST day of the report's main timestamp, for tables kept as Delta or Iceberg files
        self.partition = (
            partition_column(report.name, self.naming) if table_format() in TABLE_FORMATS else None
        )
        self.hints = self._hints(deduplicated=True)
        self._file_schema: pa.Schema | None = None  # of the typed files: text as string views
        self._empty_destination: bool | None = None
        self._imported = False  # some rows handed to dlt (after the table's columns and hints)
        self._shared = SharedFile(self.table, self._whole_groups)  # small jobs' rows, to import together
        self._held: list[tuple[Path, int]] = []  # files held back until every key is known (upsert)
        self._quarantine = quarantine_table(self.table, self.naming)
        self._quarantined: set[str] = set()  # job codes whose rows go to the quarantine table
        self._names: dict[str, str] | None = None  # label key -> column name, of every file so far
        self._names_lock = threading.Lock()  # files are planned on a worker thread
        self._notes = FileNotes(self.table, logger)  # each kind of note warned once a run

    def _hints(self, *, deduplicated: bool, dedup_sort: str | None = None, append: bool = False) -> Any:
        """The table's hints. `append` keeps the merge keys (later runs merge on them) but loads
        this run's rows straight into the table: only for a table with no rows yet."""
        partition = [{"name": self.partition[1], "partition": True}] if self.partition else []
        if self.mode == "replace":
            return dlt.mark.make_hints(
                table_name=self.table,
                write_disposition="replace",
                file_format=self.file_format,
                columns=partition or None,
            )
        strategy = self.strategy if self.mode == "key" else "delete-insert"
        merge: Any = "append" if append else {"disposition": "merge", "strategy": strategy}
        if self.mode == "tag":
            return dlt.mark.make_hints(
                table_name=self.table,
                write_disposition=merge,
                merge_key=self.tag_column,
                file_format=self.file_format,
                columns=partition or None,
            )
        columns: list[dict[str, Any]] = [{"name": name, "nullable": False} for name in self.key] + partition
        if dedup_sort:
            columns.append({"name": dedup_sort, "dedup_sort": "desc"})
        # the raw table hint, not the merge dict's `deduplicated`: dlt 1.31 keeps only true values
        # of that dict (`if value := md_dict.get(key)`), so a table once marked deduplicated could
        # never be told that a later load is not, and its repeated keys would stay
        return dlt.mark.make_hints(
            table_name=self.table,
            write_disposition=merge,
            primary_key=self.key,
            columns=columns,
            file_format=self.file_format,
            additional_table_hints={DEDUPLICATED_HINT: deduplicated},
        )

    # -- stages ---------------------------------------------------------------------------------
    def plan(self, job: ExportJob, path: Path, arrival: Arrival | None = None) -> FilePlan:
        """Pass 1 over the job's file; with `arrival`, while the file downloads. What the typing of
        a column has to tell (a fallback to text, dates in a timestamp column, a repeated label)
        is a warning naming the job."""
        plan = plan_file(
            path,
            normalize=self.naming.normalize_identifier,
            hints=self.report.hints,
            timezone=self.settings.timezone,
            arrival=arrival,
            onepass=self._onepass(job, path),
            known=self._known_names(),
            overrides=self.report.overrides,
        )
        self._learn_names(plan)
        self._notes.tell(job.job_code, plan)
        if plan.note:  # how the file was read: in the job's audit row too
            logger.warning("job %s, table %s: %s", job.job_code, self.table, plan.note)
            job.message = f"{job.message}; {plan.note}" if job.message else plan.note
        if plan.rows and self._duckdb:
            # the command's DuckDB threads follow the length and width of the files it loads
            data_bytes = path.stat().st_size - header_end(path)
            fit_duckdb_threads(row_footprint(data_bytes, plan.rows, len(plan.columns)), plan.rows)
        return plan

    def _known_names(self) -> dict[str, str]:
        """The column name of each label the table has had, in earlier runs (LABEL_HINT in the
        dlt schema) and in this run's files planned so far."""
        with self._names_lock:
            if self._names is None:
                columns: dict[str, Any] = self.schema.tables.get(self.table, {}).get("columns", {})
                self._names = {c[LABEL_HINT]: name for name, c in columns.items() if c.get(LABEL_HINT)}
            return dict(self._names)

    def _learn_names(self, plan: FilePlan) -> None:
        keys = label_keys([column.label for column in plan.columns])
        with self._names_lock:
            assert self._names is not None
            for key, column in zip(keys, plan.columns, strict=True):
                self._names.setdefault(key, column.name)

    def _labels(self) -> dict[str, str]:
        """Column name -> label key, for the schema (LABEL_HINT)."""
        with self._names_lock:
            return {name: key for key, name in (self._names or {}).items()}

    def _onepass(self, job: ExportJob, path: Path) -> OnePass | None:
        """The typing of the job's rows during pass 1 (typed_csv/onepass.py), into the file that
        pass 2 would write; not for a table kept as Delta or Iceberg files (a partition column)."""
        if self.partition is not None:
            return None
        return OnePass(
            path.with_name(path.name + ".typed.parquet"),
            partial(RowGroups, whole_groups=self._whole_groups),
            constants=self._constants(job),
            required=self.key if self.mode == "key" else (),
            timezone=self.settings.timezone,
            open_keys=KeyHashes if self.mode == "key" else None,
        )

    def _constants(self, job: ExportJob) -> dict[str, str]:
        """The columns every row of the job gets: its job code, and its tags (a window)."""
        return {self.job_code_column: job.job_code, **job.row_tags}

    def table_schema(self, jobs: Sequence[ExportJob]) -> TableSchema:
        """One Arrow schema for every batch of the table, also agreeing with what already landed:
        the destination's columns widened first where a file's values need it (load/widening.py),
        or the job set aside for the quarantine table. A file without the key column cannot be
        merged, nor one with a column named as one the connector adds: its job ends INVALID_FILE,
        alone."""
        for job in jobs:
            self._check_key_columns(job)
            self._check_constant_columns(job)
        ready = [job for job in jobs if job.outcome is None and job.plan is not None]
        widened = widen_for(self.schema, self.table, ready, self.settings.timezone, self._quarantine)
        self._quarantined = widened.quarantined
        if widened.exists is False:  # no table, no rows: finish() need not ask again
            self._empty_destination = not has_table_seen_data(self.schema.tables.get(self.table, {}))
        plans = [job.plan for job in ready if job.plan and job.job_code not in widened.quarantined]
        schema = unify(plans, widened.columns)
        for mistyped in mistyped_overrides(plans, self.report.overrides, catalogue_labels()):
            logger.warning("table %s: %s", self.table, mistyped)
        if logger.isEnabledFor(logging.INFO):
            logger.info(decision_table(self.table, schema, plans, self.report.hints, self.report.overrides))
        return schema

    def _check_key_columns(self, job: ExportJob) -> None:
        assert job.plan is not None
        names = {column.name for column in job.plan.columns}
        missing = [label for label, name in zip(self.report.key, self.key, strict=True) if name not in names]
        if missing and job.plan.columns:
            job.finish(
                Outcome.INVALID_FILE,
                f"job {job.job_code}: the file has no {', '.join(map(repr, missing))} column, the key of "
                f"{self.report.name!r}; its columns are {', '.join(c.label for c in job.plan.columns)}",
            )

    def _check_constant_columns(self, job: ExportJob) -> None:
        """A file column named as a column every row gets (the job code, a window tag, dlt's own
        `_dlt_id`, `_dlt_load_id`, ...) would be overwritten, or would overwrite it: that job ends
        INVALID_FILE, before its columns join the table's."""
        assert job.plan is not None
        if job.outcome is not None:
            return
        ours = set(self._constants(job))
        clash = [c.label for c in job.plan.columns if c.name in ours or c.name.startswith("_dlt")]
        if clash:
            job.finish(
                Outcome.INVALID_FILE,
                f"job {job.job_code}: the file's column(s) {', '.join(map(repr, clash))} clash with the "
                f"column(s) the connector adds to every row ({', '.join(sorted(ours))}) or dlt's "
                "(_dlt_...); none of its rows load",
            )

    def load(self, job: ExportJob, table_schema: TableSchema) -> Iterator[Any]:
        """Yield the job's rows and rejected rows; the job ends LOADED or INVALID_FILE.

        The typed rows go to a parquet file of our own, which dlt imports as it is: all of the
        file's rows load, or (when the file turns out unreadable half-way) none of them. A small
        job's rows join a file shared with the table's other small jobs (one load job for many
        small exports, as a scheduled run has), imported by finish() or once it is large."""
        if job.outcome is not None or job.plan is None or job.local_file is None:
            return
        rejected: list[Rejected] = [(r.line_number, r.raw_line, r.reason) for r in job.plan.rejected]
        own = job.local_file.with_name(job.local_file.name + ".parquet")
        try:
            if job.job_code in self._quarantined:
                yield from self._load_quarantined(job)
            else:
                yield from self._load_rows(job, table_schema, own, rejected)
        finally:
            job.local_file.unlink(missing_ok=True)
            own.unlink(missing_ok=True)  # dlt holds a hard link (or its own copy) by now
            if job.plan.typed is not None:
                job.plan.typed.path.unlink(missing_ok=True)
                if job.plan.typed.keys is not None:
                    job.plan.typed.keys.unlink(missing_ok=True)
        job.rows_rejected = len(rejected)
        yield from rejected_items(job.job_code, self.table, self.started_at, rejected)

    def _load_rows(
        self, job: ExportJob, table_schema: TableSchema, own: Path, rejected: list[Rejected]
    ) -> Iterator[Any]:
        assert job.plan is not None and job.local_file is not None
        rows, held = 0, list[pa.Table]()
        constants = self._constants(job)
        typed = job.plan.typed
        try:
            layout = table_schema.arrow_schema(list(constants), views=True)
            if typed is not None and self._typed_fits(typed, layout, constants):
                logger.debug("job %s: rows typed while the file downloaded (one pass)", job.job_code)
                if [(f.name, f.type) for f in layout] == [(f.name, f.type) for f in typed.schema]:
                    rows, held = self._typed_rows(typed, own)
                else:  # the table has columns the file has not, or in another order
                    batches = laid_out(typed.path, layout, self.settings.batch_size)
                    rows, held = write_job_file(
                        batches, own, lambda batch: self._keyed(batch, rejected), self._whole_groups
                    )
            elif job.plan.columns:
                if typed is not None:
                    logger.info("job %s: typed again: the table's types are not its file's", job.job_code)
                elif job.plan.retyped:
                    logger.info("job %s: typed again: %s", job.job_code, job.plan.retyped)
                batches = read_batches(
                    job.local_file,
                    job.plan,
                    table_schema,
                    timezone=self.settings.timezone,
                    batch_size=self.settings.batch_size,
                    constants=constants,
                    views=True,
                )
                rows, held = write_job_file(
                    batches, own, lambda batch: self._keyed(batch, rejected), self._whole_groups
                )
        except Exception as exc:  # this job's file only: the other jobs still load
            if not isinstance(exc, UniwareError):
                logger.exception("job %s: unexpected failure while reading its file", job.job_code)
            message = f"job {job.job_code}: {exc if isinstance(exc, UniwareError) else repr(exc)}"
            job.finish(Outcome.INVALID_FILE, f"{message}; none of its rows load")
            return
        if held:
            full = self._shared.add(held, job.local_file.parent)
            if full is not None:
                yield from self._import_shared()
        elif rows:
            yield from self._import(own, rows)
        job.rows_loaded = rows
        job.finish(Outcome.LOADED, None)

    def _typed_fits(self, typed: TypedFile, layout: pa.Schema, constants: dict[str, str]) -> bool:
        """Whether the job's rows typed in pass 1 are what pass 2 would write now: each of the
        file's columns has the same type in the table (the other files of the table and the
        destination agree), and the constant columns are the same. Pass 2 fills a table column
        the file has not with nulls, and orders the columns as the table does: so does _laid_out."""
        if self.partition is not None or typed.constants != tuple(constants.items()):
            return False
        table = {f.name: f.type for f in layout}
        return all(table.get(f.name) == f.type for f in typed.schema)

    def _typed_rows(self, typed: TypedFile, own: Path) -> tuple[int, list[pa.Table]]:
        """The rows typed in pass 1, as write_job_file gives a job's rows (held in memory, or moved
        to `own`); their keys tracked, from the hashes pass 1 wrote of them if it did."""
        import pyarrow.parquet as pq

        if self._file_schema is None:
            self._file_schema = typed.schema
        if self.mode == "key":
            if typed.keys is not None:
                self.tracker.adopt(self.table, typed.keys)
            else:
                self.tracker.add(self.table, pq.read_table(typed.path, columns=self.key))
        return typed.rows, held_or_moved(typed.path, typed.schema, own)

    def _load_quarantined(self, job: ExportJob) -> Iterator[Any]:
        """All of the job's rows, as text, into the quarantine table (load/quarantine.py)."""
        try:
            rows = yield from quarantine_items(
                job, self._quarantine, self.settings, self.tag_column, self.job_code_column
            )
        except Exception as exc:  # as for the table itself: this job's file only
            logger.exception("job %s: unexpected failure while reading its file", job.job_code)
            job.finish(Outcome.INVALID_FILE, f"job {job.job_code}: {exc!r}; none of its rows load")
            return
        job.rows_loaded = rows
        job.finish(Outcome.QUARANTINED, None)

    def finish(self) -> Iterator[Any]:
        """The shared file of small jobs, then the table's definitive hints, decided once every
        key of the run is known: an empty batch that carries them (dlt keeps the last hints a
        table received)."""
        self._notes.summarize()
        yield from self._import_shared()
        yield from self._import_held()
        if not self._imported:  # no rows reached dlt (none, or their jobs failed): change nothing
            return
        yield from hints_items(self.table, self._final_hints())

    def _final_hints(self) -> Any:
        repeated = self.tracker.repeated(self.table) if self.mode == "key" else 0
        if self.mode == "replace":
            return self.hints
        if not repeated and self._destination_empty():
            logger.info("table %s: first load, rows go straight into the table", self.table)
            return self._hints(deduplicated=True, append=True)
        if not repeated:
            return self.hints
        sort, why_not = self._latest_column()
        self._tell_repeated(repeated, "the destination keeps one row per key", sort, why_not=why_not)
        return self._hints(deduplicated=False, dedup_sort=sort)

    def _tell_repeated(
        self, repeated: int, outcome: str, latest: str | None, otherwise: str = "", why_not: str = ""
    ) -> None:
        """Rows of this load that share a key with another. The row that stays is the latest by
        `latest` (INFO: an order exported in two windows is the usual case), else as `otherwise`
        says; with neither, the file gives no way to tell (WARNING: a SQL merge keeps any one,
        and `why_not` says why the Updated column cannot tell)."""
        key = ", ".join(self.report.key)
        said = (
            f"table {self.table}: {repeated} row(s) of this load repeat the key ({key}) of another; {outcome}"
        )
        kept = f"the latest by {latest}" if latest else otherwise
        if kept:
            logger.info("%s: %s", said, kept)
        else:
            logger.warning(
                "%s, and %s any one of them may stay", said, why_not or "without an Updated column"
            )

    # -- helpers --------------------------------------------------------------------------------
    def _import(self, path: Path, rows: int) -> Iterator[Any]:
        """Hand the typed file `path` to dlt, after the table's columns and hints (once)."""
        assert self._file_schema is not None
        if not self._imported:  # the table's columns, from the Arrow schema, and its hints
            self._imported = True
            yield from hints_items(self.table, self.hints, plain_strings(self._file_schema), self._labels())
        if self.mode == "key" and self.strategy == "upsert":  # held: its keys may come again
            held = path.with_name(f"{path.name}.held")
            path.rename(held)
            self._held.append((held, rows))
            return
        # the table name only: dlt applies these hints to the resource itself, and every table
        # variant created later starts from those; finish() has the last word
        import_hints = dlt.mark.make_hints(table_name=self.table)
        yield dlt.mark.with_file_import(str(path), "parquet", rows, hints=import_hints)

    def _import_held(self) -> Iterator[Any]:
        """The files held back for an upsert: as they are if no key repeats, else one row per key
        (the latest by `Updated`, or the last exported), as dlt's merge does elsewhere."""
        held, self._held = self._held, []
        files = held
        try:
            if held and (repeated := self.tracker.repeated(self.table)):
                out = held[0][0].with_name(f"{self.table}-one-row-per-key.parquet")
                latest, _ = self._latest_column()
                files = [(out, keep_last([path for path, _ in held], self.key, latest, out))]
                self._tell_repeated(repeated, "one row per key is upserted", latest, "the last exported")
            for path, rows in files:
                import_hints = dlt.mark.make_hints(table_name=self.table)
                yield dlt.mark.with_file_import(str(path), "parquet", rows, hints=import_hints)
        finally:
            for path, _ in [*held, *files]:
                path.unlink(missing_ok=True)

    def _latest_column(self) -> tuple[str | None, str]:
        """The column that tells the latest of rows sharing a key: Updated, where it holds times.
        An Updated column loaded as text (a value that is no time) would order rows by their
        spelling ('2024-03-10' after '20-03-2024'): none then, and the reason why."""
        assert self._file_schema is not None
        updated = self.naming.normalize_identifier("Updated")
        if updated not in self._file_schema.names:
            return None, ""
        kind = self._file_schema.field(updated).type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            return updated, ""
        return None, f"with its column {updated} loaded as {kind} (a value in it is no time),"

    def _import_shared(self) -> Iterator[Any]:
        for path, rows in self._shared.close():
            try:
                yield from self._import(path, rows)
            finally:
                path.unlink(missing_ok=True)

    def _destination_empty(self) -> bool:
        """True only if the table certainly has no rows in the destination: its schema never saw
        data and the destination says so. Anything unsure (no pipeline, no SQL client, an error)
        is False, and the rows merge as usual."""
        if self._empty_destination is None:
            self._empty_destination = not has_table_seen_data(
                self.schema.tables.get(self.table, {})
            ) and destination_has_no_rows(self.table)
        return self._empty_destination

    def _keyed(self, batch: pa.Table, rejected: list[Rejected]) -> pa.Table:
        """Rows without their key cannot be merged: rejected, visibly. The rest are tracked, and
        their key columns declared non-null (as the destination has them)."""
        if self.partition is not None:
            batch = with_partition(batch, *self.partition)
        if self.mode != "key":
            if self._file_schema is None:
                self._file_schema = batch.schema
            return batch
        batch = without_empty_keys(batch, self.key, self.report.key, self.job_code_column, rejected)
        if self._file_schema is None:
            fields = [f.with_nullable(False) if f.name in self.key else f for f in batch.schema]
            self._file_schema = pa.schema(fields)
        batch = batch.cast(self._file_schema)
        self.tracker.add(self.table, batch.select(self.key))
        return batch
