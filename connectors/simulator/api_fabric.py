"""Microsoft Fabric REST at ``/fabric/v1`` (reference section 3).

Lists page with ``continuationToken`` plus an absolute ``continuationUri``; both are absent on
the last page. Job instances: about 100 completed ones per item plus every active one, newest
first; timestamps have 7 fractional digits and no zone; ``failureReason`` is null unless the
instance failed. A workspace the app has no role in answers 403 ``InsufficientPrivileges``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote, urlencode

from connectors.simulator import errors, messages, paging
from connectors.simulator.auth import Principal
from connectors.simulator.http import Request, Response, Router, json_response
from connectors.simulator.model import FabricItem, FabricWorkspace, is_member
from connectors.simulator.runs import Run, latest_runs
from connectors.simulator.state import State
from connectors.simulator.timefmt import ticks

ROOT = "/fabric/v1"
STORAGE = "https://storage.azure.com"
KEPT_COMPLETED = 100


class FabricApi:
    def __init__(self, state: State) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        router.add("GET", ROOT + "/workspaces", "fabric", self.workspaces)
        router.add("GET", ROOT + "/workspaces/{workspaceId}/items", "fabric", self.items)
        router.add(
            "GET", ROOT + "/workspaces/{workspaceId}/items/{itemId}/jobs/instances", "fabric", self.instances
        )
        router.add(
            "GET",
            ROOT + "/workspaces/{workspaceId}/items/{itemId}/jobs/instances/{instanceId}",
            "fabric",
            self.instance,
        )
        router.add(
            "GET",
            ROOT + "/workspaces/{workspaceId}/dataPipelines/{itemId}/jobs/execute/instances",
            "fabric",
            self.execute,
        )

    # -- helpers ----------------------------------------------------------------------------
    def _error(self, request: Request, status: int, code: str, message: str) -> Response:
        return errors.error("fabric", status, code, message, rid=self.state.request_id(), now=request.now)

    def _workspace(self, request: Request) -> FabricWorkspace | Response:
        principal: Principal = request.principal
        ws = principal.tenant.fabric_workspace(request.params["workspaceId"])
        if ws is None:
            return self._error(request, 404, "WorkspaceNotFound", "The requested workspace was not found.")
        if not is_member(ws.members, principal.app.client_id):
            message = "The caller does not have sufficient permissions to perform this operation."
            return self._error(request, 403, "InsufficientPrivileges", message)
        return ws

    def _item(self, request: Request) -> FabricItem | Response:
        ws = self._workspace(request)
        if isinstance(ws, Response):
            return ws
        wanted = request.params["itemId"].lower()
        item = next((i for i in request.principal.tenant.fabric_items[ws.id] if i.id == wanted), None)
        if item is None:
            return self._error(request, 404, "ItemNotFound", "The requested item was not found.")
        return item

    def _cursor(self, request: Request) -> tuple[int, datetime]:
        token = request.q("continuationToken")
        return (0, request.now) if not token else paging.decode(token, request.path.lower())

    def _page(
        self, request: Request, items: Sequence[dict[str, object]], offset: int, snapshot: datetime
    ) -> Response:
        size = self.state.paging["fabric"]
        body: dict[str, object] = {"value": list(items[offset : offset + size])}
        if offset + size < len(items):
            token = paging.encode(offset + size, snapshot, request.path.lower())
            kept = {k: v for k, v in request.query.items() if k != "continuationtoken"}
            query = urlencode({**kept, "continuationToken": token}, quote_via=quote)
            body["continuationToken"] = token
            body["continuationUri"] = f"{self.state.base_url}{request.path}?{query}"
        return json_response(200, body)

    # -- routes -----------------------------------------------------------------------------
    def workspaces(self, request: Request) -> Response:
        principal: Principal = request.principal
        offset, snapshot = self._cursor(request)
        value = [
            _workspace(ws) for ws in principal.tenant.fabric if is_member(ws.members, principal.app.client_id)
        ]
        return self._page(request, value, offset, snapshot)

    def items(self, request: Request) -> Response:
        ws = self._workspace(request)
        if isinstance(ws, Response):
            return ws
        offset, snapshot = self._cursor(request)
        wanted = (request.q("type") or "").lower()
        value = [
            _item(i)
            for i in request.principal.tenant.fabric_items[ws.id]
            if not wanted or i.type.lower() == wanted
        ]
        return self._page(request, value, offset, snapshot)

    def instances(self, request: Request, job_type: str | None = None) -> Response:
        item = self._item(request)
        if isinstance(item, Response):
            return item
        offset, snapshot = self._cursor(request)
        now = snapshot.timestamp()
        runs = latest_runs(item.job, now, KEPT_COMPLETED + 20) if item.job else []
        active = [r for r in runs if r.running(now)]
        completed = [r for r in runs if not r.running(now)][:KEPT_COMPLETED]
        chosen = sorted(active + completed, key=lambda r: r.start, reverse=True)
        domain = request.principal.tenant.domain
        value = [self._instance(item, r, now, domain=domain, job_type=job_type) for r in chosen]
        return self._page(request, value, offset, snapshot)

    def execute(self, request: Request) -> Response:
        return self.instances(request, job_type="Execute")

    def instance(self, request: Request) -> Response:
        item = self._item(request)
        if isinstance(item, Response):
            return item
        now = request.now.timestamp()
        wanted = request.params["instanceId"].lower()
        runs = latest_runs(item.job, now, KEPT_COMPLETED + 20) if item.job else []
        run = next((r for r in runs if r.guid(self.state.seed, "job-instance") == wanted), None)
        if run is None:
            return self._error(
                request, 404, "JobInstanceNotFound", "The requested job instance was not found."
            )
        domain = request.principal.tenant.domain
        return json_response(200, self._instance(item, run, now, domain=domain))

    def _instance(
        self, item: FabricItem, run: Run, now: float, *, domain: str, job_type: str | None = None
    ) -> dict[str, object]:
        seed = self.state.seed
        status, reason = _status(run, now), None
        if status == "Failed":
            failure = messages.failure_of(run, seed, domain, item.name, STORAGE)
            assert failure is not None
            reason = messages.fabric_reason(failure, run.guid(seed, "failure-request"))
        done = status in {"Completed", "Failed", "Deduped"}
        return {
            "id": run.guid(seed, "job-instance"),
            "itemId": item.id,
            "jobType": job_type or item.job_type,
            "invokeType": "Scheduled",
            "status": status,
            "rootActivityId": run.guid(seed, "root-activity"),
            "startTimeUtc": ticks(run.start),
            "endTimeUtc": ticks(run.end) if done else None,
            "failureReason": reason,
        }


def _status(run: Run, now: float) -> str:
    if run.running(now):
        return "NotStarted" if now - run.start < 2 else "InProgress"
    if run.deduped:
        return "Deduped"
    return "Failed" if run.failure is not None else "Completed"


def _workspace(ws: FabricWorkspace) -> dict[str, object]:
    out: dict[str, object] = {
        "id": ws.id,
        "displayName": ws.name,
        "description": ws.description,
        "type": "Workspace",
    }
    if ws.capacity is not None:
        out["capacityId"] = ws.capacity.id
        out["capacityRegion"] = ws.capacity.region
    return out


def _item(item: FabricItem) -> dict[str, object]:
    return {
        "id": item.id,
        "displayName": item.name,
        "description": item.description,
        "type": item.type,
        "workspaceId": item.workspace.id,
    }
