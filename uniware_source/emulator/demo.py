"""What `make demo` (`pipelines/run.py --demo`) asks the emulated tenant for: scheduled exports of
every report the emulator models, with the columns a real tenant has."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from uniware_source.emulator.report_models import TALLY_GST_COLUMNS
from uniware_source.emulator.sale_order_keys import ALL_SALE_ORDER_KEYS


def demo_exports(today: date) -> list[dict[str, Any]]:
    """`[[exports]]` entries: the dated reports over the last two days, the snapshots whole.

    Sale Orders ask for all ~140 columns of a real tenant, a window a day; the other dated
    reports take the three days in one window, so that the run is one batch of at most 16
    windows (`commit_every_windows`). The Tally GST Report, which the catalogue does not know,
    names its columns and date filter."""
    start = str(today - timedelta(days=2))
    return [
        {
            "report": "Sale Orders",
            "start_date": start,
            "facilities": "all",
            "columns": list(ALL_SALE_ORDER_KEYS),
        },
        {"report": "Invoice", "start_date": start, "window_days": 3, "facilities": ["WH-BLR"]},
        {
            "report": "Return Invoices",
            "start_date": start,
            "window_days": 3,
            "facilities": ["WH-BLR", "WH-DEL"],
        },
        {
            "report": "Tally GST Report",
            "start_date": start,
            "window_days": 3,
            "facilities": ["WH-BLR"],
            "columns": list(TALLY_GST_COLUMNS),
            "date_filter": "addedOn",
        },
        {"report": "Inventory Snapshot", "facilities": ["WH-BLR", "WH-DEL"]},
        {"report": "Item Master", "facilities": ["WH-BLR"]},
    ]
