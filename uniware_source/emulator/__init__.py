"""A local Uniware tenant for tests, demos and benchmarks.

    from uniware_source.emulator import Emulator, JobSpec
    with Emulator(seed=7) as emu:
        code = emu.add_job(JobSpec(rows=5000))
        ...  # talk to emu.base_url with the real client

It speaks the protocol of `reference/uniware-api.md` over real HTTP: OAuth password/refresh grants,
export job create/status, facility search, and pre-signed CSV links on a separate file host.
"""

from uniware_source.emulator.data import (
    ALL_SALE_ORDER_KEYS,
    DEFAULT_SALE_ORDER_COLUMNS,
    SALE_ORDER_LABELS,
    sale_order_frames,
    write_sale_orders_csv,
)
from uniware_source.emulator.model import Job, JobSpec, RequestRecord
from uniware_source.emulator.server import KNOWN_REPORTS, Emulator

__all__ = [
    "ALL_SALE_ORDER_KEYS",
    "DEFAULT_SALE_ORDER_COLUMNS",
    "KNOWN_REPORTS",
    "SALE_ORDER_LABELS",
    "Emulator",
    "Job",
    "JobSpec",
    "RequestRecord",
    "sale_order_frames",
    "write_sale_orders_csv",
]
