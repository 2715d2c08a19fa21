"""Fixtures: the demo simulator on loopback and real azure-identity credentials against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.auth import CredentialSpec, TokenProvider, make_credential
from connectors.base import Identity
from connectors.clouds import PUBLIC, Endpoints
from connectors.http import AzureHttp, RetryPolicy
from connectors.simulator import Simulator

TENANT = "4a7c2e10-5b3d-4f6e-9a81-2c3d4e5f6a70"
DAEMON = "d43a1c5e-7b2f-4e8a-9c61-0f3b5a7d9e21"
SECRET = "sim-daemon-secret-Jq8~xV2pL4wN"
READER = "0c9e5f7a-3b1d-4a6c-8e2f-5d7b9a1c3e40"
READER_SECRET = "sim-reader-secret-4hZ~pQ7m"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(scenario="demo", port=0, speed=0) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(sim: Simulator) -> Iterator[None]:
    sim.faults.clear()
    yield
    sim.faults.clear()


def endpoints(sim: Simulator) -> Endpoints:
    return PUBLIC.with_overrides(**{k: v for k, v in sim.endpoints.items() if k != "msi"})


def spec(sim: Simulator, client_id: str = DAEMON, secret: str | None = SECRET, **kw: str) -> CredentialSpec:
    kind = kw.pop("kind", "client_secret")
    return CredentialSpec(
        kind,
        kw.pop("tenant", TENANT),
        client_id,
        secret,
        authority=sim.base_url,  # type: ignore[arg-type]
        verify=str(sim.ca_path),
        **kw,
    )


def http_for(sim: Simulator, credential: CredentialSpec | None = None, **policy: float) -> AzureHttp:
    tokens = TokenProvider(make_credential(credential or spec(sim)))
    return AzureHttp(tokens, verify=str(sim.ca_path), policy=RetryPolicy(**policy))  # type: ignore[arg-type]


def identity(client_id: str = DAEMON) -> Identity:
    return Identity("contoso", TENANT, client_id)
