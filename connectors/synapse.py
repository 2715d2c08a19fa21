"""Azure Synapse pipelines (data plane, api-version 2020-12-01): same run model as ADF.

The endpoint is per workspace (``https://{workspace}.dev.azuresynapse.net``) and authorisation is
Synapse RBAC, not Azure RBAC: the principal needs a Synapse role that can read pipeline runs
(e.g. Synapse Monitoring Operator). Activity queries need the pipeline name in the path.
``service_principals`` lists each workspace's linked services (``GET {endpoint}/linkedservices``)
for the credential expiry watch; that read needs a Synapse role that can read linked services
(e.g. Synapse Artifact User), which Synapse Monitoring Operator does not give.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import Identity, Ledger, Poll, guarded_poll
from connectors.clouds import Endpoints
from connectors.http import AzureHttp
from connectors.linked_services import LinkedPrincipal, principals_in
from connectors.paths import seg
from connectors.pipeline_runs import Target, Windowing, poll_targets
from connectors.records import Source
from connectors.timefmt import iso

API = "synapse"
VERSION = "2020-12-01"


@dataclass(frozen=True)
class SynapseWorkspace:
    name: str
    endpoint: str | None = None
    subscription_id: str = ""
    resource_group: str = ""


@dataclass(frozen=True)
class SynapseOptions:
    workspaces: tuple[SynapseWorkspace, ...] = ()
    windowing: Windowing = field(default_factory=Windowing)


class SynapseConnector:
    source = Source.SYNAPSE

    def __init__(
        self,
        http: AzureHttp,
        endpoints: Endpoints,
        identity: Identity,
        options: SynapseOptions,
        name: str = "synapse",
    ) -> None:
        self.http = http
        self.scope = endpoints.scope("synapse")
        self.identity = identity
        self.options = options
        self.name = f"{identity.tenant}/{name}"
        self._ledger = Ledger()
        self.targets = [self._target(ws, endpoints.synapse) for ws in options.workspaces]

    def poll(self, now: datetime, cursor: Mapping[str, str]) -> Poll:
        def body(poll: Poll) -> None:
            poll_targets(
                poll,
                self.http,
                API,
                self.scope,
                Source.SYNAPSE,
                self.identity,
                self.targets,
                cursor,
                now,
                self.options.windowing,
            )

        poll = guarded_poll(
            self.identity, self.scope, now, dict(cursor), body, self._ledger, self.http.policy.poll_deadline
        )
        poll.cursor["polled_at"] = iso(now)
        return poll

    def service_principals(self) -> list[LinkedPrincipal]:
        """Every linked service of the workspaces that names a service principal."""
        found = []
        for ws, target in zip(self.options.workspaces, self.targets, strict=True):
            base = target.runs_url.split("/queryPipelineRuns")[0]
            pages = self.http.follow(
                API, base + "/linkedservices", self.scope, {"api-version": VERSION}, "nextLink"
            )
            found += principals_in(pages, Source.SYNAPSE, ws.name, ws.name.lower())
        return found

    @staticmethod
    def _target(ws: SynapseWorkspace, template: str) -> Target:
        base = (ws.endpoint or template.replace("{workspace}", ws.name)).rstrip("/")

        def activity_url(run: Mapping[str, Any]) -> str:
            return (
                f"{base}/pipelines/{seg(run.get('pipelineName'))}/pipelineruns/{seg(run.get('runId'))}"
                f"/queryActivityruns?api-version={VERSION}"
            )

        extra = {"subscription_id": ws.subscription_id, "resource_group": ws.resource_group}
        return Target(
            ws.name.lower(),
            ws.name,
            f"{base}/queryPipelineRuns?api-version={VERSION}",
            activity_url,
            {k: v for k, v in extra.items() if v},
        )
