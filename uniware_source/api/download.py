"""The file download: one export file streamed to disk, verified, and readable while it arrives.

Uniware's `filePath` is usually a pre-signed link on another host (CloudFront/S3 style), its
signature in the query string: the link is never logged whole (`display_url`), and the bearer
token is sent only when the file is on the tenant's own origin. A refusal of the link (401, 403,
404, 410) is `LinkExpiredError`, which the caller answers with a fresh link; a file cut short, or
an HTML page where the CSV should be, is a `DownloadError`.

Redirects of the file link are followed (a tenant's own path may send us on to its file host);
requests drops the `Authorization` header on a redirect to another host, so the bearer token
still reaches only the tenant. One attempt has a deadline, `download_timeout` seconds of wall
time (`DownloadDeadline`): each wait for a byte is bounded by the request timeout, the whole
download by the deadline, however slowly the host trickles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import requests
from dlt.sources.helpers.requests import Client

from uniware_source.api.auth import TokenProvider
from uniware_source.api.deadline import DownloadDeadline, received_bytes
from uniware_source.api.errors import DownloadError, LinkExpiredError
from uniware_source.api.urls import display_url, file_url_problem, same_origin

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
_LINK_REFUSED = (401, 403, 404, 410)


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    bytes: int
    sha256: str


class FileDownloader:
    """Streams export files through a (retrying) session; see `download`."""

    def __init__(
        self, files: Client, base_url: str, tokens: TokenProvider, *, timeout: float, deadline: float
    ) -> None:
        self._files = files  # its session is per thread: asked for on each download
        self._base_url = base_url
        self._tokens = tokens
        self._timeout = min(timeout, deadline)
        self._deadline = deadline

    def download(
        self, url: str, dest: Path, *, job_code: str, progress: Callable[[int], None] | None = None
    ) -> DownloadResult:
        """Stream `url` to `dest`, verified, within the deadline. The bearer token goes only to the
        tenant's own origin.

        With `progress`, each piece is flushed to the file and `progress` told the bytes written so
        far, so that the file can be read while it downloads."""
        problem = file_url_problem(url)
        if problem is not None:
            raise DownloadError(f"job {job_code}: {problem}")
        link = display_url(url)
        with DownloadDeadline(self._deadline) as deadline, self._open(url, job_code, link) as response:
            deadline.watch(response)
            expected = _expected_bytes(response, job_code, link)
            size, sha256 = _stream(response, dest, _Reading(job_code, link, deadline, progress))
            if expected is not None and size != expected:
                raise DownloadError(f"job {job_code}: {link} ended after {size} of {expected} bytes")
        return DownloadResult(path=dest, bytes=size, sha256=sha256)

    def _open(self, url: str, job_code: str, link: str) -> requests.Response:
        headers = {"Accept": "text/csv, */*"}
        if same_origin(url, self._base_url):
            headers["Authorization"] = self._tokens.header()
        failure = None
        try:
            return self._files.session.get(url, headers=headers, stream=True, timeout=self._timeout)
        except requests.RequestException as exc:
            # the message of a file request holds the signed link: name the error only
            failure = f"job {job_code}: download of {link} failed: {type(exc).__name__}"
        raise DownloadError(failure)  # raised outside the except block: no chained original


@dataclass(frozen=True)
class _Reading:
    """What `_stream` needs besides the response and the file."""

    job_code: str
    link: str
    deadline: DownloadDeadline
    progress: Callable[[int], None] | None

    def write(self, out: BinaryIO, chunk: bytes, size: int, digest: Any) -> int:
        """Append `chunk` to the file (a reader is told once it is on disk); the size now."""
        if size == 0 and _looks_like_html(chunk):
            raise _html(self.job_code, self.link)
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
        if self.progress is not None:
            out.flush()
            self.progress(size)
        return size

    def cut(self, response: requests.Response, written: int, exc: Exception) -> DownloadError:
        """The error for a body that stopped coming: the deadline's, or a dropped connection's."""
        return (
            self.late(response, written) if self.deadline.passed() else self.dropped(response, written, exc)
        )

    def late(self, response: requests.Response, written: int) -> DownloadError:
        received = received_bytes(response, written)
        return DownloadError(
            f"job {self.job_code}: download of {self.link} passed its deadline of "
            f"{self.deadline.seconds:g} s (download_timeout) after {received} bytes"
        )

    def dropped(self, response: requests.Response, written: int, exc: Exception) -> DownloadError:
        received = received_bytes(response, written)
        return DownloadError(
            f"job {self.job_code}: connection dropped after {received} bytes of {self.link}: "
            f"{type(exc).__name__}"
        )


def _expected_bytes(response: requests.Response, job_code: str, link: str) -> int | None:
    """The size the file host promises, once it is clear that it answered with the file."""
    status = response.status_code
    if status in _LINK_REFUSED:
        raise LinkExpiredError(
            f"job {job_code}: the file host refused {link} (HTTP {status}); the link may have expired"
        )
    if status != 200:
        raise DownloadError(f"job {job_code}: the file host answered HTTP {status} for {link}")
    if "html" in response.headers.get("Content-Type", "").lower():
        raise _html(job_code, link)
    if response.headers.get("Content-Encoding"):
        return None  # Content-Length counts the encoded bytes
    expected = response.headers.get("Content-Length")
    return int(expected) if expected and expected.isdigit() else None


def _stream(response: requests.Response, dest: Path, reading: _Reading) -> tuple[int, str]:
    """Write the body to `dest`; its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    failure = None
    try:
        with open(dest, "wb") as out:
            for chunk in response.iter_content(_CHUNK):
                size = reading.write(out, chunk, size, digest)
                if reading.deadline.passed():  # checked here too where a read cannot be cut
                    failure = reading.late(response, size)
                    break
    except requests.RequestException as exc:
        failure = reading.cut(response, size, exc)
    if failure is None and reading.deadline.fired:
        failure = reading.late(response, size)  # cut at the deadline: what arrived may look whole
    if failure is not None:  # raised outside the except block: no chained original
        raise failure
    return size, digest.hexdigest()


def _html(job_code: str, link: str) -> DownloadError:
    return DownloadError(
        f"job {job_code}: {link} answered an HTML page instead of the CSV (a login or error page?)"
    )


def _looks_like_html(chunk: bytes) -> bool:
    head = chunk[:512].removeprefix(_BOM).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))
