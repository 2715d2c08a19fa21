"""POST endpoints of the health server (``/-/reload``): the same auth as everything but /healthz."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from enricher.health import HealthServer
from enricher.metrics import Metrics

NOW = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)


def served(**auth: object) -> Iterator[tuple[str, list[int]]]:
    calls: list[int] = []
    server = HealthServer("127.0.0.1:0", Metrics(), lambda: None, lambda: NOW, timedelta(minutes=5), **auth)  # type: ignore[arg-type]
    server.actions["/-/reload"] = lambda q: (calls.append(1), (200, "application/json", b"{}"))[1]
    server.start()
    try:
        yield server.url, calls
    finally:
        server.stop()


@pytest.fixture
def open_server() -> Iterator[tuple[str, list[int]]]:
    yield from served()


@pytest.fixture
def basic_server() -> Iterator[tuple[str, list[int]]]:
    yield from served(basic=("ops", "pw"))


def status(url: str, method: str, header: str | None = None) -> int:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if header:
        request.add_header("Authorization", header)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class TestActions:
    def test_post_runs_the_action_when_no_auth_is_configured(
        self, open_server: tuple[str, list[int]]
    ) -> None:
        """Like /metrics and the dashboard: open on the (default localhost) address when no auth is set."""
        url, calls = open_server
        assert status(f"{url}/-/reload", "POST") == 200 and calls == [1]

    def test_wrong_method_and_unknown_path(self, open_server: tuple[str, list[int]]) -> None:
        url, calls = open_server
        assert status(f"{url}/-/reload", "GET") == 405
        assert status(f"{url}/healthz", "POST") == 405
        assert status(f"{url}/-/quit", "POST") == 404
        assert calls == []

    def test_auth_is_required_when_configured(self, basic_server: tuple[str, list[int]]) -> None:
        url, calls = basic_server
        good = "Basic " + base64.b64encode(b"ops:pw").decode()
        bad = "Basic " + base64.b64encode(b"ops:nope").decode()
        assert status(f"{url}/-/reload", "POST") == 401
        assert status(f"{url}/-/reload", "POST", bad) == 401
        assert calls == []
        assert status(f"{url}/-/reload", "POST", good) == 200 and calls == [1]
        assert status(f"{url}/healthz", "GET") == 200  # still public
