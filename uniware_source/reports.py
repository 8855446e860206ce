"""The catalogue of Uniware reports we know, and what loading one needs to know about it.

Any report name works: an unknown one loads with types decided from its file and no merge key
(each job's rows replace that job's earlier rows, so a reload never duplicates). A known one
adds its natural key (for merge) and type hints that keep a column's type stable across files.
Keys are listed only where the grain is confirmed: a wrong key would silently collapse rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dlt.common.normalizers.naming.snake_case import NamingConvention

if TYPE_CHECKING:
    from uniware_source.typed_csv.kinds import Kind


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

# Export column keys seen accepted by live tenants in public programs. Where none were seen, a
# user must list the columns: a guessed key would only make Uniware refuse the export.
INVOICE_COLUMNS = (
    "invoiceCode", "invoiceDate", "orderCode", "shippingPackageCode", "channelName", "skuCode",
    "skuName", "quantity", "invoiceTax", "invoiceTotal", "invoiceCancelled", "hsn", "cgst", "igst",
    "sgst", "utgst", "cess", "taxPercentage", "shipping", "mrp", "customerName",
)  # fmt: skip
COURIER_RETURN_COLUMNS = (
    "saleOrderNo", "shippingPackageCode", "shippingPackageStatus", "shippingProvider", "awbNo",
    "returnDeliveryDate", "rtoReason", "created", "channel", "putawayNo", "putawayStatus",
    "dispatchFacility", "returnFacility",
)  # fmt: skip
REVERSE_PICKUP_COLUMNS = (
    "saleOrderItemCode", "saleOrderCode", "saleOrderCreated", "itemtypeSku", "reversePickupCode",
    "trackingNumber", "reversePickupCreated", "reversePickupUpdated", "reversePickupStatus",
    "reversePickupAction", "returnReason", "channel", "putawayCode", "putawayStatus",
)  # fmt: skip
RETURN_INVOICE_COLUMNS = (
    "returnInvoiceCode", "invoiceCode", "displayorderCode", "ShippingPackageCode", "returnedDate",
    "skuCode", "itemTypeName", "qty", "transferPrice", "cgst", "igst", "sgst", "utgst", "cess",
)  # fmt: skip
CHANNEL_ITEM_TYPE_COLUMNS = (
    "channelName", "channelProductId", "sellerSkuCode", "uniwareSkuCode", "productName",
    "blockedInventory", "disabled", "sellingPrice", "mrp", "statusCode", "lastInventoryUpdate",
)  # fmt: skip
INVENTORY_SNAPSHOT_COLUMNS = (
    "facility", "itemTypeName", "itemtypeSku", "ean", "brand", "categoryName", "MRP", "openSale",
    "inventory", "inventoryBlocked", "badInventory", "putawayPending", "openPurchase", "enabled",
    "updated", "costPrice",
)  # fmt: skip
ITEM_MASTER_COLUMNS = (
    "skuCode", "itemTypeName", "categoryCode", "description", "ean", "brand", "color", "size",
    "length", "width", "height", "weight", "MRP", "basePrice", "costPrice", "hsn", "type",
    "enabled", "updated",
)  # fmt: skip
_CODES: dict[str, Kind] = {
    label: "text"
    for label in ("Invoice Code", "Sale Order Code", "Shipping Package Code", "Tracking Number", "SKU Code",
                  "Item SKU Code", "Sale Order Item Code", "Reverse Pickup Code", "AWB No", "EAN", "HSN")
}  # fmt: skip

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
        # An invoice has a row per item: its code is no key. Without a confirmed item-level key
        # these reports replace the windows they re-read (see sync.py).
        ReportSpec("Invoice", hints=_CODES, date_filter="dateCreatedRange", default_columns=INVOICE_COLUMNS),
        ReportSpec(
            "Return Invoices", hints=_CODES, date_filter="addedOn", default_columns=RETURN_INVOICE_COLUMNS
        ),
        ReportSpec(
            "Courier Returns", hints=_CODES, date_filter="soDateRange", default_columns=COURIER_RETURN_COLUMNS
        ),
        ReportSpec(
            "Reverse Pickup",
            hints=_CODES,
            date_filter="reversePickupDateRange",
            default_columns=REVERSE_PICKUP_COLUMNS,
        ),
        # Its codes carry an Excel text guard ('2320617): the reader strips it and keeps them text.
        ReportSpec("Transaction Ledger", hints=_CODES, date_filter="addedOn"),
        # Snapshots: no date filter (a date window would drop every item that did not change).
        ReportSpec("Inventory Snapshot", hints=_CODES, default_columns=INVENTORY_SNAPSHOT_COLUMNS),
        ReportSpec("Item Master", hints=_CODES, default_columns=ITEM_MASTER_COLUMNS),
        ReportSpec("Channel Item Type Report", hints=_CODES, default_columns=CHANNEL_ITEM_TYPE_COLUMNS),
        ReportSpec("Vendor Item Master", hints=_CODES),
    )
}


def default_table_name(report: str) -> str:
    """`Sale Orders` → `sale_orders`: dlt's snake_case of the report name."""
    return _naming.normalize_table_identifier(report)


def report_spec(report: str) -> ReportSpec:
    """The catalogue entry for `report` (case-insensitive), or a bare spec for any other name."""
    name = report.strip()
    return CATALOGUE.get(name.lower()) or ReportSpec(name)
