"""Date-like columns profiled chunk by chunk: once a column has shown its formats, a chunk whose
values all parse with them is taken without counting their shapes; whatever a later chunk holds
(a new format, a date that does not exist, a time before 1970, a local time a zone skips), the
plan is the one the whole file read as one chunk gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_source.typed_csv import chunks as csv_chunks
from uniware_source.typed_csv import plan as csv_plan
from uniware_source.typed_csv.reader import FilePlan, plan_file, read_batches, unify

NORMALIZE = NamingConvention().normalize_identifier
ROWS = 3000  # about 90 kB: some 20 chunks of 4 kB


def plan_of(path: Path, chunk: int | None, timezone: str) -> FilePlan:
    saved = csv_chunks.CHUNK_BYTES, csv_plan.FIRST_CHUNK_BYTES
    if chunk:
        csv_chunks.CHUNK_BYTES = csv_plan.FIRST_CHUNK_BYTES = chunk
    try:
        return plan_file(path, normalize=NORMALIZE, timezone=timezone)
    finally:
        csv_chunks.CHUNK_BYTES, csv_plan.FIRST_CHUNK_BYTES = saved


def summary(plan: FilePlan) -> list[tuple[str, str, tuple[str, ...], int, int]]:
    return [(c.name, c.kind, c.formats, c.values, c.null_tokens) for c in plan.columns]


LATE = {
    "nothing new": None,
    "a new format": "15/08/2024 10:30:00",
    "a date that does not exist": "2024-02-31 10:30:00",
    "a time before 1970": "1965-03-01 10:30:00",
    "a time after 2100": "2101-03-01 10:30:00",
    "a value of no date's shape": "soon",
    "Kathmandu's skipped quarter hour": "1986-01-01 00:10:00",
}
EXPECTED = {  # (timezone -> kind of the column with the late value)
    "nothing new": {"Asia/Kolkata": "timestamp", "Asia/Kathmandu": "timestamp"},
    "a new format": {"Asia/Kolkata": "timestamp", "Asia/Kathmandu": "timestamp"},
    "a date that does not exist": {"Asia/Kolkata": "text", "Asia/Kathmandu": "text"},
    "a time before 1970": {"Asia/Kolkata": "timestamp", "Asia/Kathmandu": "timestamp"},
    "a time after 2100": {"Asia/Kolkata": "timestamp", "Asia/Kathmandu": "timestamp"},
    "a value of no date's shape": {"Asia/Kolkata": "text", "Asia/Kathmandu": "text"},
    "Kathmandu's skipped quarter hour": {"Asia/Kolkata": "timestamp", "Asia/Kathmandu": "text"},
}


@pytest.mark.parametrize("timezone", ["Asia/Kolkata", "Asia/Kathmandu"])
@pytest.mark.parametrize("late", sorted(LATE))
def test_a_late_value_types_the_column_as_the_whole_file_does(
    tmp_path: Path, late: str, timezone: str
) -> None:
    lines = ["Code,Created,Mixed,Shipped On"]
    for i in range(ROWS):
        created = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00"
        mixed = created if i % 3 else f"{1 + i % 28:02d}-{1 + i % 12:02d}-2024"
        shipped = "-" if i % 7 == 0 else f"{1 + i % 28:02d}-{1 + i % 12:02d}-2024"
        lines.append(f"C{i},{created},{mixed},{shipped}")
    if LATE[late] is not None:
        code, created, mixed, shipped = lines[ROWS - 10].split(",")
        lines[ROWS - 10] = f"{code},{LATE[late]},{mixed},{shipped}"
    path = tmp_path / "f.csv"
    path.write_bytes(("\ufeff" + "".join(line + "\r\n" for line in lines)).encode())

    whole = plan_of(path, 1 << 30, timezone)
    chunked = plan_of(path, 4 << 10, timezone)
    assert summary(chunked) == summary(whole)
    kinds = {c.name: c.kind for c in chunked.columns}
    assert kinds == {
        "code": "text",
        "created": EXPECTED[late][timezone],
        "mixed": "timestamp",
        "shipped_on": "date",
    }
    mixed = next(c for c in chunked.columns if c.name == "mixed")
    assert mixed.note.startswith("1000 of its 3000 values are dates without a time")


@pytest.mark.parametrize(
    ("column", "late"),
    [
        ("moved", "2024-03-15 10:20:30.1234567"),  # polars' %.f takes 7 to 9 places and keeps 6
        ("moved", "2024-03-15 10:20:30.123456789"),
        ("moved", "+2024-03-15 10:20:30.123"),  # and %Y a sign
        ("shipped_on", "15-03-+2024"),
        ("shipped_on", "15- 03-2024"),  # and %m a leading space
    ],
)
def test_a_late_value_that_parses_but_has_no_known_shape_makes_text_as_in_one_chunk(
    tmp_path: Path, column: str, late: str
) -> None:
    """A value that polars parses with a format the column has shown, but that has not that
    format's shape, after the first chunk: the column is text, as written, as when the value is in
    the first chunk, and not a time cut to microseconds or a date read from a mangled one."""
    lines = ["Code,Moved,Shipped On"]
    lines += [f"C{i},2024-03-15 10:20:{i % 60:02d}.123,{1 + i % 28:02d}-03-2024" for i in range(ROWS)]
    code, moved, shipped = lines[ROWS - 10].split(",")
    lines[ROWS - 10] = f"{code},{late},{shipped}" if column == "moved" else f"{code},{moved},{late}"
    path = tmp_path / "f.csv"
    path.write_bytes("".join(line + "\n" for line in lines).encode())

    whole = plan_of(path, 1 << 30, "Asia/Kolkata")
    chunked = plan_of(path, 4 << 10, "Asia/Kolkata")
    kinds = {c.name: c.kind for c in chunked.columns}
    assert kinds == {"code": "text", "moved": "timestamp", "shipped_on": "date", column: "text"}
    assert summary(chunked) == summary(whole)


@pytest.mark.parametrize("timezone", ["Asia/Kolkata", "Asia/Kathmandu", "America/New_York"])
def test_times_converted_in_one_pass_are_the_zones_instants_in_and_out_of_1970_2100(
    tmp_path: Path, timezone: str
) -> None:
    """The one pass converts a naive time by the zone's fixed offset in a chunk whose times pass 1
    found all in 1970-2100 (Asia/Kolkata: 5:30), by the zone's rules elsewhere: 1943 in Kolkata
    was 6:30 ahead (war time), 1900 its local mean time. Every value is the instant Python's
    zoneinfo gives, whether the zone has one offset (Kolkata) or not (Kathmandu: 5:45 since 1986;
    New York: daylight saving)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    import pyarrow.parquet as pq

    from uniware_source.load.typed_files import RowGroups
    from uniware_source.typed_csv.onepass import OnePass

    # at hours of the day that no zone skips or repeats
    values = [
        f"20{10 + i % 15}-{1 + i % 12:02d}-{1 + i % 28:02d} {10 + i % 10}:{i % 60:02d}:00"
        for i in range(ROWS)
    ]
    values[ROWS - 40] = "1943-01-01 10:00:00"
    values[ROWS - 20] = "1900-06-01 10:00:00"
    values[ROWS - 5] = "2150-06-01 10:00:00"
    path = tmp_path / "f.csv"
    path.write_bytes(("Code,Created\r\n" + "".join(f"C{i},{v}\r\n" for i, v in enumerate(values))).encode())
    onepass = OnePass(tmp_path / "f.typed.parquet", RowGroups, constants={}, timezone=timezone)
    saved = csv_chunks.CHUNK_BYTES, csv_plan.FIRST_CHUNK_BYTES
    csv_chunks.CHUNK_BYTES = csv_plan.FIRST_CHUNK_BYTES = 4 << 10
    try:
        plan = plan_file(path, normalize=NORMALIZE, timezone=timezone, onepass=onepass)
    finally:
        csv_chunks.CHUNK_BYTES, csv_plan.FIRST_CHUNK_BYTES = saved
    assert plan.typed is not None and onepass.given_up is None
    typed = pq.read_table(plan.typed.path).column("created").to_pylist()
    batches = read_batches(path, plan, unify([plan]), timezone=timezone)
    assert typed == [v for batch in batches for v in batch.column("created").to_pylist()]  # pass 2
    zone = ZoneInfo(timezone)
    before_2100 = [(i, v) for i, v in enumerate(values) if v < "2100"]  # polars knows no rule past 2100
    assert [typed[i] for i, _ in before_2100] == [
        dt.datetime.strptime(v, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone).astimezone(dt.UTC)
        for _, v in before_2100
    ]


def test_an_offset_of_hours_alone_reads_alike_whole_and_in_chunks(tmp_path: Path) -> None:
    """`+05` is an offset `%#z` takes: a late one in a column of `+05:30` times is a time as the
    others are, whether the file is read whole or in chunks (the shape of every date said it was
    none, the known formats' shape that it was one)."""
    import datetime as dt

    lines = ["Code,Moved"] + [f"C{i},2024-03-15T10:20:{i % 60:02d}+05:30" for i in range(ROWS)]
    lines[ROWS - 10] = f"C{ROWS - 11},2024-03-15T10:20:30+05"
    path = tmp_path / "f.csv"
    path.write_bytes("".join(line + "\n" for line in lines).encode())
    whole, chunked = plan_of(path, 1 << 30, "Asia/Kolkata"), plan_of(path, 4 << 10, "Asia/Kolkata")
    assert summary(chunked) == summary(whole)
    assert {c.name: c.kind for c in chunked.columns} == {"code": "text", "moved": "timestamp"}
    batches = list(read_batches(path, chunked, unify([chunked]), timezone="Asia/Kolkata"))
    moved = [v for batch in batches for v in batch.column("moved").to_pylist()]
    assert moved[ROWS - 11] == dt.datetime(2024, 3, 15, 5, 20, 30, tzinfo=dt.UTC)


# days whose midnight the zone skips (its clock put forward at 00:00), and the first instant of each
SKIPPED_MIDNIGHTS = {
    "America/Santiago": ("08-09-2024", "2024-09-08 04:00"),  # 00:00 -> 01:00, -04 -> -03
    "Africa/Cairo": ("26-04-2024", "2024-04-25 22:00"),  # 00:00 -> 01:00, +02 -> +03
    "Asia/Kolkata": ("01-09-1942", "1942-08-31 18:30"),  # war time: 00:00 -> 01:00, +5:30 -> +6:30
}


@pytest.mark.parametrize("timezone", sorted(SKIPPED_MIDNIGHTS))
@pytest.mark.parametrize("chunk", [None, 4 << 10])
def test_a_day_whose_midnight_the_zone_skips_is_a_date_and_among_times_its_first_instant(
    tmp_path: Path, timezone: str, chunk: int | None
) -> None:
    """A date is a day, and a day whose midnight the zone skips still has a first instant: a
    column of dates stays a date column, and among times such a date is the instant the clock
    jumped. A written time inside the gap is no instant: its column stays text."""
    import datetime as dt

    day, first_instant = SKIPPED_MIDNIGHTS[timezone]
    lines = ["Code,Shipped On,Mixed,Gap"]
    for i in range(ROWS):
        date = day if i == ROWS - 10 else f"{1 + i % 28:02d}-{1 + i % 12:02d}-2024"
        mixed = date if i % 3 == 0 or i == ROWS - 10 else f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 12:00:00"
        gap = f"{day} 00:30:00" if i == ROWS - 10 else f"{1 + i % 28:02d}-{1 + i % 12:02d}-2024 12:00:00"
        lines.append(f"C{i},{date},{mixed},{gap}")
    path = tmp_path / "f.csv"
    path.write_bytes("".join(line + "\n" for line in lines).encode())

    plan = plan_of(path, chunk, timezone)
    kinds = {c.name: c.kind for c in plan.columns}
    assert kinds == {"code": "text", "shipped_on": "date", "mixed": "timestamp", "gap": "text"}
    batches = list(read_batches(path, plan, unify([plan]), timezone=timezone))
    columns = ("shipped_on", "mixed", "gap")
    row = {c: [v for batch in batches for v in batch.column(c).to_pylist()][ROWS - 10] for c in columns}
    assert row["shipped_on"] == dt.datetime.strptime(day, "%d-%m-%Y").date()
    assert row["mixed"] == dt.datetime.strptime(first_instant, "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
    assert row["gap"] == f"{day} 00:30:00"
