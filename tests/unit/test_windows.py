"""Window planning and export settings: pure functions."""

from datetime import UTC, date, datetime, timedelta

import pytest

from uniware_source.api.errors import ConfigurationError
from uniware_source.incremental.plan import subtract
from uniware_source.incremental.specs import parse_exports
from uniware_source.incremental.windows import Window, local_midnight, plan_windows

IST = "Asia/Kolkata"


def test_ist_midnight_is_1830_utc_the_day_before() -> None:
    assert local_midnight(date(2024, 6, 1), IST) == datetime(2024, 5, 31, 18, 30, tzinfo=UTC)


def test_windows_align_to_local_midnight_and_cover_the_range() -> None:
    start = datetime(2024, 6, 2, 3, 0, tzinfo=UTC)  # 08:30 IST on June 2
    end = datetime(2024, 6, 4, 10, 0, tzinfo=UTC)
    windows = plan_windows(start, end, anchor=date(2024, 4, 1), size=timedelta(days=1), zone=IST)
    assert windows[0].start == local_midnight(date(2024, 6, 2), IST)  # re-reads the whole first day
    assert windows[-1].end == end  # the last one is partial
    assert all(a.end == b.start for a, b in zip(windows, windows[1:], strict=False))
    assert [w.hours for w in windows[:-1]] == [24.0, 24.0]


def test_multi_day_windows_keep_their_boundaries_across_runs() -> None:
    anchor = date(2024, 4, 1)
    size = timedelta(days=7)
    a = plan_windows(
        datetime(2024, 5, 3, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC), anchor=anchor, size=size, zone=IST
    )
    b = plan_windows(
        datetime(2024, 5, 20, tzinfo=UTC),
        datetime(2024, 6, 1, tzinfo=UTC),
        anchor=anchor,
        size=size,
        zone=IST,
    )
    assert {w.start for w in b} <= {w.start for w in a}


def test_date_range_is_inclusive_epoch_millis() -> None:
    window = Window(datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 2, tzinfo=UTC))
    assert window.date_range() == {"start": 1717200000000, "end": 1717286399999}
    first, second = window.halves()
    assert (first.start, first.end, second.end) == (
        window.start,
        window.start + timedelta(hours=12),
        window.end,
    )


def test_subtracting_pending_windows_leaves_the_gaps() -> None:
    day = Window(datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 2, tzinfo=UTC))
    pending = Window(datetime(2024, 6, 1, 6, tzinfo=UTC), datetime(2024, 6, 1, 12, tzinfo=UTC))
    assert subtract(day, [pending]) == [
        Window(day.start, pending.start),
        Window(pending.end, day.end),
    ]
    assert subtract(day, [day]) == []


def test_export_settings_get_catalogue_defaults() -> None:
    (spec,) = parse_exports(
        [{"report": "Sale Orders", "start_date": "2024-04-01"}], default_facility="WH-BLR"
    )
    assert spec.columns and "soicode" in spec.columns
    assert spec.date_filter == "updatedOn"
    assert spec.report.key == ("Sale Order Item Code",)
    assert spec.facilities == ("WH-BLR",)
    assert spec.table_name == "sale_orders"
    (snapshot,) = parse_exports(
        [{"report": "Inventory Snapshot", "facilities": "all"}], default_facility=None
    )
    assert snapshot.is_snapshot and snapshot.facilities is None


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"start_date": "2024-04-01"}, "report"),
        ({"report": "Gatepass", "start_date": "2024-04-01"}, "columns"),
        ({"report": "Sale Orders"}, "start_date"),
        ({"report": "Sale Orders", "start_date": "01/04/2024"}, "start_date"),
        ({"report": "Sale Orders", "start_date": "2024-04-01", "window_days": 0}, "window_days"),
        ({"report": "Sale Orders", "start_date": "2024-04-01", "windowdays": 2}, "unknown setting"),
        ({"report": "Sale Orders", "start_date": "2024-04-01", "window_days": "nan"}, "window_days"),
        ({"report": "Sale Orders", "start_date": "2024-04-01", "max_attempts": 0.5}, "max_attempts"),
        ({"report": "Sale Orders", "start_date": "2024-04-01", "columns": 5}, "columns"),
        ({"report": "Sale Orders", "start_date": "2024-04-01", "primary_key": 5}, "primary_key"),
        ({"report": "Sale Orders", "start_date": "2024-04-01", "type_hints": ["x"]}, "type_hints"),
        ({"report": "Gatepass", "columns": ["a"], "start_date": "2024-04-01"}, "date_filter"),
    ],
)
def test_bad_export_settings_name_the_setting(entry, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match=words) as error:
        parse_exports([entry], default_facility=None)
    assert "exports[0]" in str(error.value)


def test_remembered_window_size_stays_on_the_grid_and_grows_back() -> None:
    from uniware_source.incremental.cursors import remember_window_sizes
    from uniware_source.incremental.plan import WindowTask
    from uniware_source.jobs import ExportJob, Outcome

    (spec,) = parse_exports([{"report": "Sale Orders", "start_date": "2024-04-01"}], default_facility="F")
    day = Window(local_midnight(date(2024, 6, 1), IST), local_midnight(date(2024, 6, 2), IST))
    partial = Window(day.end, day.end + timedelta(hours=2, minutes=5))

    def loaded(window: Window, *, full: bool) -> WindowTask:
        task = WindowTask(spec, "F", window, full=full)
        task.fetched = ExportJob("J", spec.report.name, "F", spec.table_name).finish(Outcome.LOADED)
        return task

    split_day = WindowTask(spec, "F", day, full=True)
    split_day.split_into = (loaded(day.halves()[0], full=True), loaded(day.halves()[1], full=True))
    split_partial = WindowTask(spec, "F", partial)
    split_partial.split_into = (
        loaded(partial.halves()[0], full=False),
        loaded(partial.halves()[1], full=False),
    )
    state: dict = {}
    remember_window_sizes([split_day, split_partial], state)
    assert state["window_hours"][spec.key]["F"] == 12  # the partial window's odd halves are ignored
    remember_window_sizes([loaded(day.halves()[0], full=True)], state)
    assert spec.key not in state["window_hours"] or "F" not in state["window_hours"][spec.key]  # back to 24 h


def test_a_cursor_later_than_now_is_refused_saying_how_to_read_the_time_again() -> None:
    """A run whose clock was ahead (+30 h) moved the cursor past now: from it, later runs would read
    nothing until the clock caught up, and the rows of the time in between would never load. The
    next run is refused in one line naming the export, the facility and the reset that reads the
    time again; a cursor a few minutes ahead (another machine's clock) is taken as it is."""
    from datetime import UTC, datetime, timedelta

    import pytest

    from uniware_source.api.errors import ConfigurationError
    from uniware_source.incremental.plan import PlanContext, plan_tasks
    from uniware_source.incremental.specs import parse_exports
    from uniware_source.jobs.ledger import JobLedger

    specs = parse_exports(
        [{"report": "Sale Orders", "start_date": "2026-11-01", "facilities": ["WH-BLR"]}],
        default_facility=None,
    )
    now = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)

    def plan(cursor: datetime, backfill: tuple[date, date] | None = None) -> int:
        state = {"cursors": {specs[0].key: {"WH-BLR": cursor.isoformat()}}}
        context = PlanContext(now, "Asia/Kolkata", state, JobLedger.open(None, read_only=True), backfill)
        return len(plan_tasks(specs, context, lambda: []).tasks)

    assert plan(now + timedelta(minutes=5)) > 0  # within a clock's skew: read from it
    with pytest.raises(ConfigurationError) as refused:
        plan(now + timedelta(hours=30))
    message = str(refused.value)
    assert (
        "'Sale Orders' (WH-BLR) is 2026-12-03 17:30, later than now (2026-12-02 11:30 Asia/Kolkata)"
        in message
    )
    assert "uniware reset sale_orders --to <date> --yes" in message and "\n" not in message
    assert plan(now + timedelta(hours=30), (date(2026, 11, 1), date(2026, 11, 3))) > 0  # a backfill's own
