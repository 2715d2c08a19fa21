"""The sign-in look-up, wired: queue at poll time, drain through Graph, attach, announce once.

A poll queues a look-up for each new incident whose code is about the sign-in itself
(``enricher.core.signin.kinds_for``), in the poll's own transaction. Each cycle, ``drain`` asks Graph
for the due ones of each tenant (batched by ``connectors.signins.SigninFinder``, at most
``max_per_cycle`` requests, inside Graph's 5 requests per 10 s), stores a found sign-in on its
incident and queues ONE ``update`` notification ("cause found") through the usual routes; a miss
is asked again with back-off until the look-up's window ends. The queue lives in the store, so a
restart neither loses a look-up nor announces a cause twice.

A tenant that cannot answer (no licence, no ``AuditLog.Read.All``) or answers without policies
(no ``Policy.Read.All``) costs one ``self`` notice naming what is missing, never an error per
incident; its look-ups then wait an hour before asking again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.graph import GraphClient
from connectors.signin_records import Device, SignIn
from connectors.signins import EventType, Missing, RateGate, SigninFinder, SigninQuery
from enricher import config as cfg
from enricher.core.enrich import PUBLIC_PORTALS, Portals
from enricher.core.incidents import Incident, Scope, queue_notification
from enricher.core.routing import route
from enricher.core.signin import Lookup, cause_line, kinds_for, retry
from enricher.metrics import Metrics
from enricher.models import Alert
from enricher.notification import Notification, permission_notice
from enricher.store import Store
from enricher.store.books import poll_book
from enricher.wiring.build import Tenant

log = logging.getLogger("aadsts_enricher.signins")
#: a tenant that refused the log is asked again after this long (a licence or grant may arrive)
REFUSED_PAUSE = timedelta(hours=1)

_COSTS = {
    Missing.LICENCE: (
        "no Entra ID P1/P2 licence",
        "Graph refuses the sign-in log (403 Authentication_RequestFromNonPremiumTenantOrB2CTenant), so "
        "alerts cannot name the Conditional Access policy, device, location or account behind a failure.",
    ),
    Missing.AUDIT_LOG: (
        "no AuditLog.Read.All",
        "Graph refuses the sign-in log to this app, so alerts cannot name the Conditional Access policy, "
        "device, location or account behind a failure. Grant the application permission AuditLog.Read.All.",
    ),
    Missing.POLICY_READ: (
        "no Policy.Read.All",
        "Graph returns sign-ins without their Conditional Access policies, so alerts say where and who "
        "but not which policy blocked the sign-in. Grant the application permission Policy.Read.All.",
    ),
}


class SigninLookups:
    """Look-ups for every tenant with ``signin_lookup.enabled``."""

    def __init__(
        self,
        config: cfg.Config,
        tenants: Sequence[Tenant],
        store: Store,
        *,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] | None = None,
        portals: Portals = PUBLIC_PORTALS,
    ) -> None:
        self.config, self.store, self.portals = config, store, portals
        self.metrics = metrics or Metrics()
        gate = (lambda: RateGate(sleep=sleep)) if sleep else RateGate
        self.finders = {
            t.config.name: (t.config.signin_lookup, SigninFinder(GraphClient(t.http, t.endpoints), gate()))
            for t in tenants
            if t.config.signin_lookup.enabled
        }
        self._paused: dict[str, datetime] = {}

    def queue(self, inc: Incident, alert: Alert, now: datetime) -> None:
        """Called inside the poll's transaction for each incident a failure made or fed."""
        entry = self.finders.get(inc.tenant)
        kinds = kinds_for(alert.category)
        if entry is None or not kinds or inc.signin is not None or not alert.code.isdigit():
            return
        lookup_cfg = entry[0]
        run = alert.run
        lookup = Lookup(
            inc.id,
            inc.fingerprint,
            inc.tenant,
            int(alert.code),
            run.ended_at or run.started_at or now,
            kinds,
            until=now + lookup_cfg.window,
            next_at=now,
            correlation_id=alert.correlation_id,
            app_id=alert.detection.first("client_id"),
        )
        self.store.queue_lookup(lookup)

    def drain(self, now: datetime, scope: Scope | None = None) -> int:
        """Ask Graph for the due look-ups of every tenant (that ``scope`` covers); how many
        sign-ins were found."""
        found = 0
        for tenant, (lookup_cfg, finder) in self.finders.items():
            if self._paused.get(tenant, now) > now or (scope is not None and not scope.covers(tenant)):
                continue
            due = self.store.due_lookups(tenant, now, limit=10 * lookup_cfg.max_per_cycle)
            if due:
                found += self._drain_tenant(tenant, finder, due, lookup_cfg.max_per_cycle, now)
        return found

    def _drain_tenant(
        self, tenant: str, finder: SigninFinder, due: list[Lookup], budget: int, now: datetime
    ) -> int:
        queries = [
            SigninQuery(
                lk.incident_id,
                lk.code,
                lk.at,
                tuple(EventType(k) for k in lk.kinds),
                lk.correlation_id,
                lk.app_id,
            )
            for lk in due
        ]
        batch = finder.find(queries, budget)
        for error in batch.errors:
            log.debug("sign-in look-up problem", extra={"tenant": tenant, "problem": error})
        with self.store.transaction():
            if batch.missing:
                self._notice(tenant, batch.missing, now)
            if batch.refused:
                self._paused[tenant] = now + REFUSED_PAUSE
            for lk in due:
                signin = batch.found.get(lk.incident_id)
                if signin is not None:
                    self._attach(lk, payload_of(signin, self.portals), now)
                    self.store.save_lookup(lk, "found")
                    self._count(tenant, "found")
                elif (later := retry(lk, now)) is not None:
                    self.store.save_lookup(later, "waiting")
                else:
                    self.store.save_lookup(lk, "expired")
                    self._count(tenant, "expired")
        return len(batch.found)

    def _attach(self, lk: Lookup, signin: dict[str, Any], now: datetime) -> None:
        """Store the sign-in on its incident; announce it unless a message about it is still waiting
        (that one will carry it) or nobody was told about the incident."""
        book = poll_book(self.store, {lk.fingerprint}, (), now)
        inc = book.incidents.get(lk.fingerprint)
        if inc is None or inc.id != lk.incident_id:
            return  # the incident was archived and came back as a new one: this sign-in is old news
        new = dataclasses.replace(inc, signin=signin)
        book.put(new)
        self.store.add_event(inc.id, now, "signin", cause_line(signin)[:500])
        told = inc.notified in ("firing", "flapping") and inc.state == "open"
        if told and inc.parent is None and inc.fingerprint not in book.pending:
            queue_notification(book, new, "update", now)
        self.store.save_book(book, now)

    def _notice(self, tenant: str, missing: Iterable[Missing], now: datetime) -> None:
        """One ``self`` notice per tenant and set of missing things (its id makes the outbox keep one)."""
        wanted = sorted(missing, key=list(Missing).index)
        what = ", ".join(_COSTS[m][0] for m in wanted)
        n = notice(tenant, wanted, now)
        sinks = route(n.labels, self.config.routes, self.config.fallback_sinks)
        if self.store.enqueue(n, sinks, now):
            log.warning("sign-in look-up degraded", extra={"tenant": tenant, "missing": what})
            self._count(tenant, "refused" if set(wanted) - {Missing.POLICY_READ} else "no_policies")

    def _count(self, tenant: str, outcome: str) -> None:
        self.metrics.inc("aadsts_enricher_signin_lookups_total", {"tenant": tenant, "outcome": outcome})


def notice(tenant: str, missing: Sequence[Missing], now: datetime) -> Notification:
    what = " and ".join(_COSTS[m][0] for m in missing)
    cost = " ".join(_COSTS[m][1] for m in missing)
    key = "-".join(m.name.lower() for m in missing)
    return permission_notice(
        tenant,
        ("Graph sign-in log", "signin_lookup"),
        (f"signin-access-{tenant}-{key}", f"signin-access-{tenant}"),
        (
            f"Sign-in look-up in tenant {tenant} is limited: {what}",
            f"sign-in look-up limited: {what}",
            cost,
            f"Graph's sign-in log of tenant {tenant} is not fully readable: {what}.",
        ),
        now,
    )


def payload_of(s: SignIn, portals: Portals = PUBLIC_PORTALS) -> dict[str, Any]:
    """The ``signin`` contract of notifications, ``/api/incidents`` and the store (README)."""
    return {
        "id": s.id,
        "event_type": s.event_type,
        "status": {"code": s.code, "reason": s.reason or s.details},
        "policies": [
            {"id": p.id, "name": p.name, "result": p.result, "grant_controls": list(p.grant_controls)}
            for p in s.blocking
        ],
        "ip": s.ip,
        "location": ", ".join(v for v in (s.city, s.country) if v),
        "device": device_text(s.device),
        "app_id": s.app_id,
        "principal": s.principal,
        "url": f"{portals.entra}/#view/Microsoft_AAD_IAM/ActiveDirectoryMenuBlade/~/SignIns",
    }


def device_text(d: Device) -> str:
    """``Windows 10, compliant, managed, AzureAD``; empty for a sign-in without a device."""
    parts = [d.os] if d.os else []
    for flag, yes, no in ((d.compliant, "compliant", "not compliant"), (d.managed, "managed", "not managed")):
        if flag is not None:
            parts.append(yes if flag else no)
    if d.trust_type:
        parts.append(d.trust_type)
    return ", ".join(parts)
