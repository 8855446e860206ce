"""One Uniware tenant per dataset.

The reports' keys (`Sale Order Item Code`, invoice codes) and even job codes repeat from one
tenant to another: two tenants loaded into one dataset would replace each other's rows, merged
on the same keys, and the job ledger would hand one tenant's pending jobs to the other's runs. So
a run whose jobs loaded writes its tenant's address into `_uniware_tenant`, in the same load as
its rows (`tenant_item`: a run that reached no tenant, with a mistyped address or a refused
password, marks nothing), and a run of another tenant into a dataset so marked is refused before
it asks Uniware anything (`check_dataset`). Only a destination that speaks SQL is asked; on
others, keep tenants apart by dataset yourself.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from uniware_source.api.errors import ConfigurationError

logger = logging.getLogger(__name__)

TENANT_TABLE = "_uniware_tenant"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def tenant_of(base_url: str) -> str:
    """The tenant's address as the mark holds it: its host, lowercased, with the port where it is
    not the scheme's default."""
    url = urlsplit(base_url)
    host = (url.hostname or "").lower()
    return host if url.port in (None, _DEFAULT_PORTS.get(url.scheme)) else f"{host}:{url.port}"


def dataset_tenants(pipeline: Any) -> set[str]:
    """The tenants whose data the pipeline's dataset holds, by its mark (none: not marked yet, or
    a destination that speaks no SQL)."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(TENANT_TABLE)
            try:
                return {str(row[0]) for row in client.execute_sql(f"SELECT tenant FROM {table}") or []}
            except DatabaseUndefinedRelation:
                return set()
    except Exception as exc:  # no SQL to ask (files; a Delta table's reader not installed): no mark
        logger.debug("the dataset's tenant mark cannot be read (%s)", type(exc).__name__)
        return set()


def check_dataset(pipeline: Any, base_url: str) -> None:
    """ConfigurationError if the pipeline's dataset holds the data of a tenant other than the one
    at `base_url` (nothing if it holds none yet, or its destination speaks no SQL)."""
    tenant = tenant_of(base_url)
    found = dataset_tenants(pipeline)
    if found and tenant not in found:
        holder = ", ".join(sorted(found))
        raise ConfigurationError(
            f"dataset {pipeline.dataset_name!r} holds the data of Uniware tenant {holder}, not {tenant}: "
            "their keys repeat across tenants, so its rows would be replaced; load each tenant into a "
            f"dataset of its own (if this is the same tenant at a new address, DELETE FROM {TENANT_TABLE} "
            "in that dataset first)"
        )


def tenant_item(base_url: str) -> Any:
    """The dataset's mark, for a run whose jobs loaded: loaded with their rows, in place of the
    mark before (the same tenant's, or none), as a truncate and insert (a merge would make the
    staging dataset that a first load otherwise does without)."""
    import dlt

    return dlt.mark.with_hints(
        [{"tenant": tenant_of(base_url)}],
        dlt.mark.make_hints(
            table_name=TENANT_TABLE,
            write_disposition="replace",
            columns=[{"name": "tenant", "data_type": "text", "nullable": False}],
        ),
        create_table_variant=True,
    )
