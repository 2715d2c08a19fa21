"""Every network wait has a total deadline and ends on stop: a trickling peer, a token endpoint
that asks for an hour's pause.

No assertion here is about speed. A call that should be cut short runs in a thread the test joins
with a generous bound (``BOUND``); a hang, the bug, exceeds it and the test fails instead of
hanging. Where a peer trickles a body, the test asserts that the client gave up before the body
was complete, which is a fact about what happened, not about how fast."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from connectors.auth import TokenProvider, make_credential
from connectors.errors import ApiError, AuthError, Stopped
from connectors.http import AzureHttp, RetryPolicy
from connectors.simulator import FaultRule, Simulator
from tests.connectors.conftest import spec
from tests.hostile.stubs import HostileServer, trickle

BOUND = 20.0  # seconds; what is measured finishes in about 1 s when it works, and never when not
BODY = b'{"value": []}' + b" " * 200  # 213 bytes: about 20 s at 0.1 s a byte
SCOPE = "https://analysis.windows.net/powerbi/api/.default"


class StaticCredential:
    """A credential for peers that only look at the request shape (our hostile stubs)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(
            "header.payload.signature", int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
        )


def http_to(server: HostileServer, stop: threading.Event | None = None, **policy: float) -> AzureHttp:
    tokens = TokenProvider(StaticCredential())  # type: ignore[arg-type]
    return AzureHttp(tokens, verify=str(server.bundle), policy=RetryPolicy(**policy), stop=stop)  # type: ignore[arg-type]


def outcome(call: Callable[[], object]) -> BaseException | object:
    """Run ``call`` in a thread; its result or exception, after at most BOUND seconds."""
    box: list[BaseException | object] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND)
    assert not thread.is_alive(), f"still waiting after {BOUND} s"
    return box[0]


@pytest.fixture
def trickler() -> Iterator[HostileServer]:
    server = HostileServer(lambda line, sock, stopping: None)
    server.behaviour = trickle(server, BODY, 0.1)
    with server:
        yield server


@pytest.fixture
def head_trickler() -> Iterator[HostileServer]:
    server = HostileServer(lambda line, sock, stopping: None)
    server.behaviour = trickle(server, BODY, 0.1, headers_too=True)
    with server:
        yield server


class TestTotalDeadline:
    def test_a_body_trickling_in_is_cut_at_the_deadline(self, trickler: HostileServer) -> None:
        """One byte every 0.1 s never trips a 30 s read timeout; the 1 s deadline cuts it."""
        http = http_to(trickler, deadline=1.0, attempts=1, timeout=30)
        result = outcome(lambda: http.get("powerbi", f"{trickler.url}/v1.0/myorg/groups", SCOPE))
        assert isinstance(result, ApiError) and result.kind == "timeout", result
        assert trickler.sent < len(BODY)  # the client left before the body was complete
        assert http.watchdog.cuts == 1

    def test_headers_trickling_in_are_cut_at_the_deadline(self, head_trickler: HostileServer) -> None:
        http = http_to(head_trickler, deadline=1.0, attempts=3, timeout=30)
        result = outcome(lambda: http.get("powerbi", f"{head_trickler.url}/v1.0/myorg/groups", SCOPE))
        assert isinstance(result, ApiError) and result.kind == "timeout", result
        assert head_trickler.sent < len(BODY)

    def test_stop_cuts_a_request_in_flight(self, trickler: HostileServer) -> None:
        """The deadline is two minutes; the stop event ends the request as soon as it is set."""
        stop = threading.Event()
        http = http_to(trickler, stop=stop, deadline=120.0, timeout=30)
        threading.Timer(0.5, stop.set).start()
        result = outcome(lambda: http.get("powerbi", f"{trickler.url}/v1.0/myorg/groups", SCOPE))
        assert isinstance(result, Stopped), result
        assert trickler.sent < len(BODY)

    def test_a_request_after_stop_is_not_sent(self, trickler: HostileServer) -> None:
        stop = threading.Event()
        stop.set()
        http = http_to(trickler, stop=stop)
        assert isinstance(outcome(lambda: http.get("powerbi", f"{trickler.url}/x", SCOPE)), Stopped)
        assert trickler.requests == []


class TestTokenEndpointAsksToWait:
    """azure-identity sleeps out a token endpoint's Retry-After; ours neither sleeps long nor past stop."""

    def test_an_hour_is_not_waited_for(self, sim: Simulator) -> None:
        rule = sim.faults.add(FaultRule(api="token", kind="throttle", retry_after=3600))
        tokens = TokenProvider(make_credential(spec(sim), stop=threading.Event(), max_wait=60))
        result = outcome(lambda: tokens.token(SCOPE))
        assert isinstance(result, AuthError) and "asked to wait 3600 s" in result.message, result
        assert sim.faults.fired(rule) == 1  # asked once, not hammered

    def test_a_short_wait_ends_on_stop(self, sim: Simulator) -> None:
        rule = sim.faults.add(FaultRule(api="token", kind="throttle", retry_after=50))
        stop = threading.Event()
        tokens = TokenProvider(make_credential(spec(sim), stop=stop, max_wait=60))
        threading.Timer(0.5, stop.set).start()
        result = outcome(lambda: tokens.token(SCOPE))
        assert isinstance(result, Stopped), result
        assert sim.faults.fired(rule) == 1


class TestSchemes:
    def test_no_token_over_plain_http(self, trickler: HostileServer) -> None:
        http = http_to(trickler)
        plain = trickler.url.replace("https://", "http://")
        result = outcome(lambda: http.get("powerbi", f"{plain}/v1.0/myorg/groups", SCOPE))
        assert isinstance(result, ApiError) and result.kind == "insecure_link"
        assert trickler.requests == []

    def test_a_paging_link_may_not_downgrade_to_http(self) -> None:
        """A next link to http:// on the same host and port is refused, not followed with the token."""
        server = HostileServer(lambda line, sock, stopping: None)
        with server:
            link = server.url.replace("https://", "http://") + "/page2"
            body = b'{"value": [1], "@odata.nextLink": "%s"}' % link.encode()

            def answer(line: str, sock: Any, stopping: threading.Event) -> None:
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                sock.sendall(head % len(body) + body)

            server.behaviour = answer
            http = http_to(server)
            pages: list[object] = []

            def follow() -> None:
                for page in http.follow(
                    "fabric", f"{server.url}/v1/workspaces", SCOPE, None, "@odata.nextLink"
                ):
                    pages.append(page)

            result = outcome(follow)
            assert isinstance(result, ApiError) and result.kind == "insecure_link", result
            assert len(pages) == 1 and len(server.requests) == 1

    def test_loopback_http_when_allowed(self) -> None:
        """Tests may name a loopback host for plain http; nothing else is allowed."""
        http = AzureHttp(TokenProvider(StaticCredential()), allow_http=frozenset({"127.0.0.1:9"}))  # type: ignore[arg-type]
        result = outcome(lambda: http.get("x", "http://127.0.0.1:9/", SCOPE, None))
        assert isinstance(result, ApiError) and result.kind == "unreachable"  # tried, nothing listens
