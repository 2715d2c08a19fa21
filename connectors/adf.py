"""Azure Data Factory (ARM, api-version 2018-06-01): pipeline runs and their failed activities.

Factories are listed per subscription (every subscription the principal can see when none are
configured) once per discovery interval, or taken from the config as is. Querying runs needs the
RBAC actions ``Microsoft.DataFactory/factories/querypipelineruns/action`` and
``.../pipelineruns/queryactivityruns/action``: the built-in Reader role does not grant them, so a
403 ``AuthorizationFailed`` on a factory is reported with that hint.

``service_principals`` lists the factories' linked services (the Reader role is enough) and
returns those that sign in as a service principal (``typeProperties.servicePrincipalId``, with
``tenant``), so the credential expiry watch can look after apps before their first failure. A
value that is an expression or a Key Vault reference instead of a literal id is skipped: there is
no app id to read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import Identity, Ledger, NameFilter, Poll, as_dict, guarded_poll, kind_of
from connectors.clouds import Endpoints
from connectors.errors import AuthError, ConnectorError
from connectors.http import AzureHttp
from connectors.linked_services import LinkedPrincipal, principals_in
from connectors.paths import seg
from connectors.pipeline_runs import Target, Windowing, poll_targets
from connectors.records import Source
from connectors.timefmt import iso

API = "adf"
VERSION = "2018-06-01"
_RG = re.compile(r"/resourcegroups/([^/]+)/", re.IGNORECASE)


@dataclass(frozen=True)
class FactoryRef:
    subscription_id: str
    resource_group: str
    name: str


@dataclass(frozen=True)
class ADFOptions:
    subscriptions: tuple[str, ...] = ()
    factories: tuple[FactoryRef, ...] = ()
    names: NameFilter = field(default_factory=NameFilter)
    windowing: Windowing = field(default_factory=Windowing)
    discovery_interval: timedelta = timedelta(hours=1)


class ADFConnector:
    source = Source.ADF

    def __init__(
        self,
        http: AzureHttp,
        endpoints: Endpoints,
        identity: Identity,
        options: ADFOptions,
        name: str = "adf",
    ) -> None:
        self.http = http
        self.root = endpoints.arm
        self.scope = endpoints.scope("arm")
        self.identity = identity
        self.options = options
        self.name = f"{identity.tenant}/{name}"
        self._ledger = Ledger()
        self._targets: list[Target] = []
        self._listed_at: datetime | None = None

    def poll(self, now: datetime, cursor: Mapping[str, str]) -> Poll:
        def body(poll: Poll) -> None:
            if self._listed_at is None or now - self._listed_at >= self.options.discovery_interval:
                try:
                    self._targets = [self._target(f) for f in self._factories()]
                    self._listed_at = now
                    poll.worked("factory listing")
                except AuthError:
                    raise
                except ConnectorError as exc:  # keep polling the factories listed before
                    poll.problem(kind_of(exc), "factory listing", str(exc))
            poll_targets(
                poll,
                self.http,
                API,
                self.scope,
                Source.ADF,
                self.identity,
                self._targets,
                cursor,
                now,
                self.options.windowing,
            )

        poll = guarded_poll(
            self.identity, self.scope, now, dict(cursor), body, self._ledger, self.http.policy.poll_deadline
        )
        poll.cursor["polled_at"] = iso(now)
        poll.errors = [_hint(e) for e in poll.errors]
        return poll

    def _factories(self) -> list[FactoryRef]:
        if self.options.factories:
            return list(self.options.factories)
        subscriptions = list(self.options.subscriptions) or [
            str(as_dict(s).get("subscriptionId"))
            for page in self.http.follow(
                API, f"{self.root}/subscriptions", self.scope, {"api-version": "2022-12-01"}, "nextLink"
            )
            for s in as_dict(page).get("value") or []
            if as_dict(s).get("subscriptionId")
        ]
        found = []
        for sub in subscriptions:
            url = f"{self.root}/subscriptions/{seg(sub)}/providers/Microsoft.DataFactory/factories"
            for page in self.http.follow(API, url, self.scope, {"api-version": VERSION}, "nextLink"):
                for raw in as_dict(page).get("value") or []:
                    factory = as_dict(raw)
                    name = str(factory.get("name") or "")
                    rg = _RG.search(str(factory.get("id") or ""))
                    if rg and self.options.names(name):
                        found.append(FactoryRef(sub, rg.group(1), name))
        return found

    def service_principals(self) -> list[LinkedPrincipal]:
        """Every linked service of the factories that names a service principal (ConnectorError
        when a factory cannot be listed)."""
        found = []
        for f in self._factories():
            pages = self.http.follow(
                API, self._base(f) + "/linkedservices", self.scope, {"api-version": VERSION}, "nextLink"
            )
            key = f"{f.subscription_id}/{f.resource_group}/{f.name}".lower()
            found += principals_in(pages, Source.ADF, f.name, key)
        return found

    def _base(self, f: FactoryRef) -> str:
        return (
            f"{self.root}/subscriptions/{seg(f.subscription_id)}/resourceGroups/{seg(f.resource_group)}"
            f"/providers/Microsoft.DataFactory/factories/{seg(f.name)}"
        )

    def _target(self, f: FactoryRef) -> Target:
        base = self._base(f)

        def activity_url(run: Mapping[str, Any]) -> str:
            return f"{base}/pipelineruns/{seg(run.get('runId'))}/queryActivityruns?api-version={VERSION}"

        return Target(
            key=f"{f.subscription_id}/{f.resource_group}/{f.name}".lower(),
            name=f.name,
            runs_url=f"{base}/queryPipelineRuns?api-version={VERSION}",
            activity_url=activity_url,
            extra={"subscription_id": f.subscription_id, "resource_group": f.resource_group},
        )


def _hint(error: str) -> str:
    if "AuthorizationFailed" in error or "HTTP 403" in error:
        return (
            error + " (querying runs needs Data Factory Contributor or a custom role with "
            "factories/querypipelineruns/action; Reader alone is not enough)"
        )
    return error
