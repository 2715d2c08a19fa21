"""One knowledge-base entry as the rest of the program reads it: what we know about one AADSTS code.

Entries are YAML files under ``knowledge/codes/`` (one per code). They are checked once, by the
strict pydantic schema in ``kb_validate`` (``extra="forbid"``, text limits, known placeholders),
when the built-in files are parsed or an override directory is read; the checked entries are
cached as JSON, and a start-up that finds the cache builds these plain frozen dataclasses from it
without importing pydantic at all (importing it and building the schema was 0.1 s of every
``explain``). Field order here is the order ``explain --json`` prints.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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


@dataclass(frozen=True, kw_only=True, slots=True)
class Fix:
    """One ordered remediation step, optionally with a command template."""

    step: str
    command: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Faq:
    """A question a BI admin asks about the code, answered for their unattended jobs."""

    question: str
    answer: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """Everything the enricher says about one code (checked by ``kb_validate.EntryModel``)."""

    code: str
    name: str = ""
    title: str
    summary: str
    category: Category
    severity: Severity
    severity_reason: str
    transient: bool
    needs_user: bool
    source: Literal["official", "observed"] = "official"
    causes: tuple[str, ...]
    fixes: tuple[Fix, ...]
    contexts: dict[ContextName, str] = field(default_factory=dict)
    related: tuple[str, ...] = ()
    docs: tuple[str, ...]
    signatures: tuple[str, ...] = ()
    seen_in: tuple[str, ...] = ()
    #: Root-cause keys to group failures of this code by, most specific first: the first one a
    #: failure has a value for names its cause (enricher/core/grouping.py). Empty: each item stands alone.
    group_by: tuple[RootKey, ...] = ()
    #: Two to four questions an admin asks about this code (rich entries), with short answers.
    faq: tuple[Faq, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        """An entry from :meth:`to_json`'s output (a checked entry: nothing is checked here)."""
        return cls(
            **{
                **data,
                "causes": tuple(data["causes"]),
                "fixes": tuple(Fix(**f) for f in data["fixes"]),
                "contexts": dict(data.get("contexts", {})),
                "related": tuple(data.get("related", ())),
                "docs": tuple(data["docs"]),
                "signatures": tuple(data.get("signatures", ())),
                "seen_in": tuple(data.get("seen_in", ())),
                "group_by": tuple(data.get("group_by", ())),
                "faq": tuple(Faq(**f) for f in data.get("faq", ())),
            }
        )

    def to_json(self) -> dict[str, Any]:
        """Every field, JSON-ready (tuples stay tuples; ``json`` writes them as arrays)."""
        return asdict(self)

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


@dataclass(frozen=True, kw_only=True, slots=True)
class OAuthGuidance:
    """What we can say from the OAuth ``error`` value alone (used for codes we do not know)."""

    title: str
    cause: str
    fix: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Meta:
    """The knowledge base's version, its latest changes and the OAuth-error guidance."""

    version: str
    changelog: tuple[str, ...]
    oauth_errors: dict[str, OAuthGuidance]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Meta:
        return cls(
            version=data["version"],
            changelog=tuple(data["changelog"]),
            oauth_errors={k: OAuthGuidance(**v) for k, v in data["oauth_errors"].items()},
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
