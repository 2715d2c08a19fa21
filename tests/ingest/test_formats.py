"""Each reference payload (connectors/simulator/pushed/README.md says where each shape is documented)
read into Pushed alerts and mapped to run records keyed like the connectors' own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import connectors.simulator
from connectors.records import RunStatus, Source
from enricher.config_load import load_config
from enricher.core.detect import detect
from enricher.ingest.formats import FORMATS, BadPayloadError
from enricher.ingest.records import Places, record_of

PAYLOADS = Path(connectors.simulator.__file__).parent / "pushed"
NOW = datetime(2026, 12, 5, 18, 30, tzinfo=UTC)
SUB = "5d1e4b0a-0000-4c3e-9a8b-000000000001"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def places() -> Places:
    return Places(
        "contoso", frozenset({"contoso", "fabrikam"}), {SUB: "fabrikam"}, {"syn-analytics": "fabrikam"}
    )


#: file, format, (codes found per alert), (source, tenant, container_id, item, status, run_id) of the first
CASES = [
    (
        "azure-monitor-log-v2",
        "azure-monitor",
        [("7000215",)],
        (Source.ADF, "fabrikam", f"{SUB}/rg-data/adf-ingest", "CopyCrmToLake", RunStatus.FAILED, "push:"),
    ),
    (
        "azure-monitor-log-results",
        "azure-monitor",
        [("700016",), ()],
        (
            Source.ADF,
            "fabrikam",
            f"{SUB}/rg-data/adf-ingest",
            "LoadFinance",
            RunStatus.FAILED,
            "7c0d9e8f-0000",
        ),
    ),
    (
        "azure-monitor-metric-resolved",
        "azure-monitor",
        [()],
        (Source.ADF, "fabrikam", f"{SUB}/rg-data/adf-ingest", "CopyCrmToLake", RunStatus.SUCCEEDED, "push:"),
    ),
    (
        "alertmanager-v4",
        "alertmanager",
        [("53003",), ()],
        (Source.POWERBI, "contoso", "finance", "Sales Model", RunStatus.FAILED, "push:8a1f0c2b3d4e5f60@"),
    ),
    (
        "grafana",
        "grafana",
        [("700082",)],
        (Source.SYNAPSE, "contoso", "syn-analytics", "NightlyLoad", RunStatus.FAILED, "push:b2c3d4e5"),
    ),
]


@pytest.mark.parametrize(("name", "fmt", "codes", "first"), CASES, ids=[c[0] for c in CASES])
def test_reference_payloads(
    name: str, fmt: str, codes: list[tuple[str, ...]], first: tuple[Any, ...]
) -> None:
    alerts = FORMATS[fmt](payload(name))
    assert [detect(a.text).codes for a in alerts] == codes
    rec = record_of(alerts[0], places(), NOW)
    source, tenant, container, item, status, run_prefix = first
    assert (rec.source, rec.tenant, rec.container_id, rec.item_id, rec.status) == (
        source,
        tenant,
        container,
        item,
        status,
    )
    assert rec.run_id.startswith(run_prefix)


def test_the_adf_key_is_the_connectors_key() -> None:
    """connectors/adf.py keys a factory subscription/resource group/name in lower case."""
    alert = FORMATS["azure-monitor"](payload("azure-monitor-log-v2"))[0]
    rec = record_of(alert, places(), NOW)
    assert rec.item_key == f"fabrikam/adf/{SUB}/rg-data/adf-ingest/CopyCrmToLake"
    assert rec.extra["subscription_id"] == SUB and rec.extra["resource_group"] == "rg-data"


def test_an_alert_naming_nothing_of_ours_is_source_pushed() -> None:
    body = {"alerts": [{"labels": {"alertname": "X"}, "annotations": {"d": "AADSTS50076"}}]}
    rec = record_of(FORMATS["alertmanager"](body)[0], places(), NOW)
    assert (rec.source, rec.tenant, rec.container_id, rec.item_id) == (
        Source.PUSHED,
        "contoso",
        "alertmanager",
        "X",
    )


def test_resolved_alertmanager_alert_is_a_success_of_the_same_item() -> None:
    body = payload("alertmanager-v4")
    firing = record_of(FORMATS["alertmanager"](body)[0], places(), NOW)
    body["alerts"][0]["status"] = "resolved"
    body["alerts"][0]["endsAt"] = "2026-12-05T18:40:00Z"
    done = record_of(FORMATS["alertmanager"](body)[0], places(), NOW)
    assert done.status is RunStatus.SUCCEEDED and done.item_key == firing.item_key
    assert done.ended_at == datetime(2026, 12, 5, 18, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fmt", "body", "reason"),
    [
        ("azure-monitor", {"schemaId": "Microsoft.Insights/LogAlert", "data": {}}, "schemaId"),
        ("azure-monitor", {"schemaId": "azureMonitorCommonAlertSchema", "data": []}, "data"),
        (
            "azure-monitor",
            {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {}}},
            "alertId",
        ),
        ("alertmanager", [], "body"),
        ("alertmanager", {"alerts": "none"}, "alerts"),
        ("grafana", {"alerts": [1]}, "alerts[0]"),
    ],
)
def test_wrong_shapes_are_refused_with_the_field(fmt: str, body: Any, reason: str) -> None:
    with pytest.raises(BadPayloadError, match=reason.replace("[", r"\[")):
        FORMATS[fmt](body)


def test_places_from_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"""
tenants:
  - {{name: a, tenant_id: 72f988bf-0000-0000-0000-000000000000, credential: {{type: default}}, sources: [{{type: powerbi}}]}}
  - name: b
    tenant_id: 72f988bf-0000-0000-0000-000000000001
    credential: {{type: default}}
    sources: [{{type: adf, subscriptions: ["{SUB.upper()}"]}}, {{type: synapse, workspaces: [{{name: Syn-Analytics}}]}}]
sinks: [{{type: console, name: c}}]
ingest: {{enabled: true, token: t0ken-value, tenant: b}}
""",
        encoding="utf-8",
    )
    p = Places.of(load_config(path))
    assert p.default == "b" and p.by_subscription == {SUB: "b"} and p.by_workspace == {"syn-analytics": "b"}
