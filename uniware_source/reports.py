"""The catalogue of Uniware reports we know, and what loading one needs to know about it.

Any report name works: an unknown one loads with types decided from its file and no merge key
(each job's rows replace that job's earlier rows, so a reload never duplicates). A known one
adds its natural key (for merge) and type hints that keep a column's type stable across files.
Keys are listed only where the grain is confirmed: a wrong key would silently collapse rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_source.csv_reader import Kind

_naming = NamingConvention()

# Columns that identify things, typed by label so their type never depends on one file's values.
_SALE_ORDER_HINTS: dict[str, Kind] = {
    "Sale Order Item Code": "text",
    "Sale Order Code": "text",
    "Display Order Code": "text",
    "Item SKU Code": "text",
    "Shipping Package Code": "text",
    "Tracking Number": "text",
    "Invoice Code": "text",
    "Shipping Address Pincode": "text",
    "Shipping Address Phone": "text",
    "Facility": "text",
    "COD": "boolean",
    "On Hold": "boolean",
}


@dataclass(frozen=True)
class ReportSpec:
    name: str  # exportJobTypeName, as the tenant spells it
    key: tuple[str, ...] = ()  # header labels of the natural key; empty: none known
    hints: Mapping[str, Kind] = field(default_factory=dict)
    date_filter: str | None = None  # the exportFilters id that selects rows by date; None: a snapshot
    default_columns: tuple[str, ...] = ()  # exportColums keys used when creating jobs

    @property
    def table_name(self) -> str:
        return default_table_name(self.name)


SALE_ORDER_COLUMNS = (
    "soicode",
    "displayorderCode",
    "saleOrderCode",
    "status",
    "SoiStatus",
    "channel",
    "skuCode",
    "maxRetailPrice",
    "sellingPrice",
    "tax",
    "cod",
    "onhold",
    "created",
    "updated",
    "displayOrderDateTime",
    "shippingAddressPincode",
    "shippingAddressPhone",
    "shippingPackageLength",
    "actualWeight",
    "ShippingPackageCode",
    "TrackingNumber",
    "invoiceCode",
    "facility",
)

CATALOGUE: dict[str, ReportSpec] = {
    spec.name.lower(): spec
    for spec in (
        ReportSpec(
            "Sale Orders",
            key=("Sale Order Item Code",),
            hints=_SALE_ORDER_HINTS,
            date_filter="updatedOn",
            default_columns=SALE_ORDER_COLUMNS,
        ),
        ReportSpec(
            "B2B Sale Orders",
            key=("Sale Order Item Code",),
            hints=_SALE_ORDER_HINTS,
            date_filter="updatedOn",
            default_columns=SALE_ORDER_COLUMNS,
        ),
        ReportSpec("Invoice", hints={"Invoice Code": "text"}, date_filter="dateCreatedRange"),
        ReportSpec("Return Invoices", hints={"Invoice Code": "text"}, date_filter="addedOn"),
        ReportSpec("Courier Returns", date_filter="soDateRange"),
        ReportSpec("Reverse Pickup", date_filter="reversePickupDateRange"),
        ReportSpec("Transaction Ledger", date_filter="addedOn"),
        ReportSpec("Inventory Snapshot"),
        ReportSpec("Item Master"),
        ReportSpec("Channel Item Type Report"),
        ReportSpec("Vendor Item Master"),
    )
}


def default_table_name(report: str) -> str:
    """`Sale Orders` → `sale_orders`: dlt's snake_case of the report name."""
    return _naming.normalize_table_identifier(report)


def report_spec(report: str) -> ReportSpec:
    """The catalogue entry for `report` (case-insensitive), or a bare spec for any other name."""
    name = report.strip()
    return CATALOGUE.get(name.lower()) or ReportSpec(name)
