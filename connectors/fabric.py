"""Microsoft Fabric: job instances of pipelines, notebooks, Spark jobs, dataflows and copy jobs.

Workspaces and their items are listed once per discovery interval; each cycle reads the first page
of every item's job instances (newest first, about 100 completed ones kept per item). The job list
has no time filter, so the store's seen-run check does the de-duplication. The AADSTS text of a
failed job sits in ``failureReason.message`` and sometimes in ``moreDetails[].message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import (
    Identity,
    Ledger,
    NameFilter,
    Poll,
    as_dict,
    bounded,
    collect,
    fan_out,
    guarded_poll,
    kind_of,
)
from connectors.clouds import Endpoints
from connectors.errors import AuthError, ConnectorError
from connectors.http import AzureHttp
from connectors.paths import seg
from connectors.records import RunRecord, Source, status_from_word
from connectors.timefmt import iso, parse_time

API = "fabric"
DEFAULT_TYPES = ("DataPipeline", "Notebook", "SparkJobDefinition", "Dataflow", "CopyJob", "SemanticModel")


@dataclass(frozen=True)
class FabricOptions:
    item_types: tuple[str, ...] = DEFAULT_TYPES
    workspaces: NameFilter = field(default_factory=NameFilter)
    discovery_interval: timedelta = timedelta(hours=1)
    workers: int = 8


@dataclass(frozen=True)
class _Item:
    workspace_id: str
    workspace_name: str
    id: str
    name: str
    type: str


class FabricConnector:
    source = Source.FABRIC

    def __init__(
        self,
        http: AzureHttp,
        endpoints: Endpoints,
        identity: Identity,
        options: FabricOptions,
        name: str = "fabric",
    ) -> None:
        self.http = http
        self.root = endpoints.fabric
        self.scope = endpoints.scope("fabric")
        self.identity = identity
        self.options = options
        self.name = f"{identity.tenant}/{name}"
        self._ledger = Ledger()
        self._items: list[_Item] = []
        self._listed_at: datetime | None = None

    def poll(self, now: datetime, cursor: Mapping[str, str]) -> Poll:
        def body(poll: Poll) -> None:
            if self._listed_at is None or now - self._listed_at >= self.options.discovery_interval:
                # a failed listing keeps the items it had and is listed again next cycle
                self._listed_at = now if self._discover(poll) else None
            results = fan_out(self._instances, self._items, self.options.workers, poll.until)
            for item, instances in collect(poll, results, lambda i: f"{i.type} {i.workspace_name}/{i.name}"):
                poll.records.extend(self._record(item, job) for job in instances if isinstance(job, dict))

        return guarded_poll(
            self.identity,
            self.scope,
            now,
            {"polled_at": iso(now)},
            body,
            self._ledger,
            self.http.policy.poll_deadline,
        )

    def _discover(self, poll: Poll) -> bool:
        """List workspaces and their items; True when every listing worked."""
        try:
            workspaces = [
                ws
                for page in bounded(
                    self.http.follow(API, f"{self.root}/workspaces", self.scope, None, "continuationUri"),
                    poll,
                    "workspace listing",
                )
                for ws in as_dict(page).get("value") or []
                if isinstance(ws, dict)
                and ws.get("id")
                and self.options.workspaces(str(ws.get("displayName") or ""))
            ]
        except AuthError:
            raise
        except ConnectorError as exc:
            poll.problem(kind_of(exc), "workspace listing", str(exc))
            return False
        poll.worked("workspace listing")
        wanted = {t.lower() for t in self.options.item_types}

        def items(ws: Mapping[str, Any]) -> list[_Item]:
            url = f"{self.root}/workspaces/{seg(ws['id'])}/items"
            found = []
            pages = self.http.follow(API, url, self.scope, None, "continuationUri")
            for page in bounded(pages, poll, f"items of workspace {ws.get('displayName')}"):
                for raw in as_dict(page).get("value") or []:
                    it = as_dict(raw)
                    if it.get("id") and str(it.get("type") or "").lower() in wanted:
                        found.append(
                            _Item(
                                str(ws["id"]),
                                str(ws.get("displayName") or ""),
                                str(it["id"]),
                                str(it.get("displayName") or it["id"]),
                                str(it.get("type")),
                            )
                        )
            return found

        results = fan_out(items, workspaces, self.options.workers, poll.until)
        failed = {str(ws["id"]) for ws, result in results if isinstance(result, ConnectorError)}
        listed = collect(poll, results, lambda w: f"workspace {w.get('displayName')}")
        kept = [item for item in self._items if item.workspace_id in failed]
        self._items = [item for _, found in listed for item in found] + kept
        return not failed

    def _instances(self, item: _Item) -> list[Any]:
        url = f"{self.root}/workspaces/{seg(item.workspace_id)}/items/{seg(item.id)}/jobs/instances"
        return list((self.http.get(API, url, self.scope) or {}).get("value") or [])

    def _record(self, item: _Item, job: Mapping[str, Any]) -> RunRecord:
        reason = as_dict(job.get("failureReason"))
        texts = [str(reason.get("message") or "")]
        texts += [str(d.get("message") or "") for d in reason.get("moreDetails") or [] if isinstance(d, dict)]
        return RunRecord(
            source=Source.FABRIC,
            tenant=self.identity.tenant,
            container_id=item.workspace_id,
            container_name=item.workspace_name,
            item_id=item.id,
            item_name=item.name,
            item_type=item.type,
            run_id=str(job.get("id")),
            status=status_from_word(str(job.get("status"))),
            raw_status=str(job.get("status") or ""),
            started_at=parse_time(job.get("startTimeUtc")),
            ended_at=parse_time(job.get("endTimeUtc")),
            unattended=str(job.get("invokeType") or "").lower() != "manual",
            error_text="\n".join(t for t in texts if t),
            error_code=str(reason.get("errorCode") or ""),
            extra={"tenant_id": self.identity.tenant_id, "job_type": str(job.get("jobType") or "")},
        )
