"""What the loader asks the destination itself."""

from __future__ import annotations

import logging

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

logger = logging.getLogger(__name__)


def destination_has_no_rows(table: str) -> bool:
    """Whether the destination of the running pipeline certainly holds no rows of `table`."""
    try:
        pipeline = dlt.current.pipeline()
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
