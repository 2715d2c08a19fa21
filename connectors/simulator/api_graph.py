"""Microsoft Graph at ``/graph``: sign-in logs and application credentials (reference 6).

``auditLogs/signIns`` (v1.0 and beta): ``$filter`` terms joined by ``and``/``or``
(``createdDateTime ge|le``, ``correlationId eq``, ``status/errorCode eq|ne``, ``appId eq``,
beta ``signInEventTypes/any(t: t eq 'servicePrincipal')``), ``$top`` up to 1000, newest first,
``@odata.nextLink`` with ``$skiptoken``. ``appliedConditionalAccessPolicies`` is omitted unless
the calling app has ``ca_policy_read``; report-only results are shown only with
``Prefer: include-unknown-enum-members`` (``unknownFutureValue`` otherwise). A tenant without
an Entra ID P1/P2 licence (``entra_premium: false``) answers 403.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from connectors.simulator import aadsts, errors, odata, paging
from connectors.simulator.auth import Principal
from connectors.simulator.graph_limits import RateWindow
from connectors.simulator.http import BadRequest, Request, Response, Router, json_response
from connectors.simulator.ids import mix64, stable_int, stable_uuid
from connectors.simulator.model import App
from connectors.simulator.paging import integer
from connectors.simulator.signins import RETENTION, Event, events
from connectors.simulator.state import State
from connectors.simulator.timefmt import ticks_z


class GraphApi:
    def __init__(self, state: State) -> None:
        self.state = state
        self.limits = RateWindow()

    def register(self, router: Router) -> None:
        for version in ("v1.0", "beta"):
            router.add("GET", f"/graph/{version}/auditLogs/signIns", "graph", self.signins)
            router.add("GET", f"/graph/{version}/applications", "graph", self.applications)

    def _version(self, request: Request) -> str:
        return request.path.split("/")[2].lower()

    def signins(self, request: Request) -> Response:
        principal: Principal = request.principal
        if not principal.tenant.premium:
            message = "Neither tenant is B2C or tenant doesn't have premium license"
            rid = self.state.request_id()
            return errors.error(
                "graph",
                403,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                message,
                rid=rid,
                now=request.now,
            )
        refused = self._refused(request, principal)
        if refused is not None:
            return refused
        version = self._version(request)
        size = integer(request.q("$top"), "$top", default=1000, low=1, high=1000)
        text = request.q("$filter")
        node = odata.parse(text)
        scope = f"{version}|{stable_int(text or '')}"
        token = request.q("$skiptoken")
        offset, snapshot = paging.decode(token, scope) if token else (0, request.now)
        since, until = _bounds(node, snapshot)
        # a sign-in shows up in the log only ``delay_seconds`` after it happened
        visible = snapshot.timestamp() - principal.tenant.noise.delay_seconds
        found = events(
            self.state, principal.tenant, since.timestamp(), min(until.timestamp(), visible), visible
        )
        types = self._event_types(version, node)
        beta, ca = version == "beta", principal.app.ca_policy_read
        prefer = "include-unknown-enum-members" in request.headers.get("prefer", "").lower()

        def record(event: Event) -> dict[str, object]:
            return _record(event, self.state.seed, beta=beta, ca=ca, prefer=prefer)

        # Test the filter on the few fields it usually reads; build whole records only when it
        # reads others, and for the page that goes out.
        view = _summary if odata.fields(node) <= _SUMMARY_FIELDS else record
        chosen = [e for e in found if e.event_type in types and odata.matches(node, odata.getter(view(e)))]
        chosen.sort(key=lambda e: e.when, reverse=True)
        body: dict[str, object] = {
            "@odata.context": f"https://graph.microsoft.com/{version}/$metadata#auditLogs/signIns"
        }
        if offset + size < len(chosen):
            params = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            params["$skiptoken"] = paging.encode(offset + size, snapshot, scope)
            body["@odata.nextLink"] = (
                f"{self.state.base_url}{request.path}?{urlencode(params, quote_via=quote)}"
            )
        body["value"] = [record(e) for e in chosen[offset : offset + size]]
        return json_response(200, body)

    def _refused(self, request: Request, principal: Principal) -> Response | None:
        """403 without ``AuditLog.Read.All``; 429 past the tenant's per-app rate."""
        if not principal.app.audit_log_read:
            message = "Insufficient privileges to complete the operation."
            rid = self.state.request_id()
            return errors.error(
                "graph", 403, "Authorization_RequestDenied", message, rid=rid, now=request.now
            )
        tenant = principal.tenant
        wait = self.limits.admit(tenant.id, principal.app.client_id, tenant.noise.rate_per_10s)
        if wait:
            return errors.throttled("graph", wait, self.state.request_id(), request.now)
        return None

    @staticmethod
    def _event_types(version: str, node: odata.Node | None) -> set[str]:
        wanted = {t.value for t in odata.conjuncts(node) if isinstance(t, odata.AnyEq)}
        if wanted and version != "beta":
            raise BadRequest(
                "Could not find a property named 'signInEventTypes' on type 'microsoft.graph.signIn'."
            )
        return wanted or {"interactiveUser"}

    def applications(self, request: Request) -> Response:
        """Applications matching ``$filter``, ``$top`` per page (default 100, at most 999) with an
        ``@odata.nextLink``; 403 ``Authorization_RequestDenied`` for a caller without
        ``Application.Read.All`` (``application_read: false``)."""
        principal: Principal = request.principal
        if not principal.app.application_read:
            return errors.error(
                "graph",
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
                rid=self.state.request_id(),
                now=request.now,
            )
        version = self._version(request)
        text = request.q("$filter")
        node = odata.parse(text)
        size = integer(request.q("$top"), "$top", default=100, low=1, high=999)
        scope = f"apps|{version}|{stable_int(text or '')}"
        token = request.q("$skiptoken")
        offset, _ = paging.decode(token, scope) if token else (0, request.now)
        records = [_application(app, self.state) for app in principal.tenant.apps.values()]
        chosen = [r for r in records if odata.matches(node, odata.getter(r))]
        body: dict[str, object] = {
            "@odata.context": f"https://graph.microsoft.com/{version}/$metadata#applications"
        }
        if offset + size < len(chosen):
            params = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            params["$skiptoken"] = paging.encode(offset + size, request.now, scope)
            body["@odata.nextLink"] = (
                f"{self.state.base_url}{request.path}?{urlencode(params, quote_via=quote)}"
            )
        body["value"] = chosen[offset : offset + size]
        return json_response(200, body)


def _bounds(node: odata.Node | None, snapshot: datetime) -> tuple[datetime, datetime]:
    """The createdDateTime range the filter allows (default: the 30-day retention)."""
    since, until = snapshot - timedelta(seconds=RETENTION), snapshot
    for term in odata.conjuncts(node):
        if (
            isinstance(term, odata.Compare)
            and term.field == "createdDateTime"
            and isinstance(term.value, datetime)
        ):
            if term.op in {"ge", "gt", "eq"}:
                since = max(since, term.value)
            if term.op in {"le", "lt", "eq"}:
                until = min(until, term.value)
    return since, until


_SUMMARY_FIELDS = {
    "createdDateTime",
    "correlationId",
    "appId",
    "appDisplayName",
    "userPrincipalName",
    "status/errorCode",
    "signInEventTypes",
    "isInteractive",
    "resourceId",
}


def _summary(event: Event) -> dict[str, object]:
    """The fields filters usually read, without the cost of a whole record."""
    return {
        "createdDateTime": event.when,
        "correlationId": event.correlation_id,
        "appId": event.app_id,
        "appDisplayName": event.app_name,
        "userPrincipalName": event.user or None,
        "status": {"errorCode": event.code},
        "signInEventTypes": [event.event_type],
        "isInteractive": event.event_type == "interactiveUser",
        "resourceId": event.resource_id,
    }


def _policies(event: Event, prefer: bool) -> list[dict[str, object]]:
    """CA policies; without ``Prefer: include-unknown-enum-members`` report-only results are hidden."""

    def policy(name: str, grant: list[str], result: str) -> dict[str, object]:
        if result.startswith("reportOnly") and not prefer:
            result = "unknownFutureValue"
        return {
            "id": stable_uuid("ca-policy", name),
            "displayName": name,
            "enforcedGrantControls": grant,
            "enforcedSessionControls": [],
            "result": result,
        }

    out = [policy("Require MFA for admins", ["Mfa"], "notApplied")]
    if event.code == 53003:
        out.insert(0, policy("Block access from untrusted locations", ["Block"], "failure"))
    if event.report_only or event.code == 53003:
        result = "reportOnlyFailure" if event.code else "reportOnlySuccess"
        out.append(policy("Require compliant device (report-only)", ["RequireCompliantDevice"], result))
    return out


def _record(event: Event, seed: int, *, beta: bool, ca: bool, prefer: bool) -> dict[str, object]:
    h = mix64(stable_int(event.correlation_id))
    user = event.user
    display = " ".join(part.capitalize() for part in user.split("@")[0].split(".")) if user else None
    failure = aadsts.reason(event.code, **dict(event.values)) if event.code else None
    record: dict[str, object] = {
        "id": stable_uuid(seed, "signin", event.correlation_id, event.code),
        "createdDateTime": ticks_z(event.when),
        "userDisplayName": display,
        "userPrincipalName": user or None,
        "userId": stable_uuid(seed, "user", user) if user else "",
        "appId": event.app_id,
        "appDisplayName": event.app_name,
        "ipAddress": f"20.{50 + h % 20}.{(h >> 8) % 256}.{(h >> 16) % 256}",
        "clientAppUsed": "Browser" if user else "",
        "correlationId": event.correlation_id,
        "conditionalAccessStatus": "failure"
        if event.code == 53003
        else ("success" if event.code == 0 else "notApplied"),
        "isInteractive": event.event_type == "interactiveUser",
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": event.resource_name,
        "resourceId": event.resource_id,
        "status": {"errorCode": event.code, "failureReason": failure, "additionalDetails": None},
        "deviceDetail": {
            "deviceId": "",
            "displayName": None,
            "operatingSystem": "Windows 10" if user else "",
            "browser": "Edge 123.0.0" if user else "",
            "isCompliant": None,
            "isManaged": None,
            "trustType": None,
        },
        "location": {
            "city": "Amsterdam",
            "state": "Noord-Holland",
            "countryOrRegion": "NL",
            "geoCoordinates": {"altitude": None, "latitude": 52.37, "longitude": 4.89},
        },
    }
    if ca:
        record["appliedConditionalAccessPolicies"] = _policies(event, prefer)
    if beta:
        record["signInEventTypes"] = [event.event_type]
        record["servicePrincipalId"] = (
            stable_uuid(seed, event.app_id, "service-principal") if not user else ""
        )
        record["servicePrincipalName"] = event.app_name if not user else ""
    return record


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _application(app: App, state: State) -> dict[str, object]:
    passwords = [
        {
            "customKeyIdentifier": None,
            "displayName": s.display_name,
            "endDateTime": _graph_time(s.end),
            "hint": s.value[:3],
            "keyId": s.key_id,
            "secretText": None,
            "startDateTime": _graph_time(s.start),
        }
        for s in app.secrets
    ]
    keys = [
        {
            "customKeyIdentifier": c.thumbprint_hex,
            "displayName": c.certificate.subject.rfc4514_string(),
            "endDateTime": _graph_time(c.certificate.not_valid_after_utc),
            "key": None,
            "keyId": stable_uuid(app.client_id, c.thumbprint_hex),
            "startDateTime": _graph_time(c.certificate.not_valid_before_utc),
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
        }
        for c in state.certificates(app)
    ]
    return {
        "id": stable_uuid(state.seed, app.client_id, "application"),
        "appId": app.client_id,
        "displayName": app.name,
        "signInAudience": "AzureADMyOrg",
        "passwordCredentials": passwords,
        "keyCredentials": keys,
    }
