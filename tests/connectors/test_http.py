"""The shared HTTP client against the simulator's fault injection: what the server saw is the proof."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectors.errors import ApiError
from connectors.http import RetryPolicy, next_delay, parse_retry_after
from connectors.simulator import FaultRule, Simulator
from tests.connectors.conftest import http_for

SCOPE = "https://analysis.windows.net/powerbi/api/.default"


def groups_url(sim: Simulator) -> str:
    return f"{sim.endpoints['powerbi']}/groups"


def test_429_waits_for_retry_after(sim: Simulator) -> None:
    """After a 429 with Retry-After 1.5 s, the next request arrives no sooner than 1.5 s later."""
    http = http_for(sim)
    http.get("powerbi", groups_url(sim), SCOPE)  # token acquired beforehand
    sim.faults.add(FaultRule(api="powerbi", kind="throttle", retry_after=1.5, count=2))
    start = len(sim.stats.arrivals("powerbi"))
    assert http.get("powerbi", groups_url(sim), SCOPE)["value"]
    times = [t for t, _ in sim.stats.arrivals("powerbi")[start:]]
    assert len(times) == 3
    assert times[1] - times[0] >= 1.5 and times[2] - times[1] >= 1.5


def test_429_storm_blocks_every_worker(sim: Simulator) -> None:
    """One 429 holds back all parallel requests to that host, not just the one that got it."""
    http = http_for(sim)
    http.get("powerbi", groups_url(sim), SCOPE)
    sim.faults.add(FaultRule(api="powerbi", kind="throttle", retry_after=1.0, count=1))
    start = len(sim.stats.arrivals("powerbi"))
    barrier = threading.Barrier(6)

    def one(_: int) -> object:
        barrier.wait()
        return http.get("powerbi", groups_url(sim), SCOPE)

    with ThreadPoolExecutor(6) as pool:
        assert all(pool.map(one, range(6)))
    arrivals = [t for t, _ in sim.stats.arrivals("powerbi")[start:]]
    throttled_at = arrivals[0]  # the first arrival is the one the fault answered with 429
    # requests already in flight arrive within milliseconds; after that, nothing until Retry-After is over
    early = [t - throttled_at for t in arrivals[1:] if throttled_at + 0.25 < t < throttled_at + 1.0]
    assert early == [] and len(arrivals) == 7
    assert max(arrivals) >= throttled_at + 1.0  # the throttled request was retried, after the wait


def test_long_retry_after_defers_to_next_cycle(sim: Simulator) -> None:
    http = http_for(sim, max_wait=2.0)
    http.get("powerbi", groups_url(sim), SCOPE)
    sim.faults.add(FaultRule(api="powerbi", kind="throttle", retry_after=3600, count=1))
    with pytest.raises(ApiError, match="failed after retries: HTTP 429") as err:
        http.get("powerbi", groups_url(sim), SCOPE)
    assert err.value.retryable


def test_5xx_burst_then_success(sim: Simulator) -> None:
    http = http_for(sim, base=0.01)
    sim.faults.add(FaultRule(api="powerbi", kind="error5xx", status=503, count=2))
    assert http.get("powerbi", groups_url(sim), SCOPE)["value"]


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_bad_json_is_an_error_not_a_crash(sim: Simulator, kind: str) -> None:
    http = http_for(sim, base=0.01)
    sim.faults.add(FaultRule(api="powerbi", kind=kind))  # type: ignore[arg-type]
    with pytest.raises(ApiError, match="malformed or truncated JSON") as err:
        http.get("powerbi", groups_url(sim), SCOPE)
    assert err.value.retryable and http.failures["powerbi"] == 1


def test_expired_token_is_refreshed_once(sim: Simulator) -> None:
    """Power BI's 403 TokenExpired: one retry with a new token, which succeeds."""
    http = http_for(sim)
    http.get("powerbi", groups_url(sim), SCOPE)
    sim.revoke_tokens()
    before = http.tokens.acquired
    assert http.get("powerbi", groups_url(sim), SCOPE)["value"]
    assert http.tokens.acquired == before + 2  # the rejected attempt and the fresh one


def test_token_endpoint_down_is_an_auth_error(sim: Simulator) -> None:
    from connectors.errors import AuthError

    http = http_for(sim)
    sim.faults.add(FaultRule(api="token", kind="down", status=503))
    with pytest.raises(AuthError):
        http.get("powerbi", groups_url(sim), SCOPE)


def test_4xx_is_permanent(sim: Simulator) -> None:
    http = http_for(sim)
    with pytest.raises(ApiError, match="HTTP 404") as err:
        http.get(
            "powerbi",
            f"{sim.endpoints['powerbi']}/groups/00000000-0000-0000-0000-000000000000/datasets",
            SCOPE,
        )
    assert not err.value.retryable


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("2.128", 2.128),
        ("-3", 0.0),
        ("soon", None),
        (None, None),
        ("Thu, 01 Jan 1970 00:00:10 GMT", 5.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=5.0) == expected


def test_next_delay_never_undercuts_retry_after() -> None:
    rng = random.Random(1)
    policy = RetryPolicy(base=0.5, cap=20)
    assert all(next_delay(a, 7.0, policy, rng) >= 7.0 for a in range(6))
    assert all(0 <= next_delay(a, None, policy, rng) <= min(20, 0.5 * 2**a) for a in range(8))
