"""A second Sale Orders file for the benchmarks, built unlike the emulator's default one.

    python benchmarks/messy_file.py 1000000 /tmp/messy.csv     # write one (about 200 MB)

The emulator's file quotes a field now and then; this one is made of the shapes that can push a
CSV reader off its fast path, in the proportions a busy tenant's export can have them:
- quoted fields in every record: gift messages, notes and addresses over two or three lines
  (LF, and CR LF now and then, inside the quotes), with commas and doubled quotes (`""`);
- non-ASCII text (Devanagari, Tamil) in six columns, beside English;
- one column mixing three date formats (`2024-05-01 10:11:12`, `01-05-2024 10:11`,
  `01/05/2024 10:11:12`);
- columns that are mostly null, some written empty and some written `-`;
- a byte-order mark, CR LF line endings.
21 columns, with the Sale Order Item Code unique (the report's key). Every value is a pure
function of the row number and `seed`: the same arguments give the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

BOM = b"\xef\xbb\xbf"
CHUNK_ROWS = 200_000
FORMAT_VERSION = 1  # part of the cached file's name: change it when the bytes change

NAMES = [
    "Aarav Sharma",
    "आरव शर्मा",
    "Priya Raman",
    "பிரியா ராமன்",
    "Rohit Verma, Jr.",
    "सुनीता देवी",
    'Karthik "KK" Subramanian',
    "கார்த்திக் சுப்பிரமணியன்",
]
PRODUCTS = [
    "Cotton Kurta, Blue (M)",
    "सूती कुर्ता, नीला",
    "பருத்தி சேலை - சிவப்பு",
    "Steel Tiffin 3-tier",
    'LED Bulb 9W "Cool White"',
    "मसाला चाय 500 ग्राम",
    "Silk Saree, Kanchipuram",
    "தேங்காய் எண்ணெய் 1L",
]
CITIES = ["Bengaluru", "बेंगलुरु", "Chennai", "சென்னை", "Mumbai", "मुंबई", "Jaipur", "जयपुर"]
STATES = ["Karnataka", "कर्नाटक", "Tamil Nadu", "தமிழ்நாடு", "Maharashtra", "महाराष्ट्र", "Rajasthan"]
STATUSES = ["CREATED", "PROCESSING", "DISPATCHED", "DELIVERED", "CANCELLED", "RETURNED"]
CHANNELS = ["AMAZON_IN", "FLIPKART", "MYNTRA", "WEBSITE", "MEESHO"]
GIFT_MESSAGES = [
    'जन्मदिन की शुभकामनाएँ!\nप्यार से, "माँ"',
    'Happy anniversary, "love"!\nSee you soon,\nR.',
    'இனிய பிறந்தநாள் வாழ்த்துக்கள்!\r\n- அன்புடன், "அம்மா"',
    "Congratulations on the new home,\nwith love from all of us",
    'दीपावली की हार्दिक शुभकामनाएँ,\n"शुभ दीपावली"\nपरिवार',
]
ADDRESSES = [
    "Flat 4B, Lakeview Apartments,\nOld Airport Road",
    "मकान नं. 12, गली 3,\nलाजपत नगर",
    'No. 7, "Sri Nivas",\r\nஅண்ணா சாலை',
    'Plot 22, Sector 5\nNear City Mall, Gate "B"',
]
NOTES = [
    'Call before delivery; "no" to weekend slots',
    "डिलीवरी से पहले फ़ोन करें,\nधन्यवाद",
    "Leave with the guard,\nflat 4B",
    'கதவு மணி வேலை செய்யாது,\n"தயவு செய்து" அழைக்கவும்',
]
LABELS = [
    "Sale Order Item Code",
    "Display Order Code",
    "Sale Order Code",
    "Order Date",
    "Sale Order Status",
    "Channel Name",
    "Item SKU Code",
    "Product Name",
    "Customer Name",
    "Gift Message",
    "Shipping Address Line 1",
    "Shipping Address City",
    "Shipping Address State",
    "Shipping Address Pincode",
    "Total Price",
    "Selling Price",
    "Discount",
    "COD",
    "Cancellation Reason",
    "Tracking Number",
    "Customer Notes",
]


def _pick(choices: list[str], index: pl.Expr) -> pl.Expr:
    """choices[index % len(choices)], as a String column."""
    return pl.lit(pl.Series(choices, dtype=pl.String)).gather(index % len(choices))


def _mixed_date(i: pl.Expr, h: pl.Expr) -> pl.Expr:
    """One instant per row within 2024, written in one of three formats by the row's hash."""
    seconds = (h % (365 * 86_400)).cast(pl.Int64)
    instant = (pl.lit(1_704_067_200, dtype=pl.Int64) + seconds) * 1_000_000
    moment = instant.cast(pl.Datetime("us"))
    style = (i * 7 + h // 5) % 3
    return (
        pl.when(style == 0)
        .then(moment.dt.strftime("%Y-%m-%d %H:%M:%S"))
        .when(style == 1)
        .then(moment.dt.strftime("%d-%m-%Y %H:%M"))
        .otherwise(moment.dt.strftime("%d/%m/%Y %H:%M:%S"))
    )


def _frame(start: int, rows: int, seed: int) -> pl.DataFrame:
    i = pl.col("i")
    h = pl.col("h")
    base = pl.DataFrame({"i": pl.int_range(start, start + rows, eager=True, dtype=pl.Int64)})
    base = base.with_columns(pl.col("i").hash(seed).alias("h"))
    sometimes = h % 100
    return base.select(
        pl.format("SOI-{}", i.cast(pl.String).str.zfill(9)).alias(LABELS[0]),
        pl.format("ORD-{}", (i // 2).cast(pl.String)).alias(LABELS[1]),
        pl.format("SO{}", (i // 2 * 13 + 1000).cast(pl.String)).alias(LABELS[2]),
        _mixed_date(i, h).alias(LABELS[3]),
        _pick(STATUSES, h // 7).alias(LABELS[4]),
        _pick(CHANNELS, h // 11).alias(LABELS[5]),
        pl.format("SKU-{}", (h // 13 % 50_000).cast(pl.String).str.zfill(6)).alias(LABELS[6]),
        _pick(PRODUCTS, h // 17).alias(LABELS[7]),
        _pick(NAMES, h // 19).alias(LABELS[8]),
        # a gift message on one order in four, multi-line and quoted
        pl.when(sometimes < 25).then(_pick(GIFT_MESSAGES, h // 23)).alias(LABELS[9]),
        _pick(ADDRESSES, h // 29).alias(LABELS[10]),
        _pick(CITIES, h // 31).alias(LABELS[11]),
        _pick(STATES, h // 37).alias(LABELS[12]),
        (560_001 + h // 41 % 9_000).cast(pl.String).alias(LABELS[13]),
        pl.format(
            "{}.{}", (h // 43 % 9_000 + 99).cast(pl.String), (h % 100).cast(pl.String).str.zfill(2)
        ).alias(LABELS[14]),
        pl.format(
            "{}.{}", (h // 47 % 9_000 + 49).cast(pl.String), (h % 100).cast(pl.String).str.zfill(2)
        ).alias(LABELS[15]),
        # mostly `-`: a discount on one order in twenty
        pl.when(sometimes < 5).then((h // 53 % 500).cast(pl.String)).otherwise(pl.lit("-")).alias(LABELS[16]),
        pl.when(h // 59 % 2 == 0).then(pl.lit("true")).otherwise(pl.lit("false")).alias(LABELS[17]),
        # mostly empty: a reason on cancelled orders only, some of them `-`
        pl.when(_pick(STATUSES, h // 7) == "CANCELLED")
        .then(pl.when(sometimes < 50).then(pl.lit('Customer changed mind, "late"')).otherwise(pl.lit("-")))
        .alias(LABELS[18]),
        pl.when(sometimes >= 90)
        .then(pl.format("AWB{}", (h // 61 % 10**9).cast(pl.String)))
        .alias(LABELS[19]),
        pl.when(sometimes % 6 == 1).then(_pick(NOTES, h // 67)).alias(LABELS[20]),
    )


def write_messy_csv(path: Path, rows: int, seed: int = 5) -> Path:
    """Write the file (BOM, header, `rows` records, CR LF) to `path` through a temporary name."""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as fh:
        fh.write(BOM)
        fh.write((",".join(LABELS) + "\r\n").encode("utf-8"))
        for start in range(0, rows, CHUNK_ROWS):
            frame = _frame(start, min(CHUNK_ROWS, rows - start), seed)
            frame.write_csv(fh, include_header=False, line_terminator="\r\n", quote_style="necessary")
    tmp.replace(path)
    return path


def messy_file(cache_dir: Path, rows: int, seed: int = 5) -> Path:
    """The file of `rows` rows, written once into `cache_dir` and kept there."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"messy-v{FORMAT_VERSION}-{rows}-{seed}-pl{pl.__version__}.csv"
    return path if path.exists() else write_messy_csv(path, rows, seed)


if __name__ == "__main__":
    write_messy_csv(Path(sys.argv[2]), int(sys.argv[1]))
