"""The ``scale`` contract on a smaller tenant of the same shape (bench/grouping.py prints the full one).

Every failing item belongs to exactly one parent or stands alone, no notification mixes two root
causes, and the top level of ``/api/incidents`` holds at least ten times fewer open incidents than
there are failing items. Two broken causes per code, so a wrong merge of two apps or two data
sources would show.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bench.grouping import Figure, measure
from connectors.simulator import Scenario, load_scenario

PROMTOOL = shutil.which("promtool")


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


@pytest.fixture(scope="module")
def figure(tmp_path_factory: pytest.TempPathFactory) -> Figure:
    return measure(small_scale(), 1, tmp_path_factory.mktemp("grouping"))


def test_one_root_cause_one_top_level_incident(figure: Figure) -> None:
    f = figure
    assert f.failing >= 40  # enough to mean something
    assert f.orphans == [] and f.twice == []
    assert f.mixed == []
    assert f.top_level_api == f.top_level_store == f.parents + f.lone
    assert f.failing >= 10 * f.top_level_api
    assert f.notifications == f.top_level_api  # one message per root cause, children inhibited
    # the daemon's own counters say the same
    assert f.counted("parents_opened_total") == f.parents
    assert f.counted("children_total") == f.children > f.parents
    assert 'root_cause="client_id"' in f.metrics and 'root_cause="linked_service"' in f.metrics


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_accepts_the_grouping_counters(figure: Figure) -> None:
    """The same tenant's scrape, with the parent and child counters filled in, is valid exposition."""
    f = figure
    assert PROMTOOL is not None and f.counted("children_total") > 0
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=f.metrics, capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
