"""The Entra sign-in log behind Graph ``auditLogs/signIns`` (reference section 6).

Three sources, all in the tenant's log:

* every failed run whose failure has an AADSTS code gives one sign-in with the SAME
  correlation id and instant as the ``Correlation ID:``/``Timestamp:`` in the run's message
  (also for failures whose text hides the code, such as dataflows or a generic Fabric error,
  so the log is where the daemon finds the cause);
* background noise: successes and a few ordinary failures (``signins:`` in the scenario);
* real token-endpoint failures of this simulator's apps (so the daemon's own broken
  credentials show up as service-principal sign-ins).

User-credential codes are ``interactiveUser`` sign-ins (as in the samples, visible on v1.0),
except the codes a refresh-token redemption fails with (``_NON_INTERACTIVE``): those are
``nonInteractiveUser``. App-credential codes are ``servicePrincipal`` sign-ins, or
``managedIdentity`` when the failure's principal is a managed-identity app of the tenant. Only
beta returns the last three, with ``signInEventTypes/any(t: t eq '<type>')``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.simulator import aadsts, messages
from connectors.simulator.ids import mix64, stable_int, stable_uuid
from connectors.simulator.model import Job
from connectors.simulator.runs import iter_failed
from connectors.simulator.state import State
from connectors.simulator.world import Tenant

POWER_BI_APP = ("871c010f-5e61-4fb1-83ac-98610a7e9110", "Microsoft Power BI")
RETENTION = 30 * 86_400
# source -> (resource id used in texts, resource id, resource display name)
_RESOURCES = {
    "powerbi": ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    "dataflow": ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    "fabric": ("e406a681-f3d4-42a8-90b6-c2b029497af1", "Azure Storage"),
    "adf": ("022907d3-0f1b-48f7-badc-1ba6abab6d66", "Azure SQL Database"),
    "synapse": ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
}
_TEXT_RESOURCE = {
    "powerbi": "00000003-0000-0ff1-ce00-000000000000",
    "dataflow": "00000003-0000-0ff1-ce00-000000000000",
    "fabric": "https://storage.azure.com",
    "adf": "https://database.windows.net/",
    "synapse": "https://graph.microsoft.com",
}
#: codes of a refresh token that can no longer be redeemed: the job's stored credential signs in
#: without a person present, so Entra logs a non-interactive user sign-in
_NON_INTERACTIVE = frozenset({700082, 70008, 50173, 70043, 700084})
_NOISE_USERS = ("anna.berg", "li.wei", "omar.haddad", "sofia.rossi", "jan.devries")
_NOISE_APPS = (
    POWER_BI_APP,
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
)


@dataclass(frozen=True, slots=True)
class Event:
    when: datetime
    correlation_id: str
    code: int  # 0: success
    event_type: str  # interactiveUser | servicePrincipal
    user: str  # UPN; "" for a service principal
    app_id: str
    app_name: str
    resource_id: str
    resource_name: str
    values: tuple[tuple[str, str], ...]  # placeholders for the failure text
    report_only: bool = False  # a report-only CA policy evaluated this sign-in


def failing_jobs(tenant: Tenant) -> Iterator[tuple[str, Job, str]]:
    """(source, job, item name) for everything in the tenant that has failure windows."""
    for ds in tenant.powerbi.failing_datasets():
        if ds.job is not None:
            yield "powerbi", ds.job, ds.name
    for flow in tenant.powerbi.dataflows():
        if flow.job is not None and flow.job.failures:
            yield "dataflow", flow.job, flow.name
    for items in tenant.fabric_items.values():
        for item in items:
            if item.job is not None and item.job.failures:
                yield "fabric", item.job, item.name
    for pipeline in tenant.pipelines():
        if pipeline.job is not None and pipeline.job.failures:
            source = "synapse" if pipeline.container.startswith("synapse:") else "adf"
            yield source, pipeline.job, pipeline.name


def events(state: State, tenant: Tenant, since: float, until: float, now: float) -> list[Event]:
    until = min(until, now)
    found = list(_run_failures(state, tenant, since, until, now))
    found += _noise(state.seed, tenant, since, until)
    for failure in state.token_failures(tenant.id):
        when = failure.when.timestamp()
        if since <= when <= until:
            found.append(
                Event(
                    failure.when,
                    failure.correlation_id,
                    failure.code,
                    _event_type(tenant, failure.code, failure.client_id),
                    "",
                    failure.client_id,
                    failure.app_name,
                    *_resource_of(failure.resource),
                    values=(
                        ("app", failure.client_id),
                        ("domain", tenant.domain),
                        ("name", failure.app_name),
                    ),
                )
            )
    return found


def _event_type(tenant: Tenant, code: int, app_id: str) -> str:
    """Which sign-in log a failure lands in (``app_id`` empty: a user's credential failed)."""
    if app_id:
        app = tenant.apps.get(app_id.lower())
        return "managedIdentity" if app is not None and app.managed_identity else "servicePrincipal"
    return "nonInteractiveUser" if code in _NON_INTERACTIVE else "interactiveUser"


def _resource_of(resource: str) -> tuple[str, str]:
    known = {
        "https://analysis.windows.net/powerbi/api": (
            "00000009-0000-0000-c000-000000000000",
            "Power BI Service",
        ),
        "https://graph.microsoft.com": ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
        "https://management.azure.com": (
            "797f4846-ba00-4fd7-ba43-dac1f8f63013",
            "Windows Azure Service Management API",
        ),
    }
    return known.get(resource.rstrip("/").lower(), (stable_uuid("resource", resource), resource))


def _run_failures(state: State, tenant: Tenant, since: float, until: float, now: float) -> Iterator[Event]:
    for source, job, name in failing_jobs(tenant):
        for run in iter_failed(job, since, until, now):
            failure = messages.failure_of(run, state.seed, tenant.domain, name, _TEXT_RESOURCE[source])
            if failure is None or failure.code is None:
                continue
            resource_id, resource_name = _RESOURCES[source]
            app_code = aadsts.lookup(failure.code).principal == "app"
            if app_code:
                app_id, app_name, user = failure.principal, f"{name} connection", ""
            elif source in {"powerbi", "dataflow", "fabric"}:
                (app_id, app_name), user = POWER_BI_APP, failure.principal
            else:
                app_id, app_name = (
                    stable_uuid(state.seed, "first-party", source),
                    f"Azure {source.upper()} connector",
                )
                user = failure.principal
            yield Event(
                failure.when,
                failure.correlation_id,
                failure.code,
                _event_type(tenant, failure.code, app_id if app_code else ""),
                user,
                app_id,
                app_name,
                resource_id,
                resource_name,
                tuple(failure.values.items()),
            )


def _noise(seed: int, tenant: Tenant, since: float, until: float) -> list[Event]:
    out: list[Event] = []
    spec = tenant.noise
    for rate, codes in ((spec.successes_per_hour, [0]), (spec.failures_per_hour, spec.failure_codes or [0])):
        if rate <= 0:
            continue
        period = 3600 / rate
        salt = stable_int(seed, tenant.id, "noise", rate)
        # a slot's sign-in lands up to half a period after the slot starts: start one slot early
        for k in range(math.ceil(since / period) - 1, math.floor(until / period) + 1):
            h = mix64(salt ^ k)
            when = k * period + (h % 1000) / 1000 * period * 0.5
            if not since <= when <= until:
                continue
            app_id, app_name = _NOISE_APPS[(h >> 10) % len(_NOISE_APPS)]
            user = f"{_NOISE_USERS[(h >> 20) % len(_NOISE_USERS)]}@{tenant.domain}"
            out.append(
                Event(
                    datetime.fromtimestamp(when, UTC),
                    stable_uuid(salt, k, "correlation"),
                    codes[k % len(codes)],
                    "interactiveUser",
                    user,
                    app_id,
                    app_name,
                    "00000003-0000-0000-c000-000000000000",
                    "Microsoft Graph",
                    (("domain", tenant.domain), ("resource", "00000003-0000-0000-c000-000000000000")),
                    report_only=(h >> 30) % 4 == 0,
                )
            )
    return out
