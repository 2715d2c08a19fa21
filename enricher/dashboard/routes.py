"""Route glue: URL query -> filters -> store -> view model -> (status, content type, body).

Read-only: the handlers only call the store's read methods. Everything they render goes through
the pure modules beside this one. The health server answers the request (auth, binding).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from importlib import resources

from enricher.core.forecast import Expiring
from enricher.dashboard.filters import FilterError, Filters, parse_filters
from enricher.dashboard.page import Page, choices_of, error_page, render_page
from enricher.dashboard.stats import Stats, stats_from, stats_json
from enricher.dashboard.view import incident_json, incident_view, scrub
from enricher.health import HealthServer
from enricher.store import Store
from enricher.store.queries import IncidentFilter, IncidentRow

Response = tuple[int, str, bytes]
Query = Mapping[str, Sequence[str]]

#: No inline script or style, nothing from elsewhere, no framing, forms only to ourselves.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATIC = {
    "/static/dashboard.css": "text/css; charset=utf-8",
    "/static/dashboard.js": "text/javascript; charset=utf-8",
}
HTML = "text/html; charset=utf-8"
JSON = "application/json"
#: How many incidents the page lists (of the open ones, and of the resolved ones); counts cover all.
PAGE_LIMIT = 200
#: ``/api/incidents``: incidents per response by default, and at most (counts cover all).
API_LIMIT = 200
MAX_LIMIT = 1000
_FILTER_PARAMS = {"source", "severity", "code", "workspace", "range"}


def register(server: HealthServer, store: Store, clock: Callable[[], datetime]) -> None:
    """Add the dashboard's routes to ``server`` (before or after it started)."""
    board = Dashboard(store, clock)
    server.routes["/"] = board.page
    server.routes["/api/incidents"] = board.api_incidents
    server.routes["/api/stats"] = board.api_stats
    for path, ctype in STATIC.items():
        body = resources.files("enricher.dashboard").joinpath(path.lstrip("/")).read_bytes()
        server.routes[path] = _asset(ctype, body)
    for path in ("/", "/api/incidents", "/api/stats", *STATIC):
        server.headers[path] = SECURITY_HEADERS


#: the expiry forecast's store key (enricher.wiring.expiry writes it) and how far ahead the panel looks
EXPIRING = "expiring:credentials"
EXPIRING_SPAN = timedelta(days=30)


class Dashboard:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def page(self, query: Query) -> Response:
        try:
            filters = _filters(query, set())
        except FilterError as exc:
            return 400, HTML, error_page(str(exc)).encode()
        now = self.clock()
        chosen = _store_filter(filters, now)
        top = dataclasses.replace(chosen, top_level=True)  # children are listed by their parent
        opened, resolved = (
            [incident_view(i) for i in self.store.list_incidents(top, state=state, limit=PAGE_LIMIT)]
            for state in ("open", "resolved")
        )
        shown = [_scrubbed(r) for r in self.store.incident_rows(IncidentFilter(now - filters.span))]
        stats = self._stats(chosen, filters, now)
        backlog = self.store.backlog()
        page = Page(now, filters, opened, resolved, stats, choices_of(shown), backlog, self._expiring(now))
        return 200, HTML, render_page(page).encode()

    def _expiring(self, now: datetime) -> list[Expiring]:
        """Credentials the last forecast saw unrotated that end within the panel's 30 days."""
        found = [Expiring.from_json(json.loads(v)) for v in self.store.get_cursor(EXPIRING).values()]
        return sorted(
            (e for e in found if now < e.expires_at <= now + EXPIRING_SPAN), key=lambda e: e.expires_at
        )

    def api_incidents(self, query: Query) -> Response:
        try:
            filters = _filters(query, {"state", "limit"})
            state = _one(query, "state", ("open", "resolved"))
            limit = _limit(query)
        except FilterError as exc:
            return _json(400, {"error": str(exc)})
        now = self.clock()
        chosen = dataclasses.replace(_store_filter(filters, now), top_level=True)  # children: in their parent
        counts = self.store.count_incidents(chosen)
        opened, resolved = counts.get("open", 0), counts.get("resolved", 0)
        listed = self.store.list_incidents(chosen, state=state, limit=limit)
        body = {
            "generated_at": now.isoformat(),
            "filters": filters.as_dict() | {"state": state, "limit": limit},
            "total": counts.get(state, 0) if state else opened + resolved,
            "open": opened,
            "resolved": resolved,
            "incidents": [incident_json(incident_view(i)) for i in listed],
        }
        return _json(200, body)

    def api_stats(self, query: Query) -> Response:
        try:
            filters = _filters(query, set())
        except FilterError as exc:
            return _json(400, {"error": str(exc)})
        now = self.clock()
        stats = stats_json(self._stats(_store_filter(filters, now), filters, now))
        return _json(200, {"generated_at": now.isoformat(), "filters": filters.as_dict(), **stats})

    def _stats(self, chosen: IncidentFilter, filters: Filters, now: datetime) -> Stats:
        """Every matching incident counts: the store adds them up (in SQL for SQLite)."""
        counts, seconds = self.store.stat_tally(chosen, now)
        return stats_from(counts, seconds, chosen.since, now, clean=_scrub)


def _store_filter(filters: Filters, now: datetime) -> IncidentFilter:
    return IncidentFilter(
        now - filters.span, filters.sources, filters.severities, filters.codes, filters.workspaces
    )


def _scrubbed(row: IncidentRow) -> IncidentRow:
    """Names and titles as the page shows them (credentials hidden), like ``incident_view``."""
    short, workspaces = _scrub(row.short), tuple(map(_scrub, row.workspaces))
    if short == row.short and workspaces == row.workspaces:
        return row  # the usual case, and a copy per row was most of the cost at 100,000 rows
    return dataclasses.replace(row, short=short, workspaces=workspaces)


@functools.lru_cache(maxsize=4096)
def _scrub(text: str) -> str:
    return scrub(text)


def _asset(ctype: str, body: bytes) -> Callable[[Query], Response]:
    return lambda query: (200, ctype, body)


def _filters(query: Query, extra: Collection[str]) -> Filters:
    unknown = sorted(set(query) - _FILTER_PARAMS - set(extra))
    if unknown:
        raise FilterError(f"unknown parameter {unknown[0]!r}")
    return parse_filters(query)


def _one(query: Query, name: str, allowed: Sequence[str]) -> str | None:
    values = [v.strip().lower() for v in query.get(name, ()) if v.strip()]
    if not values:
        return None
    if values[-1] not in allowed:
        raise FilterError(f"{name}: {values[-1]!r} is not one of {', '.join(allowed)}")
    return values[-1]


def _limit(query: Query) -> int:
    values = [v.strip() for v in query.get("limit", ()) if v.strip()]
    if not values:
        return API_LIMIT
    if not values[-1].isdigit() or not 1 <= int(values[-1]) <= MAX_LIMIT:
        raise FilterError(f"limit: {values[-1]!r} is not a number from 1 to {MAX_LIMIT}")
    return int(values[-1])


def _json(status: int, body: object) -> Response:
    """JSON with ``<``, ``>`` and ``&`` escaped, so no response can become markup even if sniffed."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return status, JSON, text.encode()
