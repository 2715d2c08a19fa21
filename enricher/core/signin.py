"""Which failures deserve a sign-in look-up, and what a found sign-in changes in a message.

Pure data and functions (the look-up itself is ``enricher.wiring.signin_lookup``). A code's knowledge-base
category decides: the sign-in log explains failures whose cause sits in the sign-in itself
(Conditional Access, MFA, the device, the account and its risk or location), and says little the
error text did not about a wrong secret or a missing app registration, so those cost no Graph
requests. The event types to search follow from whose credential the category is about; the
daemon's ``connectors.signins`` reads v1.0 for the first and beta with ``signInEventTypes`` for
the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from enricher.models import FixStep

#: knowledge-base category -> event types to search, likeliest first. A category not listed gets
#: no look-up. Conditional Access also applies to workload identities, so it searches all four.
LOOKUP_KINDS: Mapping[str, tuple[str, ...]] = {
    "conditional_access": ("interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity"),
    "mfa_strong_auth": ("interactiveUser", "nonInteractiveUser"),
    "device": ("interactiveUser", "nonInteractiveUser"),
    "user_account_state": ("interactiveUser", "nonInteractiveUser"),
}

#: first retry after this long, doubling up to ``BACKOFF_CAP``: Entra writes sign-ins minutes late
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_CAP = timedelta(minutes=8)


@dataclass(frozen=True, slots=True)
class Lookup:
    """One queued look-up: the incident it explains and what to search the tenant's log for."""

    incident_id: str
    fingerprint: str
    tenant: str
    code: int
    at: datetime  # when the run failed
    kinds: tuple[str, ...]
    until: datetime  # give up after this
    next_at: datetime
    correlation_id: str | None = None
    app_id: str | None = None
    attempts: int = 0


def kinds_for(category: str) -> tuple[str, ...]:
    """The event types to search for a failure of ``category``; empty: no look-up."""
    return LOOKUP_KINDS.get(category, ())


def retry(lookup: Lookup, now: datetime) -> Lookup | None:
    """The look-up asked again later (1, 2, 4, 8, 8 ... minutes), or None once its window ended."""
    wait = min(BACKOFF_FIRST * (2**lookup.attempts), BACKOFF_CAP)
    if now + wait > lookup.until:
        return None
    return Lookup(**{**_fields(lookup), "attempts": lookup.attempts + 1, "next_at": now + wait})


def _fields(lookup: Lookup) -> dict[str, Any]:
    return {name: getattr(lookup, name) for name in Lookup.__slots__}


_THE_POLICY = re.compile(
    r"\b(the|that) ((?:blocking )?(?:Conditional Access )?)polic(?:y|ies)\b(?! owner)", re.IGNORECASE
)


def name_policy(fixes: Sequence[FixStep], signin: Mapping[str, Any] | None) -> tuple[FixStep, ...]:
    """Fix steps that speak of "the policy" name the policy the sign-in failed, once per step."""
    names = [p.get("name") for p in (signin or {}).get("policies") or () if p.get("name")]
    if not names:
        return tuple(fixes)
    named = " and ".join(f'"{n}"' for n in names[:3])
    noun = "policies" if len(names) > 1 else "policy"

    def one(step: FixStep) -> FixStep:
        text = _THE_POLICY.sub(lambda m: f"{m.group(1)} {m.group(2) or ''}{noun} {named}", step.step, count=1)
        return FixStep(text, step.command) if text != step.step else step

    return tuple(one(f) for f in fixes)


def cause_line(signin: Mapping[str, Any]) -> str:
    """One sentence naming what the sign-in log says failed, for renderers and the dashboard."""
    policies = [p for p in signin.get("policies") or () if p.get("name")]
    who = signin.get("principal") or signin.get("app_id") or "the account"
    where = ", ".join(v for v in (signin.get("ip"), signin.get("location")) if v)
    if policies:
        named = ", ".join(
            f'"{p["name"]}"' + (f" ({', '.join(p['grant_controls'])})" if p.get("grant_controls") else "")
            for p in policies
        )
        text = f"Conditional Access {'policies' if len(policies) > 1 else 'policy'} {named} blocked {who}"
    else:
        reason = (signin.get("status") or {}).get("reason") or "the sign-in failed"
        text = f"{reason.rstrip('.')} ({who})"
    return f"{text}, from {where}" if where else text
