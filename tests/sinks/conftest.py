"""Fixtures for the sink tests: loopback servers, notifications (ordinary and hostile), golden files."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from enricher.models import FixStep, Link
from enricher.notification import ItemRef, Notification
from tests.sinks.servers import Certs, make_certs

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2025, 4, 2, 6, 10, 44, tzinfo=UTC)

HOSTILE_BITS = (
    "<!channel> <!here> @channel <@U123> <https://evil.example|click> *bold* _it_ ~s~ `tick` "
    "<script>alert(1)</script> [click](https://evil.example) ![img](https://evil.example/x.png) "
    '"quotes" & ampersand \x1b[31mred\x1b[0m'
)


def firing(**changes: Any) -> Notification:
    """A realistic Power BI AADSTS53003 notification; ``changes`` replace fields."""
    n = Notification(
        id="firing-0123456789abcdef",
        incident_id="5f2b0c9e4d7a11223344-1743574244",
        kind="firing",
        severity="critical",
        code="53003",
        title="AADSTS53003: Access blocked by Conditional Access - Sales",
        short="Access blocked by Conditional Access",
        summary="A Conditional Access policy blocked the sign-in of the identity used by the refresh.",
        cause="The service principal signs in from an address or location a policy does not allow.",
        fixes=(
            FixStep("Open the sign-in log entry for correlation ID 0f1e2d3c and read which policy failed."),
            FixStep(
                "Exclude the service principal from the policy, or add a named location",
                "az rest --method get --url https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies",
            ),
        ),
        source="powerbi",
        tenant="contoso",
        items=(
            ItemRef(
                source="powerbi",
                container_name="Finance",
                item_name="Sales",
                item_type="dataset",
                item_id="cfafbeb1-8037-4d0c-896e-a46fb27ff229",
                container_id="f089354e-8366-4e18-aea3-4cb4a3a50b48",
                run_id="1d2e3f40",
                url="https://app.powerbi.com/groups/f089354e-8366-4e18-aea3-4cb4a3a50b48/settings/datasets/cfafbeb1-8037-4d0c-896e-a46fb27ff229",
            ),
        ),
        first_seen=T0 - timedelta(hours=2),
        last_seen=T0,
        count=3,
        created_at=T0 + timedelta(seconds=30),
        category="conditional_access",
        name="BlockedByConditionalAccess",
        links=(
            Link("AADSTS53003 explained", "https://login.microsoftonline.com/error?code=53003"),
            Link("Entra sign-in logs", "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/SignIns"),
        ),
        correlation_id="0f1e2d3c-4b5a-4697-8877-665544332211",
        trace_id="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c00",
        error_timestamp="2025-04-02 06:10:44Z",
        consecutive_failures=3,
        schedule_failures_left=1,
        excerpt="AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        labels={"workspace": "Finance", "item": "Sales", "category": "conditional_access"},
    )
    return dataclasses.replace(n, **changes)


def resolved() -> Notification:
    return firing(
        id="resolved-fedcba9876543210",
        kind="resolved",
        duration=timedelta(hours=2, minutes=5),
        created_at=T0 + timedelta(hours=2, minutes=5),
        consecutive_failures=None,
        schedule_failures_left=None,
    )


def hostile() -> Notification:
    """Every string that comes from outside is an attack, and the excerpt is 50 KB long."""
    item = ItemRef(
        source="powerbi",
        container_name=f"WS {HOSTILE_BITS}",
        item_name=f"DS {HOSTILE_BITS}",
        item_type="dataset",
        url="javascript:alert(1)",
    )
    return firing(
        title=f"AADSTS53003: Access blocked - {HOSTILE_BITS}",
        items=(item,) * 30,
        fixes=(FixStep(f"Fix {HOSTILE_BITS}", f"echo `{HOSTILE_BITS}`"),) * 40,
        excerpt=(HOSTILE_BITS + " ") * 300,  # about 50 KB
        correlation_id=HOSTILE_BITS,
        cause=f"Cause {HOSTILE_BITS}",
        summary=f"Summary {HOSTILE_BITS}",
        links=(Link(HOSTILE_BITS, "https://evil.example/a|b>c<d"), Link("js", "javascript:alert(1)")),
    )


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def _mask(value: Any, volatile: set[str], path: str = "") -> Any:
    if isinstance(value, dict):
        return {
            k: "<volatile>" if f"{path}.{k}".lstrip(".") in volatile else _mask(v, volatile, f"{path}.{k}")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v, volatile, path) for v in value]
    return value


def assert_golden(name: str, payload: Any, volatile: tuple[str, ...] = ()) -> None:
    """Compare ``payload`` with ``golden/<name>.json`` after masking ``volatile`` dotted paths.

    ``UPDATE_GOLDEN=1`` rewrites the file instead (review the diff before committing it).
    """
    masked = _mask(payload, set(volatile))
    path = GOLDEN / f"{name}.json"
    text = json.dumps(masked, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if os.environ.get("UPDATE_GOLDEN") != "1":
            pytest.fail(f"{path.name} did not exist and was written: review it, then run again")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), f"differs from {path.name}"


SECRET_PATH = "/services/T0000/B0000/XXXXsecretXXXXtoken"
ROUTING_KEY = "R0123456789abcdef0123456789abcdef"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def sink_config(kind: str, url: str, **extra: Any) -> Any:
    """A validated sink config of ``kind`` pointing at ``url`` (as the loader would build it)."""
    from pydantic import TypeAdapter

    from enricher.config import SinkConfig

    fields: dict[str, Any] = {"type": kind, "name": f"{kind}-test", "timeout": "2s"}
    if kind in {"slack", "teams"}:
        fields["webhook_url"] = url + SECRET_PATH
    elif kind == "pagerduty":
        fields.update(url=url + "/v2/enqueue", routing_key=ROUTING_KEY)
    elif kind == "webhook":
        fields.update(url=url + "/hook", secret=WHSEC)
    fields.update(extra)
    return TypeAdapter(SinkConfig).validate_python(fields)


def make_sink(kind: str, url: str, config_dir: Path = Path("."), **extra: Any) -> Any:
    from enricher.sinks.registry import build_sink

    return build_sink(sink_config(kind, url, **extra), config_dir)
