"""Turn a failed run and what detection found in it into an :class:`Alert`. Pure.

Severity starts from the knowledge-base entry and is then adjusted by context: a scheduled
refresh or a trigger-started pipeline has nobody to answer an MFA prompt, a consent screen or a
Conditional Access challenge, so codes that need a user (50076, 50079, ...) and the Conditional
Access family (53003, 53000, ...) are at least ``high`` on unattended runs, and a failure of the
daemon's own sign-in (source ``self``) is at least ``high`` because it blinds every other check.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.records import RunRecord, Source
from enricher.core.commands import family_of, item_commands, whole_command
from enricher.core.kb_schema import SEVERITIES, ContextName, Entry, Fix
from enricher.core.knowledge import KnowledgeBase, fix_steps
from enricher.core.placeholders import fill_command, fill_step
from enricher.models import Alert, Detection, FixStep, Link

_RANK = {name: i for i, name in enumerate(SEVERITIES)}  # critical=0 ... info=4

_SOURCE_CONTEXT: dict[Source, ContextName] = {
    Source.POWERBI: "powerbi",
    Source.POWERBI_DATAFLOW: "powerbi",
    Source.FABRIC: "fabric",
    Source.ADF: "adf",
    Source.SYNAPSE: "synapse",
}
_ELEVATED_CATEGORIES = frozenset({"conditional_access", "mfa_strong_auth"})


@dataclass(frozen=True)
class Portals:
    """Portal hosts for links; sovereign clouds use other hosts."""

    login: str = "https://login.microsoftonline.com"
    entra: str = "https://entra.microsoft.com"
    powerbi: str = "https://app.powerbi.com"
    fabric: str = "https://app.fabric.microsoft.com"
    adf: str = "https://adf.azure.com"
    synapse: str = "https://web.azuresynapse.net"


PUBLIC_PORTALS = Portals()


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def entry_item(code: str, kb: KnowledgeBase) -> dict[str, Any]:
    """What ``enrich --json``/``--jsonl`` list under ``entries`` for a code."""
    entry, known = entry_for(code, kb)
    return {"code": code, "name": entry.name, "title": entry.title, "severity": entry.severity,
            "category": entry.category, "known": known}  # fmt: skip


def entry_for(code: str, kb: KnowledgeBase, oauth_error: str | None = None) -> tuple[Entry, bool]:
    """The knowledge-base entry for ``code``, or generic guidance built from what is known."""
    entry = kb.get(code)
    if entry is not None:
        return entry, True
    guidance = kb.meta.oauth_errors.get(oauth_error or "")
    title = guidance.title if guidance else "Sign-in error not in our knowledge base"
    cause = (
        guidance.cause
        if guidance
        else "Entra ID refused the sign-in with a code this version does not describe."
    )
    fixes = [
        "Open the official description of the code (link below) and compare it with the failing connection.",
        "Look up the sign-in log entry by its correlation ID to see the account, app and policy involved.",
    ]
    if guidance:
        fixes.insert(0, guidance.fix)
    generic = Entry(
        code=code,
        name="",
        title=title,
        summary=f"{cause} The knowledge base has no entry for AADSTS{code}; the guidance below is generic.",
        category="other",
        severity="medium",
        severity_reason="Unknown code: treated as medium until someone looks at it.",
        transient=False,
        needs_user=False,
        source="observed",
        causes=(cause,),
        fixes=tuple(Fix(step=step) for step in fixes),
        contexts={},
        related=(),
        docs=(f"https://login.microsoftonline.com/error?code={code}",),
        signatures=(),
        seen_in=(),
    )
    return generic, False


def adjusted_severity(entry: Entry, run: RunRecord) -> str:
    severity = entry.severity
    elevate = run.source is Source.SELF or (
        run.unattended and (entry.needs_user or entry.category in _ELEVATED_CATEGORIES)
    )
    if elevate and _RANK[severity] > _RANK["high"]:
        severity = "high"
    # a scheduled refresh failed and the schedule is now off: Power BI gave up on the dataset, and
    # nothing refreshes it until someone fixes the sign-in and turns the schedule back on
    if (
        run.source is Source.POWERBI
        and run.extra.get("schedule_enabled") == "false"
        and run.extra.get("refresh_type", "").lower() == "scheduled"
    ):
        return "critical"
    return severity


def detection_values(detection: Detection) -> dict[str, str]:
    """Placeholder values an error text alone gives (what ``enrich`` knows without a run)."""
    primary = detection.primary_finding
    values = {
        "code": detection.primary or "",
        "client_id": (primary and primary.client_id) or detection.first("client_id") or "",
        "correlation_id": (primary and primary.correlation_id) or detection.first("correlation_id") or "",
        "trace_id": (primary and primary.trace_id) or detection.first("trace_id") or "",
        "timestamp": (primary and primary.timestamp) or detection.first("timestamp") or "",
    }
    return {k: v for k, v in values.items() if v}


def placeholder_values(run: RunRecord, detection: Detection) -> dict[str, str]:
    found = detection_values(detection)
    values = {
        "tenant_id": run.extra.get("tenant_id", ""),
        "client_id": found.get("client_id") or run.extra.get("client_id", ""),
        "item_id": run.item_id,
        "item_name": run.item_name,
        "item_type": run.item_type,
        "run_id": run.run_id,
        "subscription_id": run.extra.get("subscription_id", ""),
        "resource_group": run.extra.get("resource_group", ""),
        "activity_name": run.extra.get("activity_name", ""),
        "linked_service": run.extra.get("linked_service", ""),
        "job_type": run.extra.get("job_type", ""),
    }
    values = {**found, **{k: v for k, v in values.items() if v}}
    if run.source is Source.ADF:
        values["factory_name"] = run.container_name
    else:
        values["workspace_id"] = run.container_id
        values["workspace_name"] = run.container_name
    values = {k: v for k, v in values.items() if v}
    # commands that differ by item type: this item's variant, its own placeholders filled
    values.update({name: fill_command(t, values) for name, t in item_commands(family_of(run)).items()})
    return values


def filled_fixes(
    entry: Entry, values: Mapping[str, str], kb: KnowledgeBase | None = None
) -> tuple[FixStep, ...]:
    """The entry's fix steps with placeholders filled; steps without any are shared as they are."""
    steps = kb.fix_steps.get(entry.code) if kb is not None and kb.get(entry.code) is entry else None
    return tuple(
        FixStep(fill_step(step.step, values), _command(step.command, values)) if templated else step
        for step, templated in (steps or fix_steps(entry))
    )


def _command(template: str | None, values: Mapping[str, str]) -> str | None:
    """The filled command; None when it is an item-type command this item has no variant of."""
    if template is None:
        return None
    whole = whole_command(template)
    if whole is not None and whole not in values:
        return None
    return fill_command(template, values)


def context_for(run: RunRecord) -> ContextName | None:
    if run.source is Source.POWERBI and run.extra.get("gateway") == "true":
        return "gateway"
    return _SOURCE_CONTEXT.get(run.source)


def enrich(
    run: RunRecord,
    detection: Detection,
    kb: KnowledgeBase,
    *,
    context: ContextName | None = None,
    portals: Portals = PUBLIC_PORTALS,
) -> Alert | None:
    """The alert for ``run``, or None when detection found no code at all."""
    code = detection.primary
    if code is None:
        return None
    entry, known = entry_for(code, kb, detection.first("error"))
    values = placeholder_values(run, detection)
    ctx = context or context_for(run)
    inferred = not detection.findings
    return Alert(
        fingerprint=fingerprint(run.tenant, run.source, run.container_id, run.item_id, code),
        code=code,
        codes=detection.codes or tuple(i.code for i in detection.inferred),
        known=known,
        name=entry.name,
        title=f"AADSTS{code}{' (inferred)' if inferred else ''}: {entry.title} - {run.item_name}",
        short=entry.title,
        severity=adjusted_severity(entry, run),
        severity_reason=entry.severity_reason,
        category=entry.category,
        summary=entry.summary,
        causes=entry.causes,
        fixes=filled_fixes(entry, values, kb),
        context_note=entry.contexts.get(ctx) if ctx else None,
        links=links(run, code, portals),
        transient=entry.transient,
        needs_user=entry.needs_user,
        inferred=inferred,
        run=run,
        detection=detection,
        correlation_id=values.get("correlation_id"),
        trace_id=values.get("trace_id"),
        timestamp=values.get("timestamp"),
    )


_SAFE_ID = re.compile(r"^[\w.-]{1,200}$")


def links(run: RunRecord, code: str, portals: Portals = PUBLIC_PORTALS) -> tuple[Link, ...]:
    found = [Link(f"AADSTS{code} explained", f"{portals.login}/error?code={code}")]
    signins = f"{portals.entra}/#view/Microsoft_AAD_IAM/ActiveDirectoryMenuBlade/~/SignIns"
    found.append(Link("Entra sign-in logs", signins))
    item = _item_link(run, portals)
    if item:
        found.append(item)
    return tuple(found)


#: Fabric item types with a page of their own (the path segment after ``/groups/{workspace}/``);
#: other types link to the Monitoring hub, where the runs of every item are listed.
_FABRIC_PAGES = {
    "datapipeline": "datapipelines",
    "notebook": "synapsenotebooks",
    "sparkjobdefinition": "sparkjobdefinitions",
}


def _item_link(run: RunRecord, portals: Portals) -> Link | None:
    """The portal page of the failed item or run, from the ids our connectors record.

    Power BI and Fabric key items by workspace and item GUIDs. Data Factory and Synapse record
    ``subscription_id`` and ``resource_group`` in ``extra`` and the factory or workspace name as
    the container name (their container id is ``sub/rg/name``), from which the studio's run page
    is addressed by the resource id and the run id."""
    ws, item = run.container_id, run.item_id
    if run.source in (Source.POWERBI, Source.POWERBI_DATAFLOW, Source.FABRIC):
        if not (_SAFE_ID.match(ws or "") and _SAFE_ID.match(item or "")):
            return None
        if run.source is Source.POWERBI:
            return Link(
                "Dataset settings in Power BI", f"{portals.powerbi}/groups/{ws}/settings/datasets/{item}"
            )
        if run.source is Source.POWERBI_DATAFLOW:
            return Link("Dataflow in Power BI", f"{portals.powerbi}/groups/{ws}/dataflows/{item}")
        page = _FABRIC_PAGES.get(run.item_type.lower())
        if page:
            return Link(f"{run.item_type} in Fabric", f"{portals.fabric}/groups/{ws}/{page}/{item}")
        return Link("Monitoring hub in Fabric", f"{portals.fabric}/monitoringhub?experience=fabric-developer")
    sub, rg = run.extra.get("subscription_id", ""), run.extra.get("resource_group", "")
    name = run.container_name
    if not all(_SAFE_ID.match(v or "") for v in (sub, rg, name, run.run_id)):
        return None
    if run.source is Source.ADF:
        factory = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DataFactory/factories/{name}"
        return Link(
            "Pipeline run in Data Factory",
            f"{portals.adf}/en/monitoring/pipelineruns/{run.run_id}?factory={factory}",
        )
    if run.source is Source.SYNAPSE:
        ws_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Synapse/workspaces/{name}"
        return Link(
            "Pipeline run in Synapse Studio",
            f"{portals.synapse}/en/monitoring/pipelineruns/{run.run_id}?workspace={ws_id}",
        )
    return None
