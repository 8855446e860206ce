"""The exports cut into units an orchestrator runs apart (uniware_source/orchestrate.py)."""

from __future__ import annotations

import pytest

from uniware_source.api.errors import ConfigurationError
from uniware_source.orchestrate import split_exports, unit_names

SALE_ORDERS = {"report": "Sale Orders", "start_date": "2024-04-01", "lookback_hours": 2}


def test_a_dated_export_gives_one_unit_per_facility_with_its_settings() -> None:
    units = split_exports([{**SALE_ORDERS, "facilities": ["WH-BLR", "WH-DEL", "WH-BLR"]}])
    assert [unit.facilities for unit in units] == [("WH-BLR",), ("WH-DEL",)]
    assert [unit.entry for unit in units] == [
        {**SALE_ORDERS, "facilities": ["WH-BLR"]},
        {**SALE_ORDERS, "facilities": ["WH-DEL"]},
    ]
    assert unit_names(units, "uniware") == ["uniware_sale_orders_wh_blr", "uniware_sale_orders_wh_del"]


def test_a_snapshot_and_all_facilities_stay_whole() -> None:
    units = split_exports(
        [
            {"report": "Inventory Snapshot", "facilities": ["WH-BLR", "WH-DEL"]},
            {**SALE_ORDERS, "facilities": "all", "table_name": "orders"},
        ]
    )
    assert [(unit.index, unit.table_name, unit.facilities) for unit in units] == [
        (0, "inventory_snapshot", ("WH-BLR", "WH-DEL")),
        (1, "orders", None),
    ]
    assert units[0].entry["facilities"] == ["WH-BLR", "WH-DEL"] and units[1].entry["facilities"] == "all"
    assert unit_names(units, "tenant_a") == ["tenant_a_inventory_snapshot_all", "tenant_a_orders_all"]


def test_the_source_facility_is_the_default() -> None:
    (unit,) = split_exports(SALE_ORDERS, default_facility="WH-MUM")
    assert unit.facilities == ("WH-MUM",) and unit.entry["facilities"] == ["WH-MUM"]


def test_two_units_of_one_name_are_refused_naming_both() -> None:
    units = split_exports([{**SALE_ORDERS, "facilities": ["WH-BLR", "wh_blr"]}])
    with pytest.raises(
        ConfigurationError,
        match=r"exports\[0\] for wh_blr and exports\[0\] for WH-BLR .* 'uniware_sale_orders_wh_blr'",
    ):
        unit_names(units, "uniware")


def test_a_wrong_entry_fails_as_a_run_would_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"exports\[1\]\.start_date is needed"):
        split_exports([SALE_ORDERS, {"report": "Sale Orders", "facilities": ["WH-BLR"]}])
