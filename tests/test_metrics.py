"""``/metrics`` is exact, typed and labelled one way, and the shipped rules behave on what it exports.

Values are read back with ``prometheus_client``'s own parser, scrapes come over HTTP from a daemon
that polled the simulator, and ``promtool`` (Debian package ``prometheus``; ``make test`` installs
it when run as root) checks the scrape and runs the rules' unit tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from connectors.simulator import Simulator
from enricher import __version__
from enricher import config as cfg
from enricher.metrics import PREFIX, SPEC, Metrics
from enricher.store import MemoryStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config, demo_config_data
from tests.fakes import MemorySink

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "compose" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package prometheus; `make test` installs it as root)",
)
STEP = timedelta(minutes=15)
CYCLES = 7  # 90 minutes of polling: longer than the no-success rule's window plus its `for`

Series = dict[str, float]  # 'name{a="b",...}' -> value


def samples(text: str) -> Series:
    """Every sample of one exposition, keyed the way promtool's input_series writes them."""
    found: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}"] = s.value
    return found


def value(metrics: Metrics, key: str) -> float:
    return samples(metrics.render())[key]


class TestExposition:
    """What the library writes, read back by its parser."""

    POLLS = {"tenant": "contoso", "source": "adf", "outcome": "ok"}
    POLLS_KEY = 'aadsts_enricher_polls_total{outcome="ok",source="adf",tenant="contoso"}'

    def test_counters_above_a_million_keep_moving(self) -> None:
        metrics = Metrics()
        metrics.inc("aadsts_enricher_polls_total", self.POLLS, 1_234_567)
        before = value(metrics, self.POLLS_KEY)
        metrics.inc("aadsts_enricher_polls_total", self.POLLS)
        assert (before, value(metrics, self.POLLS_KEY)) == (1_234_567, 1_234_568)

    def test_timestamps_keep_every_digit(self) -> None:
        metrics = Metrics()
        where = {"tenant": "contoso", "source": "adf"}
        metrics.set("aadsts_enricher_last_success_timestamp_seconds", where, 1764936123.456789)
        key = 'aadsts_enricher_last_success_timestamp_seconds{source="adf",tenant="contoso"}'
        assert value(metrics, key) == 1764936123.456789

    def test_each_instance_has_its_own_registry(self) -> None:
        first, second = Metrics(), Metrics()
        first.inc("aadsts_enricher_polls_total", self.POLLS)
        assert second.value("aadsts_enricher_polls_total", self.POLLS) == 0
        assert first.value("aadsts_enricher_polls_total", self.POLLS) == 1

    def test_build_info_names_version_and_knowledge_base(self) -> None:
        text = Metrics(kb_version="2026.12.1").render()
        key = f'aadsts_enricher_build_info{{kb_version="2026.12.1",version="{__version__}"}}'
        assert samples(text)[key] == 1

    def test_cycle_duration_is_a_histogram_per_source(self) -> None:
        metrics = Metrics()
        where = {"tenant": "contoso", "source": "powerbi"}
        for seconds in (0.2, 0.4, 40.0):
            metrics.observe("aadsts_enricher_cycle_duration_seconds", seconds, where)
        got = samples(metrics.render())
        base = 'aadsts_enricher_cycle_duration_seconds_bucket{le="%s",source="powerbi",tenant="contoso"}'
        assert (got[base % "0.25"], got[base % "0.5"], got[base % "60.0"], got[base % "+Inf"]) == (1, 2, 3, 3)
        assert "# TYPE aadsts_enricher_cycle_duration_seconds histogram" in metrics.render()

    def test_replace_drops_series_that_went_away(self) -> None:
        metrics = Metrics()
        metrics.replace("aadsts_enricher_outbox_depth", {(("sink", "a"),): 2, (("sink", "b"),): 1})
        metrics.replace("aadsts_enricher_outbox_depth", {(("sink", "b"),): 0})
        assert metrics.series("aadsts_enricher_outbox_depth") == {(("sink", "b"),): 0}

    def test_a_counter_cannot_be_set(self) -> None:
        with pytest.raises(TypeError, match="counter, not a gauge"):
            Metrics().set("aadsts_enricher_polls_total", self.POLLS, 3)


# -- a real daemon, scraped over HTTP ---------------------------------------------------------------


@dataclass
class Scrapes:
    texts: list[str]
    url: str
    head: tuple[int, dict[str, str], bytes]


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapes]:
    """A scrape after each of seven cycles, 15 simulated minutes apart, of the demo scenario."""
    tmp = tmp_path_factory.mktemp("scrape")
    with Simulator(scenario="demo", port=0, speed=0) as sim:
        config = demo_config(sim, tmp, json_lines=False, colour=False)
        svc = Service(
            config, tmp, clock=sim.clock.now, sinks={"console": MemorySink("console")}, store=MemoryStore()
        )
        server = svc.health_server().start()
        try:
            texts = []
            for _ in range(CYCLES):
                svc.cycle(wait=False)
                with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
                    texts.append(response.read().decode())
                sim.clock.advance(STEP)
            request = urllib.request.Request(f"{server.url}/metrics", method="HEAD")
            with urllib.request.urlopen(request, timeout=10) as response:
                head = (response.status, dict(response.headers), response.read())
            yield Scrapes(texts, server.url, head)
        finally:
            server.stop()
            svc.close()


@needs_promtool
def test_promtool_accepts_a_real_scrape(scrapes: Scrapes) -> None:
    assert PROMTOOL
    result = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=scrapes.texts[-1], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_head_answers_with_headers_only(scrapes: Scrapes) -> None:
    status, headers, body = scrapes.head
    assert (status, body) == (200, b"")
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert int(headers["Content-Length"]) > 1000


def test_one_label_scheme_tenant_and_source_apart(scrapes: Scrapes) -> None:
    with_source = []
    for family in text_string_to_metric_families(scrapes.texts[-1]):
        for s in family.samples:
            if "source" in s.labels:
                with_source.append(s.name)
                assert s.labels.get("tenant"), s
                assert s.labels["source"] in {"powerbi", "fabric", "adf", "synapse", "self"}, s
    assert {f"{PREFIX}polls_total", f"{PREFIX}runs_total", f"{PREFIX}auth_failures_total"} <= set(with_source)


def test_a_named_source_is_labelled_with_its_name_on_every_metric(tmp_path: Path) -> None:
    """``runs_total`` and ``polls_total`` of one source join on ``source`` even when it is named."""
    with Simulator(scenario="demo", port=0, speed=0) as sim:
        data = demo_config_data(sim, tmp_path)
        adf = next(s for s in data["tenants"][0]["sources"] if s["type"] == "adf")
        adf["name"] = "adf-prod"
        svc = Service(
            cfg.Config.model_validate(data),
            tmp_path,
            clock=sim.clock.now,
            sinks={"console": MemorySink("console")},
            store=MemoryStore(),
        )
        try:
            svc.cycle(wait=False)
            text = svc.metrics.render()
        finally:
            svc.close()
    by_family: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            by_family.setdefault(s.name, set()).add(s.labels.get("source", ""))
    for name in ("polls_total", "runs_total", "auth_failures_total"):
        assert "adf-prod" in by_family[f"{PREFIX}{name}"], name
        assert "adf" not in by_family[f"{PREFIX}{name}"], name


def test_last_success_moves_with_every_poll(scrapes: Scrapes) -> None:
    stamps = [
        {k: v for k, v in samples(text).items() if k.startswith(f"{PREFIX}last_success_timestamp_seconds")}
        for text in scrapes.texts
    ]
    assert stamps[0], "no successful poll in the first cycle"
    for before, after in pairwise(stamps):
        assert before.keys() == after.keys()
        assert [after[k] - before[k] for k in before] == pytest.approx([STEP.total_seconds()] * len(before))


# -- the shipped rules -------------------------------------------------------------------------------


def promtool_test(test_file: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL
    return subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True)


@needs_promtool
def test_shipped_rule_tests_pass() -> None:
    result = promtool_test(RULES / "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def rules_test_from(texts: list[str], stopped_for: int, alerts: list[dict[str, object]]) -> dict[str, object]:
    """A promtool test whose input is the real scrapes, then ``stopped_for`` scrapes of the last
    values again (a daemon that stopped polling keeps exporting what it had)."""
    names = (f"{PREFIX}polls_total", f"{PREFIX}last_success_timestamp_seconds")
    rows = [samples(text) for text in texts]
    rows += [rows[-1]] * stopped_for
    keys = sorted({k for row in rows for k in row if k.startswith(names)})
    series = [
        {"series": k, "values": " ".join(repr(row[k]) if k in row else "_" for row in rows)} for k in keys
    ]
    minutes = int(STEP.total_seconds() // 60)
    return {
        "rule_files": [str(RULES / "alerts.yml")],
        "evaluation_interval": "1m",
        "tests": [{"interval": f"{minutes}m", "input_series": series, "alert_rule_test": alerts}],
    }


def quiet(name: str, at: timedelta) -> dict[str, object]:
    return {"eval_time": f"{int(at.total_seconds() // 60)}m", "alertname": name, "exp_alerts": []}


@needs_promtool
def test_polling_rules_stay_quiet_on_real_scrapes(scrapes: Scrapes, tmp_path: Path) -> None:
    end = STEP * (CYCLES - 1)
    names = ("AadstsEnricherNoSuccessfulPoll", "AadstsEnricherPollsFailing", "AadstsEnricherMetricsMissing")
    test = rules_test_from(scrapes.texts, 0, [quiet(name, end) for name in names])
    (tmp_path / "t.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    result = promtool_test(tmp_path / "t.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_no_success_rule_fires_when_the_real_scrapes_stop_moving(scrapes: Scrapes, tmp_path: Path) -> None:
    """The same input, then 90 minutes without a poll: the quiet test above is not quiet by accident."""
    at = STEP * (CYCLES - 1 + 6)
    test = rules_test_from(scrapes.texts, 6, [quiet("AadstsEnricherNoSuccessfulPoll", at)])
    (tmp_path / "t.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    result = promtool_test(tmp_path / "t.yml")
    assert result.returncode == 1
    assert re.search(r'alertname="AadstsEnricherNoSuccessfulPoll".*source="\w+".*tenant="\w+"', result.stderr)


# -- the README table -------------------------------------------------------------------------------


def test_readme_table_lists_every_metric_with_its_labels() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(aadsts_enricher_\w+)` \| ([^|]+) \| ([^|]+) \|$", readme, re.M)
    documented = {name: set(re.findall(r"`(\w+)`", labels)) for name, _, labels in rows}
    expected = {PREFIX + short: set(labels) for short, (_, _, labels) in SPEC.items()}
    expected[f"{PREFIX}build_info"] = {"version", "kb_version"}
    assert documented == expected
