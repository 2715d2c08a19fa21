"""The schema of one knowledge-base entry: what we know about one AADSTS code.

Entries are YAML files under ``knowledge/codes/`` (one per code). The schema is strict
(``extra="forbid"``) so a typo in a field name fails the load instead of silently dropping
guidance. Text limits are sized so that a title, a summary and the numbered fixes fit in one
Slack section (3,000 characters) with room to spare.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from enricher.core.placeholders import PLACEHOLDER_RX

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")

Category = Literal[
    "app_registration_config",
    "conditional_access",
    "consent_permissions",
    "credentials_secret_cert",
    "device",
    "federation_idp",
    "mfa_strong_auth",
    "other",
    "protocol_request",
    "tenant_directory",
    "throttling_service",
    "token_grant",
    "user_account_state",
]

ContextName = Literal["powerbi", "gateway", "fabric", "adf", "synapse", "databricks"]
CONTEXTS: tuple[ContextName, ...] = ("powerbi", "gateway", "fabric", "adf", "synapse", "databricks")

#: Placeholders a fix step or command may use; enrichment fills them from the run and the finding.
PLACEHOLDERS = frozenset(
    {
        "code",
        "tenant_id",
        "client_id",
        "correlation_id",
        "trace_id",
        "timestamp",
        "workspace_id",
        "workspace_name",
        "item_id",
        "item_name",
        "item_type",
        "factory_name",
        "subscription_id",
        "resource_group",
        "run_id",
        "activity_name",
        "linked_service",
        "job_type",
        # a whole command that depends on the item type (enricher/core/commands.py)
        "rerun_command",
        "schedule_command",
        "linked_service_command",
        "owner_items_command",
    }
)
CODE_RX = re.compile(r"^\d{5,7}$")

RootKey = Literal["client_id", "gateway", "datasource", "linked_service", "tenant", "policy"]
ROOT_KEYS: tuple[RootKey, ...] = ("client_id", "gateway", "datasource", "linked_service", "tenant", "policy")


class Fix(BaseModel):
    """One ordered remediation step, optionally with a command template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str = Field(min_length=10, max_length=400)
    command: str | None = Field(default=None, max_length=600)


class Faq(BaseModel):
    """A question a BI admin asks about the code, answered for their unattended jobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=10, max_length=200)
    answer: str = Field(min_length=20, max_length=700)

    @field_validator("question")
    @classmethod
    def _is_a_question(cls, value: str) -> str:
        if not value.rstrip().endswith("?"):
            raise ValueError(f"a question ends with '?': {value[:40]!r}")
        return value


class Entry(BaseModel):
    """Everything the enricher says about one code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str = Field(default="", max_length=80)
    title: str = Field(min_length=5, max_length=90)
    summary: str = Field(min_length=30, max_length=700)
    category: Category
    severity: Severity
    severity_reason: str = Field(min_length=10, max_length=300)
    transient: bool
    needs_user: bool
    source: Literal["official", "observed"] = "official"
    causes: tuple[str, ...] = Field(min_length=1, max_length=12)
    fixes: tuple[Fix, ...] = Field(min_length=2, max_length=12)
    contexts: dict[ContextName, str] = Field(default_factory=dict)
    related: tuple[str, ...] = ()
    docs: tuple[str, ...] = Field(min_length=1)
    signatures: tuple[str, ...] = ()
    seen_in: tuple[str, ...] = ()
    #: Root-cause keys to group failures of this code by, most specific first: the first one a
    #: failure has a value for names its cause (enricher/core/grouping.py). Empty: each item stands alone.
    group_by: tuple[RootKey, ...] = ()
    #: Two to four questions an admin asks about this code (rich entries), with short answers.
    faq: tuple[Faq, ...] = Field(default=(), max_length=4)

    @field_validator("code", mode="before")
    @classmethod
    def _code_text(cls, value: Any) -> str:
        text = str(value).strip()
        if text.upper().startswith("AADSTS"):
            text = text[6:]
        if not CODE_RX.match(text):
            raise ValueError(f"code must be 5 to 7 digits, got {value!r}")
        return text

    @field_validator("related", mode="before")
    @classmethod
    def _related_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list | tuple) else value

    @field_validator("fixes", mode="before")
    @classmethod
    def _fix_strings(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"step": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("causes")
    @classmethod
    def _cause_length(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cause in value:
            if not 10 <= len(cause) <= 400:
                raise ValueError(f"each cause must be 10..400 characters: {cause[:40]!r}")
        return value

    @field_validator("contexts")
    @classmethod
    def _context_length(cls, value: dict[str, str]) -> dict[str, str]:
        for key, note in value.items():
            if not 20 <= len(note) <= 600:
                raise ValueError(f"contexts.{key} must be 20..600 characters")
        return value

    @field_validator("signatures")
    @classmethod
    def _signature_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for phrase in value:
            if len(phrase) < 12 or len(phrase.split()) < 3:
                raise ValueError(f"signature {phrase!r} is too short to be specific (12+ chars, 3+ words)")
        return tuple(p.lower() for p in value)

    @field_validator("docs")
    @classmethod
    def _docs_are_links(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for link in value:
            if not link.startswith("https://"):
                raise ValueError(f"docs links must be https URLs: {link!r}")
        return value

    @model_validator(mode="after")
    def _placeholders_known(self) -> Entry:
        texts = [f.step for f in self.fixes] + [f.command or "" for f in self.fixes]
        for text in texts:
            for name in PLACEHOLDER_RX.findall(text):
                if name not in PLACEHOLDERS:
                    raise ValueError(
                        f"unknown placeholder {{{name}}} (known: {', '.join(sorted(PLACEHOLDERS))})"
                    )
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError(f"group_by lists a key twice: {list(self.group_by)}")
        if len(self.faq) == 1:
            raise ValueError("faq needs two to four questions (one is a footnote, not a FAQ)")
        if len({f.question.lower() for f in self.faq}) != len(self.faq):
            raise ValueError("faq asks the same question twice")
        if self.source == "observed" and not self.seen_in:
            raise ValueError("an observed-only entry must say where it was seen (seen_in)")
        return self

    @property
    def lookup_url(self) -> str:
        return f"https://login.microsoftonline.com/error?code={self.code}"

    @property
    def rich(self) -> bool:
        """Rich entries carry full guidance for every data-platform context."""
        return (
            len(self.causes) >= 5
            and len(self.fixes) >= 5
            and all(c in self.contexts for c in CONTEXTS)
            and any(f.command for f in self.fixes)
        )
