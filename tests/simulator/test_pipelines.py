"""ADF (under ARM) and Synapse: discovery, run queries, paging rules, roles and shapes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.simulator import Simulator

from .conftest import FACTORY, READER, READER_SECRET, SUBSCRIPTION, Client, assert_shape, sample

ADF = "?api-version=2018-06-01"
SYN = "?api-version=2020-12-01"
ADF_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
WINDOW = {"lastUpdatedAfter": "2025-04-02T00:00:00Z", "lastUpdatedBefore": "2025-04-02T06:00:00Z"}
ADF_STATUSES = {"Queued", "InProgress", "Succeeded", "Failed", "Canceling", "Cancelled"}


@pytest.fixture(scope="module")
def small_pages() -> Iterator[Simulator]:
    with Simulator("demo", speed=0, page_sizes={"adf": 10, "arm": 1}) as sim:
        yield sim


def _runs(client: Client, body: dict[str, Any], path: str = FACTORY + "/queryPipelineRuns" + ADF) -> Any:
    response = client.post("arm", path, body)
    assert response.status_code == 200, response.text
    return response.json()


class TestDiscovery:
    def test_subscriptions(self, client: Client) -> None:
        body = client.get("arm", "/subscriptions?api-version=2022-12-01").json()
        assert [s["subscriptionId"] for s in body["value"]] == [SUBSCRIPTION]

    def test_factories_match_the_sample(self, client: Client) -> None:
        """Factories per subscription and per resource group, with the sample's keys and headers."""
        response = client.get(
            "arm", f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.DataFactory/factories{ADF}"
        )
        assert_shape(
            response.json()["value"], sample("adf-factories-list.json", "responses", "200", "body", "value")
        )
        assert {
            "x-ms-request-id",
            "x-ms-correlation-request-id",
            "x-ms-ratelimit-remaining-subscription-reads",
        } <= {k.lower() for k in response.headers}
        in_group = client.get(
            "arm",
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-data-prod/providers/Microsoft.DataFactory/factories{ADF}",
        )
        assert [f["name"] for f in in_group.json()["value"]] == ["adf-sales-prod", "adf-legacy"]

    def test_next_link_paging(self, small_pages: Simulator) -> None:
        """Lists page with an absolute nextLink that is followed as is."""
        client = Client(small_pages)
        url = client.url(
            "arm", f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.DataFactory/factories{ADF}"
        )
        names = []
        while url:
            body = client.get("arm", url).json()
            names += [f["name"] for f in body["value"]]
            url = body.get("nextLink")
        assert names == ["adf-sales-prod", "adf-legacy"]

    def test_api_version_is_required(self, client: Client) -> None:
        response = client.get(
            "arm", f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.DataFactory/factories"
        )
        assert response.status_code == 400
        assert "api-version" in response.json()["error"]["message"]


class TestQueryPipelineRuns:
    def test_failed_run_matches_the_sample(self, client: Client) -> None:
        """A failed run: the constructed sample's keys, AADSTS7000222 inside the message."""
        body = _runs(
            client,
            {
                **WINDOW,
                "filters": [{"operand": "PipelineName", "operator": "Equals", "values": ["pl_ingest_sales"]}],
            },
        )
        failed = next(r for r in body["value"] if r["status"] == "Failed")
        assert_shape(
            failed,
            sample("adf-query-pipeline-runs-response-failed.json", "responses", "200", "body", "value")[0],
        )
        assert failed["message"].startswith("Operation on target Copy_SalesOrders failed: ")
        assert "MsalServiceException,Message=AADSTS7000222: " in failed["message"]
        assert ADF_TIME.match(failed["runStart"]) and ADF_TIME.match(failed["lastUpdated"])

    def test_successful_runs_have_an_empty_message(self, client: Client) -> None:
        body = _runs(
            client,
            {
                **WINDOW,
                "filters": [
                    {"operand": "PipelineName", "operator": "Equals", "values": ["pl_daily_snapshot"]}
                ],
            },
        )
        (run,) = body["value"]
        assert_shape(run, sample("adf-query-pipeline-runs-response.json", "200", "body", "value")[0])
        assert (run["status"], run["message"]) == ("Succeeded", "")

    def test_window_is_required(self, client: Client) -> None:
        """No lastUpdatedAfter/Before: 400 CloudError."""
        for body in ({}, {"lastUpdatedAfter": "2025-04-02T00:00:00Z"}):
            response = client.post("arm", FACTORY + "/queryPipelineRuns" + ADF, body)
            assert response.status_code == 400
            assert set(response.json()["error"]) >= {"code", "message"}

    def test_window_matches_last_updated_inclusively(self, client: Client) -> None:
        """A window that starts and ends exactly at a run's lastUpdated returns that run."""
        run = _runs(client, WINDOW)["value"][0]
        exact = {"lastUpdatedAfter": run["lastUpdated"], "lastUpdatedBefore": run["lastUpdated"]}
        assert [r["runId"] for r in _runs(client, exact)["value"]] == [run["runId"]]

    @pytest.mark.parametrize(
        ("flt", "names"),
        [
            (
                {"operand": "PipelineName", "operator": "Equals", "values": ["pl_export_finance"]},
                {"pl_export_finance"},
            ),
            (
                {
                    "operand": "PipelineName",
                    "operator": "In",
                    "values": ["pl_export_finance", "pl_daily_snapshot"],
                },
                {"pl_export_finance", "pl_daily_snapshot"},
            ),
            (
                {
                    "operand": "PipelineName",
                    "operator": "NotIn",
                    "values": ["pl_load_crm", "pl_ingest_sales"],
                },
                {"pl_export_finance", "pl_daily_snapshot"},
            ),
            (
                {"operand": "Status", "operator": "NotEquals", "values": ["Failed"]},
                {"pl_export_finance", "pl_daily_snapshot", "pl_load_crm"},
            ),
        ],
    )
    def test_filters(self, client: Client, flt: dict[str, object], names: set[str]) -> None:
        body = _runs(client, {**WINDOW, "filters": [flt]})
        assert {r["pipelineName"] for r in body["value"]} == names

    def test_order_by(self, client: Client) -> None:
        body = _runs(client, {**WINDOW, "orderBy": [{"orderBy": "RunEnd", "order": "DESC"}]})
        ends = [r["runEnd"] for r in body["value"]]
        assert ends == sorted(ends, reverse=True)
        assert {r["status"] for r in body["value"]} <= ADF_STATUSES

    def test_continuation_token_goes_in_the_body(self, small_pages: Simulator) -> None:
        """The token works in the POST body; as a query parameter the first page comes back."""
        client = Client(small_pages)
        first = _runs(client, WINDOW)
        token = first["continuationToken"]
        assert len(first["value"]) == 10
        in_query = _runs(client, WINDOW, FACTORY + "/queryPipelineRuns" + ADF + f"&continuationToken={token}")
        assert in_query["value"] == first["value"]
        seen = [r["runId"] for r in first["value"]]
        body: dict[str, Any] = {**WINDOW, "continuationToken": token}
        while True:
            page = _runs(client, body)
            seen += [r["runId"] for r in page["value"]]
            if "continuationToken" not in page:
                break
            body = {**WINDOW, "continuationToken": page["continuationToken"]}
        everything = _runs(Client(small_pages), {**WINDOW})
        assert len(seen) == len(set(seen)) > 10
        assert everything["value"] == first["value"]

    def test_reader_role_cannot_query(self, sim: Simulator) -> None:
        """Reader alone on adf-legacy: 403 AuthorizationFailed on the query POST."""
        reader = Client(sim, READER, READER_SECRET)
        legacy = FACTORY.replace("adf-sales-prod", "adf-legacy")
        response = reader.post("arm", legacy + "/queryPipelineRuns" + ADF, WINDOW)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "AuthorizationFailed"
        assert reader.post("arm", FACTORY + "/queryPipelineRuns" + ADF, WINDOW).status_code == 200


class TestActivityRuns:
    def _failed(self, client: Client, pipeline: str) -> Any:
        body = _runs(
            client,
            {
                **WINDOW,
                "filters": [
                    {"operand": "PipelineName", "operator": "Equals", "values": [pipeline]},
                    {"operand": "Status", "operator": "Equals", "values": ["Failed"]},
                ],
            },
        )
        return body["value"][0]

    def test_failed_activity_matches_the_sample(self, client: Client) -> None:
        """The failing Copy carries ADF's 2200 code, UserError, the MSAL text and details []."""
        run = self._failed(client, "pl_ingest_sales")
        body = client.post(
            "arm", f"{FACTORY}/pipelineruns/{run['runId']}/queryActivityruns{ADF}", WINDOW
        ).json()
        expected = sample("adf-activity-runs-response-failed.json", "responses", "200", "body", "value")
        ok, failed = body["value"]
        assert_shape(ok, expected[0])
        assert_shape(failed, expected[1])
        assert failed["error"]["errorCode"] == "2200" and failed["error"]["failureType"] == "UserError"
        assert "AADSTS7000222" in failed["error"]["message"]
        assert failed["linkedServiceName"] == "ls_sql_sales"
        assert ok["error"] == {
            "errorCode": "",
            "message": "",
            "failureType": "",
            "target": "Lookup_Watermark",
            "details": "",
        }

    def test_non_auth_failure_keeps_the_adf_code_without_aadsts(self, client: Client) -> None:
        run = self._failed(client, "pl_export_finance")
        body = client.post(
            "arm", f"{FACTORY}/pipelineruns/{run['runId']}/queryActivityruns{ADF}", WINDOW
        ).json()
        error = body["value"][-1]["error"]
        assert error["errorCode"] == "2200" and "AADSTS" not in error["message"]

    def test_get_run_and_unknown_run(self, client: Client) -> None:
        run = self._failed(client, "pl_ingest_sales")
        assert client.get("arm", f"{FACTORY}/pipelineruns/{run['runId']}{ADF}").json() == run
        missing = client.get("arm", f"{FACTORY}/pipelineruns/00000000-0000-4000-8000-000000000000{ADF}")
        assert missing.status_code == 404

    def test_activity_query_needs_the_window(self, client: Client) -> None:
        run = self._failed(client, "pl_ingest_sales")
        assert (
            client.post(
                "arm", f"{FACTORY}/pipelineruns/{run['runId']}/queryActivityruns{ADF}", {}
            ).status_code
            == 400
        )


class TestSynapse:
    def test_pipeline_runs_embed_the_token_endpoint_json(self, client: Client) -> None:
        """The failed Synapse run's message embeds the escaped token-endpoint JSON (700016)."""
        response = client.post("synapse", "/queryPipelineRuns" + SYN, WINDOW)
        runs = response.json()["value"]
        failed = next(r for r in runs if r["status"] == "Failed")
        assert_shape(
            failed, sample("synapse-pipeline-runs-failed.json", "responses", "200", "body", "value")[0]
        )
        prefix = "Operation on target Get_AAD_Token failed: "
        assert failed["message"].startswith(prefix)
        inner = json.loads(failed["message"][len(prefix) :])
        assert inner["error"] == "unauthorized_client" and inner["error_codes"] == [700016]

    def test_activity_runs_need_the_pipeline_name(self, client: Client) -> None:
        runs = client.post("synapse", "/queryPipelineRuns" + SYN, WINDOW).json()["value"]
        failed = next(r for r in runs if r["status"] == "Failed")
        path = f"/pipelines/{failed['pipelineName']}/pipelineruns/{failed['runId']}/queryActivityruns{SYN}"
        body = client.post("synapse", path, WINDOW).json()
        assert_shape(body["value"], sample("synapse-activity-runs.json", "responses", "200", "body", "value"))
        assert body["value"][0]["error"]["errorCode"] == "2108"
        wrong = f"/pipelines/pl_nightly_aggregates/pipelineruns/{failed['runId']}/queryActivityruns{SYN}"
        assert client.post("synapse", wrong, WINDOW).status_code == 404
        assert (
            client.get("synapse", f"/pipelineruns/{failed['runId']}{SYN}").json()["runId"] == failed["runId"]
        )

    def test_unknown_workspace(self, client: Client) -> None:
        response = client.session.post(
            client.sim.endpoints["synapse"].format(workspace="nope") + "/queryPipelineRuns" + SYN,
            json=WINDOW,
            headers={"Authorization": f"Bearer {client.token('synapse')}"},
            verify=client.verify,
        )
        assert response.status_code == 404


class TestArmAuth:
    def test_expired_token_is_401_expired_authentication_token(self, fresh: Simulator) -> None:
        client = Client(fresh)
        client.token("arm")
        fresh.revoke_tokens()
        response = client.get("arm", "/subscriptions?api-version=2022-12-01")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "ExpiredAuthenticationToken"

    def test_wrong_audience(self, client: Client) -> None:
        response = client.session.get(
            client.url("arm", "/subscriptions?api-version=2022-12-01"),
            headers={"Authorization": f"Bearer {client.token('powerbi')}"},
            verify=client.verify,
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
