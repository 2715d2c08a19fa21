"""Route glue: URL query -> filters -> store -> view model -> (status, content type, body).

Read-only: the handlers only call the store's read methods. Everything they render goes through
the pure modules beside this one. The health server answers the request (auth, binding).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources

from enricher.core.forecast import Expiring
from enricher.core.knowledge import KnowledgeBase, load_knowledge
from enricher.dashboard.filters import FilterError, Filters, parse_filters
from enricher.dashboard.page import (
    CodePage,
    IncidentPage,
    Listing,
    Page,
    SourceHealth,
    choices_of,
    error_page,
    render_code,
    render_incident,
    render_page,
)
from enricher.dashboard.stats import Stats, stats_from, stats_json
from enricher.dashboard.timeline import timeline
from enricher.dashboard.view import incident_json, incident_view, scrub
from enricher.health import HealthServer
from enricher.store import Store
from enricher.store.queries import SORTS, IncidentFilter, IncidentRow

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
#: How many resolved incidents the page lists (the latest); counts cover all.
PAGE_LIMIT = 20
#: Open incidents per page of the overview's table.
PER_PAGE = 25
#: ``/api/incidents``: incidents per response by default, and at most (counts cover all).
API_LIMIT = 200
MAX_LIMIT = 1000
#: How many children a parent's page lists (notifications link "All N items" to it).
CHILDREN_LIMIT = 1000
_FILTER_PARAMS = {"source", "severity", "code", "workspace", "range", "q"}
_PAGE_PARAMS = {"sort", "page", "since"}
_SINCE_RX = re.compile(r"^(\d{1,4})([hd])$")
_EVER = datetime(1970, 1, 1, tzinfo=UTC)


def register(
    server: HealthServer,
    store: Store,
    clock: Callable[[], datetime],
    *,
    sources: Callable[[], Sequence[str]] = tuple,
    kb: Callable[[], KnowledgeBase] | None = None,
) -> None:
    """Add the dashboard's routes to ``server`` (before or after it started). ``sources`` names the
    configured source jobs (``tenant/source``) whose polls the first screen reports, and ``kb`` the
    knowledge base the code pages explain (the built-in one when not given); both are asked per
    request, so a reload shows."""
    board = Dashboard(store, clock, sources, kb)
    server.routes["/"] = board.page
    server.routes["/api/incidents"] = board.api_incidents
    server.routes["/api/stats"] = board.api_stats
    server.prefixes["/incidents/"] = board.incident
    server.prefixes["/codes/"] = board.code
    for path, ctype in STATIC.items():
        body = resources.files("enricher.dashboard").joinpath(path.lstrip("/")).read_bytes()
        server.routes[path] = _asset(ctype, body)
    for path in ("/", "/api/incidents", "/api/stats", "/incidents/", "/codes/", *STATIC):
        server.headers[path] = SECURITY_HEADERS


#: the expiry forecast's store key (enricher.wiring.expiry writes it) and how far ahead the panel looks
EXPIRING = "expiring:credentials"
EXPIRING_SPAN = timedelta(days=30)


class Dashboard:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        sources: Callable[[], Sequence[str]] = tuple,
        kb: Callable[[], KnowledgeBase] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sources = sources
        self._kb = kb

    @property
    def kb(self) -> KnowledgeBase:
        return self._kb() if self._kb else _builtin_kb()

    def page(self, query: Query) -> Response:
        try:
            filters = _filters(query, _PAGE_PARAMS)
            now = self.clock()
            listing = _listing(query, now)
        except FilterError as exc:
            return 400, HTML, error_page(str(exc)).encode()
        chosen = _store_filter(filters, now)
        top = dataclasses.replace(chosen, top_level=True)  # children are listed by their parent
        counts = self.store.count_incidents(top)
        last_page = max(1, -(-counts.get("open", 0) // PER_PAGE))
        listing = dataclasses.replace(listing, page=min(listing.page, last_page))
        opened = self.store.list_incidents(
            top, state="open", limit=PER_PAGE, offset=(listing.page - 1) * PER_PAGE, sort=listing.sort
        )
        resolved = self.store.list_incidents(top, state="resolved", limit=PAGE_LIMIT)
        stats = self._stats(_unsearched(chosen), filters, now)
        page = Page(
            now,
            filters,
            [incident_view(i) for i in opened],
            [incident_view(i) for i in resolved],
            stats,
            choices_of(stats),
            self.store.backlog(),
            self._expiring(now),
            listing,
            counts,
            # the first line is the overall picture under the filters: the search narrows the table only
            self.store.summary(_unsearched(top), listing.since or now - timedelta(hours=24)),
            self._health(),
        )
        return 200, HTML, render_page(page).encode()

    def incident(self, iid: str, query: Query) -> Response:
        """``/incidents/{id}``: the incident, its timeline, its children and its code's guidance."""
        if query:
            return 400, HTML, error_page(f"unknown parameter {sorted(query)[0]!r}").encode()
        now = self.clock()
        found = self.store.list_incidents(IncidentFilter(_EVER, ids=(iid,)), limit=1)
        if not found:
            return 404, HTML, error_page("No incident has this id (resolved ones are kept 7 days).",
                                         "Incident not found").encode()  # fmt: skip
        inc = incident_view(found[0])
        children = self.store.list_incidents(IncidentFilter(_EVER, parent=iid), limit=CHILDREN_LIMIT)
        page = IncidentPage(
            now,
            inc,
            timeline(self.store.events(iid), self.store.outbox_of(iid)),
            [incident_view(c) for c in children],
            self.kb.get(inc.code),
        )
        return 200, HTML, render_incident(page).encode()

    def code(self, code: str, query: Query) -> Response:
        """``/codes/{code}``: what the knowledge base says about it, and its open incidents."""
        if query:
            return 400, HTML, error_page(f"unknown parameter {sorted(query)[0]!r}").encode()
        digits = code.upper().removeprefix("AADSTS")
        entry = self.kb.get(digits) if digits.isdigit() else None
        if entry is None:
            return 404, HTML, error_page(f"The knowledge base has no entry for {code[:20]!r}.",
                                         "Code not found").encode()  # fmt: skip
        now = self.clock()
        f = IncidentFilter(now, codes=(entry.code,), top_level=True)
        opened = self.store.list_incidents(f, state="open", limit=PER_PAGE)
        known = frozenset(c for c in entry.related if self.kb.get(c) is not None)
        page = CodePage(
            now,
            entry,
            [incident_view(i) for i in opened],
            self.store.count_incidents(f).get("open", 0),
            known,
        )
        return 200, HTML, render_code(page).encode()

    def _health(self) -> list[SourceHealth]:
        out = []
        for name in self.sources():
            tried, ok = self.store.last_beat(f"poll:{name}"), self.store.last_beat(f"poll-ok:{name}")
            error = "" if tried is None or tried[1] == "ok" else _scrub(tried[1])
            out.append(SourceHealth(name, tried[0] if tried else None, ok[0] if ok else None, error))
        return out

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
        stats = stats_json(self._stats(_unsearched(_store_filter(filters, now)), filters, now))
        return _json(200, {"generated_at": now.isoformat(), "filters": filters.as_dict(), **stats})

    def _stats(self, chosen: IncidentFilter, filters: Filters, now: datetime) -> Stats:
        """Every matching incident counts: the store adds them up (in SQL for SQLite)."""
        counts, seconds = self.store.stat_tally(chosen, now)
        return stats_from(counts, seconds, chosen.since, now, clean=_scrub)


@functools.cache
def _builtin_kb() -> KnowledgeBase:
    return load_knowledge()


def _unsearched(f: IncidentFilter) -> IncidentFilter:
    """The charts' numbers come from the store's sums, which know no search text."""
    return dataclasses.replace(f, q="")


def _listing(query: Query, now: datetime) -> Listing:
    sort = _one(query, "sort", SORTS) or SORTS[0]
    pages = [v.strip() for v in query.get("page", ()) if v.strip()]
    if pages and not (pages[-1].isdigit() and 1 <= int(pages[-1]) <= 100_000):
        raise FilterError(f"page: {pages[-1]!r} is not a page number")
    given = [v.strip() for v in query.get("since", ()) if v.strip()]
    since_param = given[-1] if given else "24h"
    match = _SINCE_RX.match(since_param.lower())
    if match:
        number, unit = int(match.group(1)), match.group(2)
        since = now - (timedelta(hours=number) if unit == "h" else timedelta(days=number))
    else:
        try:
            since = datetime.fromisoformat(since_param)
        except ValueError:
            raise FilterError(f"since: {since_param!r} is not like 24h, 7d or 2026-03-01T08:00Z") from None
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return Listing(sort, int(pages[-1]) if pages else 1, PER_PAGE, since, since_param)


def _store_filter(filters: Filters, now: datetime) -> IncidentFilter:
    return IncidentFilter(
        now - filters.span,
        filters.sources,
        filters.severities,
        filters.codes,
        filters.workspaces,
        q=filters.q,
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
