"""Credential expiry forecast: which app secrets and certificates run out soon, as notifications.

Pure: it receives the credentials Graph listed, the items known to sign in with each app, what was
already said about each credential (``said``: key id -> the window last warned about, 0 for
"resolved") and ``now``, and returns the notifications due plus the new ``said``. Warning once per
window (30, 14, 7, 1 days by default) keeps a credential from paging every cycle while still
getting louder as the date nears. A credential stops being a problem the moment the same app holds
a newer one that outlives it: that is what a rotation looks like from Graph, so it resolves then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from enricher.models import FixStep
from enricher.notification import CredentialRef, ItemRef, Notification

DEFAULT_WINDOWS = (30, 14, 7, 1)
#: the failure each credential type turns into once it has expired
CODES = {"secret": "7000222", "certificate": "700027"}


class Held(Protocol):
    """One credential as Graph lists it (``connectors.graph.Credential`` fits)."""

    @property
    def key_id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def type(self) -> Literal["secret", "certificate"]: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def starts_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class AppView:
    app_id: str
    app_name: str
    credentials: Sequence[Held]


@dataclass(frozen=True, slots=True)
class Expiring:
    """One credential not yet rotated, for the dashboard's "expiring" panel."""

    tenant: str
    app_id: str
    app_name: str
    key_id: str
    display_name: str
    type: str
    expires_at: datetime
    items: int

    def to_json(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "key_id": self.key_id,
            "display_name": self.display_name,
            "type": self.type,
            "expires_at": self.expires_at.isoformat(),
            "items": self.items,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Expiring:
        return cls(
            **{k: v for k, v in data.items() if k != "expires_at"},  # type: ignore[arg-type]
            expires_at=datetime.fromisoformat(str(data["expires_at"])),
        )


def unrotated(
    tenant: str, apps: Sequence[AppView], items: Mapping[str, Sequence[ItemRef]], now: datetime
) -> list[Expiring]:
    """Credentials still valid and without a successor: what someone still has to rotate."""
    return [
        Expiring(
            tenant,
            a.app_id,
            a.app_name,
            c.key_id,
            c.display_name,
            c.type,
            c.expires_at,
            len(items.get(a.app_id.lower(), ())),
        )
        for a in apps
        for c in a.credentials
        if c.expires_at > now and successor(c, a.credentials) is None
    ]


def severity_for(window: int) -> str:
    """Louder as the date nears: a day left is critical, a week high, two weeks medium."""
    if window <= 1:
        return "critical"
    if window <= 7:
        return "high"
    return "medium" if window <= 14 else "low"


def window_of(left: timedelta, windows: Sequence[int]) -> int | None:
    """The smallest warning window (in days) that ``left`` falls in; None when outside all."""
    inside = [w for w in windows if left <= timedelta(days=w)]
    return min(inside) if inside else None


def successor(cred: Held, others: Sequence[Held]) -> Held | None:
    """A credential of the same app that outlives ``cred`` (the rotation already happened)."""
    later = [
        o
        for o in others
        if o.key_id != cred.key_id
        and o.expires_at > cred.expires_at
        and (o.starts_at is None or cred.starts_at is None or o.starts_at >= cred.starts_at)
    ]
    return max(later, key=lambda o: o.expires_at) if later else None


def forecast(
    tenant: str,
    apps: Sequence[AppView],
    items: Mapping[str, Sequence[ItemRef]],
    said: Mapping[str, int],
    now: datetime,
    windows: Sequence[int] = DEFAULT_WINDOWS,
) -> tuple[list[Notification], dict[str, int]]:
    """Notifications due now for the credentials of ``apps``, and what has now been said."""
    out: list[Notification] = []
    state = dict(said)
    for app in apps:
        for cred in app.credentials:
            left = cred.expires_at - now
            if left <= timedelta(0):
                continue  # expired: the failures it causes are incidents of their own
            newer = successor(cred, app.credentials)
            before = state.get(cred.key_id)
            if newer is not None:
                if before:  # warned before, now rotated
                    out.append(_notice(tenant, app, cred, items, now, left, before, newer))
                    state[cred.key_id] = 0
                continue
            window = window_of(left, windows)
            if window is not None and (not before or window < before):
                out.append(_notice(tenant, app, cred, items, now, left, window, None))
                state[cred.key_id] = window
    return out, state


def days_left(left: timedelta) -> int:
    return max(0, left.days)


def rotation_steps(app: AppView, cred: Held, deps: Sequence[ItemRef]) -> tuple[FixStep, ...]:
    """Rotate without downtime: both credentials are valid while consumers move over."""
    what = "client secret" if cred.type == "secret" else "certificate"
    add = (
        f"az ad app credential reset --id {app.app_id} --append --display-name rotated-{cred.display_name or 'secret'}"
        if cred.type == "secret"
        else f"az ad app credential reset --id {app.app_id} --append --cert @new-cert.pem"
    )
    where = f" ({len(deps)} known: {', '.join(d.item_name for d in deps[:5])})" if deps else ""
    return (
        FixStep(
            f"Add a new {what} to app '{app.app_name}' next to the old one; do not delete anything yet.", add
        ),
        FixStep(
            f"Put the new {what} everywhere this app signs in{where}: linked services, connections, key vault secrets, gateway data sources."
        ),
        FixStep("Run or wait for one run of each consumer and check it succeeds with the new value."),
        FixStep(
            f"Only then remove the old {what} (key id {cred.key_id}).",
            f"az ad app credential delete --id {app.app_id} --key-id {cred.key_id}",
        ),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _notice(
    tenant: str,
    app: AppView,
    cred: Held,
    items: Mapping[str, Sequence[ItemRef]],
    now: datetime,
    left: timedelta,
    window: int,
    newer: Held | None,
) -> Notification:
    what = "client secret" if cred.type == "secret" else "certificate"
    label = f"{what} '{cred.display_name or cred.key_id}' of app '{app.app_name}'"
    deps = tuple(items.get(app.app_id.lower(), ()))
    days = days_left(left)
    when = f"{cred.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if newer is None:
        title = f"The {label} expires in {days} day{'s' if days != 1 else ''} ({when})"
        summary = (
            f"After {when} every sign-in with this {what} fails with AADSTS{CODES[cred.type]}; "
            f"{len(deps) or 'no'} known item{'s' if len(deps) != 1 else ''} sign in with this app."
        )
    else:
        title = f"Rotated: the {label} has a successor"
        summary = (
            f"'{newer.display_name or newer.key_id}' (key id {newer.key_id}) is valid until "
            f"{_iso(newer.expires_at)}, later than the old one ({when}); remove the old {what} once "
            "nothing uses it."
        )
    severity = severity_for(window)
    labels = {
        "severity": severity,
        "category": "credentials",
        "code": CODES[cred.type],
        "source": "graph",
        "tenant": tenant,
        "workspace": "",
        "item": app.app_name,
    }
    incident = f"credential:{tenant}:{app.app_id}:{cred.key_id}"
    return Notification(
        id=f"{incident}:{'resolved' if newer else window}",
        incident_id=incident,
        kind="resolved" if newer else "credential_expiry",
        severity=severity,
        code=CODES[cred.type],
        title=title,
        short=f"{what} expires {when}",
        summary=summary,
        cause=f"The {what} reaches its endDateTime in Microsoft Entra ID; nothing renews it by itself.",
        fixes=() if newer else rotation_steps(app, cred, deps),
        source="graph",
        tenant=tenant,
        items=deps or (ItemRef("graph", tenant, app.app_name, "AppRegistration", app.app_id),),
        first_seen=now,
        last_seen=now,
        count=1,
        created_at=now,
        category="credentials",
        name="CredentialExpiry",
        labels=labels,
        app_id=app.app_id,
        app_name=app.app_name,
        credential=CredentialRef(cred.key_id, cred.display_name, cred.type, _iso(cred.expires_at)),
        days_left=days,
    )
