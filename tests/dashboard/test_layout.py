"""The page as an admin uses it at 3 a.m., in Chromium at 390x844 (a phone) and 1440x900 (a laptop).

A SQLite store with 1,000 incidents (made the way the pipeline makes them, as in test_scale.py):
nothing scrolls sideways, the first screen holds the severity summary and at least 10 incident
rows on the laptop, filters take several values and apply only on Apply or Enter, search and
paging find what the store says, every row opens its details and its permalink, keyboard alone
gets there, and every text colour on the page keeps 4.5:1 contrast against what is behind it.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.records import RunRecord, RunStatus, Source
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.incidents import Book, Policy, on_failure, on_success
from enricher.core.knowledge import load_knowledge
from enricher.dashboard import register
from enricher.health import HealthServer
from enricher.metrics import Metrics
from enricher.store import SQLiteStore
from tests.dashboard.conftest import ARTIFACTS, Served

NOW = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)
TOTAL, RESOLVED_EVERY = 1000, 5
CODES = ("53003", "7000222", "50076", "700082", "7000215", "700016", "50173")
SOURCES = (Source.POWERBI, Source.ADF, Source.FABRIC, Source.SYNAPSE)
SIZES = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1440, "height": 900}}

#: WCAG relative luminance and contrast of two rgb() colours, in the page.
CONTRAST_JS = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const behind = (el) => { for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent.trim()) continue;
    seen.add(el);
    if (el.closest('svg')) continue;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility === 'hidden') continue;
    const fg = parse(style.color), bg = behind(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    out.push({text: n.textContent.trim().slice(0, 40), color: style.color, background: `rgb(${bg.r}, ${bg.g}, ${bg.b})`,
              ratio: (hi + 0.05) / (lo + 0.05)});
  }
  return out;
}"""
CHART_TEXT_JS = """() => Array.from(document.querySelectorAll('svg.chart text')).filter(t => t.getBoundingClientRect().width > 0)
  .map(t => parseFloat(getComputedStyle(t).fontSize) * t.closest('svg').getScreenCTM().a)"""


def build(store: SQLiteStore) -> None:
    """1,000 incidents over 4 sources, 7 codes and 40 workspaces; every fifth one resolved."""
    kb, book = load_knowledge(), Book()
    for n in range(TOTAL):
        at = NOW - timedelta(minutes=7 * n + 5)
        source = SOURCES[n % len(SOURCES)]
        run = RunRecord(
            source,
            "contoso",
            f"ws{n % 40}",
            f"Workspace {n % 40:02d}",
            f"item{n}",
            f"Report {n:04d}",
            "pipeline" if source in (Source.ADF, Source.SYNAPSE) else "dataset",
            f"run{n}",
            RunStatus.FAILED,
            ended_at=at,
            error_text=f"AADSTS{CODES[n % len(CODES)]}: failed",
        )
        alert = enrich(run, detect(run.error_text), kb)
        assert alert is not None
        inc = on_failure(book, alert, at, Policy())
        store.add_event(inc.id, at, "failure", f"run {run.run_id}: AADSTS{inc.code}")
        if n % RESOLVED_EVERY == 0:
            on_success(book, run.item_key, at + timedelta(minutes=30), at, Policy())
            store.add_event(inc.id, at + timedelta(minutes=30), "resolved", f"run {run.run_id} succeeded")
    store.save_book(book, NOW)


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    store = SQLiteStore(tmp_path_factory.mktemp("layout") / "state.db")
    build(store)
    store.beat("poll:contoso/powerbi", NOW - timedelta(minutes=1), "ok")
    store.beat("poll-ok:contoso/powerbi", NOW - timedelta(minutes=1), "ok")
    store.beat("poll:contoso/adf", NOW - timedelta(minutes=2), "HTTP 403 from ARM")
    store.beat("poll-ok:contoso/adf", NOW - timedelta(hours=3), "ok")
    server = HealthServer("127.0.0.1:0", Metrics(), lambda: None, lambda: NOW, timedelta(minutes=10))
    register(server, store, lambda: NOW, sources=lambda: ["contoso/powerbi", "contoso/adf"])
    server.start()
    try:
        yield Served(server.url, NOW)
    finally:
        server.stop()
        store.close()


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Any) -> Iterator[tuple[str, Any]]:
    context = browser.new_context(viewport=SIZES[request.param], timezone_id="Europe/Berlin")
    tab = context.new_page()
    tab.problems = []
    tab.on("console", lambda m: m.type in ("error", "warning") and tab.problems.append(m.text))
    tab.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
    try:
        yield request.param, tab
    finally:
        context.close()


def overflow(tab: Any) -> int:
    """How far the page is wider than the window (0: no horizontal scroll)."""
    return int(tab.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


def shot(tab: Any, name: str, *, full: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / name), full_page=full)


def test_first_screen(thousand: Served, sized: tuple[str, Any]) -> None:
    """Severity summary, what changed, source health, then the table; nothing scrolls sideways."""
    size, tab = sized
    api = thousand.json("/api/incidents?state=open&limit=1")
    tab.goto(thousand.url + "/")
    counts = {
        li.get_attribute("data-severity"): int(li.locator("[data-count]").inner_text())
        for li in tab.locator("ul.severities li").all()
    }
    assert sum(counts.values()) == api["open"] == TOTAL - TOTAL // RESOLVED_EVERY
    assert tab.locator("ul.severities").is_visible()
    assert int(tab.locator("[data-new]").inner_text()) > 0
    adf = tab.locator('#sources li[data-source="contoso/adf"]')
    assert "HTTP 403" in adf.inner_text() and "bad" in (adf.get_attribute("class") or "")
    rows = tab.locator("#open details.incident")
    assert rows.count() == 25
    shot(tab, f"dashboard-{size}.png")
    if size == "laptop":
        in_view = [r for r in rows.all() if r.bounding_box()["y"] + r.bounding_box()["height"] <= 900]
        assert len(in_view) >= 10
        assert tab.locator("ul.severities").bounding_box()["y"] < 300
    # times are shown in the browser's zone, UTC stays the tooltip
    first = tab.locator("#open time").first
    assert first.get_attribute("data-local") == "1" and first.get_attribute("title").endswith("UTC")
    assert "UTC" not in first.inner_text()
    for name in ("incident", "table"):
        if name == "incident":
            rows.first.locator("summary").click()
            assert rows.first.locator(".fixes li").count() >= 2
        assert overflow(tab) <= 0, f"{size}: the page scrolls sideways"
    sizes = tab.evaluate(CHART_TEXT_JS)
    assert sizes and min(sizes) >= 11, f"{size}: chart text at {min(sizes):.1f} px"
    shot(tab, f"dashboard-{size}-open.png")
    shot(tab, f"dashboard-{size}-full.png", full=True)
    assert tab.problems == []


def test_contrast_of_every_text(thousand: Served, sized: tuple[str, Any]) -> None:
    """Every piece of text on the overview, an incident and a code page: 4.5:1 or better."""
    size, tab = sized
    tab.goto(thousand.url + "/")
    tab.locator("#open details.incident summary").first.click()
    for d in tab.locator("details.pick, details.numbers").all():
        d.evaluate("d => d.open = true")
    pages = [tab.evaluate(CONTRAST_JS)]
    iid = tab.locator("#open details.incident").first.get_attribute("data-id")
    for path in (f"/incidents/{iid}", "/codes/53003"):
        tab.goto(thousand.url + path)
        pages.append(tab.evaluate(CONTRAST_JS))
        assert overflow(tab) <= 0, f"{size} {path}: the page scrolls sideways"
    checked = [t for found in pages for t in found]
    low = [t for t in checked if t["ratio"] < 4.5]
    assert len(checked) > 200 and low == [], low[:5]


def test_filters_apply_on_the_button_only(thousand: Served, sized: tuple[str, Any]) -> None:
    """Several values per filter; ticking and arrow keys change nothing until Apply."""
    _, tab = sized
    tab.goto(thousand.url + "/")
    url = tab.url
    tab.locator('details.pick[data-filter="severity"] summary').click()
    tab.locator('input[name="severity"][value="critical"]').check()
    tab.locator('input[name="severity"][value="high"]').check()
    tab.locator('select[name="range"]').focus()
    tab.keyboard.press("ArrowDown")
    assert tab.url == url  # nothing applied yet
    tab.locator('select[name="range"]').select_option("7d")
    with tab.expect_navigation():
        tab.click('form.filters button[type="submit"]')
    assert parse_qs(urlsplit(tab.url).query) == {"severity": ["critical", "high"]}
    shown = {r.get_attribute("data-severity") for r in tab.locator("#open details.incident").all()}
    assert shown <= {"critical", "high"} and shown
    want = thousand.json("/api/incidents?severity=critical,high&state=open&limit=1")["open"]
    assert tab.locator("#open-h").inner_text().startswith(f"{want} open")
    assert tab.problems == []


def test_filters_work_without_javascript(thousand: Served, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=SIZES["phone"])
    try:
        tab = context.new_page()
        tab.goto(thousand.url + "/")
        tab.locator('details.pick[data-filter="source"] summary').click()
        tab.locator('input[name="source"][value="adf"]').check()
        tab.locator('input[name="source"][value="synapse"]').check()
        with tab.expect_navigation():
            tab.click('form.filters button[type="submit"]')
        query = parse_qs(urlsplit(tab.url).query)
        assert query["source"] == ["adf", "synapse"]
        assert tab.locator("label.refresh").is_hidden()  # the refresh needs the script
        shown = {r.get_attribute("data-source") for r in tab.locator("#open details.incident").all()}
        assert shown == {"adf", "synapse"}
        assert overflow(tab) <= 0
    finally:
        context.close()


def test_search_and_paging(thousand: Served, sized: tuple[str, Any]) -> None:
    """``q=`` typed and sent with Enter; the pages walk the store's order without repeats."""
    _, tab = sized
    tab.goto(thousand.url + "/")
    tab.fill('input[name="q"]', "workspace 07")
    with tab.expect_navigation():
        tab.press('input[name="q"]', "Enter")
    assert parse_qs(urlsplit(tab.url).query) == {"q": ["workspace 07"]}
    rows = tab.locator("#open details.incident")
    assert {r.locator(".c-ws").inner_text() for r in rows.all()} == {"Workspace 07"}
    want = thousand.json("/api/incidents?q=workspace%2007&state=open&limit=1")["open"]
    assert tab.locator("#open-h").inner_text().startswith(f"{want} open")
    tab.goto(thousand.url + "/?sort=first")
    seen: list[str] = []
    for _ in range(3):
        seen += [r.get_attribute("data-id") for r in rows.all()]
        with tab.expect_navigation():
            tab.click('.pager a[rel="next"]')
    assert len(seen) == len(set(seen)) == 75
    assert parse_qs(urlsplit(tab.url).query) == {"sort": ["first"], "page": ["4"]}
    shot(tab, f"dashboard-page4-{sized[0]}.png")
    assert tab.problems == []


def test_keyboard_reaches_a_permalink(thousand: Served, sized: tuple[str, Any]) -> None:
    """Skip link first, then the rows: Enter opens one, its permalink shows the timeline."""
    size, tab = sized
    tab.goto(thousand.url + "/")
    tab.keyboard.press("Tab")
    assert tab.evaluate("() => document.activeElement.className") == "skip"
    tab.keyboard.press("Enter")
    assert tab.evaluate("() => document.activeElement.id") == "main"
    first = tab.locator("#open details.incident").first
    iid = first.get_attribute("data-id")
    first.locator("summary").focus()
    tab.keyboard.press("Enter")
    assert first.get_attribute("open") is not None
    link = first.locator("a.permalink")
    link.focus()
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    assert urlsplit(tab.url).path == f"/incidents/{iid}"
    kinds = [s.get_attribute("data-kind") for s in tab.locator("ol.timeline li").all()]
    assert kinds[0] == "first-failure"
    tab.click("a.code")
    assert urlsplit(tab.url).path.startswith("/codes/")
    assert tab.locator("ol.fixes li").count() >= 2 and tab.locator("a.lookup").count() == 1
    shot(tab, f"code-{size}.png", full=True)
    assert overflow(tab) <= 0 and tab.problems == []


def test_refresh_keeps_the_place(thousand: Served, sized: tuple[str, Any]) -> None:
    """Auto-refresh is opt-in and remembered; a refreshed page comes back where it was, with the same
    rows open (the reload itself waits a minute, so the test hands the page what it saves then)."""
    _, tab = sized
    tab.goto(thousand.url + "/")
    box = tab.locator("#auto-refresh")
    assert box.is_visible() and not box.is_checked()
    box.check()
    assert tab.evaluate("() => localStorage.getItem('aadsts-enricher:refresh')") == "on"
    iid = tab.locator("#open details.incident").nth(3).get_attribute("data-id")
    tab.evaluate(
        "([id]) => sessionStorage.setItem('aadsts-enricher:restore', JSON.stringify({y: 600, open: [id]}))",
        [iid],
    )
    tab.reload()
    assert tab.locator("#auto-refresh").is_checked()
    assert tab.evaluate("() => window.scrollY") == 600
    assert tab.locator(f'details.incident[data-id="{iid}"]').get_attribute("open") is not None
    assert tab.problems == []


def test_a_long_workspace_list_has_a_finder(thousand: Served, sized: tuple[str, Any]) -> None:
    """40 workspaces: typing narrows the check boxes; Enter in the finder applies nothing."""
    _, tab = sized
    tab.goto(thousand.url + "/")
    url = tab.url
    tab.locator('details.pick[data-filter="workspace"] summary').click()
    finder = tab.locator("input[data-narrow]")
    assert finder.is_visible()
    finder.fill("ace 1")
    visible = [c.inner_text().strip() for c in tab.locator('details.pick[data-filter="workspace"] label.choice').all()
               if c.is_visible()]  # fmt: skip
    assert visible == [f"Workspace {n}" for n in range(10, 20)]
    finder.press("Enter")
    assert tab.url == url
    tab.locator('input[name="workspace"][value="Workspace 12"]').check()
    with tab.expect_navigation():
        tab.click('form.filters button[type="submit"]')
    assert parse_qs(urlsplit(tab.url).query) == {"workspace": ["Workspace 12"]}
    assert {r.locator(".c-ws").inner_text() for r in tab.locator("#open details.incident").all()} == {
        "Workspace 12"
    }
    assert tab.problems == []
