"""Hostile text from outside (failure messages, item and workspace names, links) stays text.

The incident is made the way the pipeline makes one (detect -> enrich -> on_failure -> store),
from a run whose names and error message carry markup, then its links are pointed at
``javascript:`` URLs. Neither the page nor the API may turn any of it into markup, a link that
runs code, or a leaked secret, and in Chromium nothing of it may execute.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest

from connectors.records import RunRecord, RunStatus, Source
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.incidents import Book, Policy, on_failure
from enricher.core.knowledge import load_knowledge
from enricher.dashboard import register
from enricher.health import HealthServer
from enricher.metrics import Metrics
from enricher.store import MemoryStore
from tests.dashboard.conftest import Served

NOW = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)
SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=2">'
SVG = "'><svg onload=window.__xss=3>"
JS_URL = "javascript:window.__xss=4"
SECRET = "Zz9~SuperSecretValue"
WORKSPACE = f"Finance {IMG}"
ITEM = f"Board {SCRIPT}"


@pytest.fixture(scope="module")
def hostile() -> Iterator[Served]:
    run = RunRecord(
        Source.POWERBI,
        "contoso",
        "ws-1",
        WORKSPACE,
        "ds-1",
        ITEM,
        "dataset",
        "run-1",
        RunStatus.FAILED,
        ended_at=NOW - timedelta(hours=1),
        error_text=(
            f"AADSTS7000215: Invalid client secret provided. {SCRIPT} {SVG} client_secret={SECRET} "
            "Trace ID: 0b6f2a3c-1d4e-4f5a-8b6c-7d8e9f0a1b2c Correlation ID: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
        ),
    )
    alert = enrich(run, detect(run.error_text), load_knowledge())
    assert alert is not None
    book = Book()
    inc = on_failure(book, alert, NOW, Policy())
    inc = dataclasses.replace(
        inc,
        items=tuple(dataclasses.replace(i, url=JS_URL) for i in inc.items),
        content=inc.content
        | {
            "links": [{"label": SCRIPT, "url": JS_URL}, {"label": "docs", "url": " JaVaScRiPt:alert(1)"}],
            "summary": f"{IMG} Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        },
    )
    book.put(inc)
    store = MemoryStore()
    store.save_book(book, NOW)
    store.add_event(inc.id, NOW, "failure", "run run-1: AADSTS7000215")
    server = HealthServer("127.0.0.1:0", Metrics(), lambda: None, lambda: NOW, timedelta(minutes=10))
    register(server, store, lambda: NOW)
    server.start()
    try:
        yield Served(server.url, NOW)
    finally:
        server.stop()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize(
    "path",
    ["/", f"/?workspace={quote(WORKSPACE)}", f"/?workspace={quote(SCRIPT)}", f"/?code={quote(SCRIPT)}"],
)
def test_page_has_no_active_markup(hostile: Served, path: str) -> None:
    """Our one script, no event handler, no image, every link ours or http(s); the text is there, escaped."""
    status, _, body = hostile.get(path)
    html = body.decode()
    tags = tags_of(html)
    scripts = [a.get("src") for t, a in tags if t == "script"]
    assert scripts == (["/static/dashboard.js"] if status == 200 else [])  # a bad filter: 400, no script
    assert not [t for t, _ in tags if t in ("img", "iframe", "object", "embed", "base")]
    assert not [(t, name) for t, attrs in tags for name in attrs if name.startswith("on")]
    for _, attrs in tags:
        for name in ("href", "src", "action", "xlink:href"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value or value.startswith(("/", "#", "https://", "http://", "data:,")), value
    assert SECRET not in html and "eyJhbGciOiJIUzI1NiJ9" not in html
    if path == "/":
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html  # shown as text
        assert "&lt;img src=x onerror=" in html


def test_api_has_no_markup_and_no_script_links(hostile: Served) -> None:
    for path in ("/api/incidents", "/api/stats", f"/api/incidents?workspace={quote(WORKSPACE)}"):
        _, headers, body = hostile.get(path)
        assert headers["Content-Type"] == "application/json"
        assert b"<" not in body and b">" not in body  # escaped as \u003c / \u003e inside strings
        assert SECRET.encode() not in body
    incidents = hostile.json(f"/api/incidents?workspace={quote(WORKSPACE)}")["incidents"]
    assert len(incidents) == 1
    inc = incidents[0]
    assert SCRIPT in inc["excerpt"] and SCRIPT in inc["items"][0]["item_name"]  # data, intact
    assert inc["items"][0]["url"] == ""  # a javascript: URL is dropped, not passed on
    assert inc["links"] == []
    assert "Bearer ***" in inc["summary"]
    stats = hostile.json("/api/stats")
    assert stats["top_containers"][0]["container_name"] == WORKSPACE
    assert json.dumps(stats).count("javascript") == 0


def test_nothing_runs_in_the_browser(hostile: Served, page: Any) -> None:
    """Chromium: no script ran, no dialog opened, no CSP violation was reported, the text shows."""
    for path in ("/", f"/?workspace={quote(WORKSPACE)}", f"/?workspace={quote(SCRIPT)}"):
        page.goto(hostile.url + path)
        assert page.evaluate("() => window.__xss") is None
        assert page.locator("img").count() == 0
    page.goto(hostile.url + "/")
    page.click("details.incident summary")
    assert SCRIPT in page.locator("pre.excerpt").inner_text()
    assert ITEM in page.locator(".item-name").inner_text()
    assert (
        page.locator('svg[data-chart="top-containers"] text')
        .first.text_content()
        .startswith('Finance "><img')
    )
    assert page.locator("a.portal").count() == 0
    assert page.problems == []


def test_permalink_and_code_pages_have_no_active_markup(hostile: Served) -> None:
    """The incident's own page shows the same hostile text escaped; unknown ids and codes are 404s
    that echo nothing active."""
    iid = hostile.json("/api/incidents")["incidents"][0]["id"]
    for path, want in (
        (f"/incidents/{iid}", 200),
        ("/codes/7000215", 200),
        (f"/incidents/{quote(SCRIPT, safe='')}", 404),
        (f"/codes/{quote(SCRIPT, safe='')}", 404),
    ):
        status, headers, body = hostile.get(path)
        html = body.decode()
        assert status == want and headers["Content-Security-Policy"].startswith("default-src 'none'")
        tags = tags_of(html)
        assert [a.get("src") for t, a in tags if t == "script"] in ([], ["/static/dashboard.js"])
        assert not [(t, name) for t, attrs in tags for name in attrs if name.startswith("on")]
        assert SECRET not in html and "<script>window" not in html
    status, _, body = hostile.get(f"/incidents/{iid}")
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in body.decode()
