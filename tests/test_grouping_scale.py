"""The ``scale`` contract on a smaller tenant of the same shape (bench/grouping.py prints the full one).

Every failing item belongs to exactly one parent or stands alone, no notification mixes two root
causes, and the top level of ``/api/incidents`` holds at least ten times fewer open incidents than
there are failing items. Two broken causes per code, so a wrong merge of two apps or two data
sources would show.
"""

from __future__ import annotations

from pathlib import Path

from bench.grouping import measure
from connectors.simulator import Scenario, load_scenario


def small_scale() -> Scenario:
    scenario = load_scenario("scale")
    tenant = scenario.tenants[0]
    assert tenant.generate is not None
    generate = tenant.generate.model_copy(
        update={
            "workspaces": 300,
            "datasets": 6000,
            "pipelines": 300,
            "failure_rate": 0.05,
            "causes_per_code": 2,
        }
    )
    return scenario.model_copy(update={"tenants": [tenant.model_copy(update={"generate": generate})]})


def test_one_root_cause_one_top_level_incident(tmp_path: Path) -> None:
    f = measure(small_scale(), 1, tmp_path)
    assert f.failing >= 40  # enough to mean something
    assert f.orphans == [] and f.twice == []
    assert f.mixed == []
    assert f.top_level_api == f.top_level_store == f.parents + f.lone
    assert f.failing >= 10 * f.top_level_api
    assert f.notifications == f.top_level_api  # one message per root cause, children inhibited
