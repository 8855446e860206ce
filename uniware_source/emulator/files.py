"""The export files of jobs, generated once per (seed, rows/window, params) and cached on disk.

A file is written to a temp name and renamed into place, so a reader (another job, another
process sharing the cache directory) never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, cast

import polars as pl

from uniware_source.emulator import data
from uniware_source.emulator.csvfile import BOM, CRLF, LF, format_line, write_atomically
from uniware_source.emulator.model import SALE_ORDERS, Job, JobSpec
from uniware_source.emulator.report_models import report_model

FORMAT_VERSION = 4
GENERIC_ROWS_PER_DAY = 20

_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "uniware-emulator-cache"


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def date_field_for(filter_id: str) -> data.DateField:
    return "updated" if filter_id == "updatedOn" else "created"


def _effective_window(job: Job) -> tuple[int, int] | None:
    window = job.spec.window
    if window is None or job.not_after_ms is None:
        return window
    return window[0], min(window[1], job.not_after_ms)


def _bool_style(job: Job) -> data.BoolStyle:
    if job.spec.bool_style is not None:
        return cast(data.BoolStyle, job.spec.bool_style)
    # One facility of the tenant is configured to write yes/no (some files do).
    return "yesno" if job.spec.facility == "WH-MUM" else "truefalse"


def _is_sale_orders(spec: JobSpec) -> bool:
    return spec.report.strip().lower() == SALE_ORDERS.lower()


def _file_style(spec: JobSpec) -> tuple[str, bool]:
    """(line end, BOM) of the job's file: the spec's, else the report's own. The modelled
    reports are written as the real files seen (LF, no BOM); Sale Orders and any other report as
    the tenant's UI exports (CRLF with a BOM)."""
    modelled = report_model(spec.report) is not None
    newline = spec.newline or (LF if modelled else CRLF)
    return newline, (not modelled) if spec.bom is None else spec.bom


def _unrequested(spec: JobSpec) -> bool:
    """Whether the file has the columns a real tenant adds unasked: by default when columns were named."""
    return spec.columns is not None if spec.unrequested_columns is None else spec.unrequested_columns


class FileCache:
    """Builds and remembers export files under one directory."""

    def __init__(self, directory: Path | str | None = None, *, orders_per_day: int | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.orders_per_day = orders_per_day

    def describe(self, job: Job) -> dict[str, object]:
        """Everything the file's bytes depend on."""
        spec = job.spec
        is_sale_orders = _is_sale_orders(spec)
        window = _effective_window(job)
        newline, bom = _file_style(spec)
        return {
            "v": FORMAT_VERSION,
            "polars": pl.__version__,
            "report": spec.report,
            "kind": "empty_body" if spec.empty_body else "empty" if spec.empty else "data",
            "facility": spec.facility,
            "seed": job.seed,
            "columns": list(spec.columns) if spec.columns else None,
            "rows": spec.rows if window is None else None,
            "window": list(window) if window else None,
            "date_field": date_field_for(spec.date_filter) if window else None,
            "malformed": sorted(spec.malformed_rows),
            "bool_style": _bool_style(job) if is_sale_orders else None,
            "orders_per_day": self.orders_per_day,
            "content": hashlib.sha256(spec.content).hexdigest() if spec.content is not None else None,
            "unrequested": _unrequested(spec) if is_sale_orders else None,
            "tenant_order": spec.tenant_order,
            "newline": newline,
            "bom": bom,
        }

    def path_for(self, job: Job) -> Path:
        desc = self.describe(job)
        digest = hashlib.sha256(json.dumps(desc, sort_keys=True).encode("utf-8")).hexdigest()[:24]
        slug = "".join(ch if ch.isalnum() else "-" for ch in job.spec.report.lower()).strip("-") or "report"
        return self.directory / f"{slug}-{job.spec.facility}-{digest}.csv"

    def build(self, job: Job) -> tuple[Path, int]:
        """Return (path, data rows) of the job's file, generating it if not cached yet."""
        path = self.path_for(job)
        meta = path.with_suffix(".json")
        with _lock_for(str(path)):
            if path.exists() and meta.exists():
                try:
                    return path, int(json.loads(meta.read_text())["rows"])
                except (ValueError, KeyError, TypeError, OSError):
                    pass
            rows = self._generate(job, path)
            meta.write_text(json.dumps({**self.describe(job), "rows": rows}))
        return path, rows

    def _generate(self, job: Job, path: Path) -> int:
        spec = job.spec
        if spec.content is not None:
            content = spec.content

            def exactly(fh: BinaryIO) -> int:
                fh.write(content)
                return max(content.count(b"\n") - 1, 0)  # lines after the header, about

            return write_atomically(path, exactly)
        if spec.empty_body:
            return write_atomically(path, lambda fh: 0)
        newline, bom = _file_style(spec)
        if spec.empty:
            return self._header_only(spec, path, newline, bom)
        window = _effective_window(job)
        model = report_model(spec.report)
        if _is_sale_orders(spec):
            return data.write_sale_orders_csv(
                path,
                spec.rows if window is None else None,
                seed=job.seed,
                facility=spec.facility,
                window=window,
                date_field=date_field_for(spec.date_filter),
                orders_per_day=self.orders_per_day,
                columns=spec.columns,
                malformed_rows=spec.malformed_rows,
                bool_style=_bool_style(job),
                unrequested=_unrequested(spec),
                reorder=spec.tenant_order,
                newline=newline,
                bom=bom,
            )
        if model is not None:
            return data.write_report_csv(
                path,
                model,
                seed=job.seed,
                facility=spec.facility,
                columns=spec.columns,
                rows=spec.rows if window is None else None,
                window=window,
                malformed_rows=spec.malformed_rows,
                newline=newline,
                bom=bom,
            )
        rows = spec.rows
        if window is not None:
            start = max(window[0], data.ist_midnight_epoch(data.TENANT_START) * 1000)
            days = max(0, (window[1] - start) // 86_400_000 + 1) if window[1] >= start else 0
            rows = days * GENERIC_ROWS_PER_DAY
        return data.write_generic_csv(
            path,
            report=spec.report,
            columns=list(spec.columns or ["code", "name", "value"]),
            seed=job.seed,
            facility=spec.facility,
            rows=rows,
            malformed_rows=spec.malformed_rows,
        )

    @staticmethod
    def _header_only(spec: JobSpec, path: Path, newline: str, bom: bool) -> int:
        model = report_model(spec.report)
        if _is_sale_orders(spec):
            labels = data.sale_order_labels(spec.columns, unrequested=_unrequested(spec))
        elif model is not None:
            labels = [model.label(key) for key in spec.columns or model.keys]
        else:
            labels = list(spec.columns or ["code"])

        def header_only(fh: BinaryIO) -> int:
            if bom:
                fh.write(BOM)
            fh.write(format_line(labels, newline))
            return 0

        return write_atomically(path, header_only)
