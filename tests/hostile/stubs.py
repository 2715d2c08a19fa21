"""A hostile HTTPS peer on loopback: each connection is handed to a function that writes raw bytes.

The simulator answers like Azure does; this server answers like an attacker or a broken network
would (a byte every so often, headers that never end). It has its own CA; ``bundle`` is a PEM file
that trusts both it and, when given, the simulator's CA, for a tenant's ``ca_bundle``.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from connectors.simulator.tls import CertificateAuthority

#: Gets the request line and the socket; writes whatever it likes; returns when done.
Behaviour = Callable[[str, socket.socket, threading.Event], None]


class HostileServer:
    def __init__(self, behaviour: Behaviour, extra_ca: Path | None = None) -> None:
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.requests: list[str] = []
        self.sent = 0  # bytes written by behaviours that count them (see ``trickle``)
        self.closed_early = 0  # connections the client dropped while we were still writing
        self._dir = tempfile.TemporaryDirectory(prefix="hostile-")
        ca = CertificateAuthority()
        cert, key = ca.server_pem(["127.0.0.1", "localhost"])
        directory = Path(self._dir.name)
        (directory / "server.pem").write_bytes(cert + key)
        self.bundle = directory / "bundle.pem"
        self.bundle.write_bytes(ca.pem + (extra_ca.read_bytes() if extra_ca else b""))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "server.pem")
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                try:
                    with context.wrap_socket(sock, server_side=True) as tls:
                        line = _read_head(tls)
                        owner.requests.append(line)
                        owner.behaviour(line, tls, owner.stopping)
                except (OSError, ssl.SSLError):
                    owner.closed_early += 1

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()


def _read_head(sock: socket.socket) -> str:
    """The request line; the rest of the head and the body (up to 64 KiB) are read and dropped.

    The body is read to its Content-Length: closing a TLS socket with unread request bytes makes
    the kernel send a reset, which can destroy our answer before the client reads it (a token
    POST whose body arrives after its head did exactly that under load).
    """
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = min(int(value.strip()), 65536)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return head.split(b"\r\n", 1)[0].decode("latin-1")


def trickle(server: HostileServer, body: bytes, every: float, *, headers_too: bool = False) -> Behaviour:
    """A slow-loris answer: one byte every ``every`` seconds (the head too, with ``headers_too``)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)

    def behave(line: str, sock: socket.socket, stopping: threading.Event) -> None:
        if not headers_too:
            sock.sendall(head)
        for byte in (head if headers_too else b"") + body:
            if stopping.wait(every):
                return
            sock.sendall(bytes([byte]))
            server.sent += 1

    return behave
