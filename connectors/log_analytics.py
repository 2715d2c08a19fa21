"""The Log Analytics query API, read only through the links Azure Monitor puts in its alerts.

A log search alert sent in the common alert schema carries ``linkToSearchResultsAPI`` (and a
filtered variant) instead of the rows when the rows do not fit or were not asked for. Following
such a link sends the tenant's token, and the link arrives in a pushed body that anyone holding
the ingest token can write, so a link is followed only when it points at the tenant's own Log
Analytics root (``Endpoints.log_analytics``: the cloud's ``api.loganalytics.*`` host, or an
override) over https; anything else is refused before a token is fetched.

The answer is ``{"tables": [{"name", "columns": [{"name", "type"}], "rows": [[...]]}]}``, the same
shape as the ``SearchResults`` an alert may include, so callers read both the same way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from connectors.clouds import Endpoints
from connectors.errors import ApiError
from connectors.http import AzureHttp

API = "log_analytics"


class LogAnalyticsClient:
    def __init__(self, http: AzureHttp, endpoints: Endpoints) -> None:
        self.http = http
        self.endpoints = endpoints

    def allowed(self, link: str) -> bool:
        """True when ``link`` is on this tenant's Log Analytics root (scheme, host and port)."""
        want, got = urlsplit(self.endpoints.log_analytics), urlsplit(link)
        same_root = got.path == want.path.rstrip("/") or got.path.startswith(want.path.rstrip("/") + "/")
        return (got.scheme, got.netloc.lower()) == (want.scheme, want.netloc.lower()) and same_root

    def results(self, link: str) -> dict[str, Any]:
        """The query results behind ``link``; ApiError when refused or unreadable."""
        if not self.allowed(link):
            raise ApiError(
                API,
                f"not following a results link outside {self.endpoints.log_analytics}",
                retryable=False,
                kind="foreign_link",
            )
        body = self.http.get(API, link, self.endpoints.scope(API))
        if not isinstance(body, dict) or not isinstance(body.get("tables"), list):
            raise ApiError(API, "the answer has no 'tables' list", retryable=False, kind="bad_json")
        return body
