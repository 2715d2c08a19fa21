"""The Entra authority: discovery, the token endpoint with every credential kind, managed identity."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientAssertionCredential, ClientSecretCredential

from connectors.simulator import Simulator
from connectors.simulator.tokens import b64url

from .conftest import DAEMON, DAEMON_SECRET, DOMAIN, TENANT, Client, assert_shape, sample

EXPIRED_APP = "7f2d4b6a-1c3e-4d5f-8a7b-9c0d1e2f3a41"
DISABLED_APP = "5e1a9c3b-7d2f-4b6e-8a0c-2f4d6b8a0c52"
CA_BLOCKED_APP = "2b4d6f8a-0c1e-4a3b-9d5f-7a9c1e3b5d63"
WIF_APP = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c74"
CERT_APP = "3c5e7a9b-1d3f-4b5d-9e7f-0a2c4e6a8c85"
MI_APP = "6d8f0a2c-4e6a-4c8e-8f0a-3b5d7f9b1d96"
PBI_SCOPE = "https://analysis.windows.net/powerbi/api/.default"


def _unsigned_jwt(claims: dict[str, object]) -> str:
    head = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
    return f"{head}.{b64url(json.dumps(claims).encode())}.{b64url(b'signature')}"


class TestDiscovery:
    def test_names_the_token_endpoint_on_the_simulator(self, sim: Simulator, client: Client) -> None:
        """The OIDC document points MSAL back at the simulator, for a GUID or a domain."""
        for ref in (TENANT, DOMAIN):
            doc = client.session.get(
                f"{sim.base_url}/{ref}/v2.0/.well-known/openid-configuration", verify=client.verify
            ).json()
            assert doc["token_endpoint"] == f"{sim.base_url}/{ref}/oauth2/v2.0/token"
            assert doc["issuer"] == f"{sim.base_url}/{TENANT}/v2.0"

    def test_unknown_tenant_is_invalid_tenant_like_the_recording(
        self, sim: Simulator, client: Client
    ) -> None:
        """400 invalid_tenant / AADSTS90002 with the recorded body's keys."""
        response = client.session.get(
            f"{sim.base_url}/tenant/v2.0/.well-known/openid-configuration", verify=client.verify
        )
        expected = sample("entra-discovery-invalid-tenant-recorded.json", "responses", "400", "body")
        assert response.status_code == 400
        body = response.json()
        assert set(body) == set(expected)
        assert body["error"] == "invalid_tenant"
        assert body["error_codes"] == [90002]
        assert body["error_description"].startswith("AADSTS90002: Tenant 'tenant' not found.")


class TestTokenSuccess:
    def test_client_secret_body_matches_the_sample(self, client: Client) -> None:
        """token_type, expires_in (int), access_token, plus ext_expires_in."""
        response = client.token_request(scope=PBI_SCOPE)
        assert response.status_code == 200
        body = response.json()
        assert_shape(body, sample("entra-token-success.json", "responses", "200", "body"))
        assert body["token_type"] == "Bearer"
        assert isinstance(body["ext_expires_in"], int)

    def test_access_token_is_a_jwt_with_audience_tenant_and_app(self, client: Client) -> None:
        """aud, tid, appid, iat and exp are readable claims; exp is in real time."""
        token = client.token_request(scope=PBI_SCOPE).json()["access_token"]
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims["aud"] == "https://analysis.windows.net/powerbi/api"
        assert (claims["tid"], claims["appid"]) == (TENANT, DAEMON)
        assert abs(claims["exp"] - (time.time() + 3599)) < 60

    def test_http_basic_client_authentication(self, sim: Simulator, client: Client) -> None:
        """client_id:secret in an Authorization: Basic header is accepted."""
        basic = base64.b64encode(f"{DAEMON}:{DAEMON_SECRET}".encode()).decode()
        response = client.session.post(
            f"{sim.base_url}/{TENANT}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "scope": PBI_SCOPE},
            headers={"Authorization": f"Basic {basic}"},
            verify=client.verify,
        )
        assert response.status_code == 200, response.text

    def test_client_secret_credential(self, sim: Simulator) -> None:
        """azure-identity's ClientSecretCredential gets a token from the simulator."""
        credential = ClientSecretCredential(
            TENANT,
            DAEMON,
            DAEMON_SECRET,
            authority=sim.base_url,
            disable_instance_discovery=True,
            connection_verify=str(sim.ca_path),
        )
        assert credential.get_token("https://management.azure.com/.default").token.count(".") == 2

    def test_certificate_credential(self, sim: Simulator) -> None:
        """CertificateCredential signs an assertion (PS256, x5t#S256) the simulator verifies."""
        pem = sim.issue_client_certificate(CERT_APP)
        credential = CertificateCredential(
            TENANT,
            CERT_APP,
            certificate_path=str(pem),
            authority=sim.base_url,
            disable_instance_discovery=True,
            connection_verify=str(sim.ca_path),
        )
        assert credential.get_token(PBI_SCOPE).token

    def test_federated_assertion(self, sim: Simulator) -> None:
        """A workload-identity assertion matching the app's issuer and subject is accepted."""
        assertion = _unsigned_jwt(
            {
                "iss": "https://token.actions.githubusercontent.com",
                "sub": "repo:contoso/data-platform:ref:refs/heads/main",
                "aud": "api://AzureADTokenExchange",
                "exp": int(time.time()) + 600,
            }
        )
        credential = ClientAssertionCredential(
            TENANT,
            WIF_APP,
            lambda: assertion,
            authority=sim.base_url,
            disable_instance_discovery=True,
            connection_verify=str(sim.ca_path),
        )
        assert credential.get_token(PBI_SCOPE).token


def _error(body: dict[str, Any]) -> tuple[str, list[int]]:
    return str(body["error"]), list(body["error_codes"])


class TestTokenFailures:
    @pytest.mark.parametrize(
        ("form", "status", "error", "code"),
        [
            ({"tenant": "nowhere.onmicrosoft.com"}, 400, "invalid_tenant", 90002),
            ({"client_id": "00000000-0000-4000-8000-000000000000"}, 400, "unauthorized_client", 700016),
            ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
            (
                {"client_id": EXPIRED_APP, "client_secret": "sim-legacy-secret-expired-8Kd~"},
                401,
                "invalid_client",
                7000222,
            ),
            (
                {"client_id": DISABLED_APP, "client_secret": "sim-retired-secret-2Wx~"},
                400,
                "unauthorized_client",
                7000112,
            ),
            (
                {"client_id": CA_BLOCKED_APP, "client_secret": "sim-contractor-secret-6Yt~"},
                400,
                "invalid_grant",
                53003,
            ),
            ({"scope": "https://nothing.example.com/.default"}, 400, "invalid_resource", 500011),
            (
                {"scope": "https://analysis.windows.net/powerbi/api/Dataset.Read.All"},
                400,
                "invalid_scope",
                1002012,
            ),
            ({"scope": None}, 400, "invalid_request", 900144),
            ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
            ({"client_secret": None}, 401, "invalid_client", 7000218),
        ],
    )
    def test_refusal(
        self, client: Client, form: dict[str, str | None], status: int, error: str, code: int
    ) -> None:
        """Each refusal has its OAuth error, AADSTS code and HTTP status (401 for invalid_client)."""
        response = client.token_request(**{"scope": PBI_SCOPE, **form})
        assert response.status_code == status
        body = response.json()
        assert _error(body) == (error, [code])
        assert set(body) == set(sample("entra-token-error-failed.json", "responses", "401", "body"))

    def test_error_description_has_the_ests_trailer(self, client: Client) -> None:
        """AADSTSnnnn: text, then Trace ID, Correlation ID (the client-request-id) and Timestamp."""
        response = client.session.post(
            f"{client.sim.base_url}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": DAEMON,
                "client_secret": "x",
                "scope": PBI_SCOPE,
            },
            headers={"client-request-id": "0f1e2d3c-4b5a-4697-8877-665544332211"},
            verify=client.verify,
        )
        body = response.json()
        lines = body["error_description"].split("\r\n")
        assert lines[0].startswith("AADSTS7000215: Invalid client secret provided.")
        assert lines[1] == f"Trace ID: {body['trace_id']}"
        assert lines[2] == "Correlation ID: 0f1e2d3c-4b5a-4697-8877-665544332211"
        assert lines[3] == "Timestamp: 2025-04-02 06:00:00Z" == f"Timestamp: {body['timestamp']}"
        assert body["error_uri"] == "https://login.microsoftonline.com/error?code=7000215"

    def test_secret_expiry_follows_the_simulated_clock(self, fresh: Simulator) -> None:
        """The daemon's 'previous' secret works today and fails with 7000222 a week later."""
        client = Client(fresh, secret="sim-daemon-old-secret-Zr5~kT9")
        assert client.token_request(scope=PBI_SCOPE).status_code == 200
        fresh.clock.advance(timedelta(days=7))
        assert _error(client.token_request(scope=PBI_SCOPE).json()) == ("invalid_client", [7000222])

    def test_federated_mismatches(self, client: Client) -> None:
        """Unknown issuer: 700211; known issuer, other subject: 700213."""
        wif = Client(client.sim, client_id=WIF_APP)
        cases = [
            ("https://evil.example.com", "repo:x", 700211),
            ("https://token.actions.githubusercontent.com", "repo:x", 700213),
        ]
        for issuer, subject, code in cases:
            assertion = _unsigned_jwt({"iss": issuer, "sub": subject, "exp": int(time.time()) + 600})
            response = wif.token_request(
                scope=PBI_SCOPE,
                client_secret=None,
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=assertion,
            )
            assert (response.status_code, response.json()["error_codes"]) == (401, [code])

    def test_certificate_not_registered(self, sim: Simulator, tmp_path: Path) -> None:
        """A certificate never registered on the app: AADSTS700027, surfaced by azure-identity."""
        other = Simulator("demo", speed=0, state_dir=tmp_path)
        pem = other.issue_client_certificate(CERT_APP)  # registered in another simulator only
        credential = CertificateCredential(
            TENANT,
            CERT_APP,
            certificate_path=str(pem),
            authority=sim.base_url,
            disable_instance_discovery=True,
            connection_verify=str(sim.ca_path),
        )
        with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
            credential.get_token(PBI_SCOPE)

    def test_failures_are_logged_as_service_principal_sign_ins(self, fresh: Simulator) -> None:
        """A refused token request shows up in the beta sign-in log with its correlation id."""
        bad = Client(fresh, secret="wrong")
        bad.session.post(
            f"{fresh.base_url}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": DAEMON,
                "client_secret": "x",
                "scope": PBI_SCOPE,
            },
            headers={"client-request-id": "11111111-2222-4333-8444-555555555555"},
            verify=bad.verify,
        )
        log = Client(fresh).get(
            "graph",
            "/beta/auditLogs/signIns?$filter=correlationId eq '11111111-2222-4333-8444-555555555555'"
            " and signInEventTypes/any(t: t eq 'servicePrincipal')",
        )
        (record,) = log.json()["value"]
        assert (record["appId"], record["status"]["errorCode"]) == (DAEMON, 7000215)


class TestManagedIdentity:
    def test_app_service_endpoint(self, client: Client) -> None:
        """GET /msi/token with X-IDENTITY-HEADER: access_token, expires_on (epoch string), resource."""
        sim = client.sim
        response = client.session.get(
            sim.endpoints["msi"],
            params={"resource": "https://management.azure.com/", "api-version": "2019-08-01"},
            headers={"X-IDENTITY-HEADER": sim.msi_header},
            verify=client.verify,
        )
        body = response.json()
        assert response.status_code == 200
        assert set(body) >= {"access_token", "expires_on", "resource", "token_type"}
        assert body["client_id"] == MI_APP
        assert int(body["expires_on"]) > time.time()
        missing = client.session.get(sim.endpoints["msi"], params={"resource": "x"}, verify=client.verify)
        assert missing.status_code == 401

    def test_azure_identity_managed_identity(self, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
        """ManagedIdentityCredential (App Service flavour) works with IDENTITY_ENDPOINT/HEADER."""
        from azure.identity import ManagedIdentityCredential

        monkeypatch.setenv("IDENTITY_ENDPOINT", sim.endpoints["msi"])
        monkeypatch.setenv("IDENTITY_HEADER", sim.msi_header)
        credential = ManagedIdentityCredential(connection_verify=str(sim.ca_path))
        token = credential.get_token("https://graph.microsoft.com/.default")
        response = Client(sim).session.get(
            sim.endpoints["graph"] + "/v1.0/applications",
            headers={"Authorization": f"Bearer {token.token}"},
            verify=str(sim.ca_path),
        )
        assert response.status_code == 200
