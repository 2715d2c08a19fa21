"""What Graph knows about the credential behind a credential failure, as facts for its incident.

Pure: it receives the app's credentials (as Graph listed them), the failure's code and when the run
failed. Three codes are about the credential itself, and each is answered by a different fact:

- ``7000222`` (secret expired) and ``700027`` (certificate refused, often expired): which of the
  app's secrets or certificates had ended by then, and when, and whether a valid one exists (then
  the consumer still sends the old one; otherwise someone must add one first).
- ``7000215`` (wrong secret value): the secrets that do exist, each with its ``hint`` (the first
  characters of the value) and end date. A configured value that does not start with any hint, or
  that looks like a GUID, is recognisable as "the secret ID was pasted instead of the value".

The result is a plain dict (the ``app_credentials`` field of notifications and ``--json``), or None
when the code is not one of these or the app has no credential of that type. ``with_expired_key``
then puts the expired credential's key id into the fix commands that were left waiting for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from enricher.core.forecast import Held

#: the failure codes answered here, and the credential type each one is about
CODES: dict[str, str] = {"7000222": "secret", "700027": "certificate", "7000215": "secret"}
LISTED = 5  # credentials named in the sentence; the field lists them all
#: how a fix command (knowledge/codes/7000222.yaml) marks the key id the admin must look up
EXPIRED_KEY = "<expired-key-id>"


def facts_for(
    code: str,
    app_id: str,
    app_name: str,
    credentials: Sequence[Held],
    hints: dict[str, str],
    failed_at: datetime,
) -> dict[str, Any] | None:
    """The ``app_credentials`` payload for a failure with ``code`` of the app; ``hints`` maps key
    id -> hint (secrets only; Graph gives certificates none)."""
    kind = CODES.get(code)
    if kind is None:
        return None
    mine = sorted((c for c in credentials if c.type == kind), key=lambda c: c.expires_at, reverse=True)
    if not mine:
        return None
    listed = [
        {
            "key_id": c.key_id,
            "display_name": c.display_name,
            "type": c.type,
            "hint": hints.get(c.key_id, ""),
            "expires_at": _iso(c.expires_at),
            "expired": c.expires_at <= failed_at,
        }
        for c in mine
    ]
    return {
        "app_id": app_id,
        "app_name": app_name,
        "credentials": listed,
        "note": _note(code, app_name, kind, listed),
    }


def _note(code: str, app_name: str, kind: str, listed: list[dict[str, Any]]) -> str:
    what = "secret" if kind == "secret" else "certificate"
    expired = [c for c in listed if c["expired"]]
    valid = [c for c in listed if not c["expired"]]
    if code == "7000215":
        if not valid:
            return f"App '{app_name}' has no valid {what}: every one has expired; add a new one."
        names = "; ".join(_named(c, "ends") for c in valid[:LISTED])
        return (
            f"App '{app_name}' has {len(valid)} valid {what}{'s' if len(valid) != 1 else ''}: {names}. "
            "The configured value must start with one of these hints; a GUID is the secret's ID, "
            "not its value."
        )
    if not expired:
        return f"None of the {what}s of app '{app_name}' had expired at the failure: " + "; ".join(
            _named(c, "ends") for c in valid[:LISTED]
        )
    gone = expired[0]
    label = f"'{gone['display_name']}'" if gone["display_name"] else f"key id {gone['key_id']}"
    hint = f" (value starts with '{gone['hint']}')" if gone["hint"] else ""
    head = f"The {what} {label}{hint} of app '{app_name}' expired {_day(gone['expires_at'])}"
    if valid:
        return (
            f"{head}; a valid one exists ({_named(valid[0], 'ends')}): the consumer still sends the old one."
        )
    return (
        f"{head}, and the app has no valid {what}: add one, update every consumer, then remove the old one."
    )


def _named(c: dict[str, Any], verb: str) -> str:
    label = f"'{c['display_name']}'" if c["display_name"] else f"key id {c['key_id']}"
    hint = f", value starts with '{c['hint']}'" if c["hint"] else ""
    return f"{label} ({verb} {_day(c['expires_at'])}{hint})"


def _day(iso: str) -> str:
    return f"{datetime.fromisoformat(iso.replace('Z', '+00:00')):%Y-%m-%d %H:%M} UTC"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def with_expired_key(fixes: Sequence[Mapping[str, Any]], facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``fixes`` (``{"step", "command"}``) with ``<expired-key-id>`` replaced by the key id of the
    credential that expired last before the failure: the one the note names, the one the consumer
    most likely still sends. Unchanged when none had expired (then no key is safe to delete)."""
    expired = [c for c in facts.get("credentials") or () if c.get("expired") and c.get("key_id")]
    if not expired:
        return [dict(f) for f in fixes]
    key = str(expired[0]["key_id"])
    return [
        {**f, "command": f["command"].replace(EXPIRED_KEY, key)}
        if EXPIRED_KEY in (f.get("command") or "")
        else dict(f)
        for f in fixes
    ]
