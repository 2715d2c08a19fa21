"""The knowledge base's own sign-in look-ups read the log that holds unattended sign-ins.

v1.0 ``auditLogs/signIns`` answers interactive user sign-ins only, so a correlation-ID search
there finds nothing for a scheduled refresh or a pipeline (reference section 6): every such
command asks beta and names the event type.
"""

from __future__ import annotations

import re

from enricher.core.knowledge import load_knowledge

_SEARCH = re.compile(r"graph\.microsoft\.com/(v1\.0|beta)/auditLogs/signIns\?\\?\$filter=correlationId")
_TYPED = re.compile(
    r"signInEventTypes/any\(t: t eq '(nonInteractiveUser|servicePrincipal|managedIdentity)'\)"
)

_TYPED_USER = re.compile(r"signInEventTypes/any\(t: t eq '(interactiveUser|nonInteractiveUser)'\)")


class TestSigninCommands:
    def test_correlation_searches_use_beta_with_an_event_type(self) -> None:
        """No command searches the interactive-only log by correlation ID; each names a type."""
        searches = [
            (entry.code, " ".join((fix.command or "").split()))
            for entry in load_knowledge()
            for fix in entry.fixes
            if _SEARCH.search(" ".join((fix.command or "").split()))
        ]
        assert len(searches) > 80
        wrong = [code for code, cmd in searches if "/v1.0/" in cmd or not _TYPED.search(cmd)]
        assert wrong == []

    def test_user_lookups_name_the_log_their_sign_ins_land_in(self) -> None:
        """A look-up by user and error code asks beta for one event type: a stored password signs in
        interactively (ROPC), a stored OAuth grant is redeemed non-interactively (refresh token)."""
        lookups = {
            entry.code: " ".join((fix.command or "").split())
            for entry in load_knowledge()
            for fix in entry.fixes
            if "auditLogs/signIns" in (fix.command or "") and "userPrincipalName eq" in (fix.command or "")
        }
        assert {"50053", "50126", "50133"} <= set(lookups)
        untyped = [code for code, cmd in lookups.items() if "/v1.0/" in cmd or not _TYPED_USER.search(cmd)]
        assert untyped == []
        assert "'nonInteractiveUser'" in lookups["50133"]  # a revoked grant fails at token redemption
        assert "'interactiveUser'" in lookups["50126"]  # a wrong password is sent by the job itself
        assert "status/errorCode eq 50053" in lookups["50053"]
