"""Power BI discovery: which workspaces, datasets and dataflows there are, listed once per interval.

Every list call stands alone. A workspace whose dataset listing fails keeps the datasets the last
good listing found (its dataflows likewise), and a catalog with any failed listing is listed again
next cycle instead of being kept for the whole discovery interval. ``dataflows: false`` lists no
dataflows at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import NameFilter, Poll, as_dict, fan_out, kind_of, lower_keys, refused
from connectors.errors import AuthError, ConnectorError
from connectors.http import AzureHttp
from connectors.paths import seg

API = "powerbi"


@dataclass(frozen=True, slots=True)
class Dataset:
    id: str
    name: str
    workspace_id: str
    workspace_name: str
    gateway: bool = False


@dataclass(frozen=True, slots=True)
class Dataflow:
    id: str
    name: str
    workspace_id: str
    workspace_name: str


@dataclass
class Catalog:
    #: keyed by (workspace id, dataset id): an item's identity includes its container
    datasets: dict[tuple[str, str], Dataset] = field(default_factory=dict)
    dataflows: dict[tuple[str, str], Dataflow] = field(default_factory=dict)
    listed_at: datetime | None = None
    #: False when a listing failed: the catalog is listed again next cycle
    complete: bool = True

    def due(self, now: datetime, interval: Any) -> bool:
        return self.listed_at is None or not self.complete or now - self.listed_at >= interval

    def add(self, group: Mapping[str, Any], datasets: list[Any] | None, flows: list[Any] | None) -> None:
        ws_id, ws_name = str(group.get("id")), str(group.get("name") or "")
        for raw in datasets or []:
            d = lower_keys(as_dict(raw))
            if d.get("isrefreshable") is False or not d.get("id"):
                continue
            ds = Dataset(
                str(d["id"]),
                str(d.get("name") or d["id"]),
                ws_id,
                ws_name,
                bool(d.get("isonpremgatewayrequired")),
            )
            self.datasets[(ws_id, ds.id)] = ds
        for raw in flows or []:
            f = as_dict(raw)
            flow_id = str(f.get("objectId") or f.get("id") or "")
            if flow_id:
                self.dataflows[(ws_id, flow_id)] = Dataflow(
                    flow_id, str(f.get("name") or flow_id), ws_id, ws_name
                )

    def keep_from(self, old: Catalog, ws_id: str, what: str) -> None:
        """A listing of ``ws_id`` failed: keep what the previous catalog had for it."""
        self.complete = False
        source = old.datasets if what == "datasets" else old.dataflows
        target: dict[Any, Any] = self.datasets if what == "datasets" else self.dataflows
        target.update({k: v for k, v in source.items() if k[0] == ws_id})


def wanted(group: Mapping[str, Any], names: NameFilter) -> bool:
    state = str(group.get("state") or "Active")
    return state.lower() == "active" and names(str(group.get("name") or ""))


def discover_admin(
    http: AzureHttp, root: str, scope: str, names: NameFilter, dataflows: bool, page: int, now: datetime
) -> Catalog:
    """``admin/groups?$expand=datasets[,dataflows]``: names and datasets of every workspace, no
    membership needed. Raises on failure (the caller keeps the old catalog)."""
    catalog = Catalog(listed_at=now)
    params = {"$expand": "datasets,dataflows" if dataflows else "datasets"}
    for groups in http.top_skip(API, f"{root}/admin/groups", scope, params, page):
        for group in groups:
            if isinstance(group, dict) and wanted(group, names):
                catalog.add(group, group.get("datasets"), group.get("dataflows") if dataflows else None)
    return catalog


def discover_workspaces(
    poll: Poll,
    http: AzureHttp,
    root: str,
    scope: str,
    options: Any,
    old: Catalog,
    now: datetime,
) -> Catalog:
    """``groups`` then, per member workspace, ``datasets`` and (if wanted) ``dataflows``: each call
    alone, so a refused dataflow listing never empties the datasets."""
    catalog = Catalog(listed_at=now)
    groups = [
        g
        for page in http.top_skip(API, f"{root}/groups", scope, {}, 1000)
        for g in page
        if isinstance(g, dict) and g.get("id") and wanted(g, options.workspaces)
    ]
    calls = [(g, "datasets") for g in groups]
    if options.dataflows:
        calls += [(g, "dataflows") for g in groups]

    def listing(call: tuple[dict[str, Any], str]) -> list[Any]:
        group, what = call
        body = http.get(API, f"{root}/groups/{seg(group['id'])}/{what}", scope)
        return list(as_dict(body).get("value") or [])

    for (group, what), result in fan_out(listing, calls, options.workers, poll.until):
        label = f"{what} of workspace {group.get('name')}"
        if isinstance(result, AuthError):
            poll.auth_error = poll.auth_error or result
        elif isinstance(result, ConnectorError):
            catalog.keep_from(old, str(group["id"]), what)
            optional = what == "dataflows" and refused(result)
            poll.problem(kind_of(result), label, str(result), error=not optional)
        else:
            poll.worked(label)
            catalog.add(
                group, result if what == "datasets" else None, result if what == "dataflows" else None
            )
    return catalog
