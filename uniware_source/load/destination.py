"""What the loader asks of the destination itself: whether a table holds rows, the real types of a
table's columns, and the widening of a column's type (load/drift.py decides which)."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns
from dlt.common.typing import TLoaderFileFormat
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.job_client_impl import SqlJobClientBase

from uniware_source.typed_csv.kinds import arrow_type

if TYPE_CHECKING:
    from uniware_source.typed_csv.model import ColumnPlan

logger = logging.getLogger(__name__)

# the destinations whose ALTER COLUMN ... TYPE ... USING we use and test, by dlt destination type
DUCKDB = "dlt.destinations.duckdb"  # a destination_type
DIALECTS = {DUCKDB: "duckdb", "dlt.destinations.postgres": "postgres"}
# the text a date or a timestamp becomes, the same in both: 2024-01-05, and a timestamp as the
# wall clock of the report's zone, as Uniware writes it (2024-01-05 10:30:00, with its microseconds
# if it has any), not the casts' own text, which depends on settings of the session: rows loaded
# before a column turns text then read as the rows that follow (a UTC `...T05:00:00.000000Z`
# beside the files' IST `2024-01-05 10:30:00` compared and sorted wrongly)
_TEXT_OF = {
    ("duckdb", "date"): "strftime({c}, '%Y-%m-%d')",
    ("duckdb", "timestamp"): (
        "CASE WHEN epoch_us({c}) % 1000000 = 0 "
        "THEN strftime({c} AT TIME ZONE '{zone}', '%Y-%m-%d %H:%M:%S') "
        "ELSE strftime({c} AT TIME ZONE '{zone}', '%Y-%m-%d %H:%M:%S.%f') END"
    ),
    ("postgres", "date"): "to_char({c}, 'YYYY-MM-DD')",
    ("postgres", "timestamp"): (
        "CASE WHEN date_trunc('second', {c}) = {c} "
        "THEN to_char({c} AT TIME ZONE '{zone}', 'YYYY-MM-DD HH24:MI:SS') "
        "ELSE to_char({c} AT TIME ZONE '{zone}', 'YYYY-MM-DD HH24:MI:SS.US') END"
    ),
}


def destination_has_no_rows(table: str) -> bool:
    """Whether the destination of the running pipeline certainly holds no rows of `table`."""
    try:
        pipeline = dlt.current.pipeline()
        if pipeline.destination and pipeline.destination.destination_type == "dlt.destinations.filesystem":
            return _no_table_files(pipeline, table)  # no SQL needed (nor DuckDB's delta extension)
        with pipeline.sql_client() as client:
            name = client.make_qualified_table_name(table)
            try:
                rows = client.execute_sql(f"SELECT 1 FROM {name} LIMIT 1")
            except DatabaseUndefinedRelation:
                return True
    except Exception as exc:  # no pipeline, no SQL destination, unreachable: merge as usual
        logger.debug(
            "table %s: cannot tell whether the destination holds rows (%s)", table, type(exc).__name__
        )
        return False
    return not rows


def _no_table_files(pipeline: Any, table: str) -> bool:
    from dlt.common.destination.exceptions import DestinationUndefinedEntity

    with pipeline.destination_client() as client:
        try:
            return not client.list_table_files(table)
        except DestinationUndefinedEntity:  # no folder: no table
            return True


def typed_file_format(table: str) -> TLoaderFileFormat | None:
    """The file format to ask for `table`, whose rows dlt gets as our typed parquet files:
    "parquet" where the destination takes parquet but dlt would not choose it on its own, so that
    the files reach it as they are. That is PostgreSQL with the ADBC driver (adbc-driver-postgresql,
    the `postgres` extra): dlt copies parquet in through ADBC, and would otherwise rewrite every file
    as csv for COPY first, the slower half of the load. None elsewhere (DuckDB and the filesystem
    already take our files as they are), when the resource has a file format of its own (the
    user's `loader_file_format` wins), and outside a pipeline."""
    from dlt.common.data_writers.writers import resolve_best_writer_spec

    try:
        pipeline = dlt.current.pipeline()
        if pipeline.destination is None or dlt.current.resource().compute_table_schema().get("file_format"):
            return None
        caps = pipeline.destination.capabilities()
        postgres = pipeline.destination.destination_type == "dlt.destinations.postgres"
    except Exception:  # iterated outside a pipeline: dlt decides
        return None
    preferred = caps.preferred_loader_file_format
    supported: Sequence[TLoaderFileFormat] = list(caps.supported_loader_file_formats or ())
    if caps.loader_file_format_selector is not None:  # PostgreSQL's: parquet only with the driver
        preferred, supported = caps.loader_file_format_selector(
            preferred, list(supported), table_schema={"name": table}
        )
    if "parquet" not in supported:
        if postgres and importlib.util.find_spec("adbc_driver_postgresql") is None:
            logger.warning(
                "table %s: adbc-driver-postgresql is not installed, so dlt rewrites our parquet files as "
                "csv before its COPY (about 3x slower); install uniware-dlt[postgres] for the direct path",
                table,
            )
        return None
    if resolve_best_writer_spec("arrow", supported, preferred).file_format == "parquet":
        return None
    return "parquet"


def check_duckdb_names() -> None:
    """A DuckDB database file and a schema of the same name (shop.duckdb, dataset "shop", or its
    merge staging schema "shop_staging" next to shop_staging.duckdb) are one name to DuckDB,
    catalog and schema, and every load into that schema fails with "Ambiguous reference to catalog
    or schema": refuse the run before anything is fetched, naming both settings, rather than leave
    dlt a package that fails again on every later run. The schemas are named as dlt names them
    (`my-shop` becomes my_shop), and DuckDB compares names without case."""
    from pathlib import Path

    try:
        pipeline = dlt.current.pipeline()
        if pipeline.destination is None or pipeline.destination.destination_type != DUCKDB:
            return
        client = pipeline.destination_client()
        credentials: Any = client.config.credentials  # a DuckDB destination's: it has a database
        database = Path(str(credentials.database))
        sql = client.sql_client  # type: ignore[attr-defined]
        schemas = {sql.dataset_name, sql.staging_dataset_name}
    except Exception:  # outside a pipeline, or a destination it cannot describe yet: nothing to tell
        return
    clash = [name for name in schemas if name.lower() == database.stem.lower()]
    if clash:
        from uniware_source.api.errors import ConfigurationError

        raise ConfigurationError(
            f"the dataset {pipeline.dataset_name!r} makes a schema {clash[0]!r} with the name of its "
            f"DuckDB database file ({database.name}), which DuckDB cannot tell apart: choose another "
            "dataset (--dataset, or dataset_name in dlt.pipeline) or another pipeline name or "
            "database file"
        )


def merge_strategy(table: str) -> str:
    """How `table` merges on its key: "delete-insert" (dlt's default), or "upsert" where the
    destination has only that, as a Delta or Iceberg table on the filesystem destination has."""
    try:
        caps = dlt.current.pipeline().destination.capabilities()
        table_format = dlt.current.resource().compute_table_schema().get("table_format")
    except Exception:  # outside a pipeline
        return "delete-insert"
    supported = list(caps.supported_merge_strategies or ())
    if caps.merge_strategies_selector is not None:
        supported = list(
            caps.merge_strategies_selector(
                supported, table_schema={"name": table, "table_format": table_format}
            )
        )
    return "upsert" if "upsert" in supported and "delete-insert" not in supported else "delete-insert"


# BigQuery's NUMERIC(P, S) takes 0 <= S <= 9 and 1 <= P - S <= 29, its BIGNUMERIC(P, S) S <= 38
# and 1 <= P - S <= 38. dlt 1.31 maps a decimal of precision 38 and scale 1 to 9 to NUMERIC(38, S),
# and one of scale 38 to BIGNUMERIC(38, 38), both of which BigQuery refuses. The first gets 29
# digits before the point (a larger value fails its load loudly), the second one; the scale is
# never changed
BIGQUERY_NUMERIC = (9, 29)


def fit_columns(columns: TTableSchemaColumns, destination_type: str | None) -> TTableSchemaColumns:
    """`columns` (dlt's, from our Arrow schema) as `destination_type` can declare them: only
    BigQuery's decimals change, of scale 1 to 9 to NUMERIC(S + 29, S), of scale 38 to
    BIGNUMERIC(39, 38). No scale ever changes."""
    if destination_type != "dlt.destinations.bigquery":
        return columns
    most_scale, most_digits = BIGQUERY_NUMERIC
    fitted: TTableSchemaColumns = {}
    for name, column in columns.items():
        scale, precision = column.get("scale") or 0, column.get("precision")
        if column.get("data_type") == "decimal" and precision:
            if 0 < scale <= most_scale:
                precision = min(precision, scale + most_digits)
            column = {**column, "precision": max(precision, scale + 1)}
        fitted[name] = column
    return fitted


def running_destination_type() -> str | None:
    try:
        destination = dlt.current.pipeline().destination
    except Exception:  # outside a pipeline
        return None
    return destination.destination_type if destination else None


def dlt_column(col: ColumnPlan) -> dict[str, Any]:
    """The type hints dlt derives from the Arrow type of a column of `col`'s kind and scale:
    data_type, and precision / scale where it has them."""
    from dlt.common.libs.pyarrow import get_column_type_from_py_arrow

    return dict(get_column_type_from_py_arrow(arrow_type(col.kind, col.scale)))


@contextmanager
def sql_destination() -> Iterator[SqlDestination | None]:
    """The running pipeline's destination, connected, if it is one whose column types we can
    widen; None otherwise (no pipeline, a destination without SQL, one we do not know)."""
    try:
        pipeline = dlt.current.pipeline()
        dialect = DIALECTS.get(pipeline.destination.destination_type) if pipeline.destination else None
    except Exception:  # iterated outside a pipeline
        dialect = None
    if dialect is None:
        yield None
        return
    client = pipeline.destination_client()
    assert isinstance(client, SqlJobClientBase)
    with client:
        yield SqlDestination(client, dialect)


class SqlDestination:
    """One connection to a DuckDB or PostgreSQL destination: its real column types, and ALTERs."""

    def __init__(self, client: SqlJobClientBase, dialect: str) -> None:
        self.client = client
        self.sql = client.sql_client
        self.dialect = dialect

    def columns(self, table: str, *, staging: bool = False) -> TTableSchemaColumns:
        """The columns `table` has in the destination (in its staging dataset), with the dlt
        types of their real types; none if the table does not exist."""
        if staging:
            with self.sql.with_staging_dataset():
                return self.client.get_storage_table(table)[1]
        return self.client.get_storage_table(table)[1]

    def date_span(self, table: str, column: str) -> tuple[date | None, date | None]:
        name, c = self.sql.make_qualified_table_name(table), self.sql.escape_column_name(column)
        rows = self.sql.execute_sql(f"SELECT min({c}), max({c}) FROM {name}") or [(None, None)]
        return rows[0][0], rows[0][1]

    def has_values(self, table: str, column: str) -> bool:
        """Whether some row of `table` has a value in `column` (the first one found ends the scan)."""
        name, c = self.sql.make_qualified_table_name(table), self.sql.escape_column_name(column)
        return bool(self.sql.execute_sql(f"SELECT 1 FROM {name} WHERE {c} IS NOT NULL LIMIT 1"))

    def only_flags(self, table: str, column: str) -> bool:
        """Whether integer `column` holds no value other than 1 and 0 (the first other one ends the scan)."""
        name, c = self.sql.make_qualified_table_name(table), self.sql.escape_column_name(column)
        return not self.sql.execute_sql(f"SELECT 1 FROM {name} WHERE {c} NOT IN (0, 1) LIMIT 1")

    def alter(self, table: str, column: str, before: ColumnPlan, after: ColumnPlan, timezone: str) -> None:
        """Change the type of `column` from `before` to `after`, in the table and, if it has the
        column, in its staging table (dlt never changes a type there), in one transaction."""
        statements = [self._alter_sql(table, column, before, after, timezone, staging=False)]
        if column in self.columns(table, staging=True):
            statements.insert(0, self._alter_sql(table, column, before, after, timezone, staging=True))
        with self.sql.begin_transaction():
            for statement in statements:
                self.sql.execute_sql(statement)
        if self.dialect == "duckdb":
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Write DuckDB's log of changes into the database file now. DuckDB 1.5 cannot replay an
        ALTER whose USING calls a function (date -> timestamp AT TIME ZONE, strftime to text) from
        that log: a process killed between the ALTER and DuckDB's next checkpoint (before its
        load, say) left a database file that nothing could open again."""
        try:
            self.sql.execute_sql("CHECKPOINT")
        except Exception as exc:  # another transaction is open: its end will checkpoint
            logger.warning("DuckDB could not checkpoint after changing a column's type: %s", exc)

    def _alter_sql(
        self, table: str, column: str, before: ColumnPlan, after: ColumnPlan, timezone: str, *, staging: bool
    ) -> str:
        if staging:
            with self.sql.with_staging_dataset():
                name = self.sql.make_qualified_table_name(table)
        else:
            name = self.sql.make_qualified_table_name(table)
        c = self.sql.escape_column_name(column)
        hints: TColumnSchema = {"name": column, **dlt_column(after)}  # type: ignore[typeddict-item]
        table_schema: Any = {"name": table, "columns": {}}
        sql_type = self.client.type_mapper.to_destination_type(hints, table_schema)
        using = self._using(c, before, after, sql_type, timezone)
        return f"ALTER TABLE {name} ALTER COLUMN {c} TYPE {sql_type} USING {using}"

    def _using(self, c: str, before: ColumnPlan, after: ColumnPlan, sql_type: str, timezone: str) -> str:
        zone = timezone.replace("'", "''")
        if after.kind == "text" and (self.dialect, before.kind) in _TEXT_OF:
            return _TEXT_OF[self.dialect, before.kind].format(c=c, zone=zone)
        # a flag of 1 and 0 (PostgreSQL casts no bigint to boolean)
        if (before.kind, after.kind) == ("integer", "boolean"):
            return f"({c} <> 0)"
        # midnight in the report's zone, as pass 2 reads a date
        if (before.kind, after.kind) == ("date", "timestamp"):
            return f"CAST({c} AS TIMESTAMP) AT TIME ZONE '{zone}'"
        return f"CAST({c} AS {sql_type})"
