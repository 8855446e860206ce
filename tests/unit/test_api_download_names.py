"""Each job's download has a file name of its own, whatever characters its code holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from uniware_source.api.budget import RetryBudget
from uniware_source.api.download import DownloadResult
from uniware_source.jobs.fetch import Fetcher, download_name
from uniware_source.jobs.job import ExportJob

TRICKY = [
    "E/1",
    "E_1",
    "E\\1",
    "E:1",
    "E 1",
    "E.1",
    "e_1",  # differs from E_1 only in case: distinct names for case-blind filesystems too
    "EXP-000123",
    "exp-000123",
    "../x",
    "..",
    ".",
    "./.",
    ".hidden",
    "-rf",
    "",
    "\x00",
    "a\nb",
    "Ünïcødé-1",
    "Unicode-1",
    "e\u0301",  # é, decomposed
    "\u00e9",  # é, composed
    "订单/2024",
    "📦📦📦",
    "\udcff",  # a lone surrogate, as a broken decoder may leave
    "x" * 120,
    "x" * 120 + "y",
    "/" * 300,
    "é" * 500,
    "CON",
    "nul.csv",
]


def test_tricky_codes_get_distinct_names_even_on_a_case_blind_filesystem() -> None:
    names = [download_name(code) for code in TRICKY]
    assert len({name.casefold() for name in names}) == len(TRICKY)


@pytest.mark.parametrize("code", TRICKY)
def test_a_name_is_safe(code: str) -> None:
    name = download_name(code)
    assert len(name.encode("utf-8")) <= 200
    assert name.endswith(".csv")
    assert not name.startswith(".")
    assert all(c not in name for c in "/\\\x00:\n")
    assert name.isascii() and name.isprintable()
    assert Path(name).name == name  # one path component
    assert download_name(code) == name  # the same code, the same name, every run


def test_a_plain_code_stays_readable() -> None:
    assert download_name("EXP-000123").startswith("EXP-000123-")


class FakeClient:
    """Serves each job's own bytes, and notes where each was written."""

    budget = RetryBudget()

    def __init__(self) -> None:
        self.dests: dict[str, Path] = {}

    def export_job_status(self, job_code: str) -> Any:
        raise AssertionError("no fresh link is needed")

    def download(self, url: str, dest: Path, *, job_code: str, progress: Any = None) -> DownloadResult:
        self.dests[job_code] = dest
        data = f"Code\n{job_code}\n".encode()
        dest.write_bytes(data)
        return DownloadResult(dest, len(data), "sha")


def test_jobs_whose_codes_once_shared_a_name_keep_their_own_rows(tmp_path: Path) -> None:
    client = FakeClient()

    def planner(job: ExportJob, path: Path, arrival: Any) -> Any:
        return path

    jobs = [
        ExportJob(code, "Sale Orders", None, "sale_orders", file_url="https://f/x") for code in TRICKY[:9]
    ]
    with ThreadPoolExecutor(2) as plans:
        fetcher = Fetcher(client, planner, tmp_path, plans)
        fetched = [fetcher(job) for job in jobs]
    assert all(job.outcome is None for job in fetched), [job.message for job in fetched]
    assert len({job.local_file for job in fetched}) == len(jobs)
    for job in fetched:
        assert job.local_file is not None and job.local_file.parent == tmp_path
        assert job.local_file.read_bytes() == f"Code\n{job.job_code}\n".encode()
