"""The sign-in look-up over HTTPS against the simulator's Graph: each identity kind, late events,
a tenant without the licence or the permissions, and Graph's reporting throttle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest
import yaml

from connectors.clouds import PUBLIC
from connectors.graph import GraphClient
from connectors.signins import EventType, Missing, RateGate, SigninFinder, SigninQuery, kinds_for
from connectors.simulator import Simulator
from connectors.simulator.scenario import Scenario

from .conftest import READER, READER_SECRET, http_for, spec

MI_APP = "6d8f0a2c-4e6a-4c8e-8f0a-3b5d7f9b1d96"
START = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)


def scenario(
    *, tenant: dict[str, Any] | None = None, noise: dict[str, Any] | None = None, **daemon: Any
) -> Scenario:
    """The demo with pl_ingest_sales failing as a managed identity, and the given changes."""
    text = resources.files("connectors.simulator").joinpath("scenarios", "demo.yaml").read_text()
    data = yaml.safe_load(text)
    contoso = data["tenants"][0]
    contoso.update(tenant or {})
    contoso["signins"] = {**contoso.get("signins", {}), **(noise or {})}
    contoso["apps"][0].update(daemon)
    for sub in contoso["subscriptions"]:
        for group in sub.get("resource_groups", []):
            for factory in group.get("factories", []):
                for pipeline in factory.get("pipelines", []):
                    if pipeline["name"] == "pl_ingest_sales":
                        pipeline["failure"]["principal"] = MI_APP
    return Scenario.model_validate(data)


def finder(
    sim: Simulator, *, client: str | None = None, secret: str | None = None, gate: RateGate | None = None
) -> SigninFinder:
    ep = PUBLIC.with_overrides(**{k: v for k, v in sim.endpoints.items() if k != "msi"})
    creds = spec(sim, client, secret) if client else spec(sim)
    return SigninFinder(GraphClient(http_for(sim, creds, max_wait=30.0), ep), gate or RateGate(limit=1000))


def truth(f: SigninFinder, kind: EventType, code: int) -> dict[str, Any]:
    """The simulator's own record of a failure of ``kind`` (what the run's text would point at)."""
    flt = f"createdDateTime ge 2025-04-01T00:00:00Z and status/errorCode eq {code}"
    beta = kind is not EventType.INTERACTIVE
    if beta:
        flt += f" and signInEventTypes/any(t: t eq '{kind.value}')"
    return f.graph.signins(flt, beta=beta, limit=1)[0]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(scenario=scenario(), port=0, speed=0) as s:
        yield s


CASES = [
    (EventType.INTERACTIVE, 53003, "user"),
    (EventType.NON_INTERACTIVE, 700082, "user"),
    (EventType.SERVICE_PRINCIPAL, 7000215, "app"),
    (EventType.MANAGED_IDENTITY, 7000222, "app"),
]


class TestIdentityKinds:
    @pytest.mark.parametrize(("kind", "code", "principal"), CASES)
    def test_found_by_correlation_id(
        self, sim: Simulator, kind: EventType, code: int, principal: str
    ) -> None:
        """The kinds chosen for the code's principal reach the log the sign-in is in."""
        f = finder(sim)
        record = truth(f, kind, code)
        at = datetime.fromisoformat(record["createdDateTime"][:19]).replace(tzinfo=UTC)
        query = SigninQuery("inc-1", code, at, kinds_for(principal), correlation_id=record["correlationId"])
        batch = f.find([query], max_requests=5)
        found = batch.found["inc-1"]
        assert (found.id, found.event_type, found.code) == (record["id"], kind.value, code)

    @pytest.mark.parametrize(("kind", "code", "principal"), CASES)
    def test_found_by_app_and_code_without_correlation_id(
        self, sim: Simulator, kind: EventType, code: int, principal: str
    ) -> None:
        """No correlation ID: app id + code + a window around the run find the same sign-in."""
        f = finder(sim)
        record = truth(f, kind, code)
        at = datetime.fromisoformat(record["createdDateTime"][:19]).replace(tzinfo=UTC) + timedelta(minutes=2)
        query = SigninQuery("inc-1", code, at, kinds_for(principal), app_id=record["appId"])
        assert f.find([query], max_requests=5).found["inc-1"].event_type == kind.value

    def test_v1_alone_misses_unattended_sign_ins(self, sim: Simulator) -> None:
        """Searching only the interactive log (v1.0) finds nothing for a non-interactive refresh."""
        f = finder(sim)
        record = truth(f, EventType.NON_INTERACTIVE, 700082)
        at = datetime.fromisoformat(record["createdDateTime"][:19]).replace(tzinfo=UTC)
        query = SigninQuery("x", 700082, at, (EventType.INTERACTIVE,), correlation_id=record["correlationId"])
        assert f.find([query], max_requests=5).found == {}

    def test_blocking_policy_and_details(self, sim: Simulator) -> None:
        """A 53003 names the failed Conditional Access policy, its grant control, IP and location."""
        f = finder(sim)
        record = truth(f, EventType.INTERACTIVE, 53003)
        at = datetime.fromisoformat(record["createdDateTime"][:19]).replace(tzinfo=UTC)
        query = SigninQuery("a", 53003, at, kinds_for("user"), correlation_id=record["correlationId"])
        found = f.find([query], max_requests=5).found["a"]
        (policy,) = found.blocking
        assert (policy.name, policy.grant_controls) == ("Block access from untrusted locations", ("Block",))
        assert found.ca_status == "failure" and found.ip and found.city == "Amsterdam"
        assert found.principal.endswith("@contoso.onmicrosoft.com")

    def test_correlation_ids_are_batched(self, sim: Simulator) -> None:
        """Ten user failures cost one request when they are all interactive."""
        f = finder(sim)
        records = f.graph.signins(
            "createdDateTime ge 2025-04-01T00:00:00Z and status/errorCode ne 0", limit=10
        )
        assert len(records) == 10
        queries = [
            SigninQuery(
                f"q{i}",
                r["status"]["errorCode"],
                datetime.fromisoformat(r["createdDateTime"][:19]).replace(tzinfo=UTC),
                kinds_for("user"),
                correlation_id=r["correlationId"],
            )
            for i, r in enumerate(records)
        ]
        batch = f.find(queries, max_requests=10)
        assert (len(batch.found), batch.requests) == (10, 1)


class TestLateEvents:
    def test_a_sign_in_not_yet_in_the_log_is_found_later(self) -> None:
        """The log shows sign-ins 5 minutes late: not found at first, found once time has passed."""
        with Simulator(scenario=scenario(noise={"delay_seconds": 300}), port=0, speed=0) as late:
            f = finder(late)
            # HR Headcount fails every 30 min; its 06:00 refresh failed about 2 minutes in
            query = SigninQuery(
                "hr", 50076, START, kinds_for("user"), app_id="871c010f-5e61-4fb1-83ac-98610a7e9110"
            )
            late.clock.advance(timedelta(minutes=3))
            first = f.find([query], max_requests=5)
            late.clock.advance(timedelta(minutes=10))
            second = f.find([query], max_requests=5)
        assert "hr" not in first.found and first.errors == [] and first.missing == set()
        assert second.found["hr"].code == 50076


class TestDegrade:
    def _query(self) -> SigninQuery:
        return SigninQuery("q", 53003, START - timedelta(minutes=89), kinds_for("user"), app_id=None)

    def test_no_licence(self) -> None:
        """403 Authentication_RequestFromNonPremiumTenantOrB2CTenant: licence missing, look-up stops."""
        with Simulator(scenario=scenario(tenant={"entra_premium": False}), port=0, speed=0) as s:
            batch = finder(s).find([self._query(), self._query()], max_requests=5)
        assert batch.missing == {Missing.LICENCE} and batch.refused and batch.requests == 1

    def test_no_audit_log_permission(self) -> None:
        """403 without AuditLog.Read.All: the permission is named, the look-up stops."""
        with Simulator(scenario=scenario(audit_log_read=False), port=0, speed=0) as s:
            batch = finder(s).find([self._query()], max_requests=5)
        assert batch.missing == {Missing.AUDIT_LOG} and batch.refused and batch.found == {}

    def test_no_policy_permission(self, sim: Simulator) -> None:
        """Without Policy.Read.All the sign-in is still found, without policies, and that is named."""
        batch = finder(sim, client=READER, secret=READER_SECRET).find([self._query()], max_requests=5)
        assert batch.missing == {Missing.POLICY_READ} and not batch.refused
        found = batch.found["q"]
        assert found.policies == () and not found.policies_read and found.code == 53003


class TestThrottling:
    """Graph allows 5 sign-in requests per 10 s per app; the simulator enforces that here."""

    def _six(self) -> list[SigninQuery]:
        return [
            SigninQuery(f"q{i}", 53003, START - timedelta(hours=i + 1), (EventType.INTERACTIVE,), app_id=None)
            for i in range(6)
        ]

    def test_the_gate_keeps_under_the_limit(self) -> None:
        """Six look-ups through a 5-per-10-s gate: six requests sent, none refused with 429."""
        with Simulator(scenario=scenario(noise={"rate_per_10s": 5}), port=0, speed=0) as s:
            f = finder(s, gate=RateGate(limit=5, per=10.0))
            batch = f.find(self._six(), max_requests=6)
            sent = f.graph.http.requests["graph"]
        assert batch.requests == 6 and batch.errors == []
        assert sent == 6  # every 429 would have been a resend

    def test_without_the_gate_graph_throttles(self) -> None:
        """The same six look-ups without a gate get a 429 (retried after Retry-After)."""
        with Simulator(scenario=scenario(noise={"rate_per_10s": 5}), port=0, speed=0) as s:
            f = finder(s, gate=RateGate(limit=1000))
            batch = f.find(self._six(), max_requests=6)
            sent = f.graph.http.requests["graph"]
        assert batch.requests == 6 and batch.errors == [] and sent > 6

    def test_max_requests_caps_a_cycle(self, sim: Simulator) -> None:
        """A cycle sends at most max_requests; the rest waits for the next cycle."""
        batch = finder(sim).find(self._six(), max_requests=2)
        assert batch.requests == 2
