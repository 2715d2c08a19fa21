"""Power BI: payload shapes against the samples, filters, membership, refresh history rules."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from connectors.simulator import Simulator

from .conftest import READER, READER_SECRET, Client, assert_shape, sample

PBI_STATUSES = {"Unknown", "Completed", "Failed", "Disabled"}


def _workspace_id(client: Client, name: str) -> str:
    groups = client.get("powerbi", f"/groups?$filter=name eq '{name}'").json()["value"]
    assert len(groups) == 1, groups
    return str(groups[0]["id"])


def _dataset_id(client: Client, group: str, name: str) -> str:
    datasets = client.get("powerbi", f"/groups/{group}/datasets").json()["value"]
    return next(str(d["id"]) for d in datasets if d["name"] == name)


def _history(client: Client, workspace: str, dataset: str, query: str = "") -> list[Any]:
    group = _workspace_id(client, workspace)
    response = client.get(
        "powerbi", f"/groups/{group}/datasets/{_dataset_id(client, group, dataset)}/refreshes{query}"
    )
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


class TestWorkspaces:
    def test_groups_match_the_sample(self, client: Client) -> None:
        """value[] of groups has the sample's keys; only member workspaces are listed."""
        body = client.get("powerbi", "/groups").json()
        expected = sample("powerbi-groups.json", "Example", "responses", "200", "value")
        assert_shape(body["value"], expected)
        assert [g["name"] for g in body["value"]] == ["Finance", "Sales", "HR"]
        assert body["@odata.count"] == 3

    def test_membership_is_per_app(self, sim: Simulator) -> None:
        """The sandbox lists only the reader app as member, so only the reader sees it."""
        reader = Client(sim, READER, READER_SECRET)
        names = [g["name"] for g in reader.get("powerbi", "/groups").json()["value"]]
        assert names == ["Finance", "Sales", "HR", "Private Sandbox"]

    @pytest.mark.parametrize(
        ("expression", "names"),
        [
            ("contains(name,'an')", ["Finance"]),
            ("name eq 'HR'", ["HR"]),
            ("contains(name,'sal') or name eq 'HR'", ["Sales", "HR"]),
        ],
    )
    def test_filter(self, client: Client, expression: str, names: list[str]) -> None:
        """$filter supports contains(name,'x'), name eq 'x' and or."""
        body = client.get("powerbi", f"/groups?$filter={expression}").json()
        assert [g["name"] for g in body["value"]] == names

    def test_top_and_skip(self, client: Client) -> None:
        """$top/$skip page the list; @odata.count counts all matches."""
        body = client.get("powerbi", "/groups?$top=1&$skip=1").json()
        assert [g["name"] for g in body["value"]] == ["Sales"]
        assert body["@odata.count"] == 3

    def test_non_member_workspace_is_not_found(self, client: Client, sim: Simulator) -> None:
        """A workspace the app is not a member of answers 404 PowerBIEntityNotFound."""
        sandbox = _workspace_id(Client(sim, READER, READER_SECRET), "Private Sandbox")
        response = client.get("powerbi", f"/groups/{sandbox}/datasets")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "PowerBIEntityNotFound"

    def test_datasets_match_the_sample(self, client: Client) -> None:
        """Datasets keep camelCase keys and ContentProviderType with its capital C."""
        group = _workspace_id(client, "Finance")
        datasets = client.get("powerbi", f"/groups/{group}/datasets").json()["value"]
        assert_shape(
            datasets, sample("powerbi-datasets-in-group.json", "Example", "responses", "200", "body", "value")
        )
        assert all("ContentProviderType" in d and "workspaceId" not in d for d in datasets)
        assert (
            next(d for d in datasets if d["name"] == "Finance Board Pack")["isOnPremGatewayRequired"] is True
        )


class TestRefreshHistory:
    def test_failed_refresh_matches_the_sample(self, client: Client) -> None:
        """A failed entry has the constructed sample's keys; serviceExceptionJson is a JSON string."""
        history = _history(client, "Sales", "Sales Model")
        failed = next(r for r in history if r["status"] == "Failed")
        expected = sample("powerbi-refresh-history-failed.json", "responses", "200", "body", "value")
        assert_shape(failed, expected[1])
        inner = json.loads(str(failed["serviceExceptionJson"]))
        assert inner["errorCode"] == "DMTS_OAuthTokenRefreshFailedError"
        assert inner["errorDescription"].startswith("Failed to refresh OAuth token. AADSTS700082: ")
        assert "\r\nCorrelation ID: " in inner["errorDescription"]
        assert [a["type"] for a in failed["refreshAttempts"]] == ["Data", "Data"]

    def test_completed_refresh_matches_the_sample(self, client: Client) -> None:
        """Success: no serviceExceptionJson, a Data and a Query attempt."""
        history = _history(client, "Sales", "Marketing Campaigns")
        done = next(r for r in history if r["status"] == "Completed")
        assert_shape(
            done,
            sample(
                "powerbi-refresh-history.json",
                "Completed refresh example",
                "responses",
                "200",
                "body",
                "value",
            )[0],
        )
        assert "serviceExceptionJson" not in done
        assert [a["type"] for a in done["refreshAttempts"]] == ["Data", "Query"]

    def test_in_progress_refresh_is_unknown_without_end_time(self, fresh: Simulator) -> None:
        """A running refresh has status Unknown and no endTime."""
        fresh.clock.advance(timedelta(minutes=1))
        history = _history(Client(fresh), "Sales", "Marketing Campaigns")  # every 30 min, ~2 min long
        newest = history[0]
        assert (newest["status"], "endTime" in newest) == ("Unknown", False)

    def test_newest_first_default_60_and_retention(self, client: Client) -> None:
        """Newest first; $top default 60; entries older than 3 days only while fewer than 20."""
        history = _history(client, "Sales", "Marketing Campaigns")
        starts = [str(r["startTime"]) for r in history]
        assert starts == sorted(starts, reverse=True)
        assert len(history) == 60
        assert len(_history(client, "Sales", "Marketing Campaigns", "?$top=5")) == 5
        daily = _history(client, "Finance", "Executive KPIs")  # 4 a day for 7 days: 28 runs
        assert len(daily) == 20  # the oldest 8 are older than 3 days and beyond the 20th
        assert {r["status"] for r in history} <= PBI_STATUSES

    def test_four_consecutive_failures_disable_the_schedule(self, client: Client) -> None:
        """Finance Board Pack failed at 01:30..04:30, then Power BI stopped refreshing it."""
        history = _history(client, "Finance", "Finance Board Pack")
        assert [r["status"] for r in history[:5]] == ["Failed"] * 4 + ["Completed"]
        assert str(history[0]["startTime"]).startswith("2025-04-02T04:30")

    def test_gateway_and_deep_variants(self, client: Client) -> None:
        """The gateway dataset names the gateway error; HR's failure is deep in pbi.error.details."""
        gateway = json.loads(
            str(_history(client, "Finance", "Finance Board Pack")[0]["serviceExceptionJson"])
        )
        assert gateway["errorCode"] == "DM_GWPipeline_Gateway_MashupDataAccessError"
        assert "AADSTS53003" in gateway["errorDescription"]
        deep = json.loads(str(_history(client, "HR", "HR Headcount")[0]["serviceExceptionJson"]))
        detail = deep["error"]["pbi.error"]["details"][0]["detail"]["value"]
        assert detail.startswith("AADSTS50076: ") and "errorDescription" not in deep

    def test_non_auth_failure_has_no_aadsts(self, client: Client) -> None:
        """The blank-values model error is a negative for the detector."""
        history = _history(client, "Finance", "Sales Forecast")
        failed = [r for r in history if r["status"] == "Failed"]
        assert failed and all("AADSTS" not in str(r["serviceExceptionJson"]) for r in failed)
        assert "blank values" in str(failed[0]["serviceExceptionJson"])


class TestDataflows:
    def test_dataflows_use_object_id(self, client: Client) -> None:
        """The dataflow id is objectId, not id."""
        group = _workspace_id(client, "Finance")
        (flow,) = client.get("powerbi", f"/groups/{group}/dataflows").json()["value"]
        assert "objectId" in flow and "id" not in flow

    def test_transactions_have_status_words_and_no_text(self, client: Client) -> None:
        """Success/Failed/InProgress, ids like <start>@<guid>$<n>, and no error text at all."""
        group = _workspace_id(client, "Finance")
        flow = client.get("powerbi", f"/groups/{group}/dataflows").json()["value"][0]["objectId"]
        body = client.get("powerbi", f"/groups/{group}/dataflows/{flow}/transactions").json()
        expected = sample("powerbi-dataflow-transactions-failed.json", "responses", "200", "body", "value")
        failed = next(t for t in body["value"] if t["status"] == "Failed")
        assert_shape(failed, expected[1])
        assert {t["status"] for t in body["value"]} <= {"Success", "Failed", "InProgress"}
        assert failed["id"].startswith(failed["startTime"] + "@")
        assert "AADSTS" not in json.dumps(body)


class TestAdmin:
    def test_admin_groups_expand_datasets(self, client: Client) -> None:
        """Expanded datasets carry no workspaceId; the group has the admin fields."""
        body = client.get("powerbi", "/admin/groups?$top=2&$expand=datasets,dataflows").json()
        expected = sample(
            "powerbi-admin-groups-expand-datasets.json",
            "Get workspaces with their 'datasets' expanded example",
            "responses",
            "200",
            "body",
            "value",
        )
        assert_shape(body["value"], expected)
        assert [g["name"] for g in body["value"]] == ["Finance", "Sales"]
        assert all("workspaceId" not in d for g in body["value"] for d in g["datasets"])
        assert "dataflows" in body["value"][0]

    def test_admin_groups_need_top_within_bounds(self, client: Client) -> None:
        """$top is required and must be 1..5000."""
        for query in ("", "?$top=0", "?$top=5001"):
            assert client.get("powerbi", f"/admin/groups{query}").status_code == 400

    def test_admin_apis_need_the_admin_setting(self, sim: Simulator) -> None:
        """An app without admin_api gets 401 on admin APIs."""
        reader = Client(sim, READER, READER_SECRET)
        for path in ("/admin/groups?$top=10", "/admin/capacities/refreshables?$top=10"):
            response = reader.get("powerbi", path)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "PowerBINotAuthorizedException"

    def test_refreshables_match_the_samples(self, client: Client) -> None:
        """Refreshables with $expand=capacity,group; lastRefresh is a Refresh object."""
        body = client.get("powerbi", "/admin/capacities/refreshables?$top=50&$expand=capacity,group").json()
        healthy = next(r for r in body["value"] if r["name"] == "Marketing Campaigns")
        expected = sample(
            "powerbi-refreshables.json",
            "Get refreshables with their 'capacity' and 'group' expanded example",
            "responses",
            "200",
            "body",
            "value",
        )
        assert_shape(healthy, expected[0])
        failed = next(r for r in body["value"] if r["name"] == "Finance Board Pack")
        assert_shape(
            failed, sample("powerbi-refreshables-failed.json", "responses", "200", "body", "value")[0]
        )
        assert failed["refreshSchedule"]["enabled"] is False
        assert failed["refreshFailures"] == 4
        assert "AADSTS53003" in failed["lastRefresh"]["serviceExceptionJson"]

    def test_refreshables_plural_expand_and_failure_filter(self, client: Client) -> None:
        """$expand=capacities,groups works; $filter=refreshFailures gt 0 keeps failing datasets."""
        body = client.get(
            "powerbi",
            "/admin/capacities/refreshables?$top=50&$expand=capacities,groups&$filter=refreshFailures gt 0",
        ).json()
        names = {r["name"] for r in body["value"]}
        assert names == {"Finance Board Pack", "Sales Forecast", "Sales Model", "HR Headcount"}
        assert all("capacity" in r and "group" in r for r in body["value"])

    def test_refreshables_skip(self, client: Client) -> None:
        """$skip pages through the refreshables in a stable order."""
        first = client.get("powerbi", "/admin/capacities/refreshables?$top=2").json()["value"]
        second = client.get("powerbi", "/admin/capacities/refreshables?$top=2&$skip=1").json()["value"]
        assert first[1]["id"] == second[0]["id"]
        assert client.get("powerbi", "/admin/capacities/refreshables").status_code == 400


class TestAuth:
    def test_no_token_is_401(self, client: Client) -> None:
        response = client.session.get(client.url("powerbi", "/groups"), verify=client.verify)
        assert response.status_code == 401

    def test_token_for_another_audience_is_401(self, client: Client) -> None:
        response = client.session.get(
            client.url("powerbi", "/groups"),
            headers={"Authorization": f"Bearer {client.token('graph')}"},
            verify=client.verify,
        )
        assert response.status_code == 401

    def test_revoked_token_is_403_token_expired(self, fresh: Simulator) -> None:
        """An expired (here: revoked) token gets Power BI's 403 TokenExpired body."""
        client = Client(fresh)
        assert client.get("powerbi", "/groups").status_code == 200
        fresh.revoke_tokens()
        response = client.get("powerbi", "/groups")
        assert response.status_code == 403
        assert response.json() == sample("http-errors-observed.json", "powerbi_403_token_expired", "body")
