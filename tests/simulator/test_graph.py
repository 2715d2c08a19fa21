"""Graph sign-in logs (joined to run failures by correlation id) and application credentials."""

from __future__ import annotations

import json
import re
from typing import Any

from connectors.simulator import Simulator

from .conftest import DAEMON, FACTORY, READER, READER_SECRET, Client, assert_shape, sample

SINCE = "createdDateTime ge 2025-04-02T00:00:00Z"


def _signins(client: Client, query: str, version: str = "v1.0", **kwargs: Any) -> Any:
    response = client.get("graph", f"/{version}/auditLogs/signIns?{query}", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


class TestSignIns:
    def test_failed_sign_in_matches_the_sample(self, client: Client) -> None:
        """status.errorCode is an int without the AADSTS prefix; the sample's keys are there."""
        body = _signins(client, f"$filter={SINCE} and status/errorCode eq 53003&$top=1")
        (record,) = body["value"]
        expected = sample("graph-signins-failed.json", "responses", "200", "body")
        assert_shape(record, expected["value"][0])
        assert record["status"]["errorCode"] == 53003
        assert record["status"]["failureReason"].startswith("Access has been blocked by Conditional Access")
        assert record["appliedConditionalAccessPolicies"][0]["result"] == "failure"

    def test_one_sign_in_per_run_failure_with_the_same_correlation_id(self, client: Client) -> None:
        """The Correlation ID printed in an ADF failure finds exactly one sign-in with that code."""
        window = {"lastUpdatedAfter": "2025-04-02T04:00:00Z", "lastUpdatedBefore": "2025-04-02T06:00:00Z"}
        flt = [{"operand": "PipelineName", "operator": "Equals", "values": ["pl_ingest_sales"]}]
        runs = client.post(
            "arm", FACTORY + "/queryPipelineRuns?api-version=2018-06-01", {**window, "filters": flt}
        )
        message = runs.json()["value"][0]["message"]
        found = re.search(r"Correlation ID: ([0-9a-f-]{36})", message)
        stamp = re.search(r"Timestamp: (\S+) (\S+)Z", message)
        assert found is not None and stamp is not None
        correlation = found.group(1)
        body = _signins(
            client,
            f"$filter=correlationId eq '{correlation}' and signInEventTypes/any(t: t eq 'servicePrincipal')",
            "beta",
        )
        (record,) = body["value"]
        assert record["status"]["errorCode"] == 7000222
        assert record["createdDateTime"].startswith(f"{stamp.group(1)}T{stamp.group(2)}")

    def test_user_failures_are_on_v1(self, client: Client) -> None:
        """Interactive user failures (53003, 50076) are on v1.0; refresh-token ones are not."""
        body = _signins(client, f"$filter={SINCE} and status/errorCode ne 0")
        codes = {r["status"]["errorCode"] for r in body["value"]}
        assert {53003, 50076, 50000} <= codes
        assert not codes & {7000222, 700082, 50173}  # service principal, non-interactive: beta only
        assert all(r["isInteractive"] for r in body["value"])

    def test_refresh_token_failures_are_non_interactive_on_beta(self, client: Client) -> None:
        """A stored OAuth credential (700082 Sales Model, 50173 dataflow) signs in non-interactively."""
        kind = "signInEventTypes/any(t: t eq 'nonInteractiveUser')"
        body = _signins(client, f"$filter={SINCE} and status/errorCode ne 0 and {kind}", "beta")
        codes = {r["status"]["errorCode"] for r in body["value"]}
        assert {700082, 50173} <= codes
        assert not any(r["isInteractive"] for r in body["value"])
        assert {t for r in body["value"] for t in r["signInEventTypes"]} == {"nonInteractiveUser"}

    def test_newest_first_with_next_link(self, client: Client) -> None:
        """$top pages with an @odata.nextLink carrying $skiptoken; pages do not overlap."""
        first = _signins(client, f"$filter={SINCE}&$top=5")
        second = client.get("graph", str(first["@odata.nextLink"])).json()
        assert "$skiptoken=" in str(first["@odata.nextLink"]).replace("%24", "$")
        stamps = [r["createdDateTime"] for r in first["value"] + second["value"]]
        assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == 10

    def test_top_above_1000_is_rejected(self, client: Client) -> None:
        assert client.get("graph", "/v1.0/auditLogs/signIns?$top=1001").status_code == 400

    def test_event_type_filter_is_beta_only(self, client: Client) -> None:
        response = client.get(
            "graph", "/v1.0/auditLogs/signIns?$filter=signInEventTypes/any(t: t eq 'servicePrincipal')"
        )
        assert response.status_code == 400

    def test_app_filter(self, client: Client) -> None:
        body = _signins(client, f"$filter={SINCE} and appId eq '871c010f-5e61-4fb1-83ac-98610a7e9110'")
        assert body["value"] and {r["appId"] for r in body["value"]} == {
            "871c010f-5e61-4fb1-83ac-98610a7e9110"
        }

    def test_ca_policies_need_a_policy_permission(self, sim: Simulator, client: Client) -> None:
        """Without ca_policy_read the property is omitted altogether."""
        reader = Client(sim, READER, READER_SECRET)
        body = _signins(reader, f"$filter={SINCE}&$top=20")
        assert all("appliedConditionalAccessPolicies" not in r for r in body["value"])
        assert all(
            "appliedConditionalAccessPolicies" in r
            for r in _signins(client, f"$filter={SINCE}&$top=20")["value"]
        )

    def test_report_only_results_need_the_prefer_header(self, client: Client) -> None:
        """reportOnly* results only with Prefer: include-unknown-enum-members."""
        query = f"$filter={SINCE} and status/errorCode eq 53003"
        plain = json.dumps(_signins(client, query))
        preferred = json.dumps(_signins(client, query, headers={"Prefer": "include-unknown-enum-members"}))
        assert "reportOnlyFailure" not in plain and "unknownFutureValue" in plain
        assert "reportOnlyFailure" in preferred

    def test_tenant_without_licence(self, sim: Simulator) -> None:
        fabrikam = Client(
            sim,
            "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a53",
            "sim-fabrikam-secret-3Pq~",
            "fabrikam.onmicrosoft.com",
        )
        response = fabrikam.get("graph", "/v1.0/auditLogs/signIns")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"

    def test_the_sample_shape_of_a_success(self, client: Client) -> None:
        body = _signins(client, f"$filter={SINCE} and status/errorCode eq 0&$top=3")
        expected = sample("graph-signins.json", "responses", "200", "body")
        assert_shape(body, {k: v for k, v in expected.items() if k != "@odata.nextLink"})


class TestApplications:
    def test_password_and_key_credentials(self, sim: Simulator, client: Client) -> None:
        """passwordCredentials with hints and end dates; issued certificates appear as keyCredentials."""
        sim.issue_client_certificate(DAEMON)
        body = client.get("graph", f"/v1.0/applications?$filter=appId eq '{DAEMON}'").json()
        (app,) = body["value"]
        assert [p["displayName"] for p in app["passwordCredentials"]] == ["primary", "previous"]
        assert set(app["passwordCredentials"][0]) >= {
            "keyId",
            "displayName",
            "startDateTime",
            "endDateTime",
            "hint",
        }
        assert app["passwordCredentials"][1]["endDateTime"] == "2025-04-08T06:00:00Z"
        assert app["keyCredentials"][0]["type"] == "AsymmetricX509Cert"
