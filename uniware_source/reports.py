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

from uniware_source.api.errors import ConfigurationError

if TYPE_CHECKING:
    from uniware_source.typed_csv.kinds import Kind


_naming = NamingConvention()

# -- what the catalogue knows of a report's columns, by CSV label ----------------------------------------
# Each known column has a role; a role with a kind fixes the column's type by its label, so that a
# report's every file, three rows or a million, types it alike. A role without a kind (WHEN) is
# typed from the values: a date or a timestamp, whichever every value is.
ID = "identifier"  # codes, numbers that identify (EAN, AWB, IMEI, pincode, phone, HSN): text always
MONEY = "money"  # decimal, at a fixed generous scale (rules.HINT_SCALE) whatever the file's places
QTY = "quantity"  # decimal too: `Qty` is `1` in one report and `1.0000` in its sister report
MEASURE = "measure"  # lengths, weights, rates, coordinates: decimal
COUNT = "count"  # whole numbers that count or rank: integer
TIME = "timestamp"  # a wall-clock time in the report's zone, loaded as a UTC instant
DATE = "date"  # a calendar date without a time
WHEN = "date or timestamp"  # typed from the values: the reports write either
FLAG = "flag"  # boolean
TEXT = "text"  # names, addresses, statuses, free text

ROLE_KINDS: dict[str, Kind | None] = {
    ID: "text", MONEY: "decimal", QTY: "decimal", MEASURE: "decimal", COUNT: "integer",
    TIME: "timestamp", DATE: "date", WHEN: None, FLAG: "boolean", TEXT: "text",
}  # fmt: skip

ReportColumns = tuple[tuple[str, str], ...]  # (CSV label, role), in the order a report writes them


def _columns(spec: str) -> ReportColumns:
    """`label: role` lines (blank lines ignored) as (label, role) pairs; a label may end in a space."""
    pairs = []
    for line in spec.strip("\n").splitlines():
        if line.strip():
            label, role = line.rsplit(":", 1)
            pairs.append((label.lstrip(), ROLE_OF[role.strip()]))
    return tuple(pairs)


ROLE_OF = {"id": ID, "money": MONEY, "qty": QTY, "measure": MEASURE, "count": COUNT, "time": TIME,
           "date": DATE, "when": WHEN, "flag": FLAG, "text": TEXT}  # fmt: skip

# the GST columns of a sale order item or an invoice line: each tax's amount, then its rate
GST = "\n".join(
    [f"{tax}: money" for tax in ("CGST", "IGST", "SGST", "UTGST", "CESS")]
    + [f"{tax} Rate: measure" for tax in ("CGST", "IGST", "SGST", "UTGST", "CESS")]
)

# The Sale Orders labels, in the order a live tenant's export writes them (one per export key; two
# `Delivery Time` columns: a custom field repeating a standard label).
SALE_ORDER_LABELS = _columns(f"""
Sale Order Item Code: id
Display Order Code: id
Reverse Pickup Code: id
Reverse Pickup Created Date: time
Reverse Pickup Reason: text
Notification Email: text
Notification Mobile: id
Require Customization: flag
COD: flag
Shipping Address Id: id
Category: text
Invoice Code: id
Invoice Created: time
EWayBill No: id
EWayBill Date: when
EWayBill Valid Till: when
Shipping Address Name: text
Shipping Address Line 1: text
Shipping Address Line 2: text
Shipping Address City: text
Shipping Address State: text
Shipping Address Country: text
Shipping Address Pincode: id
Shipping Address Latitude: measure
Shipping Address Longitude: measure
Shipping Address Phone: id
Billing Address Id: id
Billing Address Name: text
Billing Address Line 1: text
Billing Address Line 2: text
Billing Address City: text
Billing Address State: text
Billing Address Country: text
Billing Address Pincode: id
Billing Address Latitude: measure
Billing Address Longitude: measure
Billing Address Phone: id
Shipping Method: text
Item SKU Code: id
Channel Product Id: id
Item Type Name: text
Item Type Color: text
Item Type Size: text
Item Type Brand: text
Channel Name: text
SKU Require Customization: flag
Gift Wrap: text
Gift Message: text
HSN Code: id
MRP: money
Total Price: money
Selling Price: money
Cost Price: money
Prepaid Amount: money
Subtotal: money
Discount: money
GST Tax Type Code: id
{GST}
TCS Amount: money
Tax %: measure
Tax Value: money
Voucher Code: id
Shipping Charges: money
Shipping Method Charges: money
COD Service Charges: money
Gift Wrap Charges: money
Packet Number: id
Order Date as dd/mm/yyyy hh:MM:ss: time
Sale Order Code: id
On Hold: flag
Sale Order Status: text
Priority: count
Currency: text
Currency Conversion Rate: measure
Sale Order Item Status: text
Cancellation Reason: text
Shipping provider: text
Shipping Courier: text
Shipping Arranged By: text
Shipping Package Code: id
Shipping Package Creation Date: time
Shipping Package Status Code: text
Shipping Package Type: text
Length(mm): measure
Width(mm): measure
Height(mm): measure
Delivery Time: when
Tracking Number: id
Dispatch Date: time
Facility: id
Return Date: when
Return Reason: text
Return Remarks: text
Created: time
Updated: time
Combination Identifier: id
Combination Description: text
Transfer Price: money
Item Code: id
IMEI: id
Weight: measure
GSTIN: id
Customer GSTIN: id
TIN: id
Payment Instrument: text
Fulfillment TAT: time
Adjustment In Selling Price: money
Adjustment In Discount: money
Store Credit: money
IRN: id
Acknowledgement Number: id
Bundle SKU Code Number: id
SKU Name: text
Batch Code: id
Vendor Batch Number: id
Seller SKU Code: id
Item Type EAN: id
Shipping Courier Status: text
Shipping Tracking Status: text
Item Seal Id: id
Parent Sale Order Code: id
Item Tag: text
Shipment Tag: text
Delivery Slot Type: text
Delivery Date: when
Delivery Time: when
Delivery Type: text
pin pointly latitude: measure
pinpointly longitude: measure
""")

INVENTORY_SNAPSHOT_LABELS = _columns("""
Facility: id
Item Type Name: text
Item SkuCode: id
EAN: id
UPC: id
ISBN: id
Color: text
Size: text
Brand: text
Category Name: text
MRP: money
Cost Price: money
Open Sale: qty
Inventory: qty
Inventory Blocked: qty
Bad Inventory: qty
Put Away Pending: qty
Pending Inventory Assessment: qty
Stock In Transfer: qty
Open Purchase: qty
Enabled: flag
Updated: time
""")

INVOICE_LABELS = _columns(f"""
Invoice Code: id
Invoice Date: when
Sale Order Code: id
Display Order Code: id
Shipping Package Code: id
Channel Name: text
Channel Product Id: id
SKU Code: id
SKU Name: text
HSN Code: id
Qty: qty
Unit Price: money
MRP: money
Discount: money
Shipping Charges: money
Tax Percentage: measure
{GST}
Total: money
Invoice Cancelled: flag
Customer Name: text
Customer GSTIN: id
Billing Address Pincode: id
Billing Address Phone: id
Facility: id
Created: time
""")

RETURN_INVOICE_LABELS = _columns("""
Return Invoice Code: id
Return Invoice Date: when
Invoice Code: id
Display Order Code: id
Shipping Package Code: id
Reverse Pickup Code: id
Returned Date: when
SKU Code: id
Item Type Name: text
HSN Code: id
Qty: qty
Transfer Price: money
CGST: money
IGST: money
SGST: money
UTGST: money
CESS: money
Total: money
Return Reason: text
Facility: id
""")

ITEM_MASTER_LABELS = _columns("""
Product Code: id
Name: text
Category Code: id
Description: text
EAN: id
UPC: id
ISBN: id
Brand: text
Color: text
Size: text
Length (mm): measure
Width (mm): measure
Height (mm): measure
Weight (gms): measure
MRP: money
Base Price: money
Cost Price: money
HSN Code: id
Tax Type Code: id
Type: text
Enabled: flag
Created: time
Updated: time
""")

# Tally's voucher export: its labels as a tenant's file writes them, `Voucher Type Name ` with its
# trailing space. `Channel Entry` is money here (a channel's code in "Tally Return GST Report").
TALLY_GST_LABELS = _columns("""
Voucher Type Name : text
Voucher Number: id
Voucher Date: when
Order Number: id
Invoice Number: id
Party Name: text
Party GSTIN: id
State: text
Pincode: id
Ledger Name: text
Item Name: text
SKU Code: id
HSN Code: id
Qty: qty
Rate: money
Amount: money
Discount: money
CGST: money
SGST: money
IGST: money
CESS: money
Channel Entry: money
Total: money
Narration: text
""")
# Its sister report of returns: the same voucher columns as far as known, but `Channel Entry` names
# the channel (a code), so the two reports load into tables of their own with their own types
TALLY_RETURN_GST_LABELS = tuple(
    (label, ID if label == "Channel Entry" else role) for label, role in TALLY_GST_LABELS
)


def hints_of(columns: ReportColumns) -> dict[str, Kind]:
    """The type hints the roles of `columns` give, by label: a role without a kind gives none."""
    return {label.strip(): kind for label, role in columns if (kind := ROLE_KINDS[role]) is not None}


_SALE_ORDER_HINTS = hints_of(SALE_ORDER_LABELS)


@dataclass(frozen=True)
class ReportSpec:
    name: str  # exportJobTypeName, as the tenant spells it
    key: tuple[str, ...] = ()  # header labels of the natural key; empty: none known
    hints: Mapping[str, Kind] = field(default_factory=dict)
    date_filter: str | None = None  # the exportFilters id that selects rows by date; None: a snapshot
    default_columns: tuple[str, ...] = ()  # exportColums keys used when creating jobs
    labels: ReportColumns = ()  # the CSV labels the catalogue knows, with their roles
    overrides: Mapping[str, Kind] = field(default_factory=dict)  # the user's column_types (in hints too)

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


def _with_codes(columns: ReportColumns) -> dict[str, Kind]:
    """The hints of a report's known columns, over the codes every report may carry."""
    return {**_CODES, **hints_of(columns)}


CATALOGUE: dict[str, ReportSpec] = {
    spec.name.lower(): spec
    for spec in (
        ReportSpec(
            "Sale Orders",
            key=("Sale Order Item Code",),
            hints=_SALE_ORDER_HINTS,
            date_filter="updatedOn",
            default_columns=SALE_ORDER_COLUMNS,
            labels=SALE_ORDER_LABELS,
        ),
        ReportSpec(
            "B2B Sale Orders",
            key=("Sale Order Item Code",),
            hints=_SALE_ORDER_HINTS,
            date_filter="updatedOn",
            default_columns=SALE_ORDER_COLUMNS,
            labels=SALE_ORDER_LABELS,
        ),
        # An invoice has a row per item: its code is no key. Without a confirmed item-level key
        # these reports replace the windows they re-read (see sync.py).
        ReportSpec(
            "Invoice",
            hints=_with_codes(INVOICE_LABELS),
            date_filter="dateCreatedRange",
            default_columns=INVOICE_COLUMNS,
            labels=INVOICE_LABELS,
        ),
        ReportSpec(
            "Return Invoices",
            hints=_with_codes(RETURN_INVOICE_LABELS),
            date_filter="addedOn",
            default_columns=RETURN_INVOICE_COLUMNS,
            labels=RETURN_INVOICE_LABELS,
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
        ReportSpec(
            "Inventory Snapshot",
            hints=_with_codes(INVENTORY_SNAPSHOT_LABELS),
            default_columns=INVENTORY_SNAPSHOT_COLUMNS,
            labels=INVENTORY_SNAPSHOT_LABELS,
        ),
        ReportSpec(
            "Item Master",
            hints=_with_codes(ITEM_MASTER_LABELS),
            default_columns=ITEM_MASTER_COLUMNS,
            labels=ITEM_MASTER_LABELS,
        ),
        ReportSpec("Channel Item Type Report", hints=_CODES, default_columns=CHANNEL_ITEM_TYPE_COLUMNS),
        ReportSpec("Vendor Item Master", hints=_CODES),
        # Its date filter and export keys are not confirmed: a user names them (as a snapshot, a
        # job code, or with date_filter and columns).
        ReportSpec("Tally GST Report", hints=_with_codes(TALLY_GST_LABELS), labels=TALLY_GST_LABELS),
        ReportSpec(
            "Tally Return GST Report",
            hints=_with_codes(TALLY_RETURN_GST_LABELS),
            labels=TALLY_RETURN_GST_LABELS,
        ),
    )
}


def default_table_name(report: str) -> str:
    """`Sale Orders` → `sale_orders`: dlt's snake_case of the report name."""
    return _naming.normalize_table_identifier(report)


# the tables the connector keeps beside the reports' (load/audit.py, jobs/ledger.py, load/tenant.py)
OWN_TABLES = frozenset({"export_jobs", "rejected_rows", "_uniware_job_ledger", "_uniware_tenant"})


def check_table_name(table: str, where: str) -> None:
    """Raise ConfigurationError, naming the setting `where`, if a report's rows would go to a table
    the connector or dlt keeps for itself (`table`: a report name or table_name, as dlt names it).
    Loaded there, a report's rows would land among the audit's or rejects' rows, or fail the load
    on every later run."""
    name = default_table_name(table)
    if name in OWN_TABLES or name.startswith("_dlt"):
        raise ConfigurationError(
            f"{where}: its rows would go to table {name!r}, which the connector or dlt keeps for "
            "itself: set table_name to another table"
        )


def catalogue_labels() -> set[str]:
    """Every CSV label the catalogue knows, in any report."""
    hinted = {label.strip() for spec in CATALOGUE.values() for label in spec.hints}
    return hinted | {label.strip() for spec in CATALOGUE.values() for label, _ in spec.labels}


def report_spec(report: str) -> ReportSpec:
    """The catalogue entry for `report` (case-insensitive), or a bare spec for any other name."""
    name = report.strip()
    return CATALOGUE.get(name.lower()) or ReportSpec(name)
