"""Data sources of a dataset: ``GET groups/{ws}/datasets/{id}/datasources`` and the admin
``GET admin/datasets/{id}/datasources``.

A tenant has a few on-premises gateways and a dozen shared data sources; each dataset reads one
(its ``source_slot``, set for failing generated datasets so that the items one broken credential
took down share it, otherwise derived from the dataset id). A gateway dataset's source answers
with ``gatewayId`` and ``datasourceId``; a cloud dataset's source with ``datasourceId`` only.
``connectionDetails`` is an object, as in the documented ``Datasource`` shape.
"""

from __future__ import annotations

from connectors.simulator import errors
from connectors.simulator.auth import Principal
from connectors.simulator.http import Request, Response, json_response
from connectors.simulator.ids import stable_int, stable_uuid
from connectors.simulator.model import PbiDataset, is_member
from connectors.simulator.state import State

GATEWAYS = 3
SOURCES = 12
_CONTEXT = "http://wabi-west-europe-redirect.analysis.windows.net/v1.0/myorg/$metadata#datasources"


def datasources_of(ds: PbiDataset, tenant_id: str, domain: str) -> list[dict[str, object]]:
    slot = (ds.source_slot if ds.source_slot is not None else stable_int("slot", ds.id)) % SOURCES
    source_id = stable_uuid(tenant_id, "datasource", slot, ds.gateway)
    if ds.gateway:
        return [
            {
                "datasourceType": "Sql",
                "connectionDetails": {"server": f"sql-onprem-{slot:02d}.corp.local", "database": "sales"},
                "datasourceId": source_id,
                "gatewayId": stable_uuid(tenant_id, "gateway", slot % GATEWAYS),
            }
        ]
    site = f"https://{domain.split('.', maxsplit=1)[0]}.sharepoint.com/sites/data-{slot:02d}"
    return [{"datasourceType": "OData", "connectionDetails": {"url": site}, "datasourceId": source_id}]


class DatasourcesApi:
    """The two routes; registered by ``PowerBIApi``."""

    def __init__(self, state: State) -> None:
        self.state = state

    def in_group(self, request: Request) -> Response:
        principal: Principal = request.principal
        ds = principal.tenant.powerbi.dataset(request.params["datasetId"])
        if (
            ds is None
            or ds.workspace.id != request.params["groupId"].lower()
            or not is_member(ds.workspace.members, principal.app.client_id)
        ):
            return errors.not_found("powerbi", "Dataset not found", self.state.request_id(), request.now)
        return self._answer(principal, ds)

    def as_admin(self, request: Request) -> Response:
        principal: Principal = request.principal
        if not principal.app.admin_api:
            return errors.unauthorized("powerbi", "forbidden", self.state.request_id(), request.now)
        ds = principal.tenant.powerbi.dataset(request.params["datasetId"])
        if ds is None:
            return errors.not_found("powerbi", "Dataset not found", self.state.request_id(), request.now)
        return self._answer(principal, ds)

    @staticmethod
    def _answer(principal: Principal, ds: PbiDataset) -> Response:
        value = datasources_of(ds, principal.tenant.id, principal.tenant.domain)
        return json_response(200, {"@odata.context": _CONTEXT, "value": value})
