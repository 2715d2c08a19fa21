"""The health server (also the dashboard's and the ingest's) under hostile clients.

Each test talks to a real ``HealthServer`` on ``127.0.0.1:0`` over raw sockets or asyncio streams:
a burst of concurrent clients, slow-loris clients that never finish their headers, clients that
stall their body or vanish mid-response. None of it may cost a thread per connection, refuse a
well-behaved client, or print a traceback on stderr. No assertion here measures time: waits are
for a condition, with bounds far beyond what a loaded machine needs.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from enricher.health import HealthServer, Upload
from enricher.listener import Limits
from enricher.metrics import Metrics

NOW = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)
#: short deadlines, so the tests see the server give up on a client without waiting long
QUICK = Limits(workers=4, head_deadline=1.0, idle=1.0, body_deadline=2.0)


def serve(limits: Limits = QUICK, **auth: object) -> HealthServer:
    server = HealthServer(
        "127.0.0.1:0",
        Metrics(),
        lambda: NOW,
        lambda: NOW,
        timedelta(minutes=5),
        limits=limits,
        **auth,  # type: ignore[arg-type]
    )
    server.actions["/-/reload"] = lambda q: (200, "application/json", b"{}")
    server.routes["/big"] = lambda q: (200, "text/plain", b"x" * 4_000_000)
    return server.start()


@pytest.fixture
def server() -> Iterator[HealthServer]:
    running = serve()
    try:
        yield running
    finally:
        running.stop()


def request(port: int, raw: bytes, timeout: float = 30) -> bytes:
    """Send ``raw`` and read until the server closes (HTTP/1.0: one request per connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def head_of(response: bytes) -> tuple[int, dict[str, str]]:
    lines = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in fields.items()}


def wait_until(condition: object, bound: float = 60.0) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


class TestBurst:
    def test_a_thousand_concurrent_probes_all_get_200(self) -> None:
        """1,000 clients connect at once (the old backlog of 5 refused 190 of them): every one is answered."""
        running = serve(Limits())
        try:

            async def probe() -> int:
                reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
                writer.write(b"GET /healthz HTTP/1.0\r\n\r\n")
                await writer.drain()
                answer = await reader.read()
                writer.close()
                return head_of(answer)[0]

            async def burst() -> list[int | BaseException]:
                tasks = [probe() for _ in range(1000)]
                return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 120)

            # a thread of its own: the dashboard's session-wide Playwright keeps an event loop
            # running in the main thread of the test process, where asyncio.run() refuses to start
            with ThreadPoolExecutor(1) as own:
                statuses = own.submit(asyncio.run, burst()).result()
        finally:
            running.stop()
        assert statuses == [200] * 1000


class TestSlowClients:
    def test_slow_loris_connections_hold_no_threads_and_are_cut_off(self, server: HealthServer) -> None:
        """300 clients that never finish their headers: no thread each, 408 at the deadline, others served."""
        assert head_of(request(server.port, b"GET /healthz HTTP/1.0\r\n\r\n"))[0] == 200  # pool started
        threads = threading.active_count()
        slow = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(300)]
        try:
            for s in slow:
                s.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            ok = request(server.port, b"GET /healthz HTTP/1.0\r\n\r\n")
            assert head_of(ok)[0] == 200
            assert threading.active_count() == threads
            for s in slow:  # the server gives up on each (a 408, then the close)
                answer = b"".join(iter(lambda s=s: s.recv(4096), b""))
                assert answer.startswith(b"HTTP/1.0 408 ")
        finally:
            for s in slow:
                s.close()

    def test_a_stalled_body_frees_its_worker(self, server: HealthServer) -> None:
        """Every worker busy with a body that never comes: each gives up, and the next client is served."""
        stalled = []
        for _ in range(QUICK.workers):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            s.sendall(b"POST /-/reload HTTP/1.0\r\nContent-Length: 100\r\n\r\nabc")
            stalled.append(s)
        try:
            assert head_of(request(server.port, b"GET /healthz HTTP/1.0\r\n\r\n"))[0] == 200
            for s in stalled:  # closed without an answer once the body deadline passed
                assert b"".join(iter(lambda s=s: s.recv(4096), b"")) == b""
        finally:
            for s in stalled:
                s.close()

    def test_a_stalled_upload_is_not_an_endpoint_failure(
        self, server: HealthServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An ingest body that stops coming (or whose sender leaves) never reaches the endpoint."""
        calls: list[bytes] = []
        server.uploads["/up"] = Upload(
            lambda header, query: True,
            lambda query, body: (calls.append(body), (200, "text/plain", b"", {}))[1],
            1000,
        )
        with caplog.at_level(logging.DEBUG, logger="aadsts_enricher.health"):
            for close_early in (False, True):
                with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
                    s.sendall(b"POST /up HTTP/1.0\r\nContent-Length: 100\r\n\r\nabc")
                    if close_early:
                        s.shutdown(socket.SHUT_WR)
                    assert b"".join(iter(lambda s=s: s.recv(4096), b"")) == b""
            assert (
                head_of(request(server.port, b"POST /up HTTP/1.0\r\nContent-Length: 2\r\n\r\nok"))[0] == 200
            )
        assert calls == [b"ok"]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    def test_a_head_over_the_limit_is_refused(self, server: HealthServer) -> None:
        raw = b"GET /healthz HTTP/1.0\r\nX-Big: " + b"a" * 70_000
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall(raw)
            answer = b"".join(iter(lambda: s.recv(4096), b""))
        assert answer.startswith(b"HTTP/1.0 431 ")


class TestEarlyDisconnects:
    def test_clients_that_vanish_leave_no_traceback(
        self, server: HealthServer, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Resets before, during and after the request; the server logs them at debug level, nothing on stderr."""
        linger = struct.pack("ii", 1, 0)  # close with a reset instead of a FIN
        for raw in (
            b"",
            b"GET /big HTTP/1.0\r\n\r\n",
            b"GET /he",
            b"POST /-/reload HTTP/1.0\r\nContent-Length: 9\r\n\r\n",
        ):
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                if raw:
                    s.sendall(raw)
                s.close()
        assert head_of(request(server.port, b"GET /healthz HTTP/1.0\r\n\r\n"))[0] == 200
        err = capfd.readouterr().err
        assert "Traceback" not in err and "Exception" not in err, err[:2000]


class TestProtocol:
    def test_head_answers_like_get_without_a_body(self, server: HealthServer) -> None:
        get = request(server.port, b"GET /metrics HTTP/1.0\r\n\r\n")
        head = request(server.port, b"HEAD /metrics HTTP/1.0\r\n\r\n")
        status, fields = head_of(head)
        assert status == 200 and head.endswith(b"\r\n\r\n")
        assert fields["content-type"] == head_of(get)[1]["content-type"]
        assert int(fields["content-length"]) == len(get.split(b"\r\n\r\n", 1)[1]) > 0

    @pytest.mark.parametrize("raw", [b"GET /healthz\r\n\r\n", b"BREW /\r\n\r\n", b"\x00\x01\r\n\r\n"])
    def test_a_request_without_a_version_gets_a_status_line(self, server: HealthServer, raw: bytes) -> None:
        """Never an HTTP/0.9 answer (a bare body): found by make fuzz."""
        assert request(server.port, raw).startswith(b"HTTP/1.0 ")

    def test_server_header_names_us_not_python(self, server: HealthServer) -> None:
        for raw in (
            b"GET /healthz HTTP/1.0\r\n\r\n",
            b"GET /nowhere HTTP/1.0\r\n\r\n",
            b"BREW / HTTP/1.0\r\n\r\n",
        ):
            fields = head_of(request(server.port, raw))[1]
            assert fields["server"] == "aadsts-enricher"

    @pytest.mark.parametrize(
        ("header", "status"),
        [
            ("Bearer s3cret-token", 200),
            ("bearer s3cret-token", 200),
            ("BEARER  s3cret-token", 200),
            ("bearer wrong", 401),
            ("Bearers3cret-token", 401),
            ("", 401),
        ],
    )
    def test_bearer_scheme_is_case_insensitive(self, header: str, status: int) -> None:
        running = serve(bearer="s3cret-token")
        try:
            line = f"Authorization: {header}\r\n" if header else ""
            answer = request(running.port, f"GET /metrics HTTP/1.0\r\n{line}\r\n".encode())
        finally:
            running.stop()
        assert head_of(answer)[0] == status

    @pytest.mark.parametrize(
        ("header", "status"),
        [
            ("basic " + base64.b64encode(b"ops:pw").decode(), 200),
            ("Basic " + base64.b64encode(b"ops:nope").decode(), 401),
            ("Basic not*base64", 401),
        ],
    )
    def test_basic_scheme_is_case_insensitive_and_strict(self, header: str, status: int) -> None:
        running = serve(basic=("ops", "pw"))
        try:
            answer = request(
                running.port, f"GET /metrics HTTP/1.0\r\nAuthorization: {header}\r\n\r\n".encode()
            )
        finally:
            running.stop()
        assert head_of(answer)[0] == status
