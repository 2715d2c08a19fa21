"""The page in headless Chromium (Debian's, driven by Playwright) on the demo store.

The demo store is filled by the real connectors over HTTPS from the simulator, so the items carry
the ids our connectors really produce: each source's portal link is checked against them. Also:
the table and its details, the four charts drawn with the right numbers (and their tables),
filters that live in the URL, and an incident's permalink with its timeline. No test here sees a
console error or a Content-Security-Policy violation. The full page is saved as
``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.dashboard.conftest import ARTIFACTS, Served

#: What each source's item links to, from the ids the connectors recorded (see ``portal``).
PORTAL = {
    "powerbi": "https://app.powerbi.com/groups/{container_id}/settings/datasets/{item_id}",
    "fabric": "https://app.fabric.microsoft.com/groups/{container_id}/synapsenotebooks/{item_id}",
    "adf": (
        "https://adf.azure.com/en/monitoring/pipelineruns/{run_id}?factory=/subscriptions/{sub}"
        "/resourceGroups/{rg}/providers/Microsoft.DataFactory/factories/{container_name}"
    ),
    "synapse": (
        "https://web.azuresynapse.net/en/monitoring/pipelineruns/{run_id}?workspace=/subscriptions/{sub}"
        "/resourceGroups/{rg}/providers/Microsoft.Synapse/workspaces/{container_name}"
    ),
}


def portal(item: dict[str, Any]) -> str:
    """The expected link, from the item's own ids (ADF's container id is ``sub/rg/factory``)."""
    sub, rg = "", ""
    if item["source"] == "adf":
        sub, rg, _ = item["container_id"].split("/")
    elif item["source"] == "synapse":
        sub, rg = "8f6a4c2e-0b1d-4e3f-9a5c-7e9b1d3f5a71", "rg-data-prod"  # the demo config's
    return PORTAL[item["source"]].format(sub=sub, rg=rg, **item)


def test_table_details_and_charts(demo: Served, page: Any) -> None:
    stats = demo.json("/api/stats")
    incidents = demo.json("/api/incidents")["incidents"]
    page.goto(demo.url + "/")
    rows = page.locator("#open details.incident")
    assert rows.count() == stats["totals"]["open"] == 6
    assert rows.first.get_attribute("data-severity") == "critical"  # worst first
    assert int(page.locator('ul.severities li[data-severity="critical"] [data-count]').inner_text()) == 5
    ca = page.locator('details.incident[data-code="53003"]')
    assert not ca.locator(".fixes").is_visible()  # closed until asked
    ca.locator("summary").click()
    assert "Finance Board Pack" in ca.locator(".c-item").inner_text()
    assert ca.locator(".workspace").inner_text() == "Finance"
    assert "Power BI has disabled the schedule" in ca.locator(".schedule").inner_text()
    assert ca.locator(".failures").inner_text() == "4"
    by_code = {i["code"]: i for i in incidents}
    assert ca.locator("code.correlation").inner_text() == by_code["53003"]["correlation_id"]
    assert ca.locator("ol.fixes > li").count() == len(by_code["53003"]["fixes"]) >= 2
    assert page.locator('#resolved tr[data-code="50000"]').count() == 1

    shown = [c for c in page.locator("svg.chart").all() if c.is_visible()]
    charts = {c.get_attribute("data-chart"): c for c in shown}
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
    tables = page.locator("table.numbers")
    assert tables.count() == 4  # the numbers behind each chart, as text
    by_source = tables.nth(1).locator("tbody tr")
    assert by_source.count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert page.problems == []


def test_every_source_links_to_its_portal_page(demo: Served, page: Any) -> None:
    """Power BI dataset settings, the Fabric item, the ADF run in ADF studio and the Synapse run in
    Synapse Studio, each built from the ids the connectors recorded."""
    incidents = demo.json("/api/incidents?state=open")["incidents"]
    assert {i["source"] for i in incidents} == set(PORTAL)
    page.goto(demo.url + "/")
    for inc in incidents:
        item = inc["items"][0]
        assert item["url"] == portal(item), inc["source"]
        row = page.locator(f'details.incident[data-id="{inc["id"]}"]')
        row.locator("summary").click()
        assert row.locator("a.portal").get_attribute("href") == portal(item)
    assert page.problems == []


def test_permalink_timeline_and_code_page(demo: Served, page: Any) -> None:
    """Each row links to its own page: the failures, the notifications and their sinks, the resolve."""
    resolved = demo.json("/api/incidents?state=resolved")["incidents"][0]
    page.goto(demo.url + f"/incidents/{resolved['id']}")
    steps = page.locator("ol.timeline li")
    kinds = [s.get_attribute("data-kind") for s in steps.all()]
    assert kinds[0] == "first-failure" and "resolved" in kinds and "notified" in kinds
    notified = page.locator('ol.timeline li[data-kind="notified"]').first
    assert notified.get_attribute("data-sinks") == "console" and "for console" in notified.inner_text()
    assert page.locator("p.state").get_attribute("data-state") == "resolved"
    page.click("h1 a.code")
    assert urlsplit(page.url).path == "/codes/50000"
    assert page.locator("ol.fixes li").count() >= 2
    assert (
        page.locator("a.lookup").get_attribute("href") == "https://login.microsoftonline.com/error?code=50000"
    )
    status, _, _ = demo.get("/incidents/nope")
    assert status == 404 and demo.get("/codes/123")[0] == 404
    assert page.problems == []


def test_filters_live_in_the_url(demo: Served, page: Any) -> None:
    """Applying filters reloads the page with them in the query; the API links carry them too."""
    page.goto(demo.url + "/")
    page.locator('details.pick[data-filter="severity"] summary').click()
    page.check('input[name="severity"][value="critical"]')
    with page.expect_navigation():
        page.click('form.filters button[type="submit"]')
    assert parse_qs(urlsplit(page.url).query) == {"severity": ["critical"]}
    severities = {a.get_attribute("data-severity") for a in page.locator("details.incident").all()}
    assert severities == {"critical"}
    assert page.locator("#resolved tr").count() == 0  # the resolved 50000 is low
    page.select_option('select[name="range"]', "30d")
    with page.expect_navigation():
        page.click('form.filters button[type="submit"]')
    assert parse_qs(urlsplit(page.url).query) == {"severity": ["critical"], "range": ["30d"]}
    assert "severity=critical" in page.locator("#api-stats").get_attribute("href")
    assert page.problems == []


def test_a_shared_link_opens_the_same_view(demo: Served, page: Any) -> None:
    page.goto(demo.url + "/?source=adf&workspace=adf-sales-prod&range=2d")
    assert page.locator('input[name="source"][value="adf"]').is_checked()
    assert page.locator('input[name="workspace"][value="adf-sales-prod"]').is_checked()
    assert page.locator('select[name="range"]').input_value() == "2d"
    assert [a.get_attribute("data-code") for a in page.locator("details.incident").all()] == ["7000222"]
    assert page.locator('#resolved tr[data-code="50000"]').count() == 1
    bars = page.locator('svg[data-chart="by-source"] rect.bar')
    assert {b.get_attribute("data-name") for b in bars.all()} == {"adf"}
    page.click('ul.severities li[data-severity="critical"] a')
    query = parse_qs(urlsplit(page.url).query)
    assert query["severity"] == ["critical"] and query["source"] == ["adf"]
    page.click("a.reset")
    page.wait_for_url(demo.url + "/")
    assert page.locator("details.incident").count() == 6
    assert page.problems == []
