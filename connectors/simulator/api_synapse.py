"""Synapse pipelines (data plane) at ``/synapse/{workspace}``, ``api-version=2020-12-01``.

Same models and paging as ADF (``pipeline_api``); activity runs need the pipeline name in the
path, unlike ADF. Authorisation is Synapse RBAC in Azure; here every app of the tenant may read.
"""

from __future__ import annotations

from connectors.simulator import errors
from connectors.simulator.http import BadRequest, Request, Response, Router, json_response
from connectors.simulator.linked import linked_service, used_names
from connectors.simulator.model import SynapseWorkspace
from connectors.simulator.pipeline_api import PipelineRunsFront
from connectors.simulator.state import State

ROOT = "/synapse/{workspace}"


class SynapseApi:
    def __init__(self, state: State) -> None:
        self.state = state
        self.runs = PipelineRunsFront(state, "synapse", "https://graph.microsoft.com")

    def register(self, router: Router) -> None:
        router.add("POST", ROOT + "/queryPipelineRuns", "synapse", self.query_pipeline_runs)
        router.add("GET", ROOT + "/pipelineruns/{runId}", "synapse", self.pipeline_run)
        router.add(
            "POST",
            ROOT + "/pipelines/{pipelineName}/pipelineruns/{runId}/queryActivityruns",
            "synapse",
            self.query_activity_runs,
        )
        router.add("GET", ROOT + "/linkedservices", "synapse", self.linked_services)

    def _workspace(self, request: Request) -> SynapseWorkspace | Response:
        if not request.q("api-version"):
            raise BadRequest("The api-version query parameter (?api-version=) is required for all requests.")
        name = request.params["workspace"]
        found = request.principal.tenant.synapse.get(name.lower())
        if found is None:
            message = f"The workspace '{name}' was not found."
            return errors.error(
                "synapse", 404, "WorkspaceNotFound", message, rid=self.state.request_id(), now=request.now
            )
        return found

    def _headers(self) -> dict[str, str]:
        rid = self.state.request_id()
        return {"x-ms-request-id": rid, "x-ms-correlation-request-id": rid}

    def query_pipeline_runs(self, request: Request) -> Response:
        ws = self._workspace(request)
        if isinstance(ws, Response):
            return ws
        return self.runs.query(request, ws.pipelines, _container(ws), self._headers())

    def pipeline_run(self, request: Request) -> Response:
        ws = self._workspace(request)
        if isinstance(ws, Response):
            return ws
        return self.runs.get(request, _container(ws), self._headers())

    def query_activity_runs(self, request: Request) -> Response:
        ws = self._workspace(request)
        if isinstance(ws, Response):
            return ws
        return self.runs.activities(request, _container(ws), self._headers(), request.params["pipelineName"])

    def linked_services(self, request: Request) -> Response:
        ws = self._workspace(request)
        if isinstance(ws, Response):
            return ws
        principals = dict(ws.service_principals)
        parent = f"/workspaces/{ws.name}"
        tenant_id = request.principal.tenant.id
        items = [
            linked_service(parent, n, principals, tenant_id) for n in used_names(ws.pipelines, principals)
        ]
        return json_response(200, {"value": items}, self._headers())


def _container(ws: SynapseWorkspace) -> str:
    return f"synapse:{ws.name}".lower()
