"""Fixtures for the dashboard: a store filled by the demo scenario, served on loopback, and a browser.

The demo store is built once per test process: the real pipeline (Service + Simulator over HTTPS,
MemoryStore) runs three cycles on a stepped clock: the first sees every failure of the scenario,
30 minutes later the transient one has resolved, and a day later the failing pipelines have kept
failing, so the per-day chart has two days. The health server that serves it is the one
``Service.health_server()`` builds, dashboard hook included.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.simulator import Simulator
from enricher.store import MemoryStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config
from tests.fakes import MemorySink

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Served:
    url: str
    now: datetime
    service: Service | None = None

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """GET ``path``: (status, headers, body), errors included."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str, status: int = 200) -> Any:
        got, headers, body = self.get(path)
        assert got == status, body[:300]
        assert headers["Content-Type"] == "application/json"
        return json.loads(body)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("dashboard-demo")
    with Simulator(scenario="demo", port=0, speed=0) as sim:
        config = demo_config(sim, tmp, json_lines=False, colour=False)
        svc = Service(
            config, tmp, clock=sim.clock.now, sinks={"console": MemorySink("console")}, store=MemoryStore()
        )
        for step in (timedelta(0), timedelta(minutes=30), timedelta(days=1)):
            sim.clock.advance(step)
            report, _ = svc.cycle()
            assert report.ok, [p.errors for p in report.polls]
        server = svc.health_server().start()
        try:
            yield Served(server.url, sim.clock.now(), svc)
        finally:
            server.stop()
            svc.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; skipped (with the reason) where there is none."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no browser: {CHROMIUM} is missing (`make browser` installs Debian's chromium as root with apt-get)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records console errors, CSP violations and dialogs (``page.problems``)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.problems = []
    tab.on("console", lambda m: m.type in ("error", "warning") and tab.problems.append(m.text))
    tab.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
    tab.on("dialog", lambda d: (tab.problems.append(f"dialog: {d.message}"), d.dismiss()))
    try:
        yield tab
    finally:
        context.close()
