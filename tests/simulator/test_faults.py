"""Injected faults (throttling, 5xx, damaged bodies, expired tokens, outages) and admin quotas."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

from connectors.simulator import FaultRule, Simulator, load_scenario

from .conftest import DAEMON, DAEMON_SECRET, SUBSCRIPTION, TENANT, Client, sample

PBI_GROUPS = "/groups"
ARM_SUBS = "/subscriptions?api-version=2022-12-01"


@pytest.fixture
def live() -> Iterator[Simulator]:
    """Speed 60 (the demo default): quotas count simulated minutes."""
    with Simulator("demo", speed=60) as sim:
        yield sim


def _warm(client: Client) -> Client:
    for api in ("powerbi", "fabric", "arm", "graph"):
        client.token(api)
    return client


class TestThrottle:
    @pytest.mark.parametrize(
        ("api", "path", "check"),
        [
            ("powerbi", PBI_GROUPS, lambda r: r.content == b"" and r.headers["Retry-After"] == "3"),
            (
                "fabric",
                "/workspaces",
                lambda r: r.json()["errorCode"] == "RequestBlocked" and "(UTC)" in r.json()["message"],
            ),
            ("arm", ARM_SUBS, lambda r: r.json()["error"]["code"] == "SubscriptionRequestsThrottled"),
            (
                "graph",
                "/v1.0/auditLogs/signIns",
                lambda r: (
                    r.headers["Retry-After"] == "2.500" and r.json()["error"]["code"] == "TooManyRequests"
                ),
            ),
        ],
    )
    def test_each_api_has_its_429(
        self, fresh: Simulator, api: str, path: str, check: Callable[[requests.Response], bool]
    ) -> None:
        """429 + Retry-After with each API's body (Power BI empty, Graph fractional seconds)."""
        client = _warm(Client(fresh))
        fresh.faults.add(FaultRule(api, "throttle", retry_after=2.5 if api == "graph" else 3))
        response = client.get(api, path)
        assert response.status_code == 429
        assert "Retry-After" in response.headers
        assert check(response)

    def test_fabric_and_arm_bodies_match_the_observed_shapes(self, fresh: Simulator) -> None:
        client = _warm(Client(fresh))
        fresh.faults.add(FaultRule("*", "throttle", retry_after=10))
        assert set(client.get("fabric", "/workspaces").json()) == set(
            sample("http-errors-observed.json", "fabric_429", "body")
        )
        arm = client.get("arm", ARM_SUBS)
        assert arm.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
        assert arm.headers["Retry-After"] == "10"

    def test_count_and_path_contains(self, fresh: Simulator) -> None:
        """A rule fires at most count times, only on matching paths."""
        client = _warm(Client(fresh))
        rule = fresh.faults.add(FaultRule("powerbi", "throttle", count=2, path_contains="/admin/"))
        assert client.get("powerbi", PBI_GROUPS).status_code == 200
        codes = [client.get("powerbi", "/admin/groups?$top=1").status_code for _ in range(3)]
        assert codes == [429, 429, 200]
        assert fresh.faults.fired(rule) == 2
        fresh.faults.clear()
        assert fresh.faults.rules == []

    def test_rate_is_seeded(self) -> None:
        """rate=0.5 fires on a deterministic half-ish of the requests for a given seed."""
        outcomes = []
        for _ in range(2):
            with Simulator("demo", speed=0) as sim:
                client = _warm(Client(sim))
                sim.faults.add(FaultRule("powerbi", "throttle", rate=0.5))
                outcomes.append([client.get("powerbi", PBI_GROUPS).status_code for _ in range(30)])
        assert outcomes[0] == outcomes[1]
        assert 5 < outcomes[0].count(429) < 25


class TestServerErrors:
    def test_error5xx_uses_the_api_envelope(self, fresh: Simulator) -> None:
        client = _warm(Client(fresh))
        fresh.faults.add(FaultRule("arm", "error5xx", count=1))
        fresh.faults.add(FaultRule("fabric", "error5xx", status=503, count=1))
        arm = client.get("arm", ARM_SUBS)
        assert arm.status_code == 500 and arm.json()["error"]["code"] == "InternalServerError"
        fabric = client.get("fabric", "/workspaces")
        assert fabric.status_code == 503 and fabric.json()["isRetriable"] is True

    def test_slow(self, fresh: Simulator) -> None:
        client = _warm(Client(fresh))
        fresh.faults.add(FaultRule("powerbi", "slow", delay_ms=300, count=1))
        started = time.monotonic()
        assert client.get("powerbi", PBI_GROUPS).status_code == 200
        assert time.monotonic() - started >= 0.3


class TestDamagedBodies:
    def test_malformed(self, fresh: Simulator) -> None:
        client = _warm(Client(fresh))
        fresh.faults.add(FaultRule("powerbi", "malformed", count=1))
        response = client.get("powerbi", PBI_GROUPS)
        with pytest.raises(ValueError):
            json.loads(response.content)
        assert client.get("powerbi", PBI_GROUPS).json()["value"]

    def test_truncated_is_a_cut_off_valid_start(self, fresh: Simulator) -> None:
        """The body is the start of the real answer (the clock is frozen, so it is the same)."""
        client = _warm(Client(fresh))
        whole = client.get("arm", ARM_SUBS).content
        fresh.faults.add(FaultRule("arm", "truncated", count=1))
        cut = client.get("arm", ARM_SUBS).content
        assert whole.startswith(cut) and 0 < len(cut) < len(whole)
        with pytest.raises(ValueError):
            json.loads(cut)


class TestExpiredToken:
    @pytest.mark.parametrize(
        ("api", "path", "status", "code"),
        [
            ("powerbi", PBI_GROUPS, 403, "TokenExpired"),
            ("arm", ARM_SUBS, 401, "ExpiredAuthenticationToken"),
            ("fabric", "/workspaces", 401, "TokenExpired"),
            ("graph", "/v1.0/applications", 401, "InvalidAuthenticationToken"),
        ],
    )
    def test_answers_as_for_an_expired_token(
        self, fresh: Simulator, api: str, path: str, status: int, code: str
    ) -> None:
        client = _warm(Client(fresh))
        fresh.faults.add(FaultRule(api, "expired_token", count=1))
        response = client.get(api, path)
        body = response.json()
        assert response.status_code == status
        assert code in (body.get("errorCode"), body.get("error", {}).get("code"))
        assert client.get(api, path).status_code == 200


class TestTokenEndpointDown:
    def test_dropped_connection(self, fresh: Simulator) -> None:
        fresh.faults.add(FaultRule("token", "down", count=1))
        with pytest.raises(requests.ConnectionError):
            Client(fresh).token_request(scope="https://graph.microsoft.com/.default")

    def test_azure_identity_sees_the_outage_then_recovers(self, fresh: Simulator) -> None:
        """503 from the token endpoint makes get_token fail; once cleared it succeeds."""
        credential = ClientSecretCredential(
            TENANT,
            DAEMON,
            DAEMON_SECRET,
            authority=fresh.base_url,
            disable_instance_discovery=True,
            connection_verify=str(fresh.ca_path),
            retry_total=0,
        )
        fresh.faults.add(FaultRule("token", "down", status=503))
        with pytest.raises(ClientAuthenticationError):
            credential.get_token("https://graph.microsoft.com/.default")
        fresh.faults.clear()
        assert credential.get_token("https://graph.microsoft.com/.default").token


class TestQuotas:
    def test_admin_groups_15_per_minute(self, live: Simulator) -> None:
        """The 16th call within a simulated minute is 429 with a Retry-After in real seconds."""
        client = _warm(Client(live))
        live.clock.speed = 0
        codes = [client.get("powerbi", "/admin/groups?$top=1").status_code for _ in range(16)]
        assert codes == [200] * 15 + [429]
        throttled = client.get("powerbi", "/admin/groups?$top=1")
        assert throttled.headers["Retry-After"] == "60"  # the clock is frozen: simulated = real
        live.clock.advance(timedelta(minutes=1))
        assert client.get("powerbi", "/admin/groups?$top=1").status_code == 200

    def test_retry_after_is_real_seconds_on_a_fast_clock(self, live: Simulator) -> None:
        client = _warm(Client(live))
        for _ in range(15):
            client.get("powerbi", "/admin/groups?$top=1")
        response = client.get("powerbi", "/admin/groups?$top=1")
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) <= 2  # a simulated minute at speed 60
        time.sleep(int(response.headers["Retry-After"]))
        assert client.get("powerbi", "/admin/groups?$top=1").status_code == 200

    def test_admin_groups_50_per_hour(self, fresh: Simulator) -> None:
        client = _warm(Client(fresh))
        codes = []
        for i in range(51):
            if i and i % 15 == 0:
                fresh.clock.advance(timedelta(minutes=1))
            codes.append(client.get("powerbi", "/admin/groups?$top=1").status_code)
        assert codes == [200] * 50 + [429]

    def test_refreshables_200_per_hour(self, fresh: Simulator) -> None:
        client = _warm(Client(fresh))
        codes = [
            client.get("powerbi", "/admin/capacities/refreshables?$top=1").status_code for _ in range(201)
        ]
        assert codes == [200] * 200 + [429]
        fresh.clock.advance(timedelta(hours=1))
        assert client.get("powerbi", "/admin/capacities/refreshables?$top=1").status_code == 200


class TestScenarioFaultsAndLatency:
    def test_faults_declared_in_the_scenario(self) -> None:
        data = load_scenario("demo").model_dump(by_alias=True)
        data["faults"] = [{"api": "graph", "kind": "throttle", "count": 1, "retry_after": 4}]
        from connectors.simulator.scenario import parse_scenario

        with Simulator(parse_scenario(data), speed=0) as sim:
            client = _warm(Client(sim))
            assert client.get("graph", "/v1.0/applications").status_code == 429
            assert client.get("graph", "/v1.0/applications").status_code == 200

    def test_latency_delays_every_answer(self) -> None:
        with Simulator("demo", speed=0, latency_ms=150) as sim:
            client = Client(sim)
            client.token("arm")
            started = time.monotonic()
            client.get(
                "arm",
                f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.DataFactory/factories?api-version=2018-06-01",
            )
            assert time.monotonic() - started >= 0.15
