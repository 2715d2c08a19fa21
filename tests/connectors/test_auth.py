"""Every credential kind through azure-identity against the simulator's Entra endpoints."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from connectors.auth import TokenProvider, make_credential
from connectors.errors import AuthError
from connectors.simulator import Simulator
from enricher.core.detect import detect
from enricher.core.knowledge import load_knowledge
from tests.connectors.conftest import DAEMON, endpoints, spec

SCOPE = "https://analysis.windows.net/powerbi/api/.default"
GITHUB_APP = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c74"


def jwt(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_client_secret(sim: Simulator) -> None:
    assert TokenProvider(make_credential(spec(sim))).token(SCOPE).count(".") == 2


def test_wrong_secret_is_entra_text(sim: Simulator) -> None:
    """The daemon's own failed sign-in carries Entra's error, which detection explains."""
    with pytest.raises(AuthError) as err:
        TokenProvider(make_credential(spec(sim, secret="not-the-secret"))).token(SCOPE)
    assert detect(err.value.message).primary == "7000215"
    assert "not-the-secret" not in str(err.value)


@pytest.mark.parametrize(
    ("client_id", "tenant", "code"),
    [
        ("00000000-0000-0000-0000-000000000001", None, "700016"),  # unknown app
        (DAEMON, "11111111-2222-3333-4444-555555555555", "90002"),  # unknown tenant
        ("7f2d4b6a-1c3e-4d5f-8a7b-9c0d1e2f3a41", None, "7000222"),  # expired secret (legacy-etl)
    ],
)
def test_failures_carry_their_code(sim: Simulator, client_id: str, tenant: str | None, code: str) -> None:
    secret = "sim-legacy-secret-expired-8Kd~" if code == "7000222" else "x"
    kwargs = {"tenant": tenant} if tenant else {}
    with pytest.raises(AuthError) as err:
        TokenProvider(make_credential(spec(sim, client_id, secret, **kwargs))).token(SCOPE)
    found = detect(err.value.message, load_knowledge().signatures)
    # MSAL does not pass on the body of a failed authority discovery (unknown tenant): inferred
    assert code in found.codes or found.primary == code


def test_certificate(sim: Simulator) -> None:
    pem = sim.issue_client_certificate(DAEMON)
    credential = spec(sim, DAEMON, None, kind="certificate", certificate_path=str(pem))
    assert TokenProvider(make_credential(credential)).token(SCOPE)


def test_workload_identity_federation(sim: Simulator, tmp_path: Path) -> None:
    now = int(time.time())
    good = {
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:contoso/data-platform:ref:refs/heads/main",
        "aud": "api://AzureADTokenExchange",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    token_file = tmp_path / "token"
    token_file.write_text(jwt(good))
    credential = spec(sim, GITHUB_APP, None, kind="workload_identity", token_file=str(token_file))
    assert TokenProvider(make_credential(credential)).token(SCOPE)
    token_file.write_text(jwt({**good, "sub": "repo:contoso/data-platform:ref:refs/heads/feature"}))
    with pytest.raises(AuthError) as err:
        TokenProvider(make_credential(credential)).token(SCOPE)
    assert "700213" in detect(err.value.message).codes


def test_managed_identity(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.endpoints["msi"])
    monkeypatch.setenv("IDENTITY_HEADER", sim.msi_header)
    credential = spec(sim, "6d8f0a2c-4e6a-4c8e-8f0a-3b5d7f9b1d96", None, kind="managed_identity")
    assert TokenProvider(make_credential(credential)).token(SCOPE)


def test_fresh_token_after_revocation(sim: Simulator) -> None:
    provider = TokenProvider(make_credential(spec(sim)))
    first = provider.token(SCOPE)
    assert provider.token(SCOPE) == first  # cached
    sim.revoke_tokens(DAEMON)
    assert provider.token(SCOPE, fresh=True) != first


def test_sovereign_roots_and_scopes() -> None:
    from connectors.clouds import CLOUDS

    gov = CLOUDS["usgovernment"]
    assert gov.authority == "https://login.microsoftonline.us"
    assert gov.scope("powerbi") == "https://analysis.usgovcloudapi.net/powerbi/api/.default"
    assert endpoints.__name__ == "endpoints"
