"""The credential expiry watch: ask Graph for end dates, run the forecast, queue what it says.

Which apps: the daemon's own, every client id a failure printed (kept per tenant with the items
that failed under it, which are the items a rotation must update), and the service principals the
tenant's ADF linked services sign in as (``principals``, read at each check; the linked service is
listed as an item that depends on the app, so an app is watched before its first failure). State lives in the store's cursor
table under ``credentials:<tenant>`` (when Graph was last asked, what was said about each
credential, whether the missing permission was reported) and ``clients:<tenant>`` (client id ->
items), so a restart neither repeats warnings nor forgets dependents.

Without ``Application.Read.All`` Graph answers 403: that is said once per tenant, as a source
problem of source ``self``, and the watch stays quiet until the permission appears (checked at the
normal interval), never one error per incident.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from connectors.errors import ConnectorError
from connectors.graph import AppCredentials, GraphClient, MissingPermissionError
from connectors.records import RunRecord, RunStatus
from enricher.core.credential_facts import CODES as CREDENTIAL_CODES
from enricher.core.credential_facts import facts_for, with_expired_key
from enricher.core.detect import detect
from enricher.core.forecast import AppView, Expiring, forecast, unrotated
from enricher.core.incidents import Book, Incident
from enricher.core.knowledge import KnowledgeBase
from enricher.metrics import LabelKey, Metrics
from enricher.models import Alert, Detection
from enricher.notification import ItemRef, Notification, permission_notice
from enricher.store import Store

log = logging.getLogger("aadsts_enricher.expiry")
#: items remembered per client id (the newest ones); a rotation checklist, not an inventory
MAX_ITEMS = 50
METRIC = "aadsts_enricher_credential_expiry_timestamp_seconds"
EXPIRING = "expiring:credentials"  # not a tenant name: those match [A-Za-z0-9_.-]
#: an app looked up for a credential failure is not asked again for this long (nor after a 403)
FRESH = timedelta(minutes=10)


@dataclass(frozen=True)
class CredentialWatch:
    tenant: str
    graph: GraphClient
    own_client_id: str | None
    windows: tuple[int, ...]
    interval: timedelta
    #: client id (lower case) -> (its credentials or None, when Graph was asked): what a
    #: 7000222/700027/7000215 incident is told about the app, without a Graph call per failure
    known: dict[str, tuple[AppCredentials | None, datetime]] = field(default_factory=dict, compare=False)
    #: (client id, the item signing in as it): the linked services' service principals
    principals: Callable[[], Sequence[tuple[str, ItemRef]]] | None = field(default=None, compare=False)


def remember_items(store: Store, tenant: str, seen: Iterable[tuple[str, ItemRef]], now: datetime) -> None:
    """Add the items that failed under each client id (call inside the poll's transaction)."""
    name = f"clients:{tenant}"
    known = store.get_cursor(name)
    changed: dict[str, str] = {}
    for client_id, item in seen:
        key = client_id.lower()
        items = [ItemRef(**i) for i in json.loads(changed.get(key) or known.get(key) or "[]")]
        items = [
            i
            for i in items
            if (i.source, i.container_id, i.item_id) != (item.source, item.container_id, item.item_id)
        ]
        items.append(item)
        changed[key] = json.dumps([asdict(i) for i in items[-MAX_ITEMS:]])
    if changed:
        store.set_cursor(name, {**known, **changed}, now)


def items_by_client(store: Store, tenant: str) -> dict[str, list[ItemRef]]:
    return {
        k: [ItemRef(**i) for i in json.loads(v)]
        for k, v in store.get_cursor(f"clients:{tenant}").items()
        if not k.startswith("_")
    }


def check(
    watch: CredentialWatch,
    store: Store,
    metrics: Metrics,
    now: datetime,
    enqueue: Callable[[Notification], None],
    series: dict[str, dict[LabelKey, float]],
) -> list[Notification]:
    """One look at the tenant's credentials when its interval has passed; the notifications queued."""
    name = f"credentials:{watch.tenant}"
    state = store.get_cursor(name)
    checked = state.get("checked_at")
    if checked and now - datetime.fromisoformat(checked) < watch.interval:
        return []
    items = items_by_client(store, watch.tenant)
    for client_id, item in _principals(watch):
        listed = items.setdefault(client_id.lower(), [])
        if item not in listed:
            listed.append(item)
    wanted = sorted({*items, *([watch.own_client_id.lower()] if watch.own_client_id else [])})
    apps, refused = _read(watch, wanted)
    if refused is not None:
        if state.get("permission") != "missing":
            _say_missing(watch, metrics, refused)
            with store.transaction():
                enqueue(missing_notice(watch.tenant, now))
        store.set_cursor(name, {**state, "checked_at": now.isoformat(), "permission": "missing"}, now)
        return []
    if apps is None:
        return []
    series[watch.tenant] = _series(apps)
    _keep(watch, wanted, apps, now)
    metrics.replace(METRIC, {k: v for per in series.values() for k, v in per.items()})
    said = {k: int(v) for k, v in json.loads(state.get("said") or "{}").items()}
    views = [AppView(a.app_id, a.app_name, a.credentials) for a in apps]
    notes, said = forecast(watch.tenant, views, items, said, now, watch.windows)
    with store.transaction():
        _keep_expiring(store, watch.tenant, unrotated(watch.tenant, views, items, now), now)
        for n in notes:
            enqueue(n)
        store.set_cursor(
            name, {"checked_at": now.isoformat(), "said": json.dumps(said), "permission": "ok"}, now
        )
    return notes


def _principals(watch: CredentialWatch) -> Sequence[tuple[str, ItemRef]]:
    """The linked services' apps; none this time when they cannot be listed (said in the log)."""
    if watch.principals is None:
        return []
    try:
        return watch.principals()
    except ConnectorError as exc:
        log.warning("listing linked services failed", extra={"tenant": watch.tenant, "problem": str(exc)})
        return []


def _keep_expiring(store: Store, tenant: str, found: Sequence[Expiring], now: datetime) -> None:
    """The dashboard's panel reads ``expiring``: this tenant's entries are replaced, others kept."""
    kept = {k: v for k, v in store.get_cursor(EXPIRING).items() if not k.startswith(f"{tenant}|")}
    kept |= {f"{tenant}|{e.key_id}": json.dumps(e.to_json()) for e in found}
    store.set_cursor(EXPIRING, kept, now)


def _read(watch: CredentialWatch, app_ids: Sequence[str]) -> tuple[list[AppCredentials] | None, str | None]:
    """The apps' credentials (None: Graph failed, try next time), or the refusal when the
    permission is missing."""
    try:
        return watch.graph.credentials_of(app_ids), None
    except MissingPermissionError as exc:
        return [], str(exc)
    except ConnectorError as exc:  # Graph unreachable now: ask again next interval
        log.warning("credential look-up failed", extra={"tenant": watch.tenant, "problem": str(exc)})
        return None, None


def _say_missing(watch: CredentialWatch, metrics: Metrics, detail: str) -> None:
    log.warning(
        "source problem",
        extra={
            "source": f"{watch.tenant}/self",
            "kind": "missing_permission",
            "item": "credential expiry forecast",
            "problem": "Graph refused to list applications; grant Application.Read.All to see "
            f"secret and certificate end dates ({detail})",
        },
    )
    metrics.inc(
        "aadsts_enricher_source_problems_total",
        {"tenant": watch.tenant, "source": "self", "kind": "missing_permission"},
    )


def missing_notice(tenant: str, now: datetime) -> Notification:
    """The one ``self`` notice a tenant gets when Graph refuses its applications (id per tenant,
    so the outbox keeps one even if the state is lost and it is said again)."""
    return permission_notice(
        tenant,
        ("Graph applications", "credential_expiry"),
        (f"credential-access-{tenant}", f"credential-access-{tenant}"),
        (
            f"Credential expiry forecast in tenant {tenant} is off: no Application.Read.All",
            "credential expiry forecast off: no Application.Read.All",
            "Graph refuses to list app registrations, so no warning comes before a client secret or "
            "certificate expires, and 7000222/700027/7000215 alerts cannot name the credential. Grant the "
            "Microsoft Graph application permission Application.Read.All (admin consent).",
            f"The daemon's app in tenant {tenant} lacks Application.Read.All.",
        ),
        now,
    )


def _series(apps: Sequence[AppCredentials]) -> dict[LabelKey, float]:
    """End date per credential; ``kind`` is ``secret`` or ``certificate``."""
    return {
        (("app_id", a.app_id), ("key_id", c.key_id), ("kind", c.type)): c.expires_at.timestamp()
        for a in apps
        for c in a.credentials
    }


def _keep(
    watch: CredentialWatch, asked: Iterable[str], apps: Sequence[AppCredentials], now: datetime
) -> None:
    found = {a.app_id.lower(): a for a in apps}
    for client_id in asked:
        watch.known[client_id.lower()] = (found.get(client_id.lower()), now)


def prefetch(watch: CredentialWatch, client_ids: Iterable[str], now: datetime) -> None:
    """Read the apps behind credential failures from Graph before the poll's transaction, unless
    read in the last ``FRESH``. A 403 is remembered quietly: the watch's own check says it once."""
    stale = sorted(
        {c.lower() for c in client_ids} - {c for c, (_, at) in watch.known.items() if now - at < FRESH}
    )
    if not stale:
        return
    apps, refused = _read(watch, stale)
    if apps is not None or refused is not None:
        _keep(watch, stale, apps or [], now)


def facts(watch: CredentialWatch, code: str, client_id: str, failed_at: datetime) -> dict[str, object] | None:
    """The ``app_credentials`` of an incident, from what ``prefetch`` or the last check read."""
    app = watch.known.get(client_id.lower(), (None, failed_at))[0]
    if app is None:
        return None
    hints = {c.key_id: c.hint for c in app.credentials}
    return facts_for(code, app.app_id, app.app_name, app.credentials, hints, failed_at)


# -- what a poll asks of the watch ------------------------------------------------------------


def remember_clients(store: Store, alerts: Sequence[Alert], now: datetime) -> None:
    """Which items sign in with which app: what a rotation of that app's secret must update."""
    per_tenant: dict[str, list[tuple[str, ItemRef]]] = {}
    for alert in alerts:
        client_id = alert.detection.first("client_id")
        if client_id:
            run = alert.run
            ref = dataclasses.replace(ItemRef.of_run(run), run_id="")  # the item, not one run of it
            per_tenant.setdefault(run.tenant, []).append((client_id, ref))
    for tenant, seen in per_tenant.items():
        remember_items(store, tenant, seen, now)


def read_apps(
    watches: Sequence[CredentialWatch], kb: KnowledgeBase, records: Sequence[RunRecord], now: datetime
) -> dict[str, Detection]:
    """Graph look-ups for the apps behind 7000222/700027/7000215 failures among these runs;
    the detections it made, by error text, so the poll does not make them again."""
    wanted: dict[str, set[str]] = {}
    detected: dict[str, Detection] = {}
    if not watches:
        return detected
    for rec in records:
        if rec.status is RunStatus.FAILED and any(c in rec.error_text for c in CREDENTIAL_CODES):
            detection = detected[rec.error_text] = detect(rec.error_text, kb.signatures)
            client_id = detection.first("client_id")
            if detection.primary in CREDENTIAL_CODES and client_id:
                wanted.setdefault(rec.tenant, set()).add(client_id)
    for watch in watches:
        if watch.tenant in wanted:
            prefetch(watch, wanted[watch.tenant], now)
    return detected


def with_app_credentials(
    watches: Sequence[CredentialWatch], book: Book, inc: Incident, alert: Alert, now: datetime
) -> Incident:
    """Name the expired (or the existing) credentials of the app on its incident, when known."""
    client_id = alert.detection.first("client_id")
    watch = next((w for w in watches if w.tenant == inc.tenant), None)
    if alert.code not in CREDENTIAL_CODES or not client_id or watch is None:
        return inc
    run = alert.run
    found = facts(watch, alert.code, client_id, run.ended_at or run.started_at or now)
    if found is None:
        return inc
    fixes = with_expired_key(inc.content.get("fixes") or (), found)
    inc = dataclasses.replace(inc, content={**inc.content, "app_credentials": found, "fixes": fixes})
    book.put(inc)
    return inc
