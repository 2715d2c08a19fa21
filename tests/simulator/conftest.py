"""Fixtures for the simulator tests: a running demo simulator, an HTTP client, the samples.

Every request passes ``verify=ca_path`` itself: this machine sets ``REQUESTS_CA_BUNDLE``, which
requests lets override ``Session.verify``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "reference" / "samples"

TENANT = "4a7c2e10-5b3d-4f6e-9a81-2c3d4e5f6a70"
DOMAIN = "contoso.onmicrosoft.com"
DAEMON = "d43a1c5e-7b2f-4e8a-9c61-0f3b5a7d9e21"
DAEMON_SECRET = "sim-daemon-secret-Jq8~xV2pL4wN"
READER = "0c9e5f7a-3b1d-4a6c-8e2f-5d7b9a1c3e40"
READER_SECRET = "sim-reader-secret-4hZ~pQ7m"
SUBSCRIPTION = "8f6a4c2e-0b1d-4e3f-9a5c-7e9b1d3f5a71"
FACTORY = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-data-prod/providers/Microsoft.DataFactory/factories/adf-sales-prod"

RESOURCES = {
    "powerbi": "https://analysis.windows.net/powerbi/api",
    "fabric": "https://api.fabric.microsoft.com",
    "arm": "https://management.azure.com",
    "synapse": "https://dev.azuresynapse.net",
    "graph": "https://graph.microsoft.com",
}


class Client:
    """A requests session that knows the simulator's URLs, CA and one app's credentials."""

    def __init__(
        self, sim: Simulator, client_id: str = DAEMON, secret: str = DAEMON_SECRET, tenant: str = TENANT
    ):
        self.sim = sim
        self.client_id, self.secret, self.tenant = client_id, secret, tenant
        self.session = requests.Session()
        self._tokens: dict[str, str] = {}

    @property
    def verify(self) -> str:
        return str(self.sim.ca_path)

    def token_request(self, **form: str | None) -> requests.Response:
        tenant = form.pop("tenant", None) or self.tenant
        data = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.secret,
            **form,
        }
        data = {k: v for k, v in data.items() if v is not None}
        return self.session.post(
            f"{self.sim.base_url}/{tenant}/oauth2/v2.0/token", data=data, verify=self.verify
        )

    def token(self, api: str) -> str:
        if api not in self._tokens:
            response = self.token_request(scope=RESOURCES[api] + "/.default")
            assert response.status_code == 200, response.text
            self._tokens[api] = response.json()["access_token"]
        return self._tokens[api]

    def url(self, api: str, path: str, workspace: str = "syn-analytics-prod") -> str:
        if path.startswith("https://"):
            return path
        return self.sim.endpoints[api].format(workspace=workspace) + path

    def get(self, api: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(api)}", **kwargs.pop("headers", {})}
        return self.session.get(self.url(api, path), headers=headers, verify=self.verify, **kwargs)

    def post(self, api: str, path: str, body: object, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(api)}", **kwargs.pop("headers", {})}
        return self.session.post(
            self.url(api, path), json=body, headers=headers, verify=self.verify, **kwargs
        )


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """The demo scenario with the clock frozen at its start (06:00 UTC): answers never move."""
    with Simulator("demo", speed=0) as running:
        yield running


@pytest.fixture(scope="module")
def client(sim: Simulator) -> Client:
    return Client(sim)


@pytest.fixture
def fresh() -> Iterator[Simulator]:
    """A demo simulator of its own, for tests that change faults, the clock or quotas."""
    with Simulator("demo", speed=0) as running:
        yield running


def sample(name: str, *path: str) -> Any:
    """A sample payload from ../shared/reference/samples (the test is skipped without them)."""
    file = SAMPLES / name
    if not file.is_file():
        pytest.skip(f"reference samples not found at {SAMPLES} (expected beside the repository)")
    value = json.loads(file.read_text(encoding="utf-8"))
    for key in path:
        value = value[key]
    return value


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


# Free-form maps (pipeline parameters, activity input/output, tags...): only their type counts.
FREE_FORM = {"parameters", "input", "output", "userProperties", "runDimension", "runDimensions", "tags"}


def assert_shape(actual: object, expected: object, where: str = "$") -> None:
    """Every key of ``expected`` is in ``actual`` with the same JSON type, recursively.

    Nulls in the sample say nothing about the type; lists compare each actual item with the
    sample's first item; free-form maps are compared by type only.
    """
    if expected is None:
        return
    if actual is not None:
        assert _kind(actual) == _kind(expected), (
            f"{where}: {_kind(actual)} where the sample has {_kind(expected)}"
        )
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object"
        missing = set(expected) - set(actual)
        assert not missing, f"{where}: missing keys {sorted(missing)}"
        for key, value in expected.items():
            if key in FREE_FORM:
                assert isinstance(actual[key], type(value)), f"{where}.{key}: not a {type(value).__name__}"
            else:
                assert_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list) and expected and isinstance(actual, list):
        for i, item in enumerate(actual):
            assert_shape(item, expected[0], f"{where}[{i}]")
