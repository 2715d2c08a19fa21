"""Azure Resource Manager at ``/arm``: subscriptions, Data Factory factories and runs (section 4).

Every answer carries ``x-ms-request-id``, ``x-ms-correlation-request-id`` (the client's, when it
sends one) and ``x-ms-ratelimit-remaining-subscription-reads`` (a token bucket of 250 refilled at
25/s per subscription, reported but not enforced: throttling comes from faults). ``api-version``
is required, as in ARM. An app listed in a factory's ``readers`` holds only the Reader role
there, so the run-query POSTs (RBAC actions, not reads) answer 403 ``AuthorizationFailed``.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

from connectors.simulator import errors, paging
from connectors.simulator.auth import Principal
from connectors.simulator.http import BadRequest, Request, Response, Router, json_response
from connectors.simulator.ids import stable_uuid
from connectors.simulator.linked import linked_service, used_names
from connectors.simulator.model import Factory, Subscription
from connectors.simulator.pipeline_api import PipelineRunsFront
from connectors.simulator.state import State

ROOT = "/arm"
FACTORIES = "/providers/Microsoft.DataFactory/factories"
FACTORY = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}" + FACTORIES + "/{factoryName}"


class _ReadBuckets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> int:
        now = time.monotonic()
        with self._lock:
            level, then = self._buckets.get(key, (250.0, now))
            level = min(250.0, level + 25.0 * (now - then)) - 1
            self._buckets[key] = (max(level, 0.0), now)
            return max(int(level), 0)


class ArmApi:
    def __init__(self, state: State) -> None:
        self.state = state
        self.runs = PipelineRunsFront(state, "arm", "https://database.windows.net/")
        self._reads = _ReadBuckets()

    def register(self, router: Router) -> None:
        router.add("GET", ROOT + "/subscriptions", "arm", self.subscriptions)
        router.add("GET", ROOT + "/subscriptions/{subscriptionId}" + FACTORIES, "arm", self.factories)
        router.add(
            "GET",
            ROOT + "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}" + FACTORIES,
            "arm",
            self.factories,
        )
        router.add("GET", ROOT + FACTORY, "arm", self.factory)
        router.add("POST", ROOT + FACTORY + "/queryPipelineRuns", "arm", self.query_pipeline_runs)
        router.add(
            "POST",
            ROOT + FACTORY + "/pipelineruns/{runId}/queryActivityruns",
            "arm",
            self.query_activity_runs,
        )
        router.add("GET", ROOT + FACTORY + "/pipelineruns/{runId}", "arm", self.pipeline_run)
        router.add("GET", ROOT + FACTORY + "/linkedservices", "arm", self.linked_services)

    # -- helpers ----------------------------------------------------------------------------
    def _headers(self, request: Request) -> dict[str, str]:
        rid = self.state.request_id()
        subscription = request.params.get("subscriptionId", "tenant")
        return {
            "x-ms-request-id": rid,
            "x-ms-correlation-request-id": request.headers.get("x-ms-correlation-request-id", rid),
            "x-ms-ratelimit-remaining-subscription-reads": str(self._reads.take(subscription.lower())),
        }

    def _error(self, request: Request, status: int, code: str, message: str) -> Response:
        return errors.error("arm", status, code, message, rid=self.state.request_id(), now=request.now)

    @staticmethod
    def _api_version(request: Request) -> None:
        if not request.q("api-version"):
            raise BadRequest("The api-version query parameter (?api-version=) is required for all requests.")

    def _subscription(self, request: Request) -> Subscription | Response:
        self._api_version(request)
        principal: Principal = request.principal
        wanted = request.params["subscriptionId"].lower()
        found = next((s for s in principal.tenant.subscriptions if s.id == wanted), None)
        if found is None:
            return self._error(
                request, 404, "SubscriptionNotFound", f"The subscription '{wanted}' could not be found."
            )
        return found

    def _factory(self, request: Request) -> Factory | Response:
        subscription = self._subscription(request)
        if isinstance(subscription, Response):
            return subscription
        group, name = request.params["resourceGroupName"], request.params["factoryName"]
        found = request.principal.tenant.factory(subscription.id, group, name)
        if found is None:
            message = (
                f"The Resource 'Microsoft.DataFactory/factories/{name}' under resource group '{group}' was not "
                "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            )
            return self._error(request, 404, "ResourceNotFound", message)
        return found

    def _list(self, request: Request, items: list[dict[str, object]]) -> Response:
        token = request.q("$skiptoken")
        offset, _ = paging.decode(token, request.path.lower()) if token else (0, request.now)
        size = self.state.paging["arm"]
        body: dict[str, object] = {"value": items[offset : offset + size]}
        if offset + size < len(items):
            next_token = paging.encode(offset + size, request.now, request.path.lower())
            version = quote(request.q("api-version") or "")
            body["nextLink"] = (
                f"{self.state.base_url}{request.path}?api-version={version}&$skiptoken={next_token}"
            )
        return json_response(200, body, self._headers(request))

    # -- routes -----------------------------------------------------------------------------
    def subscriptions(self, request: Request) -> Response:
        self._api_version(request)
        tenant = request.principal.tenant
        items = [_subscription(s, tenant.id) for s in tenant.subscriptions]
        return self._list(request, items)

    def factories(self, request: Request) -> Response:
        subscription = self._subscription(request)
        if isinstance(subscription, Response):
            return subscription
        group = request.params.get("resourceGroupName")
        chosen = [
            f for f in subscription.factories if group is None or f.resource_group.lower() == group.lower()
        ]
        if group is not None and not chosen:
            return self._error(
                request, 404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found."
            )
        return self._list(request, [_factory(f, self.state.seed) for f in chosen])

    def factory(self, request: Request) -> Response:
        found = self._factory(request)
        if isinstance(found, Response):
            return found
        return json_response(200, _factory(found, self.state.seed), self._headers(request))

    def _deny_reader(self, request: Request, factory: Factory, action: str) -> Response | None:
        app = request.principal.app
        if app.client_id not in factory.readers:
            return None
        message = (
            f"The client '{app.client_id}' with object id '{app.object_id}' does not have authorization to perform "
            f"action 'Microsoft.DataFactory/factories/{action}' over scope '{factory.arm_id}' or the scope is "
            "invalid. If access was recently granted, please refresh your credentials."
        )
        return self._error(request, 403, "AuthorizationFailed", message)

    def query_pipeline_runs(self, request: Request) -> Response:
        factory = self._factory(request)
        if isinstance(factory, Response):
            return factory
        denied = self._deny_reader(request, factory, "querypipelineruns/action")
        if denied is not None:
            return denied
        return self.runs.query(request, factory.pipelines, _container(factory), self._headers(request))

    def query_activity_runs(self, request: Request) -> Response:
        factory = self._factory(request)
        if isinstance(factory, Response):
            return factory
        denied = self._deny_reader(request, factory, "pipelineruns/queryactivityruns/action")
        if denied is not None:
            return denied
        return self.runs.activities(request, _container(factory), self._headers(request))

    def linked_services(self, request: Request) -> Response:
        factory = self._factory(request)
        if isinstance(factory, Response):
            return factory
        principals = dict(factory.service_principals)
        names = used_names(factory.pipelines, principals)
        items = [linked_service(factory.arm_id, n, principals, factory.tenant_id) for n in names]
        return self._list(request, items)

    def pipeline_run(self, request: Request) -> Response:
        factory = self._factory(request)
        if isinstance(factory, Response):
            return factory
        return self.runs.get(request, _container(factory), self._headers(request))


def _container(factory: Factory) -> str:
    return f"adf:{factory.subscription_id}/{factory.resource_group}/{factory.name}".lower()


def _subscription(s: Subscription, tenant_id: str) -> dict[str, object]:
    return {
        "id": f"/subscriptions/{s.id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": s.id,
        "tenantId": tenant_id,
        "displayName": s.name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "EnterpriseAgreement_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def _factory(f: Factory, seed: int) -> dict[str, object]:
    return {
        "name": f.name,
        "identity": {
            "type": "SystemAssigned",
            "principalId": stable_uuid(seed, f.arm_id, "identity"),
            "tenantId": f.tenant_id,
        },
        "id": f.arm_id,
        "type": "Microsoft.DataFactory/factories",
        "properties": {
            "provisioningState": "Succeeded",
            "createTime": "2023-05-29T13:39:35.615921Z",
            "version": "2018-06-01",
        },
        "eTag": f'"{stable_uuid(seed, f.arm_id, "etag")[:8]}-0000-0000-0000-5b0d58170000"',
        "location": f.location,
        "tags": {},
    }
