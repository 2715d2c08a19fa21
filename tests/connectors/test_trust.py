"""``ca_bundle`` adds to the default trust (or, with ``replace``, stands alone), over real HTTPS.

Two simulators, each with its own throwaway CA: ``public`` plays a host signed by a CA of the
default trust (``REQUESTS_CA_BUNDLE`` names its CA, as the environment would), ``proxy`` plays a
TLS-inspecting proxy whose CA comes only from ``ca_bundle``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.simulator import Simulator
from connectors.trust import verify_for
from enricher.cli import main

PATH = "/common/v2.0/.well-known/openid-configuration"


@pytest.fixture(scope="module")
def public() -> Iterator[Simulator]:
    with Simulator(scenario="demo", port=0, speed=0) as s:
        yield s


@pytest.fixture(scope="module")
def proxy() -> Iterator[Simulator]:
    with Simulator(scenario="demo", port=0, speed=0) as s:
        yield s


@pytest.fixture
def default_trust(public: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(public.ca_path))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def reaches(sim: Simulator, verify: str | bool) -> bool:
    try:
        requests.get(sim.base_url + PATH, verify=verify, timeout=10)
    except requests.exceptions.SSLError:
        return False
    return True


@pytest.mark.usefixtures("default_trust")
class TestVerifyFor:
    def test_add_trusts_the_default_cas_and_the_bundle(
        self, public: Simulator, proxy: Simulator, tmp_path: Path
    ) -> None:
        verify = verify_for(str(proxy.ca_path), "add", tmp_path)
        assert isinstance(verify, str) and verify != str(proxy.ca_path)
        assert reaches(proxy, verify) and reaches(public, verify)

    def test_replace_trusts_the_bundle_alone(self, public: Simulator, proxy: Simulator) -> None:
        verify = verify_for(str(proxy.ca_path), "replace")
        assert verify == str(proxy.ca_path)
        assert reaches(proxy, verify) and not reaches(public, verify)

    def test_without_a_bundle_the_default_trust_is_used(self, public: Simulator, proxy: Simulator) -> None:
        assert verify_for(None) is True
        assert reaches(public, True) and not reaches(proxy, True)

    def test_the_combined_file_is_written_once(self, proxy: Simulator, tmp_path: Path) -> None:
        first = verify_for(str(proxy.ca_path), "add", tmp_path)
        assert verify_for(str(proxy.ca_path), "add", tmp_path) == first
        assert [p.name for p in tmp_path.iterdir()] == [Path(str(first)).name]


def test_a_missing_bundle_is_a_one_line_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "tenants: [{name: t, tenant_id: x, ca_bundle: /nope/ca.pem,"
        " credential: {type: client_secret, client_id: c, client_secret: s}, sources: [{type: powerbi}]}]\n"
        f"sinks: [{{name: s, type: console}}]\nstate: {{path: '{tmp_path}'}}\n",
        encoding="utf-8",
    )
    assert main(["once", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == "aadsts-enricher: tenants[0].ca_bundle: no such file: /nope/ca.pem\n"


@pytest.mark.parametrize("mode", ["add", "replace"])
def test_the_daemon_signs_in_and_polls_through_either_mode(
    proxy: Simulator, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-identity (token) and requests (API) both verify against what ``ca_bundle`` says."""
    from enricher.config import Config
    from enricher.wiring.build import build_tenant
    from enricher.wiring.demo import demo_config_data

    data = demo_config_data(proxy, tmp_path)
    data["tenants"][0]["ca_bundle_mode"] = mode
    tenant = build_tenant(Config.model_validate(data).tenants[0], lambda s: None)
    powerbi = next(job for job in tenant.jobs if job.name == "contoso/powerbi")
    poll = powerbi.connector.poll(proxy.clock.now(), {})
    assert poll.errors == [] and poll.auth_error is None and len(poll.records) > 1
    tenant.http.close()
