"""Microsoft Graph: sign-in log records and application credentials.

Not a poller of its own: the daemon uses it to look up the sign-in record behind a correlation ID
(which Conditional Access policy blocked a refresh) and to read an app's secret and certificate end
dates. Service-principal sign-ins are only listed on the beta endpoint (``signInEventTypes``).
Graph allows about 5 sign-in requests per 10 seconds per app and tenant and answers 429 with a
fractional Retry-After, which the HTTP client honours.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from connectors.base import as_dict
from connectors.clouds import Endpoints
from connectors.errors import ApiError
from connectors.http import AzureHttp

API = "graph"


@dataclass(frozen=True, slots=True)
class Credential:
    """One client secret (``passwordCredentials``) or certificate (``keyCredentials``) of an app."""

    key_id: str
    display_name: str
    type: Literal["secret", "certificate"]
    expires_at: datetime
    starts_at: datetime | None = None
    hint: str = ""


@dataclass(frozen=True, slots=True)
class AppCredentials:
    app_id: str
    app_name: str
    credentials: tuple[Credential, ...]


class MissingPermissionError(Exception):
    """Graph refused to list applications: the daemon's app lacks ``Application.Read.All``."""


class GraphClient:
    def __init__(self, http: AzureHttp, endpoints: Endpoints) -> None:
        self.http = http
        self.root = endpoints.graph
        self.scope = endpoints.scope("graph")

    def signins(
        self, odata_filter: str, *, top: int = 100, beta: bool = False, limit: int = 1000
    ) -> list[dict[str, Any]]:
        url = f"{self.root}/{'beta' if beta else 'v1.0'}/auditLogs/signIns"
        found: list[dict[str, Any]] = []
        for page in self.http.follow(
            API, url, self.scope, {"$filter": odata_filter, "$top": top}, "@odata.nextLink"
        ):
            found.extend(r for r in as_dict(page).get("value") or [] if isinstance(r, dict))
            if len(found) >= limit:
                break
        return found[:limit]

    def signins_for_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        safe = correlation_id.replace("'", "")
        return self.signins(f"correlationId eq '{safe}'", top=10, limit=10)

    def application(self, app_id: str) -> dict[str, Any] | None:
        safe = app_id.replace("'", "")
        page = self.http.get(
            API, f"{self.root}/v1.0/applications", self.scope, {"$filter": f"appId eq '{safe}'"}
        )
        values = as_dict(page).get("value") or []
        return values[0] if values else None

    def app_credentials(self, app_id: str) -> AppCredentials | None:
        """The app's secrets and certificates with their end dates (None: no such app here).

        Raises :class:`MissingPermissionError` on 403, so the caller can say so once per tenant."""
        safe = app_id.replace("'", "")
        params = {"$filter": f"appId eq '{safe}'", "$select": _SELECT}
        try:
            for page in self.http.follow(
                API, f"{self.root}/v1.0/applications", self.scope, params, "@odata.nextLink"
            ):
                for value in as_dict(page).get("value") or []:
                    if isinstance(value, dict) and value.get("appId") == app_id:
                        return _credentials_of(value)
        except ApiError as exc:
            if exc.status == 403:
                raise MissingPermissionError(str(exc)) from exc
            raise
        return None

    def credentials_of(self, app_ids: Collection[str], *, top: int = 100) -> list[AppCredentials]:
        """Several apps' credentials: one request each for a few, one paged listing for many
        (the listing costs ``apps / top`` requests however many of them are wanted)."""
        wanted = {a.lower() for a in app_ids}
        if len(wanted) <= FEW:
            return [app for a in sorted(wanted) if (app := self.app_credentials(a)) is not None]
        params = {"$select": _SELECT, "$top": top}
        found: list[AppCredentials] = []
        try:
            for page in self.http.follow(
                API, f"{self.root}/v1.0/applications", self.scope, params, "@odata.nextLink"
            ):
                for value in as_dict(page).get("value") or []:
                    if isinstance(value, dict) and str(value.get("appId", "")).lower() in wanted:
                        found.append(_credentials_of(value))
        except ApiError as exc:
            if exc.status == 403:
                raise MissingPermissionError(str(exc)) from exc
            raise
        return found


#: up to this many apps are looked up one by one; more are read from the paged listing
FEW = 10
_SELECT = "appId,displayName,passwordCredentials,keyCredentials"


def _when(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _credentials_of(app: dict[str, Any]) -> AppCredentials:
    """Typed records; a credential without a readable ``endDateTime`` or ``keyId`` is skipped."""
    found: list[Credential] = []
    for field, kind in (("passwordCredentials", "secret"), ("keyCredentials", "certificate")):
        for raw in app.get(field) or []:
            end = _when(raw.get("endDateTime")) if isinstance(raw, dict) else None
            if end is None or not isinstance(raw.get("keyId"), str):
                continue
            found.append(
                Credential(
                    key_id=raw["keyId"],
                    display_name=str(raw.get("displayName") or ""),
                    type=kind,  # type: ignore[arg-type]
                    expires_at=end,
                    starts_at=_when(raw.get("startDateTime")),
                    hint=str(raw.get("hint") or ""),
                )
            )
    return AppCredentials(str(app.get("appId")), str(app.get("displayName") or ""), tuple(found))
