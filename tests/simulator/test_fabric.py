"""Fabric: workspaces, items, job instances, continuation paging and formats."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connectors.simulator import Simulator

from .conftest import READER, READER_SECRET, Client, assert_shape, sample

FABRIC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$")
STATUSES = {"NotStarted", "InProgress", "Completed", "Failed", "Cancelled", "Deduped"}


def _items(client: Client) -> tuple[str, dict[str, str]]:
    workspace = client.get("fabric", "/workspaces").json()["value"][0]["id"]
    items = client.get("fabric", f"/workspaces/{workspace}/items").json()["value"]
    return workspace, {i["displayName"]: i["id"] for i in items}


def _instances(client: Client, name: str) -> list[Any]:
    workspace, items = _items(client)
    body = client.get("fabric", f"/workspaces/{workspace}/items/{items[name]}/jobs/instances").json()
    return list(body["value"])


@pytest.fixture(scope="module")
def small_pages() -> Iterator[Simulator]:
    with Simulator("demo", speed=0, page_sizes={"fabric": 7}) as sim:
        yield sim


class TestLists:
    def test_workspaces_match_the_sample(self, client: Client) -> None:
        """Only workspaces with a role; the sample's keys; no continuation on a single page."""
        body = client.get("fabric", "/workspaces").json()
        assert_shape(body["value"], sample("fabric-workspaces.json", "responses", "200", "body", "value"))
        assert [w["displayName"] for w in body["value"]] == ["Data Engineering"]
        assert "continuationToken" not in body and "continuationUri" not in body

    def test_items_by_type(self, client: Client) -> None:
        """?type= filters items; each has workspaceId."""
        workspace = client.get("fabric", "/workspaces").json()["value"][0]["id"]
        body = client.get("fabric", f"/workspaces/{workspace}/items?type=Notebook").json()
        assert_shape(body["value"], sample("fabric-items-by-type.json", "responses", "200", "body", "value"))
        assert [i["displayName"] for i in body["value"]] == ["nb_customer_features"]

    def test_workspace_without_role_is_403(self, client: Client, sim: Simulator) -> None:
        """The sandbox belongs to the reader app; the daemon gets ErrorResponse 403."""
        sandbox = Client(sim, READER, READER_SECRET).get("fabric", "/workspaces").json()["value"]
        other = next(w["id"] for w in sandbox if w["displayName"] == "Analytics Sandbox")
        response = client.get("fabric", f"/workspaces/{other}/items")
        assert response.status_code == 403
        assert set(response.json()) >= {"errorCode", "message", "requestId"}


class TestJobInstances:
    def test_failed_instance_matches_the_sample(self, client: Client) -> None:
        """A failed notebook run: the sample's keys, AADSTS in failureReason.message."""
        failed = next(i for i in _instances(client, "nb_customer_features") if i["status"] == "Failed")
        expected = sample("fabric-job-instances-failed.json", "responses", "200", "body", "value")
        assert_shape(failed, expected[1])
        assert "AADSTS7000215" in failed["failureReason"]["message"]
        assert failed["jobType"] == "RunNotebook"

    def test_formats_and_status_words(self, client: Client) -> None:
        """7 fractional digits without Z; failureReason null unless Failed; Fabric status words."""
        for name in ("nb_customer_features", "pl_lakehouse_load", "cj_orders_copy"):
            for instance in _instances(client, name):
                assert instance["status"] in STATUSES
                assert FABRIC_TIME.match(str(instance["startTimeUtc"]))
                assert (instance["failureReason"] is None) == (instance["status"] != "Failed")

    def test_generic_failure_and_deduped(self, client: Client) -> None:
        """The copy job fails with the generic text; some runs are Deduped."""
        instances = _instances(client, "cj_orders_copy")
        failed = next(i for i in instances if i["status"] == "Failed")
        assert failed["failureReason"] == {
            "errorCode": "JobInstanceStatusFailed",
            "message": "Job instance failed without detail error",
        }
        assert any(i["status"] == "Deduped" for i in instances)

    def test_about_100_completed_instances_newest_first(self, client: Client) -> None:
        """The list keeps 100 completed instances, newest first."""
        instances = _instances(client, "pl_lakehouse_load")
        assert len(instances) == 100
        starts = [str(i["startTimeUtc"]) for i in instances]
        assert starts == sorted(starts, reverse=True)

    def test_in_progress_instance(self, fresh: Simulator) -> None:
        """A running instance is InProgress with endTimeUtc null."""
        fresh.clock.advance(timedelta(minutes=1))
        newest = _instances(Client(fresh), "pl_lakehouse_load")[0]
        assert (newest["status"], newest["endTimeUtc"]) == ("InProgress", None)

    def test_single_instance_and_typed_pipeline_route(self, client: Client) -> None:
        """GET .../jobs/instances/{id} and .../dataPipelines/{id}/jobs/execute/instances."""
        workspace, items = _items(client)
        first = _instances(client, "pl_lakehouse_load")[0]
        one = client.get(
            "fabric",
            f"/workspaces/{workspace}/items/{items['pl_lakehouse_load']}/jobs/instances/{first['id']}",
        )
        assert one.json() == first
        typed = client.get(
            "fabric",
            f"/workspaces/{workspace}/dataPipelines/{items['pl_lakehouse_load']}/jobs/execute/instances",
        )
        assert_shape(
            typed.json()["value"],
            sample("fabric-datapipeline-job-instances.json", "responses", "200", "body", "value"),
        )
        assert {i["jobType"] for i in typed.json()["value"]} == {"Execute"}


class TestPaging:
    def _url(self, client: Client) -> str:
        workspace, items = _items(client)
        return client.url(
            "fabric", f"/workspaces/{workspace}/items/{items['pl_lakehouse_load']}/jobs/instances"
        )

    def test_continuation_uri_until_the_last_page(self, small_pages: Simulator) -> None:
        """Follow continuationUri: pages of 7, no token on the last, nothing repeated or lost."""
        client = Client(small_pages)
        url: str | None = self._url(client)
        seen: list[str] = []
        pages = 0
        while url:
            body = client.get("fabric", url).json()
            pages += 1
            seen += [i["id"] for i in body["value"]]
            assert ("continuationToken" in body) == ("continuationUri" in body)
            if "continuationUri" in body:
                assert_shape(
                    body, sample("fabric-job-instances-continuation.json", "responses", "200", "body")
                )
                assert body["continuationUri"].startswith("https://")
            url = body.get("continuationUri")
        assert pages == 15
        assert len(seen) == len(set(seen)) == 100

    def test_continuation_token_as_parameter(self, small_pages: Simulator) -> None:
        """Repeating the call with ?continuationToken= gives the page continuationUri gives."""
        client = Client(small_pages)
        url = self._url(client)
        first = client.get("fabric", url).json()
        by_token = client.get("fabric", url, params={"continuationToken": first["continuationToken"]}).json()
        by_uri = client.get("fabric", first["continuationUri"]).json()
        assert by_token == by_uri
        assert by_token["value"][0]["id"] not in {i["id"] for i in first["value"]}

    def test_bad_token_is_400(self, small_pages: Simulator) -> None:
        client = Client(small_pages)
        response = client.get("fabric", self._url(client), params={"continuationToken": "bogus"})
        assert response.status_code == 400
        assert response.json()["errorCode"] == "InvalidParameter"
