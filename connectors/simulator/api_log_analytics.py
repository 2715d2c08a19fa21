"""The Log Analytics query API at ``/loganalytics``: what an Azure Monitor results link reads.

``GET /loganalytics/v1/workspaces/{workspaceId}/query`` answers the tables a test or a demo
stored for that workspace with :meth:`Simulator.add_search_results`, and an empty
``PrimaryResult`` table otherwise; the query text itself is not evaluated (no KQL here). Tokens
must be for ``https://api.loganalytics.io``, as the real API requires. Errors use the ARM-style
``{"error": {"code", "message"}}`` envelope.
"""

from __future__ import annotations

from connectors.simulator.http import Request, Response, Router, json_response
from connectors.simulator.state import State

ROOT = "/loganalytics"
EMPTY = {"tables": [{"name": "PrimaryResult", "columns": [], "rows": []}]}


class LogAnalyticsApi:
    def __init__(self, state: State) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        router.add("GET", ROOT + "/v1/workspaces/{workspaceId}/query", "log_analytics", self.query)

    def query(self, request: Request) -> Response:
        found = self.state.search_results.get(request.params["workspaceId"].lower(), EMPTY)
        return json_response(200, found, {"x-ms-request-id": self.state.request_id()})
