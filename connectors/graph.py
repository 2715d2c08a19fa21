"""Microsoft Graph: sign-in log records and application credentials.

Not a poller of its own: the daemon uses it to look up the sign-in record behind a correlation ID
(which Conditional Access policy blocked a refresh) and to read an app's secret and certificate end
dates. Service-principal sign-ins are only listed on the beta endpoint (``signInEventTypes``).
Graph allows about 5 sign-in requests per 10 seconds per app and tenant and answers 429 with a
fractional Retry-After, which the HTTP client honours.
"""

from __future__ import annotations

from typing import Any

from connectors.base import as_dict
from connectors.clouds import Endpoints
from connectors.http import AzureHttp

API = "graph"


class GraphClient:
    def __init__(self, http: AzureHttp, endpoints: Endpoints) -> None:
        self.http = http
        self.root = endpoints.graph
        self.scope = endpoints.scope("graph")

    def signins(
        self, odata_filter: str, *, top: int = 100, beta: bool = False, limit: int = 1000
    ) -> list[dict[str, Any]]:
        url = f"{self.root}/{'beta' if beta else 'v1.0'}/auditLogs/signIns"
        found: list[dict[str, Any]] = []
        for page in self.http.follow(
            API, url, self.scope, {"$filter": odata_filter, "$top": top}, "@odata.nextLink"
        ):
            found.extend(r for r in as_dict(page).get("value") or [] if isinstance(r, dict))
            if len(found) >= limit:
                break
        return found[:limit]

    def signins_for_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        safe = correlation_id.replace("'", "")
        return self.signins(f"correlationId eq '{safe}'", top=10, limit=10)

    def application(self, app_id: str) -> dict[str, Any] | None:
        safe = app_id.replace("'", "")
        page = self.http.get(
            API, f"{self.root}/v1.0/applications", self.scope, {"$filter": f"appId eq '{safe}'"}
        )
        values = as_dict(page).get("value") or []
        return values[0] if values else None
