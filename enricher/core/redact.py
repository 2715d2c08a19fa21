"""Configured secrets taken out of text that came from outside before we store or send it.

A peer can echo what we sent it: a token endpoint that repeats the client secret in its error
text put that secret into the log, the state database and the notification. The log redactor
covers log lines only, so every run record a poll returns passes through :func:`scrub_record`
before anything else sees it. Only values of at least 4 characters are replaced (as in the log
redactor: shorter ones would mangle ordinary words).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields, replace

from connectors.records import RunRecord

MASK = "***"


def secret_list(secrets: Iterable[str]) -> tuple[str, ...]:
    """Longest first, so a secret that contains another is masked whole."""
    return tuple(sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True))


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_record(record: RunRecord, secrets: Sequence[str]) -> RunRecord:
    """``record`` with every configured secret masked in its text fields (the same object when
    none occurs, which is nearly always)."""
    if not secrets:
        return record
    changes: dict[str, object] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, str) and any(s in value for s in secrets):
            changes[f.name] = scrub(value, secrets)
    extra = record.extra
    if any(any(s in v or s in k for s in secrets) for k, v in extra.items()):
        changes["extra"] = {scrub(k, secrets): scrub(v, secrets) for k, v in extra.items()}
    return replace(record, **changes) if changes else record  # type: ignore[arg-type]
