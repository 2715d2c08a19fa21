"""Inhibition rules in Alertmanager's shape: matchers as tables, then the rule held in a real cycle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.simulator import Simulator
from enricher.cli import main
from enricher.config import InhibitRule, Matcher, parse_matcher
from enricher.core.inhibition import holds, inhibiting
from enricher.store import SQLiteStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config
from tests.fakes import MemorySink

LABELS = {
    "severity": "high",
    "category": "conditional_access",
    "code": "53003",
    "source": "powerbi",
    "tenant": "contoso",
    "workspace": "Finance Prod",
    "item": "Board Pack",
}


class TestParse:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('severity="critical"', Matcher("severity", "=", "critical")),
            ("severity=critical", Matcher("severity", "=", "critical")),
            (' code =~ "53.*" ', Matcher("code", "=~", "53.*")),
            ('code="AADSTS53003"', Matcher("code", "=", "53003")),  # the prefix is optional
            ('code=~"AADSTS.*"', Matcher("code", "=~", "AADSTS.*")),  # a regex is taken as written
            ('workspace!="Sand\\"box"', Matcher("workspace", "!=", 'Sand"box')),
            ('item!~"tmp_.*"', Matcher("item", "!~", "tmp_.*")),
            ('item=""', Matcher("item", "=", "")),
        ],
    )
    def test_alertmanager_matchers(self, text: str, expected: Matcher) -> None:
        """The four operators, quoted or bare values, escapes inside quotes."""
        assert parse_matcher(text) == expected

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("severity", "is not a matcher"),
            ('sevrity="high"', "no label 'sevrity' (did you mean 'severity'?"),
            ('code=~"(53"', "not a regular expression"),
            ('item="Board', "closing quote is missing"),
            ('item="a"b"', "unescaped quote"),
            ('item="a\\tb"', "unknown escape"),
            ('item=a"b', "a quote inside an unquoted value"),
        ],
    )
    def test_what_is_refused(self, text: str, message: str) -> None:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("?", r"\?")):
            parse_matcher(text)


class TestHolds:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('severity="high"', True),
            ('severity="High"', False),  # exact, as in Alertmanager
            ('severity!="critical"', True),
            ('code=~"53.*"', True),
            ('code=~"3.*"', False),  # anchored at both ends
            ('workspace=~"Finance (Prod|Test)"', True),
            ('workspace!~"Finance.*"', False),
            ('code="AADSTS53003"', True),
            ('item=""', False),
            ('category!=""', True),
        ],
    )
    def test_one_matcher(self, text: str, expected: bool) -> None:
        assert holds(parse_matcher(text), LABELS) is expected

    def test_a_missing_label_is_empty(self) -> None:
        assert holds(parse_matcher('item=""'), {}) and not holds(parse_matcher('item=~".+"'), {})


def rule(source: list[str], target: list[str], equal: list[str] | None = None) -> InhibitRule:
    return InhibitRule.model_validate(
        {"source_matchers": source, "target_matchers": target, "equal": equal or []}
    )


TENANT_DOWN = rule(['code="90002"'], ['code!="90002"'], ["tenant"])
OUTAGE = {**LABELS, "code": "90002", "severity": "critical", "category": "tenant"}


class TestInhibiting:
    @pytest.mark.parametrize(
        ("sources", "expected"),
        [
            ([], None),
            ([OUTAGE], 0),
            ([{**OUTAGE, "tenant": "fabrikam"}], None),  # equal: another tenant's outage says nothing
            ([{**LABELS, "item": "Other"}], None),  # a source must match the source side
            ([{**OUTAGE, "tenant": "fabrikam"}, OUTAGE], 0),
        ],
    )
    def test_a_tenant_outage_holds_the_tenants_other_failures(
        self, sources: list[dict[str, str]], expected: int | None
    ) -> None:
        assert inhibiting(LABELS, sources, [TENANT_DOWN]) == expected

    def test_the_source_is_not_held_by_itself(self) -> None:
        """The outage notification matches the source side only: nothing holds it."""
        assert inhibiting(OUTAGE, [OUTAGE], [TENANT_DOWN]) is None

    def test_one_matching_both_sides_is_held_only_by_one_that_does_not(self) -> None:
        """Critical holds high; a rule on severity alone must not let a notification hold itself."""
        critical_holds_rest = rule(['severity=~"critical|high"'], ['severity=~"high|medium"'], ["tenant"])
        high = {**LABELS, "severity": "high"}
        assert inhibiting(high, [high], [critical_holds_rest]) is None
        assert inhibiting(high, [{**LABELS, "severity": "critical"}], [critical_holds_rest]) == 0

    def test_the_first_rule_that_holds_is_named(self) -> None:
        other = rule(['source="adf"'], ['source="powerbi"'])
        adf = {**LABELS, "source": "adf", "code": "7000222"}
        assert inhibiting(LABELS, [adf], [TENANT_DOWN, other]) == 1


BASE = """
tenants:
  - name: contoso
    tenant_id: 72f988bf-0000-0000-0000-000000000000
    credential: {type: client_secret, client_id: c1, client_secret: s3cr3t-value}
    sources: [{type: powerbi}]
sinks:
  - {name: screen, type: console}
"""


class TestCheckConfig:
    @pytest.mark.parametrize(
        ("rules", "message"),
        [
            (
                "[{source_matchers: ['code=\"90002\"'], target_matchers: ['sev=\"x\"']}]",
                "inhibit_rules[0].target_matchers[0]: 'sev=\"x\"': no label 'sev'",
            ),
            (
                "[{source_matchers: ['code=~\"(\"'], target_matchers: ['severity=high']}]",
                "inhibit_rules[0].source_matchers[0]: 'code=~\"(\"': not a regular expression",
            ),
            (
                "[{source_matchers: [], target_matchers: ['severity=high']}]",
                "inhibit_rules[0].source_matchers:",
            ),
            (
                "[{source_matchers: ['code=90002'], target_matchers: ['severity=high'], equal: [tenat]}]",
                "inhibit_rules[0].equal[0]:",
            ),
            (
                "[{source_matchers: ['code=90002'], target_matchers: ['severity=high'], match: {}}]",
                "inhibit_rules[0].match: unknown setting",
            ),
        ],
    )
    def test_a_bad_rule_is_one_line_naming_its_path(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: str, message: str
    ) -> None:
        path = tmp_path / "config.yaml"
        path.write_text(BASE + f"inhibit_rules: {rules}\n", encoding="utf-8")
        assert main(["check-config", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err

    def test_a_good_rule_is_listed(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "config.yaml"
        rules = (
            "[{source_matchers: ['code=\"90002\"'], target_matchers: ['code!=\"90002\"'], equal: [tenant]}]"
        )
        path.write_text(BASE + f"inhibit_rules: {rules}\n", encoding="utf-8")
        assert main(["check-config", "--config", str(path)]) == 0
        out = capsys.readouterr().out
        assert 'inhibit 0: code!="90002" held while open code="90002" (equal tenant)' in out


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario="demo", port=0, speed=0) as s:  # a frozen clock, stepped by the test
        yield s


def test_a_held_notification_goes_out_when_its_source_resolves(sim: Simulator, tmp_path: Path) -> None:
    """The demo's transient AADSTS50000 holds the 53003 alert of the same tenant until it recovers."""
    config = demo_config(sim, tmp_path, json_lines=False, colour=False)
    config = config.model_copy(
        update={"inhibit_rules": (rule(['code="50000"'], ['code="53003"'], ["tenant"]),)}
    )
    sink = MemorySink("console")
    svc = Service(
        config, tmp_path, clock=sim.clock.now, sinks={"console": sink}, store=SQLiteStore(tmp_path / "s.db")
    )
    try:
        svc.cycle()
        codes = [n.code for n in sink.sent]
        assert "50000" in codes and "53003" not in codes  # held while 50000 is open
        assert "7000222" in codes  # the rule holds nothing else
        sim.clock.advance(timedelta(minutes=30))  # the transient failure recovers
        svc.cycle()
        later = [n for n in sink.sent if n.code == "53003"]
        assert [n.kind for n in later] == ["firing"]
        assert any(n.code == "50000" and n.kind == "resolved" for n in sink.sent)
    finally:
        svc.close()
