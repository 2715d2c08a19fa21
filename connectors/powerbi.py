"""Power BI: semantic-model refreshes and dataflow transactions.

Two modes, chosen by config:

* ``admin`` (tenant-wide, read-only admin APIs; the app needs no workspace role): one paged call
  to ``admin/capacities/refreshables`` per cycle gives every dataset's last refresh, including its
  ``serviceExceptionJson``, and that refresh is always a record. Workspace names, datasets and
  dataflows come from ``admin/groups?$expand=datasets[,dataflows]``, listed once per discovery
  interval (metered: 50 calls an hour; refreshables 200). The refresh history
  (``groups/{ws}/datasets/{id}/refreshes``) is a non-admin call: it is read only to fill in the
  refreshes between two polls, and where the app is not a workspace member it answers 403/404;
  then the last refresh already read stands, the workspace's history is not asked for again until
  the next discovery, and the refusal is reported once per dataset, not as a poll error.
* ``workspace`` (the principal is a workspace member): groups -> datasets (and dataflows) are
  listed once per discovery interval; each cycle reads the last few refreshes of every refreshable
  dataset.

A failed refresh is annotated with the gateway and data source the dataset reads
(``powerbi_sources``: one ``datasources`` call per failing dataset), which root-cause grouping keys on.

Dataflow transactions carry no error text at all; their failures are reported as failed runs
with an empty ``error_text`` ("failed, cause unknown"). A refused transactions call is reported
once, like a refused history.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from connectors.base import (
    Identity,
    Ledger,
    NameFilter,
    Poll,
    as_dict,
    bounded,
    fan_out,
    guarded_poll,
    kind_of,
    refused,
)
from connectors.clouds import Endpoints
from connectors.errors import AuthError, ConnectorError
from connectors.http import AzureHttp
from connectors.paths import seg
from connectors.powerbi_catalog import Catalog, Dataflow, Dataset, discover_admin, discover_workspaces
from connectors.powerbi_records import dataflow_record, dataset_record, refresh_key
from connectors.powerbi_sources import Origins
from connectors.records import Source
from connectors.timefmt import iso

API = "powerbi"
_ATTENDED = {"ondemand", "ondemandtraining"}
T = TypeVar("T")


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


class PowerBIConnector:
    source = Source.POWERBI

    def __init__(
        self,
        http: AzureHttp,
        endpoints: Endpoints,
        identity: Identity,
        options: PowerBIOptions,
        name: str = "powerbi",
    ) -> None:
        self.http = http
        self.root = endpoints.powerbi
        self.scope = endpoints.scope("powerbi")
        self.identity = identity
        self.options = options
        self.name = f"{identity.tenant}/{name}"
        self._catalog = Catalog()
        # (workspace id, dataset id) -> (last refresh key, its status, refreshCount) of the last poll
        self._last_seen: dict[tuple[str, str], tuple[str, str, int]] = {}
        self._before_poll: dict[tuple[str, str], tuple[str, str, int]] = {}  # for rewind()
        # workspaces whose history / dataflow transactions the app may not read (until rediscovery)
        self._no_history: set[str] = set()
        self._no_transactions: set[str] = set()
        self._ledger = Ledger()
        self._origins = Origins()  # gateway and data source of failing datasets, until rediscovery
        self._lock = threading.Lock()

    def rewind(self) -> None:
        """The last poll's records were not stored (its transaction rolled back, e.g. the database
        went away or another replica took the source): forget what that poll saw, or the next one
        would skip those refreshes as already seen and their failures would never be notified."""
        with self._lock:
            self._last_seen = dict(self._before_poll)

    def poll(self, now: datetime, cursor: Mapping[str, str]) -> Poll:
        with self._lock:
            self._before_poll = dict(self._last_seen)

        def body(poll: Poll) -> None:
            self._discover(poll, now)
            if self.options.mode == "admin":
                self._poll_refreshables(poll)
            else:
                self._poll_histories(poll, [(d, None, "") for d in self._catalog.datasets.values()], False)
            admin = self.options.mode == "admin"
            self._origins.annotate(poll, self.http, self.root, self.scope, admin, self.options.workers)
            if self.options.dataflows:
                self._poll_dataflows(poll)

        return guarded_poll(
            self.identity,
            self.scope,
            now,
            {"polled_at": iso(now)},
            body,
            self._ledger,
            self.http.policy.poll_deadline,
        )

    def _discover(self, poll: Poll, now: datetime) -> None:
        """List again when due; a failed listing keeps the old catalog and is retried next cycle."""
        if not self._catalog.due(now, self.options.discovery_interval):
            return
        o = self.options
        try:
            if o.mode == "admin":
                catalog = discover_admin(
                    self.http, self.root, self.scope, o.workspaces, o.dataflows, o.group_page_size, now
                )
            else:
                catalog = discover_workspaces(poll, self.http, self.root, self.scope, o, self._catalog, now)
        except AuthError:
            raise
        except ConnectorError as exc:
            self._catalog.complete = False
            poll.problem(kind_of(exc), "workspace listing", str(exc))
            return
        poll.worked("workspace listing")
        self._catalog = catalog
        self._no_history.clear()
        self._no_transactions.clear()
        self._origins.clear()

    # -- refreshes --------------------------------------------------------------------------------

    def _poll_refreshables(self, poll: Poll) -> None:
        """Every dataset's last refresh is a record; the history is read only to fill a gap."""
        url = f"{self.root}/admin/capacities/refreshables"
        params = {"$expand": "capacity,group"}
        again: list[tuple[Dataset, object, str]] = []
        before_of: dict[tuple[str, str], tuple[str, str, int] | None] = {}
        pages = self.http.top_skip(API, url, self.scope, params, self.options.page_size)
        for page in bounded(pages, poll, "refreshables"):
            for item in page:
                dataset = self._dataset_of(as_dict(item))
                refresh = as_dict(item).get("lastRefresh")
                if dataset is None or not isinstance(refresh, dict):
                    continue
                key, count = refresh_key(refresh), _count(item.get("refreshCount"))
                status = str(refresh.get("status") or "").lower()
                ident = (dataset.workspace_id, dataset.id)
                with self._lock:
                    before = self._last_seen.get(ident)
                    self._last_seen[ident] = (key, status, count)
                if before and before[:2] == (key, status):
                    continue
                schedule = item.get("refreshSchedule")
                enabled = schedule.get("enabled") if isinstance(schedule, dict) else None
                poll.records.append(dataset_record(self.identity, dataset, refresh, enabled))
                if (before is None and status != "completed") or (before and count - before[2] > 1):
                    # first seen failing or running (how many scheduled refreshes failed in a row
                    # matters), or several refreshes since the last poll: fill in from the history
                    again.append((dataset, enabled, key))
                    before_of[ident] = before
        for d, _, _ in self._poll_histories(poll, again, True):
            # the history could not be read (not refused): forget this refresh was seen, so the
            # next cycle asks again (the store drops the record it already has)
            ident = (d.workspace_id, d.id)
            previous = before_of.get(ident)
            with self._lock:
                if previous is None:
                    self._last_seen.pop(ident, None)
                else:
                    self._last_seen[ident] = previous

    def _dataset_of(self, item: Mapping[str, Any]) -> Dataset | None:
        """The dataset of a refreshables row; None when its workspace is filtered out."""
        ds_id = str(item.get("id") or "")
        group = as_dict(item.get("group"))
        ws_id, ws_name = str(group.get("id") or ""), str(group.get("name") or "")
        known = self._catalog.datasets.get((ws_id, ds_id))
        if known is not None:
            return known
        if not ds_id or not self.options.workspaces(ws_name):
            return None
        return Dataset(ds_id, str(item.get("name") or ds_id), ws_id, ws_name)

    def _poll_histories(
        self, poll: Poll, wanted: Sequence[tuple[Dataset, object, str]], optional: bool
    ) -> list[tuple[Dataset, object, str]]:
        """Recent refreshes of each dataset. ``optional``: the records are already read (admin mode),
        so a 403/404 is reported once and the workspace's history is not asked for again. Returns
        the jobs whose history failed otherwise."""

        def history(job: tuple[Dataset, object, str]) -> list[Any]:
            d = job[0]
            base = f"{self.root}/groups/{seg(d.workspace_id)}" if d.workspace_id else self.root
            url = f"{base}/datasets/{seg(d.id)}/refreshes"
            page = self.http.get(API, url, self.scope, {"$top": self.options.history_top})
            return list(as_dict(page).get("value") or [])

        todo = [job for job in wanted if job[0].workspace_id not in self._no_history]
        ok, failed = self._gather(poll, history, todo, _dname, optional, "history")
        for (d, enabled, known), refreshes in ok:
            poll.records.extend(
                dataset_record(self.identity, d, r, enabled)
                for r in refreshes
                if isinstance(r, dict) and refresh_key(r) != known
            )
        return failed

    def _gather(
        self,
        poll: Poll,
        fn: Callable[[T], list[Any]],
        jobs: Sequence[T],
        what: Callable[[T], str],
        optional: bool,
        call: str,
    ) -> tuple[list[tuple[T, list[Any]]], list[T]]:
        """(results, failed jobs); refused optional calls are neither: reported once, then skipped."""
        ok: list[tuple[T, list[Any]]] = []
        failed: list[T] = []
        refusals = self._no_history if call == "history" else self._no_transactions
        for job, result in fan_out(fn, jobs, self.options.workers, poll.until):
            label = what(job)
            if isinstance(result, AuthError):
                poll.auth_error = poll.auth_error or result
            elif isinstance(result, ConnectorError):
                if optional and refused(result):
                    refusals.add(_workspace_of(job))
                    note = f"{result} (the app cannot read the {call} here; what the admin APIs gave stands)"
                    poll.problem(f"{call}_refused", label, note, error=False)
                else:
                    poll.problem(kind_of(result), label, str(result))
                    failed.append(job)
            else:
                poll.worked(label)
                ok.append((job, result))
        return ok, failed

    # -- dataflows --------------------------------------------------------------------------------

    def _poll_dataflows(self, poll: Poll) -> None:
        def transactions(flow: Dataflow) -> list[Any]:
            url = f"{self.root}/groups/{seg(flow.workspace_id)}/dataflows/{seg(flow.id)}/transactions"
            return list(as_dict(self.http.get(API, url, self.scope)).get("value") or [])

        flows = [f for f in self._catalog.dataflows.values() if f.workspace_id not in self._no_transactions]
        for flow, rows in self._gather(poll, transactions, flows, _fname, True, "transactions")[0]:
            poll.records.extend(
                dataflow_record(self.identity, flow, row) for row in rows[:10] if isinstance(row, dict)
            )


def _count(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _workspace_of(job: object) -> str:
    item = job[0] if isinstance(job, tuple) else job
    return str(getattr(item, "workspace_id", ""))


def _dname(job: tuple[Dataset, object, str]) -> str:
    d = job[0]
    return f"dataset {d.workspace_name}/{d.name}"


def _fname(f: Dataflow) -> str:
    return f"dataflow {f.workspace_name}/{f.name}"
