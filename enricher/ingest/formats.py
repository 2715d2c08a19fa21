"""Alerts other systems push to us, read into one shape: :class:`Pushed`. Pure: no I/O, no clock.

Three formats, each as its public documentation describes it (reference payloads with their
sources are in ``connectors/simulator/pushed/``):

- ``azure-monitor``: the common alert schema (``schemaId: azureMonitorCommonAlertSchema``). One
  alert per request. A metric alert carries the pipeline in its dimensions; a log search alert
  (``Log Alerts V2``) carries dimensions too, and the older Log Analytics form may include the
  search results (``SearchResults.tables``), one :class:`Pushed` per row, because each row is
  one failed run with its own error text. The results link is never followed here: the intake
  does that when configured, and ``with_results`` puts the answer where included results go.
- ``alertmanager``: the webhook body (``version: "4"``): one :class:`Pushed` per entry in
  ``alerts``, text from its labels and annotations.
- ``grafana``: Grafana alerting's webhook body, the same alert list with a few more fields.

A body that is not the documented shape raises :class:`BadPayloadError` (the endpoint answers 400);
fields we do not know are ignored, since every format grows new ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.timefmt import parse_time

#: an Alertmanager/Grafana ``endsAt`` while the alert fires
_ZERO_TIME = "0001-01-01T00:00:00Z"
#: search-result columns that name a run or a pipeline (ADF/Synapse diagnostic tables)
RUN_COLUMNS = ("RunId", "PipelineRunId", "runId")
PIPELINE_NAMES = ("PipelineName", "pipelineName", "Name", "pipeline")


class BadPayloadError(ValueError):
    """The body is JSON but not the format the path names."""


@dataclass(frozen=True)
class Pushed:
    """One alert as another system sent it, before we know whether it is about a sign-in."""

    format: str
    #: stable for this alert instance across re-sends (Alertmanager fingerprint, Azure alert id)
    key: str
    firing: bool
    #: every piece of text detection should read (labels, annotations, dimensions, result cells)
    text: str
    #: the descriptive name/value pairs (labels, dimensions, result columns)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: the ARM resource id the alert is about, when the format says
    target: str = ""
    title: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    #: the part of the body this alert came from, to forward it unchanged
    raw: Mapping[str, Any] = field(default_factory=dict)


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadPayloadError(f"{where}: expected an object")
    return value


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _text(*parts: Mapping[str, str]) -> str:
    """``name: value`` lines: detection reads codes in values, and the names help a reader."""
    return "\n".join(f"{k}: {v}" for part in parts for k, v in part.items() if v)


# -- Alertmanager and Grafana -------------------------------------------------------------------------


def alertmanager(body: Any) -> list[Pushed]:
    return _alert_list(body, "alertmanager")


def grafana(body: Any) -> list[Pushed]:
    return _alert_list(body, "grafana")


def _alert_list(body: Any, fmt: str) -> list[Pushed]:
    """Alertmanager's webhook body and Grafana's share the ``alerts`` list (Grafana adds fields)."""
    doc = _dict(body, "body")
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        raise BadPayloadError("alerts: expected a list")
    common = _strings(doc.get("commonLabels"))
    out = []
    for i, item in enumerate(alerts):
        alert = _dict(item, f"alerts[{i}]")
        labels = {**common, **_strings(alert.get("labels"))}
        notes = _strings(alert.get("annotations"))
        if fmt == "grafana" and alert.get("valueString"):
            notes["valueString"] = str(alert["valueString"])
        ends = str(alert.get("endsAt") or _ZERO_TIME)
        firing = str(alert.get("status") or doc.get("status") or "firing").lower() != "resolved"
        starts = parse_time(str(alert.get("startsAt") or ""))
        identity = str(alert.get("fingerprint") or "") or _label_key(labels)
        out.append(
            Pushed(
                format=fmt,
                key=f"{identity}@{alert.get('startsAt') or ''}",
                firing=firing,
                text=_text(labels, notes),
                labels=labels,
                title=labels.get("alertname", ""),
                started_at=starts,
                ended_at=None if ends.startswith("0001-") else parse_time(ends),
                raw=alert,
            )
        )
    return out


def _label_key(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# -- Azure Monitor common alert schema ----------------------------------------------------------------


def azure_monitor(body: Any) -> list[Pushed]:
    doc = _dict(body, "body")
    if doc.get("schemaId") != "azureMonitorCommonAlertSchema":
        raise BadPayloadError(
            "schemaId: expected azureMonitorCommonAlertSchema (turn on the common alert schema)"
        )
    data = _dict(doc.get("data"), "data")
    essentials = _dict(data.get("essentials"), "data.essentials")
    raw_context = data.get("alertContext")
    context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
    targets = essentials.get("alertTargetIDs")
    base = {
        "alertRule": str(essentials.get("alertRule") or ""),
        "description": str(essentials.get("description") or ""),
        **_strings(data.get("customProperties")),
    }
    dims = dict(_dimensions(context))
    firing = str(essentials.get("monitorCondition") or "Fired").lower() != "resolved"
    alert_id = str(essentials.get("alertId") or essentials.get("originAlertId") or "")
    if not alert_id:
        raise BadPayloadError("data.essentials.alertId: missing")

    def one(key: str, labels: dict[str, str]) -> Pushed:
        return Pushed(
            format="azure-monitor",
            key=key,
            firing=firing,
            text=_text(base, labels),
            labels=labels,
            target=str(targets[0]) if isinstance(targets, list) and targets else "",
            title=base["alertRule"],
            started_at=parse_time(essentials.get("firedDateTime")),
            ended_at=parse_time(essentials.get("resolvedDateTime")),
            raw=doc,
        )

    rows = list(_search_rows(context))
    if not rows:
        return [one(alert_id, dims)]
    return [one(f"{alert_id}#{i}", {**dims, **row}) for i, row in enumerate(rows)]


def _dimensions(context: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``condition.allOf[].dimensions`` (metric and Log Alerts V2) and ``Dimensions`` (Log Analytics)."""
    condition = context.get("condition")
    criteria = condition.get("allOf") if isinstance(condition, dict) else None
    lists = [c.get("dimensions") for c in criteria or [] if isinstance(c, dict)]
    lists.append(context.get("Dimensions"))
    for dims in lists:
        for d in dims if isinstance(dims, list) else []:
            if isinstance(d, dict) and d.get("name"):
                yield str(d["name"]), str(d.get("value") or "")


def _search_rows(context: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    """Rows of the included search results as column -> cell (``SearchResults`` or ``SearchResult``)."""
    results = context.get("SearchResults") or context.get("SearchResult")
    tables = results.get("tables") if isinstance(results, dict) else None
    for table in tables if isinstance(tables, list) else []:
        if not isinstance(table, dict):
            continue
        columns = [str(c.get("name")) if isinstance(c, dict) else "" for c in table.get("columns") or []]
        for row in table.get("rows") or []:
            if isinstance(row, list):
                yield {c: "" if v is None else str(v) for c, v in zip(columns, row, strict=False) if c}


#: the ``{format}`` of ``/api/v1/ingest/{format}`` -> its reader
FORMATS: dict[str, Callable[[Any], list[Pushed]]] = {
    "azure-monitor": azure_monitor,
    "alertmanager": alertmanager,
    "grafana": grafana,
}


@dataclass(frozen=True)
class Batch:
    """One request as received: the body's bytes, the parsed document and the alerts read from it."""

    format: str
    body: bytes
    doc: Any
    alerts: Sequence[Pushed]


def search_link(doc: Any) -> str:
    """The results link of an Azure Monitor log search alert without included results, else ''.

    The filtered link (only the rows of this alert's dimension values) comes first; ``Log Alerts
    V2`` puts the links on each ``condition.allOf`` entry, the older Log Analytics form on the
    context itself.
    """
    context = doc.get("data", {}).get("alertContext") if isinstance(doc, dict) else None
    if not isinstance(context, dict) or any(True for _ in _search_rows(context)):
        return ""
    condition = context.get("condition")
    criteria = condition.get("allOf") if isinstance(condition, dict) else None
    holders = [c for c in criteria or [] if isinstance(c, dict)] + [context]
    names = (
        "linkToFilteredSearchResultsAPI",
        "linkToSearchResultsAPI",
        "LinkToFilteredSearchResultsAPI",
        "LinkToSearchResultsAPI",
    )
    for name in names:
        for holder in holders:
            if isinstance(holder.get(name), str) and holder[name].startswith("http"):
                return str(holder[name])
    return ""


def with_results(doc: dict[str, Any], results: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an Azure Monitor body with ``results`` as its included ``SearchResults``."""
    data = dict(doc["data"])
    data["alertContext"] = {**data["alertContext"], "SearchResults": dict(results)}
    return {**doc, "data": data}


def others_body(batch: Batch, others: Sequence[Pushed]) -> bytes | None:
    """What to forward for the alerts of ``batch`` we did not enrich: the body as it came when
    none was ours; for a list format the envelope with only ``others``; None when nothing is left
    (an Azure Monitor alert with one row of ours is ours)."""
    if not others:
        return None
    if len(others) == len(batch.alerts):
        return batch.body
    if batch.format in ("alertmanager", "grafana"):
        kept = {**batch.doc, "alerts": [dict(p.raw) for p in others]}
        return json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return None
