"""Power BI: semantic-model refreshes and dataflow transactions.

Two modes, chosen by config:

* ``admin`` (tenant-wide, read-only admin APIs): one paged call to ``admin/capacities/refreshables``
  per cycle gives every dataset's last refresh, including its ``serviceExceptionJson``. Refresh
  history is read only for a dataset that refreshed more than once since the last poll. Workspace
  names come from ``admin/groups?$expand=datasets``, listed once per discovery interval. Both calls
  are metered per hour (50 and 200), so discovery is rare and refreshables pages are large.
* ``workspace`` (the principal is a workspace member): groups -> datasets are listed once per
  discovery interval; each cycle reads the last few refreshes of every refreshable dataset.

Dataflow transactions carry no error text at all; their failures are reported as failed runs
with an empty ``error_text`` ("failed, cause unknown").
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from connectors.base import Identity, NameFilter, Poll, as_dict, collect, fan_out, guarded_poll, lower_keys
from connectors.clouds import Endpoints
from connectors.http import AzureHttp
from connectors.records import RunRecord, Source, shared_extra, status_from_word
from connectors.timefmt import iso, parse_time

API = "powerbi"
_ATTENDED = {"ondemand", "ondemandtraining"}


@dataclass(frozen=True)
class PowerBIOptions:
    mode: Literal["admin", "workspace"] = "admin"
    workspaces: NameFilter = field(default_factory=NameFilter)
    history_top: int = 10
    dataflows: bool = True
    page_size: int = 5000
    #: admin/groups pages carry every dataset of every workspace: smaller pages keep memory flat
    #: (10 pages for 10,000 workspaces is still far below the 50 requests/hour quota).
    group_page_size: int = 1000
    discovery_interval: timedelta = timedelta(hours=1)
    workers: int = 8


@dataclass(slots=True)
class _Dataset:
    id: str
    name: str
    workspace_id: str
    workspace_name: str
    gateway: bool = False


@dataclass
class _Catalog:
    datasets: dict[str, _Dataset] = field(default_factory=dict)
    dataflows: list[tuple[str, str, str, str]] = field(default_factory=list)  # ws id, ws name, id, name
    listed_at: datetime | None = None


class PowerBIConnector:
    source = Source.POWERBI

    def __init__(
        self, http: AzureHttp, endpoints: Endpoints, identity: Identity, options: PowerBIOptions
    ) -> None:
        self.http = http
        self.root = endpoints.powerbi
        self.scope = endpoints.scope("powerbi")
        self.identity = identity
        self.options = options
        self.name = f"{identity.tenant}/powerbi"
        self._catalog = _Catalog()
        # dataset id -> (last refresh key, its status, refreshCount): what the previous poll saw
        self._last_seen: dict[str, tuple[str, str, int]] = {}
        self._lock = threading.Lock()

    def poll(self, now: datetime, cursor: Mapping[str, str]) -> Poll:
        def body(poll: Poll) -> None:
            if (
                self._catalog.listed_at is None
                or now - self._catalog.listed_at >= self.options.discovery_interval
            ):
                self._catalog = self._discover(now, poll)
            if self.options.mode == "admin":
                self._poll_refreshables(poll)
            else:
                self._poll_histories(poll, list(self._catalog.datasets.values()))
            if self.options.dataflows:
                self._poll_dataflows(poll)

        return guarded_poll(self.identity, self.scope, now, {"polled_at": iso(now)}, body)

    # -- discovery --------------------------------------------------------------------------------

    def _discover(self, now: datetime, poll: Poll) -> _Catalog:
        catalog = _Catalog(listed_at=now)
        if self.options.mode == "admin":
            params = {"$expand": "datasets,dataflows" if self.options.dataflows else "datasets"}
            for page in self.http.top_skip(
                API, f"{self.root}/admin/groups", self.scope, params, self.options.group_page_size
            ):
                for group in page:
                    if self._wanted(group):
                        self._add_group(
                            catalog, group, group.get("datasets") or [], group.get("dataflows") or []
                        )
            return catalog
        groups = [
            g for page in self.http.top_skip(API, f"{self.root}/groups", self.scope, {}, 1000) for g in page
        ]
        groups = [g for g in groups if self._wanted(g)]

        def contents(group: dict[str, Any]) -> tuple[list[Any], list[Any]]:
            base = f"{self.root}/groups/{group['id']}"
            datasets = (self.http.get(API, f"{base}/datasets", self.scope) or {}).get("value") or []
            flows = (self.http.get(API, f"{base}/dataflows", self.scope) or {}).get("value") or []
            return datasets, flows if self.options.dataflows else []

        for group, (datasets, flows) in collect(
            poll, fan_out(contents, groups, self.options.workers), _gname
        ):
            self._add_group(catalog, group, datasets, flows)
        return catalog

    def _wanted(self, group: Mapping[str, Any]) -> bool:
        state = str(group.get("state") or "Active")
        return state.lower() == "active" and self.options.workspaces(str(group.get("name") or ""))

    @staticmethod
    def _add_group(
        catalog: _Catalog, group: Mapping[str, Any], datasets: list[Any], flows: list[Any]
    ) -> None:
        ws_id, ws_name = str(group.get("id")), str(group.get("name") or "")
        for raw in datasets:
            d = lower_keys(raw)
            if d.get("isrefreshable") is False:
                continue
            ds_id = str(d.get("id"))
            gateway = bool(d.get("isonpremgatewayrequired"))
            catalog.datasets[ds_id] = _Dataset(ds_id, str(d.get("name") or ds_id), ws_id, ws_name, gateway)
        for flow in flows:
            flow_id = str(flow.get("objectId") or flow.get("id"))
            catalog.dataflows.append((ws_id, ws_name, flow_id, str(flow.get("name") or flow_id)))

    # -- refreshes --------------------------------------------------------------------------------

    def _poll_refreshables(self, poll: Poll) -> None:
        url = f"{self.root}/admin/capacities/refreshables"
        params = {"$expand": "capacity,group"}
        again: list[_Dataset] = []
        enabled_by_id: dict[str, object] = {}
        for page in self.http.top_skip(API, url, self.scope, params, self.options.page_size):
            for item in page:
                dataset = self._dataset_of(item)
                if dataset is None or not isinstance(item.get("lastRefresh"), dict):
                    continue
                refresh = item["lastRefresh"]
                key, count = _refresh_key(refresh), int(item.get("refreshCount") or 0)
                status = str(refresh.get("status") or "").lower()
                with self._lock:
                    before = self._last_seen.get(dataset.id)
                    self._last_seen[dataset.id] = (key, status, count)
                if before and before[:2] == (key, status):
                    continue
                schedule = item.get("refreshSchedule") or {}
                enabled = schedule.get("enabled") if isinstance(schedule, dict) else None
                unsettled = before is None and status != "completed"
                if unsettled or (before and count - before[2] > 1):
                    # several refreshes since the last poll, or a dataset first seen failing or running
                    # (how many scheduled refreshes failed in a row matters): read the history
                    again.append(dataset)
                    enabled_by_id[dataset.id] = enabled
                else:
                    poll.records.append(self._record(dataset, refresh, enabled))
        self._poll_histories(poll, again, enabled_by_id)

    def _dataset_of(self, item: Mapping[str, Any]) -> _Dataset | None:
        """The dataset of a refreshables row; None when its workspace is filtered out."""
        ds_id = str(item.get("id"))
        if ds_id in self._catalog.datasets:
            return self._catalog.datasets[ds_id]
        group = as_dict(item.get("group"))
        ws_name = str(group.get("name") or "")
        if not self.options.workspaces(ws_name):
            return None
        return _Dataset(ds_id, str(item.get("name") or ds_id), str(group.get("id") or ""), ws_name)

    def _poll_histories(
        self, poll: Poll, datasets: list[_Dataset], enabled_by_id: Mapping[str, object] | None = None
    ) -> None:
        def history(d: _Dataset) -> list[Any]:
            base = f"{self.root}/groups/{d.workspace_id}" if d.workspace_id else self.root
            page = self.http.get(
                API, f"{base}/datasets/{d.id}/refreshes", self.scope, {"$top": self.options.history_top}
            )
            return list((page or {}).get("value") or [])

        for dataset, refreshes in collect(poll, fan_out(history, datasets, self.options.workers), _dname):
            enabled = (enabled_by_id or {}).get(dataset.id)
            poll.records.extend(self._record(dataset, r, enabled) for r in refreshes if isinstance(r, dict))

    def _record(self, d: _Dataset, refresh: Mapping[str, Any], schedule_enabled: object) -> RunRecord:
        error_json = refresh.get("serviceExceptionJson")
        if not error_json:
            attempts = refresh.get("refreshAttempts") or []
            error_json = next(
                (
                    a.get("serviceExceptionJson")
                    for a in attempts
                    if isinstance(a, dict) and a.get("serviceExceptionJson")
                ),
                "",
            )
        refresh_type = sys.intern(str(refresh.get("refreshType") or ""))
        gateway = d.gateway or "gateway" in str(error_json).lower()
        extra = shared_extra(
            tenant_id=self.identity.tenant_id,
            refresh_type=refresh_type,
            gateway="true" if gateway else "false",
            schedule_enabled="" if schedule_enabled is None else ("true" if schedule_enabled else "false"),
        )
        return RunRecord(
            source=Source.POWERBI,
            tenant=self.identity.tenant,
            container_id=d.workspace_id,
            container_name=d.workspace_name,
            item_id=d.id,
            item_name=d.name,
            item_type="dataset",
            run_id=_refresh_key(refresh),
            status=status_from_word(str(refresh.get("status"))),
            raw_status=sys.intern(str(refresh.get("status") or "")),
            started_at=parse_time(refresh.get("startTime")),
            ended_at=parse_time(refresh.get("endTime")),
            unattended=refresh_type.lower() not in _ATTENDED,
            error_text=str(error_json or ""),
            error_code=_error_code(error_json),
            extra=extra,
        )

    # -- dataflows --------------------------------------------------------------------------------

    def _poll_dataflows(self, poll: Poll) -> None:
        def transactions(flow: tuple[str, str, str, str]) -> list[Any]:
            url = f"{self.root}/groups/{flow[0]}/dataflows/{flow[2]}/transactions"
            return list((self.http.get(API, url, self.scope) or {}).get("value") or [])

        flows = self._catalog.dataflows
        for (ws_id, ws_name, flow_id, name), rows in collect(
            poll, fan_out(transactions, flows, self.options.workers), lambda f: f"dataflow {f[3]}"
        ):
            for row in rows[:10]:
                if not isinstance(row, dict):
                    continue
                poll.records.append(
                    RunRecord(
                        source=Source.POWERBI_DATAFLOW,
                        tenant=self.identity.tenant,
                        container_id=ws_id,
                        container_name=ws_name,
                        item_id=flow_id,
                        item_name=name,
                        item_type="dataflow",
                        run_id=str(row.get("id")),
                        status=status_from_word(str(row.get("status"))),
                        raw_status=str(row.get("status") or ""),
                        started_at=parse_time(row.get("startTime")),
                        ended_at=parse_time(row.get("endTime")),
                        unattended=str(row.get("refreshType") or "").lower() not in _ATTENDED,
                        extra={
                            "tenant_id": self.identity.tenant_id,
                            "refresh_type": str(row.get("refreshType") or ""),
                        },
                    )
                )


def _refresh_key(refresh: Mapping[str, Any]) -> str:
    """requestId, or (startTime, refreshType) when a refresh has none (the reference's dedup key)."""
    return str(refresh.get("requestId") or f"{refresh.get('startTime')}|{refresh.get('refreshType')}")


def _error_code(error_json: object) -> str:
    """``errorCode`` of a serviceExceptionJson string; '' when it does not parse (never raises)."""
    if not isinstance(error_json, str) or not error_json:
        return ""
    try:
        data = json.loads(error_json)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    code = data.get("errorCode") or (error.get("code") if isinstance(error, dict) else None)
    return str(code or "")


def _gname(group: Mapping[str, Any]) -> str:
    return f"workspace {group.get('name')}"


def _dname(d: _Dataset) -> str:
    return f"dataset {d.workspace_name}/{d.name}"
