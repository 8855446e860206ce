"""The source's settings go through dlt's configspec: a wrong value is reported by the setting's
name, before anything is contacted."""

from __future__ import annotations

from typing import Any

import pytest

from uniware_source import UniwareCredentials, uniware_source
from uniware_source.settings import UniwareSourceConfiguration


def _source(**settings: Any) -> Any:
    options: dict[str, Any] = {
        "base_url": "http://127.0.0.1:9",  # never contacted: the source only wires resources
        "credentials": UniwareCredentials(username="u", password="p"),
        "job_codes": ["J1"],
    }
    return uniware_source(**{**options, **settings})


def _export(**settings: Any) -> dict[str, Any]:
    return {"report": "Sale Orders", "start_date": "2024-04-01", **settings}


def _message(error: BaseException) -> str:
    """The message of the error and of every error it was raised from."""
    parts = []
    current: BaseException | None = error
    while current is not None:
        parts.append(str(current))
        current = current.__cause__ or current.__context__
    return " | ".join(parts)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"poll_interval": "soon"}, "poll_interval"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"max_poll_interval": 0.5, "poll_interval": 1}, "max_poll_interval"),
        ({"job_timeout": float("inf")}, "job_timeout"),
        ({"download_timeout": 0}, "download_timeout"),
        ({"max_workers": 0}, "max_workers"),
        ({"max_jobs_in_flight": 0}, "max_jobs_in_flight"),
        ({"retry_cooldown": -5}, "retry_cooldown"),
        ({"request_backoff_factor": -1}, "request_backoff_factor"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"download_dir": "/no/such/dir"}, "download_dir"),
        ({"backfill_start": "2024-13-01"}, "backfill"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"exports": [_export(windowdays=1)]}, "windowdays"),
        ({"exports": [_export(window_days="1")]}, "window_days"),
        ({"exports": [_export(max_attempts=True)]}, "max_attempts"),
        ({"exports": [_export(type_hints={"A": "money"})]}, "type_hints"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_reported_by_its_name(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(Exception) as error:
        _source(**settings)
    assert named in _message(error.value)


def test_settings_come_from_the_environment_in_the_sources_uniware_section(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SOURCES__UNIWARE__MAX_JOBS_IN_FLIGHT", "7")
    monkeypatch.setenv("SOURCES__UNIWARE__TIMEZONE", "UTC")
    source = _source(exports=[{"report": "Inventory Snapshot", "facilities": ["F"]}])
    assert [name for name in source.resources] == ["uniware_exports", "sale_orders"]
    from dlt.common.configuration import resolve_configuration

    config = resolve_configuration(
        UniwareSourceConfiguration(),
        sections=("sources", "uniware"),
        explicit_value={"base_url": "http://127.0.0.1:9"},
    )
    settings, sync, _ = config.settings()
    assert sync.max_jobs_in_flight == 7 and settings.timezone == "UTC"


def test_the_download_deadline_reaches_the_client() -> None:
    source = _source(download_timeout=7.5)
    assert source.resources["sale_orders"] is not None
    from dlt.common.configuration import resolve_configuration

    config = resolve_configuration(
        UniwareSourceConfiguration(),
        sections=("sources", "uniware"),
        explicit_value={
            "base_url": "http://127.0.0.1:9",
            "download_timeout": 7.5,
            "credentials": UniwareCredentials(username="u", password="p"),
        },
    )
    settings, _, _ = config.settings()
    assert settings.download_timeout == 7.5
    settings.client()  # accepted by the client


@pytest.mark.parametrize(
    ("value", "codes"),
    [("DEMO-1", ["DEMO-1"]), ("A-1, B-2", ["A-1", "B-2"]), ('["A-1", "B-2"]', ["A-1", "B-2"])],
)
def test_job_codes_from_the_environment_a_json_list_a_code_or_a_comma_list(
    value: str, codes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__JOB_CODES", value)
    source = uniware_source(base_url="http://127.0.0.1:9", credentials=UniwareCredentials("u", "p"))
    assert list(source.resources) == ["sale_orders"]
    from uniware_source.settings import job_code_list

    assert job_code_list(value) == codes


def test_job_codes_that_are_broken_json_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__JOB_CODES", '["DEMO-1"')
    with pytest.raises(Exception) as error:
        uniware_source(base_url="http://127.0.0.1:9", credentials=UniwareCredentials("u", "p"))
    message = _message(error.value)
    assert "SOURCES__UNIWARE__JOB_CODES" in message and '["EXP-1", "EXP-2"]' in message


@pytest.mark.parametrize("tenant", ["http://mycompany", "mycompany.unicommerce.com", "https://x.y"])
def test_a_tenant_that_is_a_url_names_tenant_and_base_url(tenant: str) -> None:
    with pytest.raises(Exception) as error:
        _source(base_url=None, tenant=tenant)
    message = _message(error.value)
    assert "sources.uniware.tenant" in message and "base_url" in message


def test_a_report_name_close_to_the_catalogue_warns_naming_both(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="uniware_source.settings"):
        source = _source(report="Sale Order")
    assert list(source.resources) == ["sale_order"]
    warnings = [r.getMessage() for r in caplog.records if "sources.uniware.report" in r.getMessage()]
    assert len(warnings) == 1
    assert "'Sale Order'" in warnings[0] and "'Sale Orders'" in warnings[0] and "'sale_order'" in warnings[0]
    caplog.clear()
    _source(report="Sale Orders")
    _source(report="Stock Transfer Requests")  # far from every catalogue name: nothing to suggest
    assert not [r for r in caplog.records if "sources.uniware.report" in r.getMessage()]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"report": "Export Jobs"}, "sources.uniware.report 'Export Jobs'"),
        ({"report": "Rejected Rows"}, "sources.uniware.report"),
        ({"report": "Invoice", "table_name": "_uniware_job_ledger"}, "sources.uniware.table_name"),
        ({"report": "Invoice", "table_name": "_dlt_loads"}, "sources.uniware.table_name"),
        ({"exports": [_export(table_name="export_jobs")], "job_codes": None}, "sources.uniware.exports[0]"),
        ({"exports": [{"report": "Rejected Rows", "columns": ["a"]}], "job_codes": None}, "exports[0]"),
    ],
)  # fmt: skip
def test_a_table_the_connector_keeps_for_itself_is_refused_naming_the_setting(
    settings: dict[str, Any], named: str
) -> None:
    """A report whose rows would land in the audit table, the rejects, the ledger or dlt's own
    tables: refused before anything is contacted (loaded, they would mix with the audit's rows, or
    fail every later load)."""
    with pytest.raises(Exception) as error:
        _source(**settings)
    message = _message(error.value)
    assert named in message and "keeps for itself" in message, message


def test_from_the_catalogue_the_connectors_own_tables_are_the_ones_it_writes() -> None:
    from uniware_source.jobs.ledger import LEDGER_TABLE
    from uniware_source.load.audit import AUDIT_TABLE, REJECTED_TABLE
    from uniware_source.load.tenant import TENANT_TABLE
    from uniware_source.reports import OWN_TABLES

    assert {AUDIT_TABLE, REJECTED_TABLE, LEDGER_TABLE, TENANT_TABLE} == OWN_TABLES


def test_a_backfill_without_exports_names_the_missing_exports() -> None:
    with pytest.raises(Exception) as error:
        _source(backfill_start="2024-04-01", backfill_end="2024-04-02")
    assert "[[sources.uniware.exports]]" in _message(error.value)


def test_column_types_name_the_setting_and_the_kinds_when_wrong() -> None:
    with pytest.raises(Exception) as error:
        _source(exports=[_export(column_types={"Narration": "txt"})])
    assert (
        "sources.uniware.exports[0].column_types['Narration'] = 'txt' is not a known type; "
        "the types are text, integer, decimal, boolean, date, timestamp"
    ) in _message(error.value)
    with pytest.raises(Exception) as error:
        _source(column_types={"Narration": "money"})
    assert "sources.uniware.column_types['Narration'] = 'money' is not a known type" in _message(error.value)


def test_column_types_reach_both_paths_over_the_catalogue(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Source-wide (here from SOURCES__UNIWARE__COLUMN_TYPES) for job codes and every export; an
    export's own column_types, or its older name type_hints, over that."""
    from dlt.common.configuration import resolve_configuration

    monkeypatch.setenv("SOURCES__UNIWARE__COLUMN_TYPES", '{"Narration": "text", "Total": "Text"}')
    monkeypatch.setenv(
        "SOURCES__UNIWARE__EXPORTS",
        '[{"report": "Invoice", "start_date": "2024-04-01", "column_types": {"Total": "decimal"}}, '
        '{"report": "Item Master", "type_hints": {"MRP": "text"}}]',
    )
    config = resolve_configuration(
        UniwareSourceConfiguration(),
        sections=("sources", "uniware"),
        explicit_value={"base_url": "http://127.0.0.1:9"},
    )
    settings, _, specs = config.settings()
    assert settings.column_types == {"Narration": "text", "Total": "text"}
    invoice, items = (spec.report for spec in specs)
    assert invoice.hints["Total"] == "decimal" and invoice.hints["Narration"] == "text"
    assert invoice.hints["Invoice Code"] == "text"  # the catalogue's, kept
    assert invoice.overrides == {"Narration": "text", "Total": "decimal"}
    assert items.hints["MRP"] == "text" and items.hints["Total"] == "text"


def test_a_full_disk_after_a_failed_link_is_told_as_the_full_disk(capsys: pytest.CaptureFixture[str]) -> None:
    """Copying a file where a hard link across file systems had failed, and finding the disk full:
    the one line names the full disk, not the link that was tried first (the wrapper stands for
    dlt's PipelineStepFailed)."""
    from uniware_source.cli_errors import report_failure

    def copy() -> None:
        try:
            raise OSError(18, "Invalid cross-device link")
        except OSError:
            raise OSError(28, "No space left on device", "/data/pipelines/uniware/load/x.parquet")  # noqa: B904

    def fail() -> None:
        try:
            copy()
        except OSError as exc:
            raise RuntimeError("load step failed") from exc

    try:
        fail()
    except RuntimeError as exc:
        report_failure(exc, verbose=False)
    line = capsys.readouterr().err.strip()
    assert line.startswith("uniware: run failed: OSError: [Errno 28] No space left on device"), line
