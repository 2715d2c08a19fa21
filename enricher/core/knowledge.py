"""Load the knowledge base: built-in YAML entries plus the user's override directories.

The built-in entries ship inside the wheel (``enricher._knowledge``, mapped from ``knowledge/`` in
the source tree), so loading works from an installed package and from any working directory.
Overrides extend or replace built-in entries field by field: an override file may carry only
``code`` and, say, ``fixes`` to point admins at an in-house ticket queue. ``contexts`` merge by key.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from enricher.core.detect import Signatures
from enricher.core.kb_schema import Entry
from enricher.errors import KnowledgeError
from enricher.models import FixStep

#: Where the parsed built-in entries are kept between runs (parsing the YAML was a fifth of start-up).
CACHE_ENV = "AADSTS_ENRICHER_CACHE_DIR"


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
    overridden: frozenset[str] = frozenset()
    #: Per code, the fix steps ready-made and whether each has placeholders (computed once at load).
    fix_steps: dict[str, tuple[tuple[FixStep, bool], ...]] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def signatures(self) -> Signatures:
        """The phrase matcher, built on first use (``explain`` never needs it)."""
        return Signatures.build((e.code, phrase) for e in self.entries.values() for phrase in e.signatures)

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
    raw, raw_meta = _builtin_documents(root)
    overridden: set[str] = set()
    for directory in override_dirs:
        for doc in _override_documents(Path(directory)):
            code = str(doc.get("code", "")).removeprefix("AADSTS")
            doc["code"] = code
            raw[code] = _merge(raw.get(code, {}), doc)
            overridden.add(code)
    entries = {code: _validate(code, doc) for code, doc in raw.items()}
    try:
        meta = Meta.model_validate(raw_meta)
    except ValidationError as exc:
        raise KnowledgeError(f"{root / 'meta.yaml'}: {exc}") from exc
    steps = {code: fix_steps(entry) for code, entry in entries.items()}
    return KnowledgeBase(entries, meta, frozenset(overridden), steps)


def _builtin_documents(root: Path) -> tuple[dict[str, dict[str, Any]], Any]:
    """The built-in entries by code and the meta document, from the cache when it matches the
    files, else from YAML (then cached)."""
    paths = [*sorted((root / "codes").glob("*.yaml")), root / "meta.yaml"]
    cached = _cache_read(paths)
    if cached is not None:
        return cached["codes"], cached["meta"]
    raw: dict[str, dict[str, Any]] = {}
    for path in paths[:-1]:
        for doc in _documents(path):
            code = str(doc.get("code", ""))
            if code in raw:
                raise KnowledgeError(f"{path}: code {code} is defined twice")
            raw[code] = doc
    meta = _meta_document(paths[-1])
    _cache_write(paths, {"codes": raw, "meta": meta})
    return raw, meta


def _cache_file(paths: Sequence[Path]) -> Path | None:
    """A name that changes whenever a built-in file does (path, size, modification time)."""
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "aadsts-enricher"
    )
    try:
        stamp = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths)
    except OSError:
        return None
    return Path(base) / f"kb-{hashlib.sha256(stamp.encode()).hexdigest()[:24]}.json"


def _cache_read(paths: Sequence[Path]) -> dict[str, Any] | None:
    target = _cache_file(paths)
    try:
        data = json.loads(target.read_text(encoding="utf-8")) if target else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and {"codes", "meta"} <= data.keys() else None


def _cache_write(paths: Sequence[Path], raw: dict[str, Any]) -> None:
    """Best effort: a read-only home (a container) only means the next start parses the YAML again."""
    target = _cache_file(paths)
    if target is None:
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(raw), encoding="utf-8")  # not JSON-able: no cache
        scratch.replace(target)
    except (OSError, TypeError, ValueError):
        return
    _prune(target)


#: Cache files another install or an older version wrote are removed once this old (seconds).
CACHE_KEEP = 7 * 24 * 3600


def _prune(kept: Path) -> None:
    """Every upgrade, checkout or edit of a built-in file names a new cache file (about 1 MB); the
    old ones are removed a week after they were written, so the directory does not grow without end.
    A file another install still uses is merely written again at its next start."""
    try:
        stale = [p for p in kept.parent.glob("kb-*.json") if p != kept]
        newest = kept.stat().st_mtime
        for path in stale:
            if newest - path.stat().st_mtime > CACHE_KEEP:
                path.unlink(missing_ok=True)
    except OSError:
        return


def fix_steps(entry: Entry) -> tuple[tuple[FixStep, bool], ...]:
    return tuple((FixStep(f.step, f.command), "{" in f.step or "{" in (f.command or "")) for f in entry.fixes)


def _yaml(text: str) -> Any:
    import yaml  # only when the cache misses or overrides are given

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _documents(path: Path) -> Iterable[dict[str, Any]]:
    import yaml

    try:
        data = _yaml(path.read_text(encoding="utf-8"))
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


def _meta_document(path: Path) -> Any:
    import yaml

    try:
        return _yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path}: {exc}") from exc
