"""Credential expiry forecast: warnings per window, rotation resolves, missing permission, many apps.

The pure forecast is tested with literal cases; Graph and the whole daemon cycle over HTTPS against
the simulator (the demo tenant, and a generated tenant of many apps).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.graph import GraphClient, MissingPermissionError
from connectors.simulator import Simulator
from connectors.simulator.faults import FaultRule
from connectors.simulator.scenario import Scenario, load_scenario
from enricher import config as cfg
from enricher.cli import main
from enricher.config import ConsoleSinkConfig
from enricher.core.credential_facts import facts_for, with_expired_key
from enricher.core.forecast import AppView, forecast, severity_for, window_of
from enricher.notification import Notification
from enricher.sinks.console import ConsoleSink, json_line
from enricher.sinks.slack import blocks as slack_blocks
from enricher.store import MemoryStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config_data
from tests.connectors.conftest import endpoints, http_for, spec
from tests.fakes import MemorySink

NOW = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)
NOTEBOOK_APP = "8e3f5a7c-9b1d-4e2f-a6c8-4d0b2f6e8a17"
READER_APP = "0c9e5f7a-3b1d-4a6c-8e2f-5d7b9a1c3e40"  # used only by an ADF linked service


@dataclass(frozen=True)
class Cred:
    key_id: str
    expires_at: datetime
    starts_at: datetime | None = None
    display_name: str = "s"
    type: str = "secret"


def app(*creds: Cred) -> AppView:
    return AppView("app-1", "etl", creds)  # type: ignore[arg-type]


class TestWindows:
    @pytest.mark.parametrize(
        ("left", "window"),
        [
            (timedelta(days=40), None),
            (timedelta(days=30), 30),
            (timedelta(days=20), 30),
            (timedelta(days=13, hours=23), 14),
            (timedelta(days=5), 7),
            (timedelta(hours=3), 1),
        ],
    )
    def test_the_smallest_window_reached(self, left: timedelta, window: int | None) -> None:
        """A credential is in the smallest window its remaining time fits."""
        assert window_of(left, (30, 14, 7, 1)) == window

    @pytest.mark.parametrize(
        ("window", "severity"), [(30, "low"), (14, "medium"), (7, "high"), (1, "critical")]
    )
    def test_severity_rises_as_the_date_nears(self, window: int, severity: str) -> None:
        """Each window is louder than the one before."""
        assert severity_for(window) == severity


class TestForecast:
    def test_each_window_warns_once(self) -> None:
        """Daily checks over 40 days warn at 30, 14, 7 and 1 day left, once each."""
        cred = Cred("k1", NOW + timedelta(days=40))
        said: dict[str, int] = {}
        seen = []
        for day in range(41):
            out, said = forecast("t", [app(cred)], {}, said, NOW + timedelta(days=day))
            seen += [(day, n.days_left, n.severity) for n in out]
        assert seen == [(10, 30, "low"), (26, 14, "medium"), (33, 7, "high"), (39, 1, "critical")]

    def test_a_newer_credential_resolves_and_says_which(self) -> None:
        """Once the app holds a later-expiring credential the warning resolves, naming the new one."""
        old = Cred("old", NOW + timedelta(days=5), NOW - timedelta(days=300))
        out, said = forecast("t", [app(old)], {}, {}, NOW)
        assert [n.kind for n in out] == ["credential_expiry"] and said == {"old": 7}
        new = Cred("new", NOW + timedelta(days=365), NOW, display_name="rotated")
        out, said = forecast("t", [app(old, new)], {}, said, NOW + timedelta(hours=1))
        assert [(n.kind, n.incident_id.endswith(":old")) for n in out] == [("resolved", True)]
        assert "'rotated' (key id new)" in out[0].summary and said == {"old": 0}
        assert forecast("t", [app(old, new)], {}, said, NOW + timedelta(days=1))[0] == []

    def test_an_already_rotated_credential_is_never_warned_about(self) -> None:
        """The overlap period of a finished rotation is not a problem."""
        old = Cred("old", NOW + timedelta(days=2), NOW - timedelta(days=300))
        new = Cred("new", NOW + timedelta(days=300), NOW - timedelta(days=1))
        assert forecast("t", [app(old, new)], {}, {}, NOW) == ([], {})

    def test_an_expired_credential_is_left_to_the_failures(self) -> None:
        """After the end date the forecast is silent: the sign-in failures are incidents already."""
        assert forecast("t", [app(Cred("gone", NOW - timedelta(days=1)))], {}, {}, NOW)[0] == []

    def test_steps_add_before_removing(self) -> None:
        """Rotation without downtime: add the new credential first, remove the old one last."""
        n = forecast("t", [app(Cred("k", NOW + timedelta(days=3)))], {}, {}, NOW)[0][0]
        steps = [f.step for f in n.fixes]
        assert steps[0].startswith("Add a new client secret") and steps[-1].startswith("Only then remove")
        assert n.fixes[0].command and "--append" in n.fixes[0].command


# -- over HTTPS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(scenario="demo", port=0, speed=0) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(sim: Simulator) -> Iterator[None]:
    sim.faults.clear()
    yield
    sim.faults.clear()


class TestGraph:
    def test_typed_credentials_through_throttling(self, sim: Simulator) -> None:
        """429s with a fractional Retry-After are waited out; secrets come back as typed records."""
        sim.faults.add(
            FaultRule("graph", "throttle", count=2, retry_after=0.05, path_contains="applications")
        )
        graph = GraphClient(http_for(sim), endpoints(sim))
        found = graph.app_credentials(NOTEBOOK_APP)
        assert found is not None and found.app_name == "features-notebook"
        (cred,) = found.credentials
        assert (cred.type, cred.display_name) == ("secret", "notebook-2024")
        assert cred.expires_at - sim.clock.now() < timedelta(days=7)


def many_apps(count: int, *, refused: bool = False) -> Scenario:
    apps = [
        {
            "name": f"app-{i:03d}",
            "client_id": f"00000000-0000-4000-8000-{i:012d}",
            "admin_api": i == 0,
            "application_read": not (refused and i == 0),
            "secrets": [{"value": f"secret-{i}", "end": f"+{1 + i % 40}d"}],
        }
        for i in range(count)
    ]
    return Scenario.model_validate(
        {
            "name": "many-apps",
            "seed": 7,
            "clock": {"start": "2025-04-02T06:00:00Z", "speed": 0},
            "tenants": [
                {"id": "11111111-2222-4333-8444-555555555555", "domain": "many.example", "apps": apps}
            ],
        }
    )


def test_many_apps_come_from_one_paged_listing() -> None:
    """150 apps are read in pages of 40 (4 requests, one of them throttled), not 150 look-ups."""
    with Simulator(scenario=many_apps(150), port=0, speed=0) as s:
        s.faults.add(FaultRule("graph", "throttle", count=1, retry_after=0.05, path_contains="applications"))
        tenant = s.scenario.tenants[0]
        credential = spec(s, tenant.apps[0].client_id, "secret-0", tenant=tenant.id)
        graph = GraphClient(http_for(s, credential), endpoints(s))
        wanted = [a.client_id for a in tenant.apps]
        before = s.stats.api("graph")
        found = graph.credentials_of(wanted, top=40)
        assert s.stats.api("graph") - before == 5  # 4 pages and the one throttled attempt
        assert sorted(a.app_id for a in found) == sorted(wanted)
        warned = forecast(
            "many", [AppView(a.app_id, a.app_name, a.credentials) for a in found], {}, {}, s.clock.now()
        )[0]
        assert len(warned) == sum(1 for i in range(150) if 1 + i % 40 <= 30)


def test_missing_permission_is_its_own_error() -> None:
    """An app without Application.Read.All gets 403, raised as MissingPermissionError."""
    scenario = many_apps(3, refused=True)
    with Simulator(scenario=scenario, port=0, speed=0) as s:
        tenant = s.scenario.tenants[0]
        credential = spec(s, tenant.apps[0].client_id, "secret-0", tenant=tenant.id)
        graph = GraphClient(http_for(s, credential), endpoints(s))
        with pytest.raises(MissingPermissionError):
            graph.credentials_of([tenant.apps[1].client_id])


# -- the daemon cycle --------------------------------------------------------------------------------


def service(
    sim: Simulator, tmp_path: Path, tenant: int = 0, windows: list[int] | None = None
) -> tuple[Service, MemorySink]:
    raw = demo_config_data(sim, tmp_path)
    t = raw["tenants"][0]
    t["credential_expiry"] = {"interval": "0s", **({"windows": windows} if windows else {})}
    if tenant:
        spec_t = sim.scenario.tenants[tenant]
        app0 = next(a for a in spec_t.apps if a.admin_api)
        t["tenant_id"] = spec_t.id
        t["credential"] = {
            "type": "client_secret",
            "client_id": app0.client_id,
            "client_secret": app0.secrets[0].value,
        }
        t["sources"] = [{"type": "powerbi", "mode": "admin", "interval": "10s"}]
    raw["sinks"] = [{"name": "out", "type": "console"}]
    sink = MemorySink("out")
    config = cfg.Config.model_validate(raw)
    return Service(config, tmp_path, clock=sim.clock.now, sinks={"out": sink}, store=MemoryStore()), sink


def expiry(sent: list[Notification]) -> list[Notification]:
    return [n for n in sent if n.kind == "credential_expiry" or n.incident_id.startswith("credential:")]


def expiring_panel(svc: Service) -> str:
    """The dashboard's "expiring" section, fetched over HTTP with the page's strict CSP."""
    server = svc.health_server(listen="127.0.0.1:0").start()
    try:
        with urllib.request.urlopen(server.url + "/", timeout=10) as r:
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            page = r.read().decode()
    finally:
        server.stop()
    return page[page.index('<section id="expiring"') : page.index('<section id="charts"')]


class TestDaemon:
    def test_warns_once_names_dependents_then_resolves_on_rotation(self, tmp_path: Path) -> None:
        """The notebook's app secret (5 days left) warns once with the notebook listed; adding a
        later secret in the simulator resolves it on the next cycle (its own simulator: it rotates)."""
        with Simulator(scenario="demo", port=0, speed=0) as sim:
            self._rotate(sim, tmp_path)

    def _rotate(self, sim: Simulator, tmp_path: Path) -> None:
        svc, sink = service(sim, tmp_path)
        try:
            svc.cycle(wait=False)
            svc.cycle(wait=False)
            (warning,) = expiry(sink.sent)
            assert (warning.app_id, warning.days_left, warning.severity) == (NOTEBOOK_APP, 5, "high")
            assert warning.credential and warning.credential.type == "secret"
            assert [i.item_name for i in warning.items] == ["nb_customer_features"]
            series = svc.metrics.series("aadsts_enricher_credential_expiry_timestamp_seconds")
            key = (("app_id", NOTEBOOK_APP), ("key_id", warning.credential.key_id), ("kind", "secret"))
            assert series[key] == datetime.fromisoformat(warning.credential.expires_at).timestamp()
            assert "features-notebook" in expiring_panel(svc)
            sim.add_secret(NOTEBOOK_APP, "notebook-2025", "new-value", sim.clock.now() + timedelta(days=365))
            svc.cycle(wait=False)
            resolved = expiry(sink.sent)[1:]
            assert [(n.kind, n.incident_id) for n in resolved] == [("resolved", warning.incident_id)]
            assert "notebook-2025" in resolved[0].summary
            assert "features-notebook" not in expiring_panel(svc)  # rotated: off the panel
        finally:
            svc.close()

    def test_an_inhibition_rule_holds_the_warning_back(self, sim: Simulator, tmp_path: Path) -> None:
        """While the demo's 53003 incident is open in the tenant, a rule whose target is the
        credentials category keeps the forecast's warning from every sink (without the rule the
        same cycles send it: test_warns_once_names_dependents_then_resolves_on_rotation)."""
        svc, sink = service(sim, tmp_path)
        rule = cfg.InhibitRule.model_validate(
            {
                "source_matchers": ['code="53003"'],
                "target_matchers": ['category="credentials"'],
                "equal": ["tenant"],
            }
        )
        svc.pipeline.announcer.config = svc.config.model_copy(update={"inhibit_rules": (rule,)})
        try:
            svc.cycle(wait=False)
            svc.cycle(wait=False)
            assert any(n.code == "53003" for n in sink.sent)
            assert expiry(sink.sent) == []
        finally:
            svc.close()

    def test_an_app_behind_a_linked_service_is_watched_before_it_fails(
        self, sim: Simulator, tmp_path: Path
    ) -> None:
        """reporting-reader never failed; ADF's ls_sql_finance and Synapse's ls_synapse_sql sign in
        as it (servicePrincipalId), so its secret (180 days left) is read and warned about in a
        365-day window, naming both linked services as what depends on it."""
        svc, sink = service(sim, tmp_path, windows=[365, 30])
        try:
            svc.cycle(wait=False)
        finally:
            svc.close()
        [warning] = [n for n in expiry(sink.sent) if n.app_id == READER_APP]
        assert warning.app_name == "reporting-reader" and warning.days_left == 180
        assert sorted((i.source, i.item_name, i.item_type, i.container_name) for i in warning.items) == [
            ("adf", "ls_sql_finance", "LinkedService", "adf-sales-prod"),
            ("synapse", "ls_synapse_sql", "LinkedService", "syn-analytics-prod"),
        ]

    def test_missing_permission_is_said_once(
        self, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Fabrikam's app lacks Application.Read.All: one 'self' problem over several cycles, no alert."""
        svc, sink = service(sim, tmp_path, tenant=1)
        try:
            with caplog.at_level(logging.WARNING):
                for _ in range(3):
                    svc.cycle(wait=False)
            said = [r for r in caplog.records if getattr(r, "kind", "") == "missing_permission"]
            assert len(said) == 1 and "Application.Read.All" in said[0].problem  # type: ignore[attr-defined]
            problems = svc.metrics.series("aadsts_enricher_source_problems_total")
            assert problems[(("kind", "missing_permission"), ("source", "self"), ("tenant", "contoso"))] == 1
            assert expiry(sink.sent) == []
            (notice,) = [n for n in sink.sent if n.source == "self"]
            assert (
                notice.incident_id == "credential-access-contoso" and "Application.Read.All" in notice.title
            )
        finally:
            svc.close()


class TestConfig:
    @pytest.mark.parametrize(
        ("windows", "message"), [([0], "from 1 to 365"), ([7, 7], "listed twice"), ([], "at least 1")]
    )
    def test_bad_windows_name_the_setting(self, windows: list[int], message: str) -> None:
        """check-config rejects a window outside 1..365 days or listed twice."""
        with pytest.raises(ValueError, match=message):
            cfg.CredentialExpiryConfig.model_validate({"windows": windows})


class TestDemo:
    """The issue's contract, through the real command: `demo --json` and `make demo`'s console."""

    def test_demo_json_has_the_credential_expiry_contract(self, capsys: pytest.CaptureFixture[str]) -> None:
        """One cycle of `demo --json`: a credential_expiry line with the app, the credential, the
        days left (within a week) and the items that sign in with that app."""
        assert main(["demo", "--cycles", "1", "--json", "--listen", "127.0.0.1:0"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        (n,) = [n for n in lines if n["kind"] == "credential_expiry"]
        assert (n["app_id"], n["app_name"]) == (NOTEBOOK_APP, "features-notebook")
        assert set(n["credential"]) == {"key_id", "display_name", "type", "expires_at"}
        assert n["credential"]["type"] == "secret" and n["credential"]["display_name"] == "notebook-2024"
        assert isinstance(n["days_left"], int) and 0 <= n["days_left"] < 7
        assert n["items"] == [
            {
                "name": "nb_customer_features",
                "type": "Notebook",
                "workspace": "Data Engineering",
                "source": "fabric",
            }
        ]

    def test_demo_console_shows_the_warning(self, capsys: pytest.CaptureFixture[str]) -> None:
        """What `make demo` prints: the warning headline and the add-before-remove rotation steps."""
        assert main(["demo", "--cycles", "1", "--listen", "127.0.0.1:0"]) == 0
        out = capsys.readouterr().out
        assert (
            "CREDENTIAL_EXPIRY HIGH The client secret 'notebook-2024' of app 'features-notebook' expires in"
            in out
        )
        assert "--append" in out and "Only then remove the old client secret" in out
        block = out[out.index("CREDENTIAL_EXPIRY") :].split("\n\n")[0]
        assert "failure" not in block and "ends 2025-04-07 06:00 UTC" in block  # a forecast, not a failure


# -- credential failures name the credential ---------------------------------------------------------


OLD = Cred("k-old", NOW - timedelta(days=3), display_name="old")
NEW = Cred("k-new", NOW + timedelta(days=300), display_name="new")
CERT = Cred("k-cert", NOW - timedelta(days=1), display_name="", type="certificate")
HINTS = {"k-old": "Ab1", "k-new": "Xy9"}


class TestFacts:
    """facts_for: literal credentials in, the app_credentials field out."""

    @pytest.mark.parametrize(
        ("code", "creds", "listed", "note"),
        [
            (
                "7000222",
                [OLD],
                ["k-old"],
                "The secret 'old' (value starts with 'Ab1') of app 'etl' expired 2025-03-30 06:00 UTC, and the app has no valid secret",
            ),
            (
                "7000222",
                [OLD, NEW],
                ["k-new", "k-old"],
                "a valid one exists ('new' (ends 2026-01-27 06:00 UTC, value starts with 'Xy9')): the consumer still sends the old one",
            ),
            (
                "700027",
                [OLD, CERT],
                ["k-cert"],
                "The certificate key id k-cert of app 'etl' expired 2025-04-01 06:00 UTC",
            ),
            (
                "7000215",
                [OLD, NEW],
                ["k-new", "k-old"],
                "has 1 valid secret: 'new' (ends 2026-01-27 06:00 UTC, value starts with 'Xy9'). The configured value must start with one of these hints; a GUID is the secret's ID",
            ),
            ("7000215", [OLD], ["k-old"], "has no valid secret"),
        ],
    )
    def test_names_the_credentials(self, code: str, creds: list[Cred], listed: list[str], note: str) -> None:
        """Newest first; the expired flag is as of the failure; the note names what to look at."""
        found = facts_for(code, "app-1", "etl", creds, HINTS, NOW)  # type: ignore[arg-type]
        assert found is not None
        assert [c["key_id"] for c in found["credentials"]] == listed
        assert note in found["note"]
        assert all(c["expired"] == (c["key_id"] != "k-new") for c in found["credentials"])

    @pytest.mark.parametrize(("code", "creds"), [("53003", [OLD]), ("700027", [OLD]), ("7000222", [CERT])])
    def test_nothing_to_say(self, code: str, creds: list[Cred]) -> None:
        """Another code, or no credential of the type the code is about: no field at all."""
        assert facts_for(code, "app-1", "etl", creds, HINTS, NOW) is None  # type: ignore[arg-type]


def by_code(sent: list[Notification]) -> dict[str, Notification]:
    return {n.code: n for n in sent if not n.incident_id.startswith("credential:")}


class TestExpiredKeyInTheFixes:
    """with_expired_key: the delete command names the key that expired, or keeps its marker."""

    DELETE = {
        "step": "Remove the expired secret.",
        "command": "az ad app credential delete --id a --key-id <expired-key-id>",
    }
    LIST = {"step": "List the secrets.", "command": None}

    @pytest.mark.parametrize(
        ("creds", "command"),
        [
            ([OLD], "az ad app credential delete --id a --key-id k-old"),
            ([OLD, NEW], "az ad app credential delete --id a --key-id k-old"),
            (
                [Cred("k-older", NOW - timedelta(days=90), display_name="older"), OLD],
                "az ad app credential delete --id a --key-id k-old",
            ),
            ([NEW], "az ad app credential delete --id a --key-id <expired-key-id>"),
        ],
    )
    def test_table(self, creds: list[Cred], command: str) -> None:
        facts = facts_for(
            "7000222" if any(c.expires_at <= NOW for c in creds) else "7000215", "a", "etl", creds, HINTS, NOW
        )  # type: ignore[arg-type]
        assert facts is not None
        assert with_expired_key([self.LIST, self.DELETE], facts) == [
            self.LIST,
            {**self.DELETE, "command": command},
        ]


class TestFailuresNameTheCredential:
    def test_expired_and_existing_secrets_over_https(self, sim: Simulator, tmp_path: Path) -> None:
        """A 7000222 names legacy-etl's expired secret and when; a 7000215 lists the notebook app's
        secrets with hint and end date; both in --json, the console text and Slack's blocks."""
        svc, sink = service(sim, tmp_path)
        try:
            svc.cycle(wait=False)
            codes = by_code(sink.sent)
            expired, wrong = codes["7000222"].app_credentials, codes["7000215"].app_credentials
        finally:
            svc.close()
        assert expired is not None and expired["app_name"] == "legacy-etl"
        (gone,) = expired["credentials"]
        delete = [f.command for f in codes["7000222"].fixes if "credential delete" in (f.command or "")]
        assert delete == [f"az ad app credential delete --id {expired['app_id']} --key-id {gone['key_id']}"]
        assert gone["expired"] and gone["expires_at"] == "2025-03-23T06:00:00Z"  # 10 days before the start
        assert "expired 2025-03-23 06:00 UTC" in expired["note"] and "no valid secret" in expired["note"]
        assert wrong is not None and wrong["app_id"] == NOTEBOOK_APP
        assert [(c["display_name"], c["hint"], c["expired"]) for c in wrong["credentials"]] == [
            ("notebook-2024", "sim", False)
        ]
        assert "value starts with 'sim'" in wrong["note"] and "secret's ID" in wrong["note"]
        n = codes["7000215"]
        assert json_line(n)["app_credentials"] == wrong
        assert "secret's ID" in ConsoleSink(ConsoleSinkConfig(name="c", type="console")).render(n)
        assert any("secret" in json.dumps(b) and "notebook-2024" in json.dumps(b) for b in slack_blocks(n))
        assert "app_credentials" not in json_line(codes["53003"])  # other codes: no field

    def test_without_application_read_all_said_once(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The daemon's own app lacks Application.Read.All: credential failures still alert, without
        the field, and over three cycles the tenant gets one missing-permission notice, no errors."""
        data = load_scenario("demo").model_dump(mode="json", exclude_unset=True)
        data["tenants"][0]["apps"][0]["application_read"] = False
        with Simulator(scenario=Scenario.model_validate(data), port=0, speed=0) as s:
            svc, sink = service(s, tmp_path)
            try:
                with caplog.at_level(logging.WARNING):
                    for _ in range(3):
                        svc.cycle(wait=False)
                        s.clock.advance(timedelta(minutes=20))
            finally:
                svc.close()
        codes = by_code(sink.sent)
        assert codes["7000222"].app_credentials is None and codes["7000215"].app_credentials is None
        said = [r for r in caplog.records if getattr(r, "kind", "") == "missing_permission"]
        assert len(said) == 1
        assert [n.incident_id for n in sink.sent if n.source == "self"] == ["credential-access-contoso"]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
