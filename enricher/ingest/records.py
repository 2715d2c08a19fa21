"""A pushed alert as a run record, keyed like a polled one. Pure: receives ``now``.

The same failure seen by polling and by push must be one incident, so a pushed alert gets the
tenant, source, container and item ids the connector would give the same run: an ADF factory is
``subscription/resource group/factory`` in lower case and the pipeline its name (connectors/adf.py),
a Synapse workspace its lower-case name. These come from the ARM id the alert targets (or a
``ResourceId`` / ``_ResourceId`` column or dimension) and the ``PipelineName`` dimension or column;
a run id from the search results (``RunId``) even makes the pushed and the polled run one seen
run. Alertmanager and Grafana alerts name things with labels: ``tenant``, ``source``, ``factory``
or ``workspace``, ``pipeline`` or ``item``, and ``container_id`` / ``item_id`` when the sender
knows our ids (a Power BI workspace and dataset GUID), which makes them one incident with polling. What names none of our sources is source ``pushed``,
its container the format and its item the alert (rule) name. A firing alert is a failed run; a
resolved one a succeeded run of the same item, which resolves its incident as a success would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from connectors.records import RunRecord, RunStatus, Source
from enricher import config as cfg
from enricher.ingest.formats import PIPELINE_NAMES, RUN_COLUMNS, Pushed

_ARM = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/"
    r"(?P<provider>microsoft\.datafactory/factories|microsoft\.synapse/workspaces)/(?P<name>[^/]+)",
    re.IGNORECASE,
)
_RESOURCE_KEYS = ("ResourceId", "_ResourceId", "resourceId", "resource_id")


@dataclass(frozen=True)
class Places:
    """Which configured tenant an alert belongs to."""

    default: str
    tenants: frozenset[str]
    by_subscription: Mapping[str, str]
    by_workspace: Mapping[str, str]

    @classmethod
    def of(cls, config: cfg.Config) -> Places:
        subs: dict[str, str] = {}
        workspaces: dict[str, str] = {}
        for t in config.tenants:
            for s in t.sources:
                if isinstance(s, cfg.ADFSource):
                    ids = [*s.subscriptions, *(f.subscription_id for f in s.factories)]
                    subs.update({i.lower(): t.name for i in ids})
                elif isinstance(s, cfg.SynapseSource):
                    workspaces.update({w.name.lower(): t.name for w in s.workspaces})
        default = config.ingest.tenant or config.tenants[0].name
        return cls(default, frozenset(t.name for t in config.tenants), subs, workspaces)


def record_of(p: Pushed, places: Places, now: datetime) -> RunRecord:
    labels = p.labels
    arm = _arm_of(p)
    pipeline = next((labels[k] for k in PIPELINE_NAMES if labels.get(k)), "")
    run_id = next((labels[k] for k in RUN_COLUMNS if labels.get(k)), "") or f"push:{p.key}"
    status = RunStatus.FAILED if p.firing else RunStatus.SUCCEEDED
    extra = {"pushed": p.format}
    if arm is not None and pipeline:
        sub, rg, provider, name = arm.group("sub", "rg", "provider", "name")
        synapse = provider.lower().startswith("microsoft.synapse")
        source = Source.SYNAPSE if synapse else Source.ADF
        container_id = name.lower() if synapse else f"{sub}/{rg}/{name}".lower()
        tenant = places.by_workspace.get(name.lower()) if synapse else places.by_subscription.get(sub.lower())
        extra |= {"subscription_id": sub, "resource_group": rg}
        container, item, item_type = name, pipeline, "pipeline"
    else:
        source = _source_label(labels.get("source", ""))
        container = labels.get("factory") or labels.get("workspace") or labels.get("container") or ""
        item = pipeline or labels.get("item") or labels.get("dataset") or p.title or "alert"
        container_id = labels.get("container_id") or (container.lower() if container else p.format)
        container = container or p.format
        item = labels.get("item_id") or item
        tenant = None
        item_type = "pipeline" if pipeline else "alert"
    tenant = labels.get("tenant") if labels.get("tenant") in places.tenants else tenant
    happened = (p.started_at if p.firing else p.ended_at) or now
    return RunRecord(
        source=source,
        tenant=tenant or places.default,
        container_id=container_id,
        container_name=container,
        item_id=item,
        item_name=labels.get("item") or labels.get("dataset") or pipeline or item,
        item_type=item_type,
        run_id=run_id,
        status=status,
        raw_status="firing" if p.firing else "resolved",
        started_at=p.started_at,
        ended_at=happened,
        error_text=p.text if p.firing else "",
        extra=extra,
    )


def _arm_of(p: Pushed) -> re.Match[str] | None:
    for value in (p.target, *(p.labels.get(k, "") for k in _RESOURCE_KEYS)):
        found = _ARM.search(value or "")
        if found:
            return found
    return None


def _source_label(value: str) -> Source:
    try:
        source = Source(value.lower())
    except ValueError:
        return Source.PUSHED
    return Source.PUSHED if source is Source.SELF else source
