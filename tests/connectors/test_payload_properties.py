"""Whatever JSON an API sends, mapping it to run records never raises: every field may be missing,
null, a number where a string was expected, or a list where an object was."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Identity
from connectors.pipeline_runs import Target, run_record
from connectors.powerbi_catalog import Catalog, Dataflow, Dataset
from connectors.powerbi_records import dataflow_record, dataset_record, error_code, refresh_key
from connectors.records import Source

WHO = Identity("t", "tenant-id", "client-id")
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
FIELDS = [
    "id",
    "name",
    "status",
    "startTime",
    "endTime",
    "runStart",
    "runEnd",
    "requestId",
    "refreshType",
    "serviceExceptionJson",
    "refreshAttempts",
    "message",
    "pipelineName",
    "runId",
    "invokedBy",
    "error",
    "objectId",
    "isRefreshable",
    "datasets",
    "dataflows",
]
#: objects with the real field names, holding anything
PAYLOAD = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8)


@settings(max_examples=300, deadline=None)
@given(refresh=PAYLOAD, enabled=JSON)
def test_a_refresh_of_any_shape_becomes_a_record(refresh: dict[str, Any], enabled: object) -> None:
    record = dataset_record(WHO, Dataset("d", "D", "w", "W"), refresh, enabled)
    assert record.item_key == "t/powerbi/w/d" and isinstance(record.error_text, str)
    assert isinstance(refresh_key(refresh), str) and isinstance(
        error_code(refresh.get("serviceExceptionJson")), str
    )


@settings(max_examples=200, deadline=None)
@given(row=PAYLOAD)
def test_a_dataflow_transaction_of_any_shape_becomes_a_record(row: dict[str, Any]) -> None:
    assert dataflow_record(WHO, Dataflow("f", "F", "w", "W"), row).source is Source.POWERBI_DATAFLOW


@settings(max_examples=200, deadline=None)
@given(run=PAYLOAD, activities=st.lists(PAYLOAD, max_size=3))
def test_a_pipeline_run_of_any_shape_becomes_a_record(run: dict[str, Any], activities: list[Any]) -> None:
    target = Target("k", "factory", "https://x/runs", lambda r: "https://x/act")
    assert run_record(Source.ADF, WHO, target, run, activities).container_id == "k"


@settings(max_examples=200, deadline=None)
@given(group=PAYLOAD, datasets=JSON, flows=JSON)
def test_a_workspace_listing_of_any_shape_is_read_or_skipped(
    group: dict[str, Any], datasets: object, flows: object
) -> None:
    catalog = Catalog()
    catalog.add(
        group, datasets if isinstance(datasets, list) else None, flows if isinstance(flows, list) else None
    )
    assert all(isinstance(d.id, str) and d.id for d in catalog.datasets.values())
