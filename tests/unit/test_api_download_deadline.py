"""One download attempt's deadline, and the bytes a failed download reports, without waiting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from uniware_source.api.auth import UniwareCredentials
from uniware_source.api.client import DEFAULT_DOWNLOAD_TIMEOUT, UniwareClient
from uniware_source.api.deadline import DownloadDeadline, received_bytes
from uniware_source.api.download import _Reading, _stream
from uniware_source.api.errors import ConfigurationError, DownloadError

CREDENTIALS = UniwareCredentials(username="u", password="deadline-pass")


class FakeRaw:
    """urllib3's response as far as the deadline uses it: bytes pulled, and a shutdown."""

    def __init__(self, pulled: int = 0) -> None:
        self.pulled = pulled
        self.shutdowns = 0

    def tell(self) -> int:
        return self.pulled

    def shutdown(self) -> None:
        self.shutdowns += 1


class FakeResponse(requests.Response):
    def __init__(self, chunks: list[bytes], *, fail: bool, pulled: int = 0) -> None:
        super().__init__()
        self.status_code = 200
        self.raw = FakeRaw(pulled)
        self._chunks = chunks
        self._fail = fail

    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[Any]:
        yield from self._chunks
        if self._fail:
            raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")


def _reading(deadline: DownloadDeadline) -> _Reading:
    return _Reading("J-1", "https://files.example/x.csv", deadline, None)


def test_the_client_has_a_download_deadline_by_default() -> None:
    client = UniwareClient("http://127.0.0.1:1", CREDENTIALS)
    assert client._downloader._deadline == DEFAULT_DOWNLOAD_TIMEOUT == 1800.0
    assert UniwareClient("http://127.0.0.1:1", CREDENTIALS, download_timeout=5)._downloader._deadline == 5


@pytest.mark.parametrize("seconds", [0, -1, float("nan")])
def test_a_deadline_that_is_no_time_is_refused(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="download_timeout"):
        UniwareClient("http://127.0.0.1:1", CREDENTIALS, download_timeout=seconds)


def test_a_drop_reports_the_bytes_that_arrived_not_only_those_handed_out(tmp_path: Path) -> None:
    # 2,000 bytes written; urllib3 had pulled 50,000 when the connection broke mid-chunk
    response = FakeResponse([b"a" * 2000], fail=True, pulled=50_000)
    with DownloadDeadline(3600) as deadline, pytest.raises(DownloadError) as failure:
        _stream(response, tmp_path / "f.csv", _reading(deadline))
    assert "connection dropped after 50000 bytes" in str(failure.value)


def test_a_drop_never_reports_fewer_bytes_than_were_written(tmp_path: Path) -> None:
    response = FakeResponse([b"a" * 700, b"b" * 300], fail=True, pulled=0)  # no wire count known
    with DownloadDeadline(3600) as deadline, pytest.raises(DownloadError) as failure:
        _stream(response, tmp_path / "f.csv", _reading(deadline))
    assert "after 1000 bytes" in str(failure.value)
    assert (tmp_path / "f.csv").stat().st_size == 1000


def test_received_bytes_without_a_urllib3_response() -> None:
    response = requests.Response()
    assert received_bytes(response, 12) == 12


def test_when_the_deadline_fires_the_response_is_shut_down_and_the_download_fails(tmp_path: Path) -> None:
    response = FakeResponse([b"Code\n", b"A\n"], fail=False, pulled=7)
    with DownloadDeadline(3600) as deadline:
        deadline.watch(response)
        deadline._fire()  # what the timer does when the time is up
        assert response.raw.shutdowns == 1
        with pytest.raises(DownloadError) as failure:
            _stream(response, tmp_path / "f.csv", _reading(deadline))
    # the body looked whole (a cut connection without Content-Length looks like an end): still late
    assert "passed its deadline of 3600 s (download_timeout) after 7 bytes" in str(failure.value)
    assert "https://files.example/x.csv" in str(failure.value)


def test_a_response_watched_after_the_deadline_is_shut_down_at_once() -> None:
    response = FakeResponse([], fail=False)
    with DownloadDeadline(3600) as deadline:
        deadline._fire()
        deadline.watch(response)
        assert response.raw.shutdowns == 1 and deadline.passed()


def test_after_the_download_the_deadline_touches_nothing() -> None:
    response = FakeResponse([], fail=False)
    with DownloadDeadline(3600) as deadline:
        deadline.watch(response)
    deadline._fire()  # a timer that fired just as the download ended
    assert response.raw.shutdowns == 0  # its connection may be back in the pool: left alone
