"""HTTP handlers of the emulator: the Uniware API host and the pre-signed file host."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from uniware_source.emulator.model import ServerName
from uniware_source.emulator.protocol import Answer, envelope, handle_rest, oauth_token, tenant_file

if TYPE_CHECKING:
    from uniware_source.emulator.server import Emulator

READ_CHUNK = 1 << 20
LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Uniware | Login</title></head><body>"
    b'<form action="/login" method="post"><input name="username"><input name="password" type="password">'
    b"<button>Sign in</button></form></body></html>\n"
)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its emulator and can drop its open connections on stop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseRequestHandler],
        emulator: Emulator,
        role: ServerName,
    ) -> None:
        self.emulator = emulator
        self.role: ServerName = role
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "UniwareEmulator/1.0"
    timeout = 60
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.emulator.verbose:
            # Never log the query string: /oauth/token carries the password there.
            super().log_message("%s", f"{self.command} {urlsplit(self.path).path}")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        head_only: bool = False,
        length: int | None = None,
    ) -> None:
        """Send status, headers and (unless head_only or length given for a streamed body) the body.

        The request is recorded first, so a client that has its answer always finds it in the log."""
        self.emulator.record(
            self.command, urlsplit(self.path).path, self.server.role, status, "Authorization" in self.headers
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head_only and length is None and body:
            self.wfile.write(body)

    def respond_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.respond(status, body, "application/json;charset=UTF-8", headers)


class ApiHandler(_Handler):
    """The tenant host: /oauth/token and /services/rest/v1/..."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self.read_body()
        try:
            status, payload, headers = self._route(urlsplit(self.path), body)
        except Exception as exc:  # noqa: BLE001 - answer like a server would, keep serving
            status, headers = 500, {}
            payload = {
                "successful": False,
                "message": f"Internal error: {type(exc).__name__}",
                "errors": [],
                "warnings": [],
            }
        self.respond_json(status, payload, headers)

    def _route(self, parts: SplitResult, body: bytes) -> Answer:
        redirect = self.emulator.take_redirect(parts.path)
        if redirect is not None:
            return redirect[0], envelope(message="Moved"), {"Location": redirect[1]}
        if parts.path == "/oauth/token":
            return oauth_token(self.emulator, self._token_params(parts, body))
        if parts.path.startswith("/services/rest/"):
            return handle_rest(self.emulator, self.command, parts.path, self.headers, body)
        if parts.path.startswith("/exports/"):
            return tenant_file(self.emulator, self.command, parts.path, self.headers)
        return 404, {"error": "Not Found", "path": parts.path}, {}

    def _token_params(self, parts: SplitResult, body: bytes) -> dict[str, str]:
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if self.command == "POST" and "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
        return params


class FileHandler(_Handler):
    """The download host: /exports/<job>/<token>.csv?Expires=..&Signature=.. (no Authorization allowed)."""

    def do_GET(self) -> None:
        self._serve(head_only=False)

    def do_HEAD(self) -> None:
        self._serve(head_only=True)

    def _xml(self, status: int, code: str, message: str, head_only: bool) -> None:
        resource = urlsplit(self.path).path
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<Resource>{resource}</Resource><RequestId>{threading.get_ident():X}</RequestId></Error>"
        ).encode()
        self.respond(status, body, "application/xml", head_only=head_only)

    def _serve(self, head_only: bool) -> None:
        self.read_body()
        parts = urlsplit(self.path)
        if "Authorization" in self.headers:
            self._xml(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                "parameter, Signature query string parameter or the Authorization header should be "
                "specified",
                head_only,
            )
            return
        segments = parts.path.strip("/").split("/")
        job = None
        if len(segments) == 3 and segments[0] == "exports" and segments[2].endswith(".csv"):
            job = self.emulator.find_file_job(segments[1], segments[2][: -len(".csv")])
        if job is None or job.file_path is None:
            self._xml(404, "NoSuchKey", "The specified key does not exist.", head_only)
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        check = self.emulator.check_link(job, query.get("Expires"), query.get("Signature"))
        if check == "expired":
            self._xml(403, "AccessDenied", "Request has expired", head_only)
            return
        if check != "ok":
            self._xml(403, "AccessDenied", "Access Denied", head_only)
            return
        if job.spec.html_instead_of_csv:
            self.respond(200, LOGIN_PAGE, "text/html;charset=UTF-8", head_only=head_only)
            return
        self._send_file(job, head_only)

    def _send_file(self, job: Any, head_only: bool) -> None:
        path = job.file_path
        try:
            size = path.stat().st_size
        except OSError:
            self._xml(404, "NoSuchKey", "The specified key does not exist.", head_only)
            return
        first, last = 0, size - 1
        status = 200
        extra = {
            "Accept-Ranges": "bytes",
            "ETag": f'"{job.file_token}"',
            "Content-Disposition": f'attachment; filename="{job.code}.csv"',
        }
        range_header = self.headers.get("Range")
        if range_header and size > 0:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                self._xml(416, "InvalidRange", "The requested range is not satisfiable", head_only)
                return
            first, last = parsed
            status = 206
            extra["Content-Range"] = f"bytes {first}-{last}/{size}"
        length = max(0, last - first + 1)
        drop_at: int | None = None
        if not head_only:
            with self.emulator.lock:
                if job.downloads == 0 and job.spec.drop_connection_at is not None:
                    drop_at = max(0, int(job.spec.drop_connection_at))
                job.downloads += 1
        self.respond(status, b"", "text/csv", extra, head_only=head_only, length=length)
        if head_only or length == 0:
            return
        to_send = length if drop_at is None else min(length, drop_at)
        with open(path, "rb") as fh:
            sent = self._send_body(fh, first, to_send, job.spec.trickle_seconds)
        if sent < length:
            self.close_connection = True

    def _send_body(self, fh: Any, first: int, count: int, trickle: float | None) -> int:
        """Send `count` bytes of the file from `first`, at once or trickled; how many were sent."""
        if count and trickle is not None:
            return self._trickle(fh, first, count, trickle)
        if count:
            self.connection.sendfile(fh, offset=first, count=count)
        return count

    def _trickle(self, fh: Any, first: int, count: int, interval: float) -> int:
        """Send one byte every `interval` seconds until `count` are sent or the client has gone."""
        fh.seek(first)
        for sent in range(count):
            try:
                self.wfile.write(fh.read(1))
                self.wfile.flush()
            except OSError:
                return sent
            time.sleep(interval)
        return count


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b` / `bytes=a-` / `bytes=-n` range; None when unsatisfiable or malformed."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    start_s, _, end_s = spec.strip().partition("-")
    try:
        if start_s == "":
            suffix = int(end_s)
            if suffix <= 0:
                return None
            return max(0, size - suffix), size - 1
        first = int(start_s)
        last = int(end_s) if end_s else size - 1
    except ValueError:
        return None
    if first >= size or last < first:
        return None
    return first, min(last, size - 1)
