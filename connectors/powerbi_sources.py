"""Which gateway and data source a failed dataset refresh went through.

A refresh's error text rarely names the connection whose credential broke, but
``datasets/{id}/datasources`` (admin mode: ``admin/datasets/{id}/datasources``) lists what the
dataset reads, with ``gatewayId`` for a source behind an on-premises gateway and ``datasourceId``.
Those ids are what many failing datasets share when one credential expired, so they go into the
record's ``extra`` (``gateway_id``, ``datasource_id``, ``datasource_name``) for root-cause grouping.

Asked only for datasets whose refresh failed, once per dataset until the next discovery (a
dataset's connections rarely change), so a tenant of 100,000 datasets costs one call per failing
one. Rule for a dataset with several sources: the first one behind a gateway, else the first one
(the error does not say which failed). A refused look-up (401/403/404) is reported once and the
record keeps what it had; any other failure is retried next cycle. Never an error of the poll.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Poll, as_dict, fan_out, refused
from connectors.errors import AuthError, ConnectorError
from connectors.http import AzureHttp
from connectors.paths import seg
from connectors.records import RunRecord, RunStatus, Source, shared_extra

API = "powerbi"


@dataclass(frozen=True, slots=True)
class Origin:
    gateway_id: str = ""
    datasource_id: str = ""
    datasource_name: str = ""

    def extra(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}


def origin_of(sources: Sequence[object]) -> Origin:
    """The source a failed refresh most likely went through (rule in the module docstring)."""
    rows = [as_dict(s) for s in sources if isinstance(s, dict)]
    row = next((r for r in rows if r.get("gatewayId")), rows[0] if rows else {})
    return Origin(str(row.get("gatewayId") or ""), str(row.get("datasourceId") or ""), _name(row))


def _name(row: dict[str, Any]) -> str:
    details: object = row.get("connectionDetails") or {}
    if isinstance(details, str):  # the older gateway-datasources call gives it as a JSON string
        try:
            details = json.loads(details)
        except ValueError:
            details = {}
    d = as_dict(details)
    where = "/".join(str(d[k]) for k in ("server", "database") if d.get(k)) or str(
        d.get("url") or d.get("path") or d.get("domain") or ""
    )
    kind = str(row.get("datasourceType") or "")
    return f"{kind} {where}".strip()[:300]


class Origins:
    """Per connector: the origins already read, keyed by (workspace id, dataset id)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], Origin] = {}

    def clear(self) -> None:
        self._known.clear()

    def annotate(self, poll: Poll, http: AzureHttp, root: str, scope: str, admin: bool, workers: int) -> None:
        """Add the origin of every failed dataset refresh in ``poll.records`` (see module doc)."""

        def read(key: tuple[str, str]) -> Origin:
            ws, ds = key
            if admin:
                url = f"{root}/admin/datasets/{seg(ds)}/datasources"
            else:
                url = (f"{root}/groups/{seg(ws)}" if ws else root) + f"/datasets/{seg(ds)}/datasources"
            return origin_of(list(as_dict(http.get(API, url, scope)).get("value") or []))

        failed = [r for r in poll.records if r.source is Source.POWERBI and r.status is RunStatus.FAILED]
        wanted = list(dict.fromkeys((r.container_id, r.item_id) for r in failed))
        for key, result in fan_out(read, [k for k in wanted if k not in self._known], workers, poll.until):
            label = f"data sources of dataset {key[1]}"
            if isinstance(result, AuthError):
                poll.auth_error = poll.auth_error or result
            elif isinstance(result, ConnectorError):
                if refused(result):
                    self._known[key] = Origin()
                poll.problem("datasources", label, str(result), error=False)
            else:
                poll.worked(label)
                self._known[key] = result
        poll.records[:] = [self._with_origin(r) for r in poll.records]

    def _with_origin(self, rec: RunRecord) -> RunRecord:
        origin = self._known.get((rec.container_id, rec.item_id))
        if rec.status is not RunStatus.FAILED or origin is None or not origin.extra():
            return rec
        return dataclasses.replace(rec, extra=shared_extra(**rec.extra, **origin.extra()))
