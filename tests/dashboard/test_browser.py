"""The page in headless Chromium (Debian's, driven by Playwright) on the demo store.

Checks what a person would: the open incidents with their facts and fix steps, the resolved one,
the four charts drawn with the right numbers, and filters that change the URL, so a view can be
shared. No test here sees a console error or a Content-Security-Policy violation. The full page is
saved as ``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.dashboard.conftest import ARTIFACTS, Served


def test_incidents_and_charts_render(demo: Served, page: Any) -> None:
    stats = demo.json("/api/stats")
    incidents = demo.json("/api/incidents")["incidents"]
    page.goto(demo.url + "/")
    cards = page.locator("#open article.incident")
    assert cards.count() == stats["totals"]["open"] == 6
    first = cards.first
    assert first.get_attribute("data-severity") == "critical"  # worst first
    ca = page.locator('article.incident[data-code="53003"]')
    assert "Finance Board Pack" in ca.locator(".item").inner_text()
    assert ca.locator("a.workspace").inner_text() == "Finance"
    assert ca.locator("a.portal").get_attribute("href").startswith("https://app.powerbi.com/")
    assert "Power BI has disabled the schedule" in ca.locator(".schedule").inner_text()
    assert ca.locator(".failures").inner_text() == "4"
    by_code = {i["code"]: i for i in incidents}
    assert ca.locator("code.correlation").inner_text() == by_code["53003"]["correlation_id"]
    assert ca.locator("ol.fixes > li").count() == len(by_code["53003"]["fixes"]) >= 2
    assert page.locator('#resolved tr[data-code="50000"]').count() == 1

    charts = {c.get_attribute("data-chart"): c for c in page.locator("svg.chart").all()}
    assert set(charts) == {"failures-per-day", "by-source", "top-containers", "time-to-resolve"}
    for chart in charts.values():
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 40  # laid out, not collapsed
    segments = charts["failures-per-day"].locator("rect.seg")
    drawn = sum(int(s.get_attribute("data-count")) for s in segments.all())
    assert drawn == stats["totals"]["failures"]
    assert {s.get_attribute("data-day") for s in segments.all()} == {
        d["day"] for d in stats["failures_per_day"] if d["total"]
    }
    assert charts["by-source"].locator("rect.bar").count() == 4
    assert (
        charts["top-containers"].locator("rect.bar").first.get_attribute("data-name")
        == (stats["top_containers"][0]["container_name"])
    )
    assert page.locator("ul.legend li").count() == len(stats["by_code"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert page.problems == []


def test_filters_live_in_the_url(demo: Served, page: Any) -> None:
    """Choosing a filter reloads the page with it in the query; the API links carry it too."""
    page.goto(demo.url + "/")
    with page.expect_navigation():
        page.select_option('select[name="severity"]', "critical")
    assert parse_qs(urlsplit(page.url).query) == {"severity": ["critical"]}
    severities = {a.get_attribute("data-severity") for a in page.locator("article.incident").all()}
    assert severities == {"critical"}
    assert page.locator("#resolved tr").count() == 0  # the resolved 50000 is low
    with page.expect_navigation():
        page.select_option('select[name="range"]', "30d")
    assert parse_qs(urlsplit(page.url).query) == {"severity": ["critical"], "range": ["30d"]}
    assert "severity=critical" in page.locator("#api-stats").get_attribute("href")
    assert page.locator("svg.chart").count() == 4
    assert page.problems == []


def test_a_shared_link_opens_the_same_view(demo: Served, page: Any) -> None:
    page.goto(demo.url + "/?source=adf&workspace=adf-sales-prod&range=2d")
    assert page.locator('select[name="source"]').input_value() == "adf"
    assert page.locator('select[name="workspace"]').input_value() == "adf-sales-prod"
    assert page.locator('select[name="range"]').input_value() == "2d"
    assert [a.get_attribute("data-code") for a in page.locator("article.incident").all()] == ["7000222"]
    assert page.locator('#resolved tr[data-code="50000"]').count() == 1
    bars = page.locator('svg[data-chart="by-source"] rect.bar')
    assert [b.get_attribute("data-name") for b in bars.all()] == ["adf"]
    with page.expect_navigation():
        page.click("article.incident a.code")
    assert parse_qs(urlsplit(page.url).query)["code"] == ["7000222"]
    page.click("a.reset")
    page.wait_for_url(demo.url + "/")
    assert page.locator("article.incident").count() == 6
    assert page.problems == []


def test_filters_work_without_javascript(demo: Served, browser: Any) -> None:
    """The form is a plain GET: with scripts off, Apply gives the same shareable URL."""
    context = browser.new_context(java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto(demo.url + "/")
        assert tab.locator("#copy-link").is_hidden()
        tab.select_option('select[name="source"]', "powerbi")
        with tab.expect_navigation():
            tab.click('form.filters button[type="submit"]')
        assert parse_qs(urlsplit(tab.url).query) == {"source": ["powerbi"], "range": ["7d"]}
        assert {a.get_attribute("data-source") for a in tab.locator("article.incident").all()} == {"powerbi"}
    finally:
        context.close()
