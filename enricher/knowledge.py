"""Load the knowledge base: built-in YAML entries plus the user's override directories.

The built-in entries ship inside the wheel (``enricher._knowledge``, mapped from ``knowledge/`` in
the source tree), so loading works from an installed package and from any working directory.
Overrides extend or replace built-in entries field by field: an override file may carry only
``code`` and, say, ``fixes`` to point admins at an in-house ticket queue. ``contexts`` merge by key.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from enricher.detect import Signatures
from enricher.errors import KnowledgeError
from enricher.kb_schema import Entry
from enricher.models import FixStep

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class OAuthGuidance(BaseModel):
    """What we can say from the OAuth ``error`` value alone (used for codes we do not know)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str
    cause: str
    fix: str


class Meta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    changelog: tuple[str, ...]
    oauth_errors: dict[str, OAuthGuidance]


@dataclass(frozen=True)
class KnowledgeBase:
    entries: dict[str, Entry]
    meta: Meta
    signatures: Signatures = field(repr=False)
    overridden: frozenset[str] = frozenset()
    #: Per code, the fix steps ready-made and whether each has placeholders (computed once at load).
    fix_steps: dict[str, tuple[tuple[FixStep, bool], ...]] = field(default_factory=dict, repr=False)

    def get(self, code: str) -> Entry | None:
        return self.entries.get(code)

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self.entries.values(), key=lambda e: int(e.code)))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def version(self) -> str:
        return self.meta.version


def builtin_root() -> Path:
    return Path(str(importlib.resources.files("enricher._knowledge")))


def load_knowledge(override_dirs: Sequence[Path | str] = ()) -> KnowledgeBase:
    """The built-in knowledge base with ``override_dirs`` applied in order. Raises KnowledgeError."""
    root = builtin_root()
    raw: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "codes").glob("*.yaml")):
        for doc in _documents(path):
            code = str(doc.get("code", ""))
            if code in raw:
                raise KnowledgeError(f"{path}: code {code} is defined twice")
            raw[code] = doc
    overridden: set[str] = set()
    for directory in override_dirs:
        for doc in _override_documents(Path(directory)):
            code = str(doc.get("code", "")).removeprefix("AADSTS")
            doc["code"] = code
            raw[code] = _merge(raw.get(code, {}), doc)
            overridden.add(code)
    entries = {code: _validate(code, doc) for code, doc in raw.items()}
    meta = _meta(root / "meta.yaml")
    pairs = [(e.code, phrase) for e in entries.values() for phrase in e.signatures]
    steps = {code: fix_steps(entry) for code, entry in entries.items()}
    return KnowledgeBase(entries, meta, Signatures.build(pairs), frozenset(overridden), steps)


def fix_steps(entry: Entry) -> tuple[tuple[FixStep, bool], ...]:
    return tuple((FixStep(f.step, f.command), "{" in f.step or "{" in (f.command or "")) for f in entry.fixes)


def _documents(path: Path) -> Iterable[dict[str, Any]]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc}") from exc
    docs = data if isinstance(data, list) else [data]
    for doc in docs:
        if not isinstance(doc, dict) or "code" not in doc:
            raise KnowledgeError(f"{path}: each entry must be a mapping with a 'code'")
        yield doc


def _override_documents(directory: Path) -> Iterable[dict[str, Any]]:
    if not directory.is_dir():
        raise KnowledgeError(f"knowledge override directory {directory} does not exist")
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        yield from _documents(path)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key == "contexts" and isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    return merged


def _validate(code: str, doc: dict[str, Any]) -> Entry:
    try:
        return Entry.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "entry"
        raise KnowledgeError(f"knowledge entry {code}: {where}: {first['msg']}") from exc


def _meta(path: Path) -> Meta:
    try:
        return Meta.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise KnowledgeError(f"{path}: {exc}") from exc
