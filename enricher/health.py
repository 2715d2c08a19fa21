"""The daemon's own HTTP endpoints: ``/healthz``, ``/readyz``, ``/metrics`` (and the dashboard).

``/healthz`` answers while the process serves requests; ``/readyz`` only while a poll succeeded
within ``ready_after`` (a daemon whose credentials broke an hour ago is alive but not ready). On a
shared store the last poll may be another replica's: a standby replica is ready too, and
``/readyz`` lists the leases this one holds (none: a standby).
Other modules add routes through ``routes`` (exact paths) and ``prefixes`` (a path under a prefix,
its rest handed to the handler: the dashboard's ``/incidents/{id}``), per-path (or per-prefix)
response headers through ``headers`` (the dashboard does all three) and POST endpoints through
``actions`` (the daemon's ``/-/reload``). Binds to
localhost by default; optional basic or bearer auth protects everything but ``/healthz``.
"""

from __future__ import annotations

import base64
import binascii
import errno
import functools
import hmac
import io
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import ParseResult, parse_qs, unquote, urlparse

from enricher.errors import ListenError
from enricher.listener import DEFAULT_LIMITS, Accepted, BoundedServer, Limits, Prefixed, Writer
from enricher.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger("aadsts_enricher.health")

#: A route handler gets the query and returns (status, content type, body).
Handler = Callable[[dict[str, list[str]]], tuple[int, str, bytes]]
Endpoint = Handler  # the name the request handler class below uses (it is itself called Handler)
#: A prefix route's handler gets the rest of the path (percent-decoded) and the query.
PrefixHandler = Callable[[str, dict[str, list[str]]], tuple[int, str, bytes]]


@dataclass(frozen=True)
class Upload:
    """A POST endpoint that reads its body: it decides on auth (from the ``Authorization`` header and
    the query) before a byte of the body is read, and bodies over ``max_body`` are refused unread.
    ``handle`` returns status, content type, body and extra headers (e.g. ``Retry-After``)."""

    authorized: Callable[[str, dict[str, list[str]]], bool]
    handle: Callable[[dict[str, list[str]], bytes], tuple[int, str, bytes, dict[str, str]]]
    max_body: int


class HealthServer:
    def __init__(
        self,
        listen: str,
        metrics: Metrics,
        last_success: Callable[[], datetime | None],
        clock: Callable[[], datetime],
        ready_after: timedelta,
        *,
        basic: tuple[str, str] | None = None,
        bearer: str | None = None,
        setting: str = "health.listen",
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        host, _, port = listen.rpartition(":")
        self.metrics = metrics
        self.last_success = last_success
        self.clock = clock
        self.ready_after = ready_after
        #: more for ``/readyz`` to say (a replica on a shared store: the leases it holds)
        self.ready_detail: Callable[[], dict[str, object]] | None = None
        self.routes: dict[str, Handler] = {
            "/healthz": lambda q: (200, "application/json", b'{"status": "ok"}'),
            "/readyz": self._ready,
            "/metrics": lambda q: (200, CONTENT_TYPE, metrics.render().encode()),
        }
        #: ``/prefix/`` -> handler of every path below it (exact ``routes`` win)
        self.prefixes: dict[str, PrefixHandler] = {}
        #: extra response headers per path or prefix (e.g. a Content-Security-Policy for a page)
        self.headers: dict[str, dict[str, str]] = {}
        #: POST endpoints (``/-/reload``); always behind the same auth as everything but /healthz
        self.actions: dict[str, Handler] = {}
        #: POST endpoints that read a body (the ingest), each with its own auth and size limit
        self.uploads: dict[str, Upload] = {}
        self._auth = _auth_check(basic, bearer)
        handler = self._handler(limits)

        def serve_one(accepted: Accepted) -> None:
            # the handler's setup() takes the Accepted apart, and nothing in it uses the server
            handler(accepted, accepted.address, None)  # type: ignore[arg-type]

        self._server = _bind(host.strip("[]") or "127.0.0.1", int(port), serve_one, limits, setting)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        host = host.decode() if isinstance(host, bytes) else host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{self.port}"

    def start(self) -> HealthServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def prefix_route(self, path: str) -> tuple[str, Handler] | None:
        """The prefix ``path`` falls under and a handler bound to the rest of it (decoded), if any."""
        for prefix, handler in self.prefixes.items():
            rest = path[len(prefix) :]
            if path.startswith(prefix) and rest and "/" not in rest:
                return prefix, functools.partial(handler, unquote(rest))
        return None

    def _ready(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        last = self.last_success()
        ready = last is not None and self.clock() - last <= self.ready_after
        body: dict[str, object] = {
            "status": "ready" if ready else "not ready",
            "last_success": last.isoformat() if last else None,
        }
        if self.ready_detail is not None:
            body.update(self.ready_detail())
        return (200 if ready else 503), "application/json", json.dumps(body).encode()

    def _handler(self, limits: Limits) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            #: the ``Server`` header: our name, not the Python version behind it
            server_version = "aadsts-enricher"
            #: a request line without a version (or too broken to say) is answered as HTTP/1.0, with
            #: a status line and headers: the HTTP/0.9 default sent a bare body
            default_request_version = "HTTP/1.0"

            def version_string(self) -> str:
                return self.server_version

            def setup(self) -> None:
                """Read the head the listener already has, then the socket, under its deadlines."""
                accepted: Accepted = self.request
                self.connection = accepted.sock
                self.rfile = io.BufferedReader(Prefixed(accepted, limits.idle))
                self.wfile = Writer(accepted.sock)  # type: ignore[assignment]

            def finish(self) -> None:
                """The listener's worker closes the connection."""

            def do_GET(self) -> None:
                self._serve(head=False)

            def do_HEAD(self) -> None:
                """What GET would answer, headers only (monitors and load balancers probe this way)."""
                self._serve(head=True)

            def do_POST(self) -> None:
                url = urlparse(self.path)
                upload = server.uploads.get(url.path)
                if upload is not None:
                    self._upload(url, upload)
                    return
                length = self.headers.get("Content-Length", "0")
                self.rfile.read(min(int(length) if length.isdigit() else 0, 65536))  # the body is unused
                action = server.actions.get(url.path)
                if action is None:
                    self._refuse(url.path, head=False)
                    return
                self._answer(url, action, head=False, public=False)

            def _upload(self, url: ParseResult, upload: Upload) -> None:
                """Auth before the body is read; a body over the limit is refused unread."""
                query = parse_qs(url.query)
                if not upload.authorized(self.headers.get("Authorization", ""), query):
                    self.close_connection = True
                    self._send(401, "application/json", b'{"error": "unauthorized"}')
                    return
                length = self.headers.get("Content-Length", "")
                if not length.isdigit():
                    self.close_connection = True
                    self._send(411, "application/json", b'{"error": "Content-Length required"}')
                    return
                if int(length) > upload.max_body:
                    self.close_connection = True
                    body = json.dumps({"error": f"body over {upload.max_body} bytes"}).encode()
                    self._send(413, "application/json", body)
                    return
                data = self.rfile.read(int(length))  # a stalled or vanished sender ends here (debug log)
                if len(data) < int(length):
                    return  # the sender closed early: nobody to answer
                try:
                    status, ctype, body, headers = upload.handle(query, data)
                except Exception:
                    log.exception("upload endpoint failed", extra={"path": url.path})
                    status, ctype, body, headers = 503, "application/json", b'{"error": "internal error"}', {}
                self._send(status, ctype, body, headers)

            def _serve(self, *, head: bool) -> None:
                url = urlparse(self.path)
                route = server.routes.get(url.path)
                if route is None:
                    found = server.prefix_route(url.path)
                    if found is None:
                        self._refuse(url.path, head=head)
                        return
                    prefix, route = found
                    self._answer(url, route, head=head, public=False, headers=server.headers.get(prefix))
                    return
                self._answer(url, route, head=head, public=url.path == "/healthz")

            def _refuse(self, path: str, *, head: bool) -> None:
                """404, or 405 naming the method the path does take."""
                if path in server.actions or path in server.routes or path in server.uploads:
                    allow = "GET, HEAD" if path in server.routes else "POST"
                    body = b'{"error": "method not allowed"}'
                    self._send(405, "application/json", body, {"Allow": allow}, head=head)
                else:
                    self._send(404, "application/json", b'{"error": "not found"}', head=head)

            def _answer(
                self,
                url: ParseResult,
                route: Endpoint,
                *,
                head: bool,
                public: bool,
                headers: dict[str, str] | None = None,
            ) -> None:
                if not public and not server._auth(self.headers.get("Authorization", "")):
                    self._send(
                        401,
                        "application/json",
                        b'{"error": "unauthorized"}',
                        {"WWW-Authenticate": 'Basic realm="aadsts-enricher"'},
                        head=head,
                    )
                    return
                try:
                    status, ctype, body = route(parse_qs(url.query))
                except Exception:
                    log.exception("health endpoint failed", extra={"path": url.path})
                    status, ctype, body = 500, "application/json", b'{"error": "internal error"}'
                self._send(status, ctype, body, headers or server.headers.get(url.path), head=head)

            def _send(
                self,
                status: int,
                ctype: str,
                body: bytes,
                headers: dict[str, str] | None = None,
                *,
                head: bool = False,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http %s", format % args)

        return Handler


def _bind(
    host: str, port: int, handle: Callable[[Accepted], None], limits: Limits, setting: str
) -> BoundedServer:
    """The listening server, or a ListenError naming the setting and the port."""
    try:
        return BoundedServer((host, port), handle, limits)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = f"port {port} on {host} is already in use (another aadsts-enricher?)"
        else:
            reason = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise ListenError(f"{setting}: {reason}") from None


def auth_check(basic: tuple[str, str] | None, bearer: str | None) -> Callable[[str], bool]:
    """The check of an ``Authorization`` header against basic and/or bearer credentials."""
    return _auth_check(basic, bearer)


def _auth_check(basic: tuple[str, str] | None, bearer: str | None) -> Callable[[str], bool]:
    def check(header: str) -> bool:
        """The scheme is case-insensitive (RFC 9110 section 11.1): ``bearer x`` is ``Bearer x``."""
        if not basic and not bearer:
            return True
        scheme, _, value = header.strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if bearer and scheme == "bearer":
            return hmac.compare_digest(value.encode(), bearer.encode())
        if basic and scheme == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (ValueError, binascii.Error):
                return False
            return hmac.compare_digest(user.encode(), basic[0].encode()) and hmac.compare_digest(
                password.encode(), basic[1].encode()
            )
        return False

    return check
