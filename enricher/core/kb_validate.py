"""The knowledge base's strict schema: every entry and the meta document are checked here, once.

``kb_schema`` holds the plain dataclasses the program reads; this module holds their pydantic
twins with the rules (``extra="forbid"`` so a typo in a field name fails the load instead of
silently dropping guidance; text limits sized so that a title, a summary and the numbered fixes fit
in one Slack section of 3,000 characters with room to spare; known placeholders only). It is
imported only when YAML is read: the built-in files on a cache miss, or an override directory.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from enricher.core.kb_schema import (
    CODE_RX,
    PLACEHOLDERS,
    Category,
    ContextName,
    Entry,
    Meta,
    RootKey,
    Severity,
)
from enricher.core.placeholders import PLACEHOLDER_RX
from enricher.errors import KnowledgeError


class FixModel(BaseModel):
    """One ordered remediation step, optionally with a command template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str = Field(min_length=10, max_length=400)
    command: str | None = Field(default=None, max_length=600)


class FaqModel(BaseModel):
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


class EntryModel(BaseModel):
    """Everything the enricher says about one code, checked."""

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
    fixes: tuple[FixModel, ...] = Field(min_length=2, max_length=12)
    contexts: dict[ContextName, str] = Field(default_factory=dict)
    related: tuple[str, ...] = ()
    docs: tuple[str, ...] = Field(min_length=1)
    signatures: tuple[str, ...] = ()
    seen_in: tuple[str, ...] = ()
    #: Root-cause keys to group failures of this code by, most specific first: the first one a
    #: failure has a value for names its cause (enricher/core/grouping.py). Empty: each item stands alone.
    group_by: tuple[RootKey, ...] = ()
    #: Two to four questions an admin asks about this code (rich entries), with short answers.
    faq: tuple[FaqModel, ...] = Field(default=(), max_length=4)

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
    def _placeholders_known(self) -> EntryModel:
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


class OAuthGuidanceModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str
    cause: str
    fix: str


class MetaModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    changelog: tuple[str, ...]
    oauth_errors: dict[str, OAuthGuidanceModel]


def validate_entry(doc: Any) -> Entry:
    """The checked entry of one YAML document; raises pydantic's ``ValidationError``."""
    return Entry.from_json(EntryModel.model_validate(doc).model_dump(mode="json"))


def checked_entry(code: str, doc: Any) -> Entry:
    """:func:`validate_entry`, its first complaint as a :class:`KnowledgeError` naming the code."""
    try:
        return validate_entry(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "entry"
        raise KnowledgeError(f"knowledge entry {code}: {where}: {first['msg']}") from exc


def checked_meta(doc: Any, where: object) -> Meta:
    """The meta document checked; ``where`` names its file in the :class:`KnowledgeError`."""
    try:
        return Meta.from_json(MetaModel.model_validate(doc).model_dump(mode="json"))
    except ValidationError as exc:
        raise KnowledgeError(f"{where}: {exc}") from exc
