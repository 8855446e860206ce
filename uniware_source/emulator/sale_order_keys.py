"""The Sale Orders export of a real tenant, as data: every export key (`exportColums`) Uniware
accepts, the display label it writes in the header for it, in the order a live tenant's client
asked for them, and the columns a real tenant adds unrequested.

Custom fields (`saleOrderCustomFields_<Name>`) are the tenant's own: their label is the field's
display name, which may repeat a standard label (two `Delivery Time` columns in one file).
"""

from __future__ import annotations

import re

CUSTOM_FIELD_PREFIX = "saleOrderCustomFields_"

SALE_ORDER_KEYS: tuple[tuple[str, str], ...] = (
    ("soicode", "Sale Order Item Code"),
    ("displayorderCode", "Display Order Code"),
    ("reversePickupCode", "Reverse Pickup Code"),
    ("reversePickupCreatedDate", "Reverse Pickup Created Date"),
    ("reversePickupReason", "Reverse Pickup Reason"),
    ("notificationEmail", "Notification Email"),
    ("notificationMobile", "Notification Mobile"),
    ("requireCustomization", "Require Customization"),
    ("cod", "COD"),
    ("shippingAddressId", "Shipping Address Id"),
    ("category", "Category"),
    ("invoiceCode", "Invoice Code"),
    ("invoiceCreated", "Invoice Created"),
    ("ewbNo", "EWayBill No"),
    ("ewbDate", "EWayBill Date"),
    ("ewbValidTill", "EWayBill Valid Till"),
    ("shippingAddressName", "Shipping Address Name"),
    ("shippingAddressLine1", "Shipping Address Line 1"),
    ("shippingAddressLine2", "Shipping Address Line 2"),
    ("shippingAddressCity", "Shipping Address City"),
    ("shippingAddressState", "Shipping Address State"),
    ("shippingAddressCountry", "Shipping Address Country"),
    ("shippingAddressPincode", "Shipping Address Pincode"),
    ("shippingAddressLatitude", "Shipping Address Latitude"),
    ("shippingAddressLongitude", "Shipping Address Longitude"),
    ("shippingAddressPhone", "Shipping Address Phone"),
    ("billingAddressId", "Billing Address Id"),
    ("billingAddressName", "Billing Address Name"),
    ("billingAddressLine1", "Billing Address Line 1"),
    ("billingAddressLine2", "Billing Address Line 2"),
    ("billingAddressCity", "Billing Address City"),
    ("billingAddressState", "Billing Address State"),
    ("billingAddressCountry", "Billing Address Country"),
    ("billingAddressPincode", "Billing Address Pincode"),
    ("billingAddressLatitude", "Billing Address Latitude"),
    ("billingAddressLongitude", "Billing Address Longitude"),
    ("billingAddressPhone", "Billing Address Phone"),
    ("shippingMethod", "Shipping Method"),
    ("skuCode", "Item SKU Code"),
    ("channelProductId", "Channel Product Id"),
    ("itemTypeName", "Item Type Name"),
    ("itemTypeColor", "Item Type Color"),
    ("itemTypeSize", "Item Type Size"),
    ("itemTypeBrand", "Item Type Brand"),
    ("channel", "Channel Name"),
    ("itemRequireCustomization", "SKU Require Customization"),
    ("giftWrap", "Gift Wrap"),
    ("giftMessage", "Gift Message"),
    ("hsnCode", "HSN Code"),
    ("maxRetailPrice", "MRP"),
    ("totalPrice", "Total Price"),
    ("sellingPrice", "Selling Price"),
    ("costPrice", "Cost Price"),
    ("prepaidAmount", "Prepaid Amount"),
    ("subtotal", "Subtotal"),
    ("discount", "Discount"),
    ("gstTaxTypeCode", "GST Tax Type Code"),
    ("cgst", "CGST"),
    ("igst", "IGST"),
    ("sgst", "SGST"),
    ("utgst", "UTGST"),
    ("cess", "CESS"),
    ("cgstrate", "CGST Rate"),
    ("igstrate", "IGST Rate"),
    ("sgstrate", "SGST Rate"),
    ("utgstrate", "UTGST Rate"),
    ("cessrate", "CESS Rate"),
    ("TCSAmount", "TCS Amount"),
    ("tax", "Tax %"),
    ("taxValue", "Tax Value"),
    ("voucherCode", "Voucher Code"),
    ("shippingCharges", "Shipping Charges"),
    ("shippingMethodCharges", "Shipping Method Charges"),
    ("cashOnDeliveryCharges", "COD Service Charges"),
    ("giftWrapCharges", "Gift Wrap Charges"),
    ("packetNumber", "Packet Number"),
    ("displayOrderDateTime", "Order Date as dd/mm/yyyy hh:MM:ss"),
    ("saleOrderCode", "Sale Order Code"),
    ("onhold", "On Hold"),
    ("status", "Sale Order Status"),
    ("priority", "Priority"),
    ("currency", "Currency"),
    ("currencyConversionRate", "Currency Conversion Rate"),
    ("SoiStatus", "Sale Order Item Status"),
    ("cancellationReason", "Cancellation Reason"),
    ("shippingProvider", "Shipping provider"),
    ("shippingCourier", "Shipping Courier"),
    ("shippingArrangedBy", "Shipping Arranged By"),
    ("ShippingPackageCode", "Shipping Package Code"),
    ("ShippingPackageCreationDate", "Shipping Package Creation Date"),
    ("shippingPackageStatusCode", "Shipping Package Status Code"),
    ("shippingPackageTypeCode", "Shipping Package Type"),
    ("shippingPackageLength", "Length(mm)"),
    ("shippingPackageWidth", "Width(mm)"),
    ("shippingPackageHeight", "Height(mm)"),
    ("deliveryTime", "Delivery Time"),
    ("TrackingNumber", "Tracking Number"),
    ("dispatchDate", "Dispatch Date"),
    ("facility", "Facility"),
    ("returnedDate", "Return Date"),
    ("returnReason", "Return Reason"),
    ("returnRemarks", "Return Remarks"),
    ("created", "Created"),
    ("updated", "Updated"),
    ("combinationIdentifier", "Combination Identifier"),
    ("combinationDescription", "Combination Description"),
    ("transferPrice", "Transfer Price"),
    ("itemCode", "Item Code"),
    ("imei", "IMEI"),
    ("actualWeight", "Weight"),
    ("gsttin", "GSTIN"),
    ("Cgsttin", "Customer GSTIN"),
    ("tin", "TIN"),
    ("paymentInstrc", "Payment Instrument"),
    ("fulfillmentTat", "Fulfillment TAT"),
    ("ajustmentInSellingPrice", "Adjustment In Selling Price"),
    ("ajustmentInDiscount", "Adjustment In Discount"),
    ("storeCredit", "Store Credit"),
    ("irn", "IRN"),
    ("acknowledgementNumber", "Acknowledgement Number"),
    ("bundleSkuCode", "Bundle SKU Code Number"),
    ("skuName", "SKU Name"),
    ("batchCode", "Batch Code"),
    ("vendorBatchNumber", "Vendor Batch Number"),
    ("sellerSkuCode", "Seller SKU Code"),
    ("itemTypeEAN", "Item Type EAN"),
    ("shippingCourierStatus", "Shipping Courier Status"),
    ("shippingTrackingStatus", "Shipping Tracking Status"),
    ("itemSealId", "Item Seal Id"),
    ("parentSaleOrderCode", "Parent Sale Order Code"),
    ("itemTag", "Item Tag"),
    ("shipmentTag", "Shipment Tag"),
    ("saleOrderCustomFields_DeliverySlotType", "Delivery Slot Type"),
    ("saleOrderCustomFields_Delivery_Date", "Delivery Date"),
    ("saleOrderCustomFields_Delivery_Time", "Delivery Time"),
    ("saleOrderCustomFields_Delivery_Type", "Delivery Type"),
    ("saleOrderCustomFields_pinpointly_latitude", "pin pointly latitude"),
    ("saleOrderCustomFields_pinpointly_longitude", "pinpointly longitude"),
)
"""(export key, header label) of every Sale Orders column of the tenant, in the tenant's order."""

ALL_SALE_ORDER_KEYS: tuple[str, ...] = tuple(key for key, _ in SALE_ORDER_KEYS)

# Columns a real tenant writes although nobody asked for them, after the requested ones.
UNREQUESTED_LABELS: tuple[str, ...] = ("Channel Shipping", "Item Details")

# The columns of a file when none are named (JobSpec.columns None): a 29-column export, the width
# the benchmarks and most tests use.
DEFAULT_SALE_ORDER_COLUMNS: tuple[str, ...] = (
    "soicode",
    "displayorderCode",
    "saleOrderCode",
    "status",
    "SoiStatus",
    "channel",
    "skuCode",
    "itemTypeName",
    "maxRetailPrice",
    "sellingPrice",
    "discount",
    "tax",
    "created",
    "updated",
    "displayOrderDateTime",
    "fulfillmentTat",
    "saleOrderCustomFields_Delivery_Date",
    "shippingAddressName",
    "shippingAddressPincode",
    "shippingAddressPhone",
    "cod",
    "onhold",
    "shippingPackageLength",
    "actualWeight",
    "ShippingPackageCode",
    "TrackingNumber",
    "invoiceCode",
    "deliveryTime",
    "facility",
)

_LABELS = dict(SALE_ORDER_KEYS)


def custom_field_label(key: str) -> str:
    """The label of a custom field the tenant has but the table above does not list:
    `saleOrderCustomFields_Gift_Note` -> `Gift Note`, `..._GiftNote` -> `Gift Note`."""
    name = key[len(CUSTOM_FIELD_PREFIX) :].replace("_", " ")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).strip() or key


def sale_order_label(key: str) -> str:
    """The header label of an export key; an unknown key that is no custom field is its own label."""
    if key in _LABELS:
        return _LABELS[key]
    if key.startswith(CUSTOM_FIELD_PREFIX):
        return custom_field_label(key)
    return key
