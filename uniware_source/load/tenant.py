"""One Uniware tenant per dataset.

The reports' keys (`Sale Order Item Code`, invoice codes) and even job codes repeat from one
tenant to another: two tenants loaded into one dataset would replace each other's rows, merged
on the same keys, and the job ledger would hand one tenant's pending jobs to the other's runs. So
the first run that loads into a dataset writes its tenant's address into `_uniware_tenant`, and a
run of another tenant into that dataset is refused before it asks Uniware anything. Only a
destination that speaks SQL keeps the mark (as it keeps the ledger); on others, keep tenants
apart by dataset yourself.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from uniware_source.api.errors import ConfigurationError

logger = logging.getLogger(__name__)

TENANT_TABLE = "_uniware_tenant"


def tenant_of(base_url: str) -> str:
    """The tenant's address as the mark holds it: the host (and port) of its base URL."""
    return urlsplit(base_url).netloc.lower()


def claim_dataset(pipeline: Any, base_url: str) -> None:
    """Mark the pipeline's dataset as the tenant's at `base_url`, or refuse (ConfigurationError)
    if it holds another tenant's data."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    tenant = tenant_of(base_url)
    try:
        opened = pipeline.sql_client()
    except Exception:  # no SQL client (files): nothing to keep the mark in
        return
    with opened as client:
        table = client.make_qualified_table_name(TENANT_TABLE)
        try:
            found = {str(row[0]) for row in client.execute_sql(f"SELECT tenant FROM {table}") or []}
        except DatabaseUndefinedRelation:
            found = set()
        if found and tenant not in found:
            holder = ", ".join(sorted(found))
            raise ConfigurationError(
                f"dataset {pipeline.dataset_name!r} holds the data of Uniware tenant {holder}, not {tenant}: "
                "their keys repeat across tenants, so its rows would be replaced; load each tenant into a "
                f"dataset of its own (if this is the same tenant at a new address, DELETE FROM {table} first)"
            )
        if not found:
            if not client.has_dataset():
                client.create_dataset()
            client.execute_sql(f"CREATE TABLE IF NOT EXISTS {table} (tenant VARCHAR)")
            client.execute_sql(f"INSERT INTO {table} (tenant) VALUES (%s)", tenant)
