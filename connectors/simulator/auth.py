"""Bearer-token checks for the APIs: which audiences each API accepts, and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.simulator import errors
from connectors.simulator.http import Request, Response
from connectors.simulator.model import App
from connectors.simulator.state import State
from connectors.simulator.world import Tenant

# resource (lower case, no trailing slash) -> the audience put in the token
RESOURCES = {
    "https://analysis.windows.net/powerbi/api": "https://analysis.windows.net/powerbi/api",
    "https://api.fabric.microsoft.com": "https://api.fabric.microsoft.com",
    "https://management.azure.com": "https://management.azure.com/",
    "https://management.core.windows.net": "https://management.core.windows.net/",
    "https://dev.azuresynapse.net": "https://dev.azuresynapse.net",
    "https://graph.microsoft.com": "https://graph.microsoft.com",
    "https://api.loganalytics.io": "https://api.loganalytics.io",
    "https://database.windows.net": "https://database.windows.net/",
    "https://storage.azure.com": "https://storage.azure.com",
    "https://vault.azure.net": "https://vault.azure.net",
}

# Fabric also takes Power BI tokens (reported by users); ARM takes both of its audiences.
AUDIENCES = {
    "powerbi": frozenset({"https://analysis.windows.net/powerbi/api"}),
    "fabric": frozenset({"https://api.fabric.microsoft.com", "https://analysis.windows.net/powerbi/api"}),
    "arm": frozenset({"https://management.azure.com", "https://management.core.windows.net"}),
    "synapse": frozenset({"https://dev.azuresynapse.net"}),
    "graph": frozenset({"https://graph.microsoft.com"}),
    "log_analytics": frozenset({"https://api.loganalytics.io"}),
}


def normalise(resource: str) -> str:
    return resource.strip().rstrip("/").lower()


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    app: App
    claims: dict[str, Any]


def authenticate(state: State, request: Request, api: str, rid: str) -> Principal | Response:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    checked = state.issuer.check(token)
    now = request.now
    if checked == "expired":
        return errors.expired(api, rid, now)
    if isinstance(checked, str):
        return errors.unauthorized(api, checked, rid, now)
    audience = str(checked.get("aud", ""))
    if normalise(audience) not in AUDIENCES[api]:
        return errors.unauthorized(api, "audience", rid, now, audience)
    tenant = state.world.tenant_by_id(str(checked.get("tid", "")))
    app = tenant.apps.get(str(checked.get("appid", ""))) if tenant else None
    if tenant is None or app is None:
        return errors.unauthorized(api, "invalid", rid, now)
    return Principal(tenant, app, checked)
