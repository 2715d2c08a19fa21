"""Which failures get a sign-in look-up, how a miss is retried, and how a found policy is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.signin_records import Device
from enricher.config_load import load_config
from enricher.core.signin import Lookup, cause_line, kinds_for, name_policy, retry
from enricher.errors import ConfigError
from enricher.models import FixStep
from enricher.wiring.signin_lookup import device_text

NOW = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)
SIGNIN = {
    "policies": [{"id": "p1", "name": "Block untrusted", "result": "failure", "grant_controls": ["Block"]}],
    "principal": "svc@contoso.com",
    "ip": "20.1.2.3",
    "location": "Amsterdam, NL",
    "status": {"code": 53003, "reason": "Blocked"},
}


class TestKinds:
    @pytest.mark.parametrize(
        ("category", "kinds"),
        [
            (
                "conditional_access",
                ("interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity"),
            ),
            ("mfa_strong_auth", ("interactiveUser", "nonInteractiveUser")),
            ("device", ("interactiveUser", "nonInteractiveUser")),
            ("user_account_state", ("interactiveUser", "nonInteractiveUser")),
            ("credentials_secret_cert", ()),
            ("app_registration_config", ()),
        ],
    )
    def test_category_decides(self, category: str, kinds: tuple[str, ...]) -> None:
        assert kinds_for(category) == kinds


class TestRetry:
    def test_backs_off_then_gives_up_at_the_window(self) -> None:
        """1, 2, 4, 8, 8 ... minutes apart; None once the next try would fall after ``until``."""
        lk = Lookup(
            "i", "f", "t", 53003, NOW, ("interactiveUser",), until=NOW + timedelta(minutes=30), next_at=NOW
        )
        gaps, now = [], NOW
        while (later := retry(lk, now)) is not None:
            gaps.append(int((later.next_at - now).total_seconds() // 60))
            now, lk = later.next_at, later
        assert gaps == [1, 2, 4, 8, 8] and now + timedelta(minutes=8) > lk.until


class TestNaming:
    @pytest.mark.parametrize(
        ("step", "expected"),
        [
            (
                "Open the tab: it names the policy whose result was Failure.",
                'Open the tab: it names the policy "Block untrusted" whose result was Failure.',
            ),
            (
                "Confirm the blocking policy in What If.",
                'Confirm the blocking policy "Block untrusted" in What If.',
            ),
            ("Agree it with the policy owner first.", "Agree it with the policy owner first."),
            ("Re-run the job.", "Re-run the job."),
        ],
    )
    def test_steps_name_the_policy(self, step: str, expected: str) -> None:
        assert name_policy([FixStep(step)], SIGNIN)[0].step == expected

    def test_no_policy_found_leaves_steps_alone(self) -> None:
        steps = (FixStep("Open the policy."),)
        assert name_policy(steps, {**SIGNIN, "policies": []}) == steps and name_policy(steps, None) == steps

    def test_cause_line(self) -> None:
        assert cause_line(SIGNIN) == (
            'Conditional Access policy "Block untrusted" (Block) blocked svc@contoso.com, from 20.1.2.3, Amsterdam, NL'
        )

    def test_device_text(self) -> None:
        assert device_text(Device("Windows 10", "Edge", True, False, "AzureAD")) == (
            "Windows 10, compliant, not managed, AzureAD"
        )
        assert device_text(Device()) == ""


def test_a_bad_window_names_its_setting(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "tenants:\n  - name: a\n    tenant_id: t\n    credential: {type: default}\n"
        "    sources: [{type: powerbi}]\n    signin_lookup: {enabled: true, window: 0s}\n"
        "sinks: [{name: s, type: console}]\n"
    )
    with pytest.raises(ConfigError, match=r"tenants\[0\]\.signin_lookup\.window"):
        load_config(path, {})
