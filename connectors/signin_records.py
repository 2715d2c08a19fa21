"""A Graph ``signIn`` record as a typed value: only the fields that name a failure's cause.

Graph's shape varies with what the caller may read (no ``appliedConditionalAccessPolicies``
without a policy permission, ``hidden`` risk fields without P2, empty device details for a
service principal), so every field is read leniently: absent or odd values become empty ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.timefmt import parse_time


@dataclass(frozen=True, slots=True)
class AppliedPolicy:
    id: str
    name: str
    result: str  # failure, success, notApplied, ... (reportOnly* only with a Prefer header)
    grant_controls: tuple[str, ...] = ()
    session_controls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Device:
    os: str = ""
    browser: str = ""
    compliant: bool | None = None
    managed: bool | None = None
    trust_type: str = ""


@dataclass(frozen=True, slots=True)
class SignIn:
    id: str
    event_type: str
    created: datetime | None
    correlation_id: str
    code: int
    reason: str
    details: str
    ca_status: str
    policies: tuple[AppliedPolicy, ...]
    policies_read: bool  # False: Graph omitted the policies (no Policy.Read.All)
    ip: str
    city: str
    country: str
    device: Device
    client_app: str
    app_id: str
    app_name: str
    principal: str  # the user's UPN or the service principal's name
    resource: str

    @property
    def blocking(self) -> tuple[AppliedPolicy, ...]:
        """The policies that failed the sign-in (what an admin has to look at)."""
        return tuple(p for p in self.policies if p.result == "failure")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _policy(raw: dict[str, Any]) -> AppliedPolicy:
    return AppliedPolicy(
        _text(raw.get("id")),
        _text(raw.get("displayName")),
        _text(raw.get("result")),
        _strings(raw.get("enforcedGrantControls")),
        _strings(raw.get("enforcedSessionControls")),
    )


def signin_of(record: dict[str, Any], event_type: str) -> SignIn:
    """``event_type`` is the log the record was found in (v1.0 records do not say)."""
    status, where, device = (
        _dict(record.get("status")),
        _dict(record.get("location")),
        _dict(record.get("deviceDetail")),
    )
    raw_policies = record.get("appliedConditionalAccessPolicies")
    code = status.get("errorCode")
    return SignIn(
        id=_text(record.get("id")),
        event_type=event_type,
        created=parse_time(record.get("createdDateTime")),
        correlation_id=_text(record.get("correlationId")),
        code=code if isinstance(code, int) and not isinstance(code, bool) else 0,
        reason=_text(status.get("failureReason")),
        details=_text(status.get("additionalDetails")),
        ca_status=_text(record.get("conditionalAccessStatus")),
        policies=tuple(_policy(p) for p in raw_policies if isinstance(p, dict))
        if isinstance(raw_policies, list)
        else (),
        policies_read=isinstance(raw_policies, list),
        ip=_text(record.get("ipAddress")),
        city=_text(where.get("city")),
        country=_text(where.get("countryOrRegion")),
        device=Device(
            _text(device.get("operatingSystem")),
            _text(device.get("browser")),
            _flag(device.get("isCompliant")),
            _flag(device.get("isManaged")),
            _text(device.get("trustType")),
        ),
        client_app=_text(record.get("clientAppUsed")),
        app_id=_text(record.get("appId")),
        app_name=_text(record.get("appDisplayName")),
        principal=_text(record.get("userPrincipalName"))
        or _text(record.get("servicePrincipalName"))
        or _text(record.get("appDisplayName")),
        resource=_text(record.get("resourceDisplayName")),
    )
