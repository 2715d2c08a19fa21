"""The Entra authority (OIDC discovery, the v2.0 token endpoint) and App Service managed identity.

MSAL, as used by azure-identity with ``authority="https://localhost:PORT"`` and
``disable_instance_discovery=True``, asks for ``/{tenant}/v2.0/.well-known/openid-configuration``
and then posts to the ``token_endpoint`` named there. The token endpoint checks, in this order:
tenant (90002), grant type (900144 / 70003), client id (900144 / 700016), app disabled
(7000112), scope (900144 / 1002012 / 500011), the credential (secret: 7000215 / 7000222;
certificate assertion: 50027 / 700027 / 700024; federated assertion: 700211 / 700213; none:
7000218), then a failure the scenario forces on the app (``fail: {code, from, until}``).
Every failure for a known app also lands in the Graph sign-in log with the same correlation id,
which is the client's ``client-request-id`` when it sends one (as ESTS does).
"""

from __future__ import annotations

import base64
import hmac
import time
from urllib.parse import unquote

from connectors.simulator import aadsts
from connectors.simulator.auth import RESOURCES, normalise
from connectors.simulator.http import Request, Response, Router, json_response
from connectors.simulator.model import App
from connectors.simulator.state import State, TokenFailure
from connectors.simulator.tokens import Jwt, parse_jwt, signature_valid

_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}
_NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


class EntraApi:
    def __init__(self, state: State) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        router.add(
            "GET", "/{tenant}/v2.0/.well-known/openid-configuration", "token", self.discovery, auth=False
        )
        router.add("GET", "/{tenant}/discovery/v2.0/keys", "token", self.keys, auth=False)
        router.add("POST", "/{tenant}/oauth2/v2.0/token", "token", self.token, auth=False)
        router.add("GET", "/msi/token", "token", self.managed_identity, auth=False)

    # -- discovery --------------------------------------------------------------------------
    def discovery(self, request: Request) -> Response:
        ref = request.params["tenant"]
        tenant = self.state.world.tenant(ref)
        rid = self.state.request_id()
        if tenant is None:
            body = aadsts.error_body(90002, rid, rid, request.now, tenant=ref)
            return json_response(400, body, {"x-ms-request-id": rid})
        base = f"{self.state.base_url}/{ref}"
        issuer = f"{self.state.base_url}/{tenant.id}/v2.0"
        return json_response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": issuer,
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "tid"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            },
        )

    def keys(self, request: Request) -> Response:
        return json_response(200, {"keys": []})

    # -- token endpoint ---------------------------------------------------------------------
    def token(self, request: Request) -> Response:
        ref = request.params["tenant"]
        rid = self.state.request_id()
        correlation = request.headers.get("client-request-id") or rid
        tenant = self.state.world.tenant(ref)
        if tenant is None:
            return self._fail(request, 90002, rid, correlation, tenant=ref)
        form = request.form()
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic[:6].lower() == "basic ":
            user, _, password = base64.b64decode(basic[6:]).decode("utf-8", "replace").partition(":")
            client_id, secret = client_id or unquote(user), unquote(password)
        grant = form.get("grant_type", "")
        values = {"tenant": ref, "domain": tenant.domain, "app": client_id}
        if not grant:
            return self._fail(request, 900144, rid, correlation, param="grant_type", **values)
        if grant != "client_credentials":
            return self._fail(request, 70003, rid, correlation, grant=grant, **values)
        if not client_id:
            return self._fail(request, 900144, rid, correlation, param="client_id", **values)
        app = tenant.apps.get(client_id.lower())
        if app is None:
            return self._fail(request, 700016, rid, correlation, **values)
        resource = self._resource(form.get("scope", "")).removesuffix("/.default")
        code, extra = self._check(request, app, form, secret)
        if code is not None:
            self.state.log_token_failure(
                TokenFailure(request.now, tenant.id, app.client_id, app.name, code, correlation, resource)
            )
            return self._fail(request, code, rid, correlation, name=app.name, **values, **extra)
        audience = RESOURCES[normalise(resource)]
        token = self.state.issuer.mint(
            tenant_id=tenant.id,
            client_id=app.client_id,
            object_id=app.object_id,
            audience=audience,
            issuer=f"https://sts.windows.net/{tenant.id}/",
        )
        lifetime = self.state.issuer.lifetime
        body = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return json_response(
            200, body, {"x-ms-request-id": rid, "client-request-id": correlation, **_NO_STORE}
        )

    @staticmethod
    def _resource(scope: str) -> str:
        scopes = [s for s in scope.split() if s not in _RESERVED_SCOPES]
        return scopes[0] if len(scopes) == 1 else scope

    def _check(
        self, request: Request, app: App, form: dict[str, str], secret: str | None
    ) -> tuple[int | None, dict[str, str]]:
        """The AADSTS code that refuses this request (None: issue a token), and text values."""
        if app.disabled:
            return 7000112, {}
        scope = form.get("scope", "")
        if not scope:
            return 900144, {"param": "scope"}
        scope_resource = self._resource(scope)
        if not scope_resource.endswith("/.default"):
            return 1002012, {"scope": scope}
        resource = scope_resource.removesuffix("/.default")
        if normalise(resource) not in RESOURCES:
            return 500011, {"resource": resource}
        code, extra = self._credential(request, app, form, secret)
        if code is None and app.fail is not None:
            start, end = app.fail.start, app.fail.end
            if (start is None or request.now >= start) and (end is None or request.now < end):
                return app.fail.code, {"resource": resource}
        return code, extra

    def _credential(
        self, request: Request, app: App, form: dict[str, str], secret: str | None
    ) -> tuple[int | None, dict[str, str]]:
        now = request.now
        if secret is not None:
            matching = [s for s in app.secrets if hmac.compare_digest(s.value.encode(), secret.encode())]
            if not any(s.start <= now for s in matching):
                return 7000215, {}
            if all(s.end <= now for s in matching):
                return 7000222, {}
            return None, {}
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != _JWT_BEARER or not assertion:
            return 7000218, {}
        jwt = parse_jwt(assertion)
        if jwt is None:
            return 50027, {}
        if jwt.claims.get("iss") == app.client_id and jwt.claims.get("sub") == app.client_id:
            return self._certificate(app, jwt)
        issuer, subject = str(jwt.claims.get("iss", "")), str(jwt.claims.get("sub", ""))
        candidates = [f for f in app.federated if f.issuer == issuer]
        if not candidates:
            return 700211, {"issuer": issuer}
        if not any(f.subject == subject for f in candidates):
            return 700213, {"subject": subject}
        return None, {}

    def _certificate(self, app: App, jwt: Jwt) -> tuple[int | None, dict[str, str]]:
        # MSAL encodes thumbprints with urlsafe base64 *with* padding; compare without it.
        x5t = str(jwt.header.get("x5t", "")).rstrip("=").replace("+", "-").replace("/", "_")
        x5t256 = str(jwt.header.get("x5t#S256", "")).rstrip("=").replace("+", "-").replace("/", "_")
        found = next(
            (
                c
                for c in self.state.certificates(app)
                if (x5t and c.x5t == x5t) or (x5t256 and c.x5t_s256 == x5t256)
            ),
            None,
        )
        if found is None:
            reason = (
                "The certificate with identifier used to sign the client assertion is not registered on "
                f"application. [Reason - The key was not found., Thumbprint of key used by client: "
                f"'{x5t or x5t256}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph "
                f"to see configured keys for app Id '{app.client_id}'.]"
            )
            return 700027, {"reason": reason}
        if not signature_valid(jwt, found):
            return 700027, {"reason": "Client assertion failed signature validation."}
        if float(jwt.claims.get("exp", 0)) <= time.time():
            return 700024, {}
        return None, {}

    def _fail(self, request: Request, code: int, rid: str, correlation: str, **values: str) -> Response:
        body = aadsts.error_body(code, rid, correlation, request.now, **values)
        headers = {"x-ms-request-id": rid, "client-request-id": correlation, **_NO_STORE}
        return json_response(aadsts.http_status(code), body, headers)

    # -- managed identity (App Service, api-version 2019-08-01) -----------------------------
    def managed_identity(self, request: Request) -> Response:
        if request.headers.get("x-identity-header") != self.state.scenario.msi_header:
            return json_response(
                401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER header is missing or invalid."}
            )
        resource = request.q("resource") or ""
        if normalise(resource) not in RESOURCES:
            text = aadsts.describe(500011, resource=resource, domain="the tenant")
            return json_response(400, {"statusCode": 400, "message": text})
        wanted = (request.q("client_id") or "").lower()
        found = next(
            (
                (t, a)
                for t in self.state.world.tenants
                for a in t.apps.values()
                if a.managed_identity and (not wanted or a.client_id == wanted)
            ),
            None,
        )
        if found is None:
            return json_response(
                400, {"statusCode": 400, "message": "No managed identity is assigned to this resource."}
            )
        tenant, app = found
        token = self.state.issuer.mint(
            tenant_id=tenant.id,
            client_id=app.client_id,
            object_id=app.object_id,
            audience=RESOURCES[normalise(resource)],
            issuer=f"https://sts.windows.net/{tenant.id}/",
        )
        expires_on = int(time.time()) + self.state.issuer.lifetime
        body = {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": app.client_id,
        }
        return json_response(200, body)
