"""Enrichment: a failed run plus findings becomes an alert with the right severity, text and links."""

from __future__ import annotations

import dataclasses

import pytest

from connectors.records import RunRecord, RunStatus, Source
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.knowledge import KnowledgeBase, load_knowledge

MFA = (
    "Failed to refresh OAuth token. AADSTS50076: Due to a configuration change made by your administrator, "
    "you must use multi-factor authentication to access 'x'.\r\nTrace ID: 2d9f0b6a-4c1e-4f3a-9e7b-8a6c5d4e3f21"
    "\r\nCorrelation ID: 6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d\r\nTimestamp: 2025-04-02 05:30:18Z"
)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


def run(
    source: Source = Source.POWERBI, *, unattended: bool = True, text: str = MFA, **extra: str
) -> RunRecord:
    return RunRecord(
        source=source,
        tenant="contoso",
        container_id="3d9b93c6-7b6d-4801-a491-1738910904fd",
        container_name="Finance",
        item_id="7d6a4f72-1906-4e08-a469-bd6bc1ab7b69",
        item_name="Board Pack",
        item_type="dataset",
        run_id="e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8",
        status=RunStatus.FAILED,
        unattended=unattended,
        error_text=text,
        extra=dict(extra),
    )


def alert_for(kb: KnowledgeBase, r: RunRecord):  # type: ignore[no-untyped-def]
    alert = enrich(r, detect(r.error_text, kb.signatures), kb)
    assert alert is not None
    return alert


class TestSeverity:
    @pytest.mark.parametrize(
        ("text", "source", "unattended", "expected"),
        [
            (MFA, Source.POWERBI, True, "high"),  # MFA on a scheduled refresh can never be answered
            ("AADSTS50079: must enroll in MFA", Source.ADF, True, "high"),
            (
                "AADSTS53003: Access has been blocked by Conditional Access policies.",
                Source.FABRIC,
                True,
                "high",
            ),
            ("AADSTS7000222: client secret keys are expired", Source.ADF, True, "critical"),  # never lowered
            ("AADSTS9999999: brand new code", Source.POWERBI, True, "medium"),  # unknown: medium
            ("AADSTS9999999: brand new code", Source.SELF, True, "high"),  # our own sign-in is blind
        ],
    )
    def test_context_adjusts_severity(
        self, kb: KnowledgeBase, text: str, source: Source, unattended: bool, expected: str
    ) -> None:
        assert alert_for(kb, run(source, unattended=unattended, text=text)).severity == expected

    def test_attended_keeps_entry_severity(self, kb: KnowledgeBase) -> None:
        """An on-demand run with a user present keeps the knowledge base's own severity."""
        entry = kb.entries["50076"]
        assert alert_for(kb, run(unattended=False)).severity == entry.severity


class TestContent:
    def test_fingerprint_is_stable_across_polls(self, kb: KnowledgeBase) -> None:
        """Two failed runs of the same item with the same code share one fingerprint."""
        a = alert_for(kb, run())
        b = alert_for(kb, dataclasses.replace(run(), run_id="another-run"))
        c = alert_for(kb, dataclasses.replace(run(), item_id="other-dataset"))
        assert a.fingerprint == b.fingerprint != c.fingerprint

    def test_title_fixes_and_ids(self, kb: KnowledgeBase) -> None:
        alert = alert_for(kb, run())
        assert alert.title.startswith("AADSTS50076: ") and alert.title.endswith(" - Board Pack")
        assert alert.correlation_id == "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
        assert alert.timestamp == "2025-04-02T05:30:18Z"
        assert len(alert.fixes) >= 5 and alert.known
        assert "{" not in " ".join(f.step + (f.command or "") for f in alert.fixes if "{" not in f.step)

    def test_correlation_id_reaches_commands(self, kb: KnowledgeBase) -> None:
        """The entry's sign-in log command is filled with the correlation id printed in the error."""
        assert any("{correlation_id}" in (f.command or "") for f in kb.entries["50076"].fixes)
        alert = alert_for(kb, run())
        commands = " ".join(f.command or "" for f in alert.fixes)
        assert "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d" in commands and "{correlation_id}" not in commands

    @pytest.mark.parametrize(
        ("source", "gateway", "context"),
        [(Source.POWERBI, "false", "powerbi"), (Source.POWERBI, "true", "gateway"), (Source.ADF, "", "adf")],
    )
    def test_context_note_follows_the_source(
        self, kb: KnowledgeBase, source: Source, gateway: str, context: str
    ) -> None:
        alert = alert_for(kb, run(source, gateway=gateway))
        assert alert.context_note == kb.entries["50076"].contexts[context]  # type: ignore[index]

    def test_unknown_code_gets_generic_guidance_from_the_oauth_error(self, kb: KnowledgeBase) -> None:
        text = '{"error":"invalid_client","error_description":"AADSTS9999998: something new"}'
        alert = alert_for(kb, run(text=text))
        assert not alert.known and alert.severity == "medium"
        assert "secret or certificate" in alert.summary.lower()
        assert alert.links[0].url == "https://login.microsoftonline.com/error?code=9999998"

    def test_inferred_alert(self, kb: KnowledgeBase) -> None:
        alert = alert_for(
            kb, run(text="Failed to refresh OAuth token: The refresh token has expired due to inactivity.")
        )
        assert alert.inferred and alert.code == "700082" and "(inferred)" in alert.title

    def test_no_code_no_alert(self, kb: KnowledgeBase) -> None:
        r = run(text="Column 'OrderDate' contains blank values")
        assert enrich(r, detect(r.error_text, kb.signatures), kb) is None


class TestLinks:
    def test_powerbi(self, kb: KnowledgeBase) -> None:
        urls = [link.url for link in alert_for(kb, run()).links]
        assert urls[0] == "https://login.microsoftonline.com/error?code=50076"
        assert "entra.microsoft.com" in urls[1]
        assert urls[2] == (
            "https://app.powerbi.com/groups/3d9b93c6-7b6d-4801-a491-1738910904fd/settings/datasets/"
            "7d6a4f72-1906-4e08-a469-bd6bc1ab7b69"
        )

    def test_adf_needs_subscription_and_group(self, kb: KnowledgeBase) -> None:
        with_ids = alert_for(kb, run(Source.ADF, subscription_id="sub1", resource_group="rg1"))
        without = alert_for(kb, run(Source.ADF))
        assert "adf.azure.com/en/monitoring/pipelineruns/" in with_ids.links[-1].url
        assert "/resourceGroups/rg1/" in with_ids.links[-1].url
        assert len(without.links) == 2

    def test_hostile_ids_make_no_link(self, kb: KnowledgeBase) -> None:
        r = dataclasses.replace(run(), item_id='x"><script>alert(1)</script>')
        assert len(alert_for(kb, r).links) == 2
