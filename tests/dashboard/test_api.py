"""``/api/incidents`` and ``/api/stats`` over HTTP, on a store the demo scenario filled."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard.conftest import Served

DEMO_OPEN = {"53003", "700082", "50076", "7000222", "7000215", "700016"}
INCIDENT_FIELDS = {
    "id", "state", "severity", "code", "title", "short", "summary", "category", "source", "tenant",
    "items", "first_seen", "last_seen", "resolved_at", "resolve_seconds", "count",
    "consecutive_failures", "schedule_failures_left", "correlation_id", "fixes", "links", "excerpt",
    "flapping", "signin", "parent", "children", "root_cause",
}  # fmt: skip
ITEM_FIELDS = {
    "source", "container_kind", "container_name", "container_id", "item_name", "item_type", "item_id",
    "run_id", "url",
}  # fmt: skip


class TestIncidents:
    def test_shape_is_stable(self, demo: Served) -> None:
        """Every incident has exactly the documented fields; open ones come first, worst first."""
        body = demo.json("/api/incidents")
        assert set(body) == {"generated_at", "filters", "total", "open", "resolved", "incidents"}
        assert body["filters"] == {
            "source": [], "severity": [], "code": [], "workspace": [], "range": "7d", "q": "", "state": None,
            "limit": 200,
        }  # fmt: skip
        incidents = body["incidents"]
        assert body["total"] == len(incidents) == body["open"] + body["resolved"]
        for inc in incidents:
            assert set(inc) == INCIDENT_FIELDS
            assert inc["items"] and all(set(i) == ITEM_FIELDS for i in inc["items"])
            assert all(set(f) == {"step", "command"} for f in inc["fixes"])
            assert all(set(link) == {"label", "url"} for link in inc["links"])
        states = [i["state"] for i in incidents]
        assert states == sorted(states, key=lambda s: s != "open")
        ranks = [("critical", "high", "medium", "low", "info").index(i["severity"]) for i in incidents if i["state"] == "open"]  # fmt: skip
        assert ranks == sorted(ranks)

    def test_demo_incidents_are_all_there(self, demo: Served) -> None:
        """The six lasting failures are open, the transient 50000 resolved, with what the page needs."""
        incidents = demo.json("/api/incidents")["incidents"]
        by_code = {i["code"]: i for i in incidents}
        assert {i["code"] for i in incidents if i["state"] == "open"} == DEMO_OPEN
        resolved = by_code["50000"]
        assert resolved["state"] == "resolved" and resolved["resolve_seconds"] > 15 * 60
        ca = by_code["53003"]
        assert ca["items"][0]["container_name"] == "Finance" and ca["items"][0]["url"].startswith("https://")
        assert ca["consecutive_failures"] == 4 and ca["schedule_failures_left"] == 0
        assert ca["fixes"][0]["step"] and ca["correlation_id"]
        assert by_code["7000222"]["items"][0]["container_kind"] == "factory"

    @pytest.mark.parametrize(
        ("query", "check"),
        [
            ("source=adf", lambda i: i["source"] == "adf"),
            ("source=powerbi,fabric", lambda i: i["source"] in ("powerbi", "fabric")),
            ("severity=critical", lambda i: i["severity"] == "critical"),
            ("severity=CRITICAL", lambda i: i["severity"] == "critical"),
            ("code=AADSTS53003", lambda i: i["code"] == "53003"),
            ("code=53003&code=50076", lambda i: i["code"] in ("53003", "50076")),
            ("workspace=finance", lambda i: i["items"][0]["container_name"] == "Finance"),
            ("workspace=adf-sales-prod&severity=critical", lambda i: i["code"] == "7000222"),
            ("state=resolved", lambda i: i["state"] == "resolved"),
            ("state=open&source=powerbi", lambda i: i["state"] == "open" and i["source"] == "powerbi"),
        ],
    )
    def test_filters(self, demo: Served, query: str, check: Any) -> None:
        """Each filter keeps exactly the incidents it names (and never returns nothing by accident)."""
        everything = demo.json("/api/incidents")["incidents"]
        got = demo.json(f"/api/incidents?{query}")["incidents"]
        assert got and all(check(i) for i in got)
        assert {i["id"] for i in got} == {i["id"] for i in everything if check(i)}

    def test_filters_that_match_nothing_and_limit(self, demo: Served) -> None:
        assert demo.json("/api/incidents?code=90002")["incidents"] == []
        assert demo.json("/api/incidents?workspace=Nowhere")["total"] == 0
        limited = demo.json("/api/incidents?limit=2")
        assert len(limited["incidents"]) == 2 and limited["total"] == 7

    def test_time_range(self, demo: Served) -> None:
        """Open incidents are always in range; a resolved one only while its last failure is."""
        day = demo.json("/api/incidents?range=1h")
        assert day["open"] == len(DEMO_OPEN) and day["resolved"] == 0
        assert demo.json("/api/incidents?range=2d")["resolved"] == 1

    @pytest.mark.parametrize(
        "query",
        ["severity=urgent", "code=abc", "range=7w", "range=0d", "range=999d", "state=closed", "limit=0",
         "limit=x", "sevrity=high", "source=nowhere", "source=adf,nowhere"],
    )  # fmt: skip
    def test_bad_query_is_400_naming_the_parameter(self, demo: Served, query: str) -> None:
        body = demo.json(f"/api/incidents?{query}", status=400)
        assert query.split("=", maxsplit=1)[0] in body["error"]


class TestStats:
    def test_shape_and_totals(self, demo: Served) -> None:
        body = demo.json("/api/stats")
        assert set(body) == {
            "generated_at", "filters", "start", "end", "totals", "failures_per_day", "by_code", "by_source",
            "top_containers", "time_to_resolve",
        }  # fmt: skip
        totals = body["totals"]
        assert totals["open"] == 6 and totals["resolved"] == 1 and totals["incidents"] == 7
        days = body["failures_per_day"]
        assert len(days) == 8  # 7 days back from now, both ends included
        assert sum(d["total"] for d in days) == totals["failures"] > 0
        assert all(d["total"] == sum(d["codes"].values()) for d in days)
        assert sum(1 for d in days if d["total"]) == 2  # the demo's day and the day after
        assert sum(c["failures"] for c in body["by_code"]) == totals["failures"]
        assert sum(s["failures"] for s in body["by_source"]) == totals["failures"]
        assert {s["source"] for s in body["by_source"]} == {"powerbi", "fabric", "adf", "synapse"}
        top = body["top_containers"][0]
        assert set(top) == {"container_name", "label", "source", "failures", "incidents", "open"}
        failures = [c["failures"] for c in body["top_containers"]]
        assert failures == sorted(failures, reverse=True)
        ttr = body["time_to_resolve"]
        assert ttr["count"] == 1 and ttr["median_seconds"] == ttr["max_seconds"] > 15 * 60
        assert [b["label"] for b in ttr["buckets"]] == ["< 15 min", "15-60 min", "1-4 h", "4-24 h", "> 1 d"]
        assert sum(b["count"] for b in ttr["buckets"]) == 1

    def test_counts_match_incidents_total(self, demo: Served) -> None:
        """Every failure of every incident is within the default week, so the counts add up."""
        incidents = demo.json("/api/incidents")["incidents"]
        assert demo.json("/api/stats")["totals"]["failures"] == sum(i["count"] for i in incidents)

    def test_same_filters_as_incidents(self, demo: Served) -> None:
        body = demo.json("/api/stats?source=adf")
        assert body["filters"]["source"] == ["adf"]
        assert [s["source"] for s in body["by_source"]] == ["adf"]
        assert {c["code"] for c in body["by_code"]} == {"7000222", "50000"}
        assert [c["container_name"] for c in body["top_containers"]] == ["adf-sales-prod"]
        assert body["totals"]["incidents"] == len(demo.json("/api/incidents?source=adf")["incidents"])
        assert demo.json("/api/stats?range=30d")["start"] < body["start"]
        assert "error" in demo.json("/api/stats?severity=nope", status=400)


class TestHeaders:
    @pytest.mark.parametrize("path", ["/", "/api/incidents", "/api/stats", "/static/dashboard.js"])
    def test_strict_csp_on_every_dashboard_path(self, demo: Served, path: str) -> None:
        status, headers, _ = demo.get(path)
        assert status == 200
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"

    def test_page_and_assets_types(self, demo: Served) -> None:
        assert demo.get("/")[1]["Content-Type"] == "text/html; charset=utf-8"
        assert demo.get("/static/dashboard.css")[1]["Content-Type"].startswith("text/css")
        assert demo.get("/?severity=nope")[0] == 400
        assert demo.get("/?source=nope")[0] == 400
        assert demo.get("/static/missing.js")[0] == 404

    def test_health_routes_still_answer(self, demo: Served) -> None:
        assert demo.get("/healthz")[0] == 200 and demo.get("/metrics")[0] == 200

    def test_no_secret_anywhere(self, demo: Served) -> None:
        """The demo's client secret is in the config the service runs with, never in a response."""
        assert demo.service is not None
        secret = demo.service.config.tenants[0].credential.client_secret.get_secret_value()  # type: ignore[union-attr]
        for path in ("/", "/api/incidents", "/api/stats", "/api/incidents?state=resolved"):
            assert secret.encode() not in demo.get(path)[2]
