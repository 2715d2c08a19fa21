"""Power BI REST at ``/powerbi/v1.0/myorg`` (reference section 2).

Workspace APIs show only workspaces where the calling app is a member (404
``PowerBIEntityNotFound`` otherwise, as for a workspace that does not exist). Admin APIs need
``admin_api: true`` on the app (401 ``PowerBINotAuthorizedException`` otherwise), require
``$top`` and enforce the documented quotas: admin groups 15/minute and 50/hour, refreshables
200/hour, counted in simulated time per tenant.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator

from connectors.simulator import errors, odata
from connectors.simulator import powerbi_payloads as payloads
from connectors.simulator.auth import Principal
from connectors.simulator.datasources import DatasourcesApi
from connectors.simulator.faults import Quota
from connectors.simulator.http import BadRequest, Request, Response, Router, json_page, json_response
from connectors.simulator.model import PbiDataset, PbiWorkspace, is_member
from connectors.simulator.paging import integer
from connectors.simulator.runs import latest_runs
from connectors.simulator.state import State
from connectors.simulator.world import PowerBIEstate

ROOT = "/powerbi/v1.0/myorg"
_EXPANDS = {"users", "reports", "dashboards", "datasets", "dataflows", "workbooks"}


class PowerBIApi:
    def __init__(self, state: State) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        sources = DatasourcesApi(self.state)
        routes: list[tuple[str, Callable[[Request], Response]]] = [
            ("/groups", self.groups),
            ("/groups/{groupId}/datasets", self.datasets),
            ("/groups/{groupId}/datasets/{datasetId}/refreshes", self.refreshes),
            ("/datasets/{datasetId}/refreshes", self.my_refreshes),
            ("/groups/{groupId}/dataflows", self.dataflows),
            ("/groups/{groupId}/dataflows/{dataflowId}/transactions", self.transactions),
            ("/admin/groups", self.admin_groups),
            ("/admin/capacities/refreshables", self.refreshables),
            ("/groups/{groupId}/datasets/{datasetId}/datasources", sources.in_group),
            ("/admin/datasets/{datasetId}/datasources", sources.as_admin),
        ]
        for template, handler in routes:
            router.add("GET", ROOT + template, "powerbi", handler)

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _context(name: str) -> str:
        # A metadata URL on Power BI's own cluster host, as in real answers (never fetched).
        return f"http://wabi-west-europe-redirect.analysis.windows.net/v1.0/myorg/$metadata#{name}"

    def _not_found(self, request: Request, what: str) -> Response:
        return errors.not_found("powerbi", f"{what} not found", self.state.request_id(), request.now)

    def _member_workspace(self, request: Request) -> PbiWorkspace | None:
        principal: Principal = request.principal
        ws = principal.tenant.powerbi.workspace(request.params["groupId"])
        if ws is None or not is_member(ws.members, principal.app.client_id):
            return None
        return ws

    def _quota(self, request: Request, quota: Quota) -> Response | None:
        principal: Principal = request.principal
        if not principal.app.admin_api:
            return errors.unauthorized("powerbi", "forbidden", self.state.request_id(), request.now)
        wait = quota.take(principal.tenant.id, request.now)
        if wait is None:
            return None
        return errors.throttled(
            "powerbi", self.state.clock.real_seconds(wait), self.state.request_id(), request.now
        )

    # -- workspace APIs ---------------------------------------------------------------------
    def groups(self, request: Request) -> Response:
        principal: Principal = request.principal
        node = odata.parse(request.q("$filter", "filter"))
        top = integer(request.q("$top", "top"), "$top", default=5000, low=1)
        skip = integer(request.q("$skip", "skip"), "$skip", default=0)
        visible = (
            payloads.group(ws)
            for ws in principal.tenant.powerbi.workspaces()
            if is_member(ws.members, principal.app.client_id)
        )
        found = [g for g in visible if odata.matches(node, odata.getter(g))]
        body = {
            "@odata.context": self._context("groups"),
            "@odata.count": len(found),
            "value": found[skip : skip + top],
        }
        return json_response(200, body)

    def datasets(self, request: Request) -> Response:
        ws = self._member_workspace(request)
        if ws is None:
            return self._not_found(request, "Workspace")
        value = [payloads.dataset(d) for d in request.principal.tenant.powerbi.datasets_in(ws)]
        return json_response(200, {"@odata.context": self._context("datasets"), "value": value})

    def _history(self, request: Request, ds: PbiDataset) -> Response:
        top = integer(request.q("$top", "top"), "$top", default=60, low=1)
        tenant = request.principal.tenant
        value = payloads.refresh_history(
            ds, request.now.timestamp(), top, seed=self.state.seed, domain=tenant.domain
        )
        return json_response(200, {"@odata.context": self._context("refreshes"), "value": value})

    def refreshes(self, request: Request) -> Response:
        ws = self._member_workspace(request)
        if ws is None:
            return self._not_found(request, "Workspace")
        ds = request.principal.tenant.powerbi.dataset(request.params["datasetId"])
        if ds is None or ds.workspace.id != ws.id:
            return self._not_found(request, "Dataset")
        return self._history(request, ds)

    def my_refreshes(self, request: Request) -> Response:
        principal: Principal = request.principal
        ds = principal.tenant.powerbi.dataset(request.params["datasetId"])
        if ds is None or not is_member(ds.workspace.members, principal.app.client_id):
            return self._not_found(request, "Dataset")
        return self._history(request, ds)

    def dataflows(self, request: Request) -> Response:
        ws = self._member_workspace(request)
        if ws is None:
            return self._not_found(request, "Workspace")
        value = [payloads.dataflow(f) for f in request.principal.tenant.powerbi.dataflows_in(ws)]
        return json_response(200, {"@odata.context": self._context("dataflows"), "value": value})

    def transactions(self, request: Request) -> Response:
        ws = self._member_workspace(request)
        if ws is None:
            return self._not_found(request, "Workspace")
        wanted = request.params["dataflowId"].lower()
        flow = next((f for f in request.principal.tenant.powerbi.dataflows_in(ws) if f.id == wanted), None)
        if flow is None:
            return self._not_found(request, "Dataflow")
        now = request.now.timestamp()
        runs = latest_runs(flow.job, now, 100) if flow.job else []
        value = [payloads.transaction(r, now, self.state.seed) for r in runs]
        return json_response(200, {"@odata.context": self._context("transactions"), "value": value})

    # -- admin APIs -------------------------------------------------------------------------
    def admin_groups(self, request: Request) -> Response:
        top = integer(request.q("$top", "top"), "$top", low=1, high=5000)
        skip = integer(request.q("$skip", "skip"), "$skip", default=0)
        expand = _expand(request, _EXPANDS)
        node = odata.parse(request.q("$filter", "filter"))
        refused = self._quota(request, self.state.admin_groups_quota)
        if refused is not None:
            return refused
        estate = request.principal.tenant.powerbi
        if node is None:
            page = list(itertools.islice(estate.workspaces(skip), top))
        else:
            chosen = (
                ws
                for ws in estate.workspaces()
                if odata.matches(node, odata.getter(payloads.admin_group(ws)))
            )
            page = list(itertools.islice(chosen, skip, skip + top))

        def build(ws: PbiWorkspace) -> dict[str, object]:
            item = payloads.admin_group(ws)
            if "datasets" in expand:
                item["datasets"] = [payloads.dataset(d) for d in estate.datasets_in(ws)]
            if "dataflows" in expand:
                item["dataflows"] = [payloads.dataflow(f) for f in estate.dataflows_in(ws)]
            for name in expand - {"datasets", "dataflows"}:
                item[name] = _users(ws) if name == "users" else []
            return item

        return json_page({"@odata.context": self._context("groups")}, map(build, page))

    def refreshables(self, request: Request) -> Response:
        top = integer(request.q("$top", "top"), "$top", low=1)
        skip = integer(request.q("$skip", "skip"), "$skip", default=0)
        expand = _expand(request, {"capacity", "capacities", "group", "groups"})
        node = odata.parse(request.q("$filter", "filter"))
        refused = self._quota(request, self.state.refreshables_quota)
        if refused is not None:
            return refused
        tenant = request.principal.tenant
        now = request.now.timestamp()

        def build(ds: PbiDataset) -> dict[str, object]:
            return payloads.refreshable(ds, now, expand, seed=self.state.seed, domain=tenant.domain)

        if node is None:
            value: Iterable[dict[str, object]] = map(build, tenant.powerbi.refreshables(skip, top))
        else:
            candidates = self._candidates(tenant.powerbi, node)
            chosen = (r for r in map(build, candidates) if odata.matches(node, odata.getter(r)))
            value = itertools.islice(chosen, skip, skip + top)
        return json_page({"@odata.context": self._context("refreshables")}, value)

    @staticmethod
    def _candidates(estate: PowerBIEstate, node: odata.Node) -> Iterator[PbiDataset]:
        """Refreshables to test against a filter; ``refreshFailures gt|ge n`` skips the healthy."""
        needs_failures = any(
            isinstance(t, odata.Compare)
            and t.field == "refreshFailures"
            and isinstance(t.value, float)
            and ((t.op == "gt" and t.value >= 0) or (t.op == "ge" and t.value >= 1))
            for t in odata.conjuncts(node)
        )
        if needs_failures:
            return (d for d in estate.failing_datasets() if d.refreshable and d.workspace.capacity)
        return iter(estate.refreshables(0, 10**9))


def _expand(request: Request, allowed: set[str]) -> set[str]:
    raw = request.q("$expand", "expand") or ""
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = wanted - allowed
    if unknown:
        raise BadRequest(f"Invalid $expand value: {', '.join(sorted(unknown))}")
    return wanted


def _users(ws: PbiWorkspace) -> list[dict[str, object]]:
    return [
        {"identifier": member, "principalType": "App", "groupUserAccessRight": "Member"}
        for member in sorted(ws.members or ())
    ]
