"""The HTTPS plumbing: request/response values, a template router, a threaded TLS server.

The server is the standard library's ``ThreadingHTTPServer`` speaking HTTP/1.1 (keep-alive).
The TLS handshake runs in the connection's own thread (``finish_request``), so a slow or
broken client never blocks ``accept``. ``close_connections`` cuts idle keep-alive connections,
which is what makes ``Simulator.stop()`` prompt.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


class BadRequest(Exception):  # noqa: N818 - it is an answer, not a failure of ours
    """Raised by parsers; the dispatcher turns it into the API's 400 envelope."""


@dataclass
class Request:
    method: str
    path: str  # percent-encoded, without the query
    raw_query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    now: datetime  # the simulated instant this request is answered at
    query: dict[str, str] = field(default_factory=dict)  # lower-case names
    params: dict[str, str] = field(default_factory=dict)
    principal: Any = None  # set by the dispatcher after authentication

    @classmethod
    def parse(cls, method: str, target: str, headers: dict[str, str], body: bytes, now: datetime) -> Request:
        parts = urlsplit(target)
        query: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(key.lower(), value)
        return cls(method, parts.path, parts.query, headers, body, now, query)

    def q(self, *names: str) -> str | None:
        """The first query parameter present among ``names`` (case-insensitive)."""
        for name in names:
            if name.lower() in self.query:
                return self.query[name.lower()]
        return None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Response(status, body, merged)


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def json_page(
    head: dict[str, object], items: Iterable[object], tail: dict[str, object] | None = None
) -> Response:
    """``{**head, "value": [...items], **tail}``, encoding item by item.

    Large pages (5,000 refreshables) would otherwise keep every item's dicts alive until the
    end, and the garbage collector then walks them again and again.
    """
    opening = _ENCODE({**head, "value": []})[:-2]  # '{..., "value":['
    closing = "]," + _ENCODE(tail)[1:] if tail else "]}"
    text = opening + ",".join(_ENCODE(item) for item in items) + closing
    return Response(200, text.encode(), {"Content-Type": "application/json; charset=utf-8"})


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    api: str
    handler: Handler
    auth: bool
    pattern: re.Pattern[str]

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, api: str, handler: Handler, *, auth: bool = True) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        pattern = re.compile(f"^{regex}/?$", re.IGNORECASE)
        self.routes.append(Route(method, template, api, handler, auth, pattern))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known): a known path with another method is a 405."""
        path_known = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
            path_known = True
        return None, {}, path_known


Dispatch = Callable[[str, str, dict[str, str], bytes], Response]  # method, target, headers, body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: SimHTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.dispatch(self.command, self.path, headers, body)
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    # http.server dispatches on these names (do_<METHOD>).
    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo print what matters themselves."""


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], dispatch: Dispatch, context: ssl.SSLContext) -> None:
        self.dispatch = dispatch
        self._context = context
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(10)
        try:
            conn = self._context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self._lock:
            self._connections.add(conn)
        try:
            handler_class: Any = self.RequestHandlerClass
            handler_class(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Broken client connections are normal here (faults drop them on purpose)."""

    def close_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
